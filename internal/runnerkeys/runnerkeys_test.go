package runnerkeys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func mustLookup(t *testing.T, v string) *Runner {
	t.Helper()
	r, err := Lookup(v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// issues renders Check's findings one per line, warnings marked.
func issues(r *Runner, text string) string {
	var b strings.Builder
	for _, i := range r.Check(text) {
		if i.Warning {
			b.WriteString("warning: ")
		}
		b.WriteString(i.Msg)
		b.WriteString("\n")
	}
	return b.String()
}

// TestCheckMistakes: the mistakes gitlab-runner 18.9.0 itself accepts
// without a word (a misspelt key, a misspelt table, an unknown feature
// flag) or dies of at start (a value of the wrong type) are each refused,
// with the key, its TOML line and the runner version.
func TestCheckMistakes(t *testing.T) {
	r := mustLookup(t, "18.9.0")
	for name, tc := range map[string]struct{ toml, want string }{
		"misspelt key": {
			"[[runners]]\n  [runners.kubernetes]\n    privilegd = true\n",
			`unknown key "runners.kubernetes.privilegd" (TOML line 3): gitlab-runner 18.9.0 does not know it and would silently ignore it; did you mean "privileged"?` + "\n",
		},
		"misspelt table": {
			"[[runners]]\n  [runners.kubernetes_typo]\n    privileged = false\n",
			`unknown key "runners.kubernetes_typo" (TOML line 2): gitlab-runner 18.9.0 does not know it and would silently ignore it; did you mean "kubernetes"?` + "\n",
		},
		"wrong type": {
			"[[runners]]\n  [runners.kubernetes]\n    privileged = 'yes'\n",
			`key "runners.kubernetes.privileged" (TOML line 3) is a string, but gitlab-runner 18.9.0 expects a boolean (true or false): the runner would fail to start` + "\n",
		},
		"unknown feature flag": {
			"[[runners]]\n  [runners.feature_flags]\n    FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = true\n    FF_USE_ADVANCED_POD_SPEC_CONFIG = true\n",
			`unknown feature flag "FF_USE_ADVANCED_POD_SPEC_CONFIG" (TOML line 4): gitlab-runner 18.9.0 does not know it and would silently ignore it; did you mean "FF_USE_ADVANCED_POD_SPEC_CONFIGURATION"?` + "\n",
		},
		"feature flag not a boolean": {
			"[[runners]]\n  [runners.feature_flags]\n    FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = 'true'\n",
			`key "runners.feature_flags.FF_DISABLE_AUTOMATIC_TOKEN_ROTATION" (TOML line 3) is a string, but gitlab-runner 18.9.0 expects a boolean (true or false): the runner would fail to start` + "\n",
		},
		"dotted key and inline table": {
			"[[runners]]\n  kubernetes.node_selector = {'kubernetes.io/arch' = 'arm64', zone = 1}\n",
			`key "runners.kubernetes.node_selector.zone" (TOML line 2) is an integer, but gitlab-runner 18.9.0 expects a string: the runner would fail to start` + "\n",
		},
		"array of tables": {
			"[[runners]]\n  [[runners.kubernetes.volumes.empty_dir]]\n    name = 'a'\n    mount_path = '/a'\n  [[runners.kubernetes.volumes.empty_dir]]\n    name = 'b'\n    mountpath = '/b'\n",
			`unknown key "runners.kubernetes.volumes.empty_dir.mountpath" (TOML line 7): gitlab-runner 18.9.0 does not know it and would silently ignore it; did you mean "mount_path"?` + "\n",
		},
		"table where an array of tables belongs": {
			"[[runners]]\n  [runners.kubernetes.volumes.empty_dir]\n    name = 'a'\n",
			`key "runners.kubernetes.volumes.empty_dir" (TOML line 2) is a table, but gitlab-runner 18.9.0 expects an array of tables ([[...]]): the runner would fail to start` + "\n",
		},
		"no [[runners]]": {
			"[runners.kubernetes]\n  privileged = false\n",
			`key "runners" (TOML line 1): gitlab-runner 18.9.0 expects an array of tables here: start it with a [[runners]] header` + "\n",
		},
		"outside [[runners]]": {
			"concurrent = 4\n",
			`key "concurrent" (TOML line 1) is outside [[runners]]: the chart registers the runner with runners.config as a template and takes only its [[runners]] entry` + "\n",
		},
		"bad duration": {
			"[[runners]]\n  [runners.kubernetes]\n    cleanup_resources_timeout = '5 minutes'\n",
			`key "runners.kubernetes.cleanup_resources_timeout" (TOML line 3): "5 minutes" is not a duration gitlab-runner 18.9.0 can read (such as "90s" or "1h30m"): the runner would fail to start` + "\n",
		},
		"scalar used as a table": {
			"[[runners]]\n  [runners.kubernetes.privileged]\n    x = 1\n",
			`key "runners.kubernetes.privileged" (TOML line 2) is a table, but gitlab-runner 18.9.0 expects a boolean (true or false): the runner would fail to start` + "\n",
		},
		"case differs": {
			"[[runners]]\n  [runners.kubernetes]\n    Privileged = false\n",
			`warning: key "runners.kubernetes.Privileged" (TOML line 3): gitlab-runner 18.9.0 spells it "privileged"; it matches keys regardless of case, so this works, but write it as the runner does` + "\n",
		},
		"deprecated flag": {
			"[[runners]]\n  [runners.feature_flags]\n    FF_TEST_FEATURE = true\n",
			`warning: feature flag "FF_TEST_FEATURE" (TOML line 3) is deprecated in gitlab-runner 18.9.0` + "\n",
		},
		"not TOML": {
			"[[runners]]\n  [runners.kubernetes]\n    privileged = \n",
			"TOML line 3: toml: ",
		},
		"everything right": {
			"[[runners]]\n  [runners.feature_flags]\n    FF_USE_ADVANCED_POD_SPEC_CONFIGURATION = true\n" +
				"  [runners.kubernetes]\n    namespace = 'ci'\n    privileged = false\n    pull_policy = 'always'\n    cpu_limit = '1'\n" +
				"    cleanup_resources_timeout = '5m'\n    node_selector = {'kubernetes.io/arch' = 'arm64'}\n" +
				"    [runners.kubernetes.pod_security_context]\n      run_as_user = 1000\n" +
				"    [[runners.kubernetes.pod_spec]]\n      name = 'x'\n      patch_type = 'strategic'\n      patch = ''\n" +
				"  [runners.cache]\n    Type = 's3'\n    [runners.cache.s3]\n      BucketName = 'b'\n",
			"",
		},
	} {
		t.Run(name, func(t *testing.T) {
			got := issues(r, tc.toml)
			if !strings.HasPrefix(got, tc.want) || tc.want == "" && got != "" {
				t.Errorf("got:\n%swant:\n%s", got, tc.want)
			}
		})
	}
}

// TestKeysByVersion: a key new in 19.3.0 (the native seccomp_profile of a
// pod security context) is refused for 18.9.0, saying which runner knows
// it, and accepted for 19.3.0; and what 19.3.0 moved out of config.go
// ([runners.cache]) is reported as not checked rather than as unknown.
func TestKeysByVersion(t *testing.T) {
	const seccomp = "[[runners]]\n  [runners.kubernetes.pod_security_context.seccomp_profile]\n    type = 'RuntimeDefault'\n"
	if got, want := issues(mustLookup(t, "18.9.0"), seccomp),
		`unknown key "runners.kubernetes.pod_security_context.seccomp_profile" (TOML line 2): gitlab-runner 18.9.0 does not know it and would silently ignore it (gitlab-runner 19.3.0 knows it: set chart.runnerVersion if that is the runner you deploy)`+"\n"; got != want {
		t.Errorf("18.9.0:\n%swant:\n%s", got, want)
	}
	if got := issues(mustLookup(t, "19.3.0"), seccomp); got != "" {
		t.Errorf("19.3.0 refuses its own key:\n%s", got)
	}
	const cache = "[[runners]]\n  [runners.cache]\n    Type = 's3'\n    Typo = 1\n"
	if got := issues(mustLookup(t, "18.9.0"), cache); !strings.HasPrefix(got, `unknown key "runners.cache.Typo" (TOML line 4)`) {
		t.Errorf("18.9.0 checks [runners.cache]:\n%s", got)
	}
	if got, want := issues(mustLookup(t, "19.3.0"), cache),
		`warning: keys under "runners.cache" (TOML line 3) are not checked: gitlab-runner 19.3.0 defines them outside common/config.go, which runnerctl takes its facts from`+"\n"; got != want {
		t.Errorf("19.3.0:\n%swant:\n%s", got, want)
	}
}

func TestNativeSeccomp(t *testing.T) {
	for v, want := range map[string]bool{"18.9.0": false, "18.9.4": false, "19.3.0": true, "19.3.1": true} {
		if got := mustLookup(t, v).NativeSeccomp(); got != want {
			t.Errorf("%s: NativeSeccomp = %v, want %v", v, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	for v, want := range map[string]string{"18.9.0": "18.9.0", "v19.3.0": "19.3.0", "18.9.2": "18.9.0"} {
		r, err := Lookup(v)
		if err != nil || r.Table != want {
			t.Errorf("Lookup(%q) = %+v, %v; want table %s", v, r, err, want)
		}
	}
	for v, want := range map[string]string{
		"19.5.1":  "runnerctl has no facts about the TOML keys of gitlab-runner 19.5.1; it knows 18.9.x and 19.3.x",
		"18.11.0": "runnerctl has no facts about the TOML keys of gitlab-runner 18.11.0; it knows 18.9.x and 19.3.x",
		"latest":  `runner version "latest" is not a version such as 18.9.0`,
		"18.9":    `runner version "18.9" is not a version such as 18.9.0`,
		"18.09.0": `runner version "18.09.0" is not a version such as 18.9.0`,
	} {
		if _, err := Lookup(v); err == nil || err.Error() != want {
			t.Errorf("Lookup(%q) error = %v, want %q", v, err, want)
		}
	}
}

// TestResolve: chart 0.86.0 runs gitlab-runner 18.9.0 (its Chart.yaml
// appVersion); an explicit runner version wins; a chart runnerctl does not
// know is an error naming chart.runnerVersion.
func TestResolve(t *testing.T) {
	r, err := Resolve("0.86.0", "")
	if err != nil || r.Version != "18.9.0" {
		t.Errorf("Resolve(0.86.0) = %+v, %v", r, err)
	}
	r, err = Resolve("0.86.0", "19.3.0")
	if err != nil || r.Version != "19.3.0" {
		t.Errorf("Resolve(0.86.0, 19.3.0) = %+v, %v", r, err)
	}
	r, err = Resolve("0.94.1", "19.3.0")
	if err != nil || r.Version != "19.3.0" {
		t.Errorf("Resolve(0.94.1, 19.3.0) = %+v, %v", r, err)
	}
	_, err = Resolve("0.94.1", "")
	if err == nil || !strings.Contains(err.Error(), "chart 0.94.1") || !strings.Contains(err.Error(), "set chart.runnerVersion") ||
		!strings.Contains(err.Error(), "0.86.0 (gitlab-runner 18.9.0)") {
		t.Errorf("Resolve(0.94.1) error = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	for name, want := range map[string]string{
		"privilegd": "privileged", "Privileged": "privileged", "namespce": "namespace", "zzz": "", "image_pull": "",
	} {
		if got := suggest(name, []string{"privileged", "namespace", "image", "helper_image"}); got != want {
			t.Errorf("suggest(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestChartsFromReference: the chart-to-runner mapping says what each
// chart's own Chart.yaml says (its appVersion), for every chart in
// ../shared/reference.
func TestChartsFromReference(t *testing.T) {
	charts, _ := filepath.Glob("../../../shared/reference/gitlab-runner-chart-*/Chart.yaml")
	if len(charts) == 0 {
		t.Skip("no gitlab-runner chart in ../shared/reference (a fresh clone has none): the chart mapping cannot be checked here")
	}
	for _, path := range charts {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Version    string `yaml:"version"`
			AppVersion string `yaml:"appVersion"`
		}
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got, ok := RunnerOfChart(c.Version)
		if !ok || got != c.AppVersion {
			t.Errorf("%s: chart %s deploys gitlab-runner %s; runnerkeys says %q (known: %v)", path, c.Version, c.AppVersion, got, ok)
		}
		if _, err := Lookup(c.AppVersion); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
