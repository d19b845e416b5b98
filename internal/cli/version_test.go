package cli

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolveBuild(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	tests := []struct {
		name                string
		ldV, ldC, ldD       string
		bi                  *debug.BuildInfo
		wantV, wantC, wantD string
	}{
		{"no build info", "", "", "", nil, "devel", "unknown", "unknown"},
		{"plain go build outside Git", "", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "devel", "unknown", "unknown"},
		{"go install module@version", "", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0", "unknown", "unknown"},
		{"build in a Git checkout", "", "", "",
			&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", "abc123", "vcs.time", "2026-11-01T10:00:00Z", "vcs.modified", "false")},
			"devel", "abc123", "2026-11-01T10:00:00Z"},
		{"build in a modified checkout", "", "", "",
			&debug.BuildInfo{Settings: vcs("vcs.revision", "abc123", "vcs.modified", "true")},
			"devel", "abc123-dirty", "unknown"},
		{"release: ldflags win", "1.5.0", "def456", "2026-11-02T00:00:00Z",
			&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs("vcs.revision", "abc123", "vcs.time", "2026-11-01T10:00:00Z", "vcs.modified", "true")},
			"1.5.0", "def456", "2026-11-02T00:00:00Z"},
		{"only the version set by ldflags", "1.5.0", "", "",
			&debug.BuildInfo{Settings: vcs("vcs.revision", "abc123")},
			"1.5.0", "abc123", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveBuild(tt.ldV, tt.ldC, tt.ldD, tt.bi)
			if got.Version != tt.wantV || got.Commit != tt.wantC || got.Date != tt.wantD {
				t.Errorf("got version %q commit %q date %q, want %q %q %q", got.Version, got.Commit, got.Date, tt.wantV, tt.wantC, tt.wantD)
			}
			if got.GoVersion == "" || !strings.Contains(got.Platform, "/") {
				t.Errorf("go version %q, platform %q: want both", got.GoVersion, got.Platform)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errOut strings.Builder
	e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	if code := Run([]string{"version", "-o", "json"}, e); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	for _, k := range []string{"version", "commit", "date", "goVersion", "platform", "defaultChartVersion", "defaultChartAppVersion"} {
		if got[k] == "" {
			t.Errorf("version -o json: %q missing or empty in %s", k, out.String())
		}
	}
	out.Reset()
	if code := Run([]string{"version"}, e); code != ExitOK || !strings.HasPrefix(out.String(), "runnerctl "+got["version"]+" (commit "+got["commit"]) {
		t.Errorf("version: exit %d, output %q", code, out.String())
	}
	out.Reset()
	if code := Run([]string{"version", "extra"}, e); code != ExitUsage {
		t.Errorf("version extra: exit %d, want %d", code, ExitUsage)
	}
}
