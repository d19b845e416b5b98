package validate

import (
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

func runner(t *testing.T, v string) *runnerkeys.Runner {
	t.Helper()
	r, err := runnerkeys.Lookup(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGenerated(t *testing.T) {
	values := map[string]bool{"values/a.yaml": true, "values/b.yaml": true, "values/c.yaml": true}
	files := []render.File{
		{Path: "values/a.yaml", Content: []byte("runners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        namespace = 'ci'\n        image = '{{`{{`}}x}}'\n")},
		{Path: "values/b.yaml", Content: []byte("runners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        privilegd = false\n")},
		{Path: "values/c.yaml", Content: []byte("runners:\n  secret: x\n")},
		{Path: "manifests/x.yaml", Content: []byte("# header\n---\napiVersion: v1\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: y}\n")},
		{Path: "manifests/bad.yaml", Content: []byte("a: [\n")},
	}
	ps := Generated(files, values, runner(t, "18.9.0"))
	want := []string{
		"manifests/bad.yaml: not valid YAML",
		"manifests/x.yaml: kind: required (document 1, line 3)",
		"values/b.yaml: runners.config: unknown key \"runners.kubernetes.privilegd\" (TOML line 3): gitlab-runner 18.9.0 does not know it and would silently ignore it; did you mean \"privileged\"?",
		"values/c.yaml: runners.config: missing",
	}
	if len(ps) != len(want) {
		t.Fatalf("want %d problems, got:\n%v", len(want), ps)
	}
	for i, p := range ps {
		if p.Severity != Error || !strings.HasPrefix(p.String(), want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, p.String(), want[i])
		}
	}
}

// TestRunnerConfig: the problems of runners.config, as validate and
// render print them, for the runner version that reads it.
func TestRunnerConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		version, toml string
		want          []string
	}{
		"wrong type": {"18.9.0", "[[runners]]\n  [runners.kubernetes]\n    privileged = 'yes'\n", []string{
			`v.yaml: runners.config: key "runners.kubernetes.privileged" (TOML line 3) is a string, but gitlab-runner 18.9.0 expects a boolean (true or false): the runner would fail to start`,
		}},
		"misspelt table and flag": {"18.9.0", "[[runners]]\n  [runners.kubernetes_typo]\n    privileged = false\n  [runners.feature_flags]\n    FF_NOT_A_FLAG = true\n", []string{
			`v.yaml: runners.config: unknown key "runners.kubernetes_typo" (TOML line 2): gitlab-runner 18.9.0 does not know it and would silently ignore it; did you mean "kubernetes"?`,
			`v.yaml: runners.config: unknown feature flag "FF_NOT_A_FLAG" (TOML line 5): gitlab-runner 18.9.0 does not know it and would silently ignore it`,
		}},
		"new key, old runner": {"18.9.0", "[[runners]]\n  [runners.kubernetes.pod_security_context.seccomp_profile]\n    type = 'RuntimeDefault'\n", []string{
			`v.yaml: runners.config: unknown key "runners.kubernetes.pod_security_context.seccomp_profile" (TOML line 2): gitlab-runner 18.9.0 does not know it and would silently ignore it (gitlab-runner 19.3.0 knows it: set chart.runnerVersion if that is the runner you deploy)`,
		}},
		"new key, new runner": {"19.3.0", "[[runners]]\n  [runners.kubernetes.pod_security_context.seccomp_profile]\n    type = 'RuntimeDefault'\n", nil},
		"unchecked keys are a warning": {"19.3.0", "[[runners]]\n  [runners.cache]\n    Type = 's3'\n", []string{
			`v.yaml: runners.config: warning: keys under "runners.cache" (TOML line 3) are not checked: gitlab-runner 19.3.0 defines them outside common/config.go, which runnerctl takes its facts from`,
		}},
	} {
		t.Run(name, func(t *testing.T) {
			ps := RunnerConfig("v.yaml", "runners.config", tc.toml, runner(t, tc.version))
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
				if (p.Severity == Warning) != strings.Contains(p.String(), "warning: ") {
					t.Errorf("severity %s for %q", p.Severity, p)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestIsValues(t *testing.T) {
	for content, want := range map[string]bool{
		"# Generated\ngitlabUrl: https://x/\nrunners:\n  config: |\n    [[runners]]\n": true,
		"runners:\n  secret: x\n":                                  false,
		"apiVersion: v1\nkind: ConfigMap\nrunners:\n  config: x\n": false,
		"runners:\n  config: x\n---\nrunners:\n  config: y\n":      false,
		"a: [\n": false,
	} {
		if got := IsValues([]byte(content)); got != want {
			t.Errorf("IsValues(%q) = %v, want %v", content, got, want)
		}
	}
}
