package render_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

// runnerTOML returns runners.config of the values file of runner name, as
// the runner reads it.
func runnerTOML(t *testing.T, res *render.Result, name string) string {
	t.Helper()
	for _, f := range res.Files {
		if f.Path != "values/gitlab-runner-"+name+".yaml" {
			continue
		}
		var v struct{ Runners struct{ Config string } }
		if err := sigsyaml.Unmarshal(f.Content, &v); err != nil {
			t.Fatal(err)
		}
		return untpl(t, v.Runners.Config)
	}
	t.Fatalf("no values file for runner %q", name)
	return ""
}

// withChart adds a chart block to baseSpec.
func withChart(backend, prof, chart string) string {
	spec := fmt.Sprintf(baseSpec, backend, backend, prof)
	if chart != "" {
		spec = strings.Replace(spec, "secrets:\n", "chart: "+chart+"\nsecrets:\n", 1)
	}
	return spec
}

// TestSeccompByRunnerVersion: job pods get seccomp RuntimeDefault through
// the runner's own pod_security_context.seccomp_profile where it has one
// (19.3.0; the key exists from 18.11), without the pod_spec patch and the
// feature flag that lets any patch through; older runners (18.9.0, chart
// 0.86.0's) keep the patch and its flag.
func TestSeccompByRunnerVersion(t *testing.T) {
	ps := mustProfiles(t)
	for _, tc := range []struct {
		chart  string
		native bool
	}{
		{"", false},
		{"{version: 0.86.0, runnerVersion: 18.9.0}", false},
		{"{version: 0.86.0, runnerVersion: 19.3.0}", true},
		{"{version: 0.92.0, runnerVersion: v19.3.0}", true},
	} {
		t.Run(tc.chart, func(t *testing.T) {
			res, err := render.Render(mustLoad(t, withChart("vault", "restricted", tc.chart)), ps)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := render.DecodeRunnerConfig(runnerTOML(t, res, "ci"))
			if err != nil {
				t.Fatal(err)
			}
			sec := rc.Runners[0]
			psc := sec.Kubernetes.PodSecurityContext
			native := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == "RuntimeDefault"
			patched := len(sec.Kubernetes.PodSpec) == 1 && strings.Contains(sec.Kubernetes.PodSpec[0].Patch, "seccompProfile:\n    type: RuntimeDefault")
			_, flag := sec.FeatureFlags[render.FlagUseAdvancedPodSpec]
			if native != tc.native || patched == tc.native || flag == tc.native {
				t.Errorf("native seccomp_profile %v, pod_spec patch %v, %s %v; want native %v", native, patched, render.FlagUseAdvancedPodSpec, flag, tc.native)
			}
			// The other settings of the pod security context stay.
			if psc == nil || psc.RunAsUser == nil || *psc.RunAsUser != 1000 {
				t.Errorf("pod_security_context = %+v", psc)
			}
		})
	}
	// baseline has no seccomp setting for job pods: nothing either way.
	res, err := render.Render(mustLoad(t, withChart("vault", "baseline", "{runnerVersion: 19.3.0}")), ps)
	if err != nil {
		t.Fatal(err)
	}
	if got := runnerTOML(t, res, "ci"); strings.Contains(got, "seccomp") || strings.Contains(got, "pod_spec") {
		t.Errorf("baseline has seccomp settings:\n%s", got)
	}
}

// TestGoldenRunner1930 is the restricted profile for gitlab-runner 19.3.0,
// whose runners.config every key of which that runner knows.
func TestGoldenRunner1930(t *testing.T) {
	res, err := render.Render(mustLoad(t, withChart("vault", "restricted", "{version: 0.92.0, runnerVersion: 19.3.0}")), mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormedFor(t, res, "19.3.0", true)
	golden(t, "vault-restricted-runner-19.3.0", joinFiles(res))
}

// TestFeatureFlagsKnown: the flags render sets exist in every runner
// version runnerctl renders for.
func TestFeatureFlagsKnown(t *testing.T) {
	for _, v := range runnerkeys.Versions() {
		rv, err := runnerkeys.Lookup(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{render.FlagDisableAutomaticTokenRotation, render.FlagUseAdvancedPodSpec} {
			if !rv.HasFlag(f) {
				t.Errorf("gitlab-runner %s has no feature flag %s", v, f)
			}
		}
	}
}

// TestHelperImage: no profile sets a helper image, so the runner picks the
// helper of its own version and of the node's architecture; the fixed
// x86_64-latest of the seed article would do neither.
func TestHelperImage(t *testing.T) {
	ps := mustProfiles(t)
	for _, prof := range ps.Names() {
		for _, chart := range []string{"", "{runnerVersion: 19.3.0}"} {
			res, err := render.Render(mustLoad(t, withChart("aws", prof, chart)), ps)
			if err != nil {
				t.Fatal(err)
			}
			if got := runnerTOML(t, res, "ci"); strings.Contains(got, "helper_image") {
				t.Errorf("profile %s (chart %s) sets a helper image:\n%s", prof, chart, got)
			}
			if len(res.Warnings) != 0 && prof != "privileged-dind" {
				t.Errorf("profile %s: warnings %v", prof, res.Warnings)
			}
		}
	}

	// A helper image the user names is kept; a moving latest tag is a
	// warning, the helper of another runner version an error.
	spec := withChart("aws", "restricted", "") + "    helperImage: gitlab/gitlab-runner-helper:x86_64-latest\n"
	res, err := render.Render(mustLoad(t, spec), ps)
	if err != nil {
		t.Fatal(err)
	}
	if got := runnerTOML(t, res, "ci"); !strings.Contains(got, "helper_image = 'gitlab/gitlab-runner-helper:x86_64-latest'") {
		t.Errorf("helper image not kept:\n%s", got)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `runner "ci": helperImage "gitlab/gitlab-runner-helper:x86_64-latest" follows the newest gitlab-runner release, not the runner's (18.9.0)`) {
		t.Errorf("warnings = %q", res.Warnings)
	}
	for helper, want := range map[string]string{
		"registry.example/gitlab-runner-helper:x86_64-v18.9.0":     "",
		"registry.example:5000/gitlab-runner-helper:arm64-v18.9.0": "",
		"registry.example/gitlab-runner-helper:x86_64-v18.8.0":     "runners[0].helperImage: the helper image of gitlab-runner 18.8.0, for a runner that runs 18.9.0",
		"registry.example/gitlab-runner-helper:x86_64-v19.3.0":     "runners[0].helperImage: the helper image of gitlab-runner 19.3.0, for a runner that runs 18.9.0",
	} {
		_, err := config.Parse("runnerctl.yaml", []byte(withChart("aws", "restricted", "")+"    helperImage: "+helper+"\n"), func(c *config.Config) []config.FieldError {
			return render.Check(c, ps)
		})
		if (err == nil) != (want == "") || err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("helperImage %s: err = %v, want %q", helper, err, want)
		}
	}
}

// TestRunnerImageVersion: a runner image of another minor release than the
// one runners.config is checked for is refused; the same minor is fine.
func TestRunnerImageVersion(t *testing.T) {
	ps := mustProfiles(t)
	check := func(spec string) error {
		_, err := config.Parse("runnerctl.yaml", []byte(spec), func(c *config.Config) []config.FieldError { return render.Check(c, ps) })
		return err
	}
	base := withChart("aws", "restricted", "")
	if err := check(base + "    runnerImage: {tag: ubuntu-v18.9.2}\n    helperImage: h:x86_64-v18.9.2\n"); err != nil {
		t.Errorf("same minor refused: %v", err)
	}
	err := check(base + "    runnerImage: {tag: alpine-v19.3.0}\n")
	if err == nil || !strings.Contains(err.Error(), `line 15: runners[0].runnerImage.tag: "alpine-v19.3.0" runs gitlab-runner 19.3.0, but runners.config is rendered and checked for gitlab-runner 18.9.0 (the appVersion of chart 0.86.0); set chart.runnerVersion`) {
		t.Errorf("err = %v", err)
	}
	if err := check(withChart("aws", "restricted", "{runnerVersion: 19.3.0}") + "    runnerImage: {tag: alpine-v19.3.0}\n"); err != nil {
		t.Errorf("matching runnerVersion refused: %v", err)
	}
}

// TestUnknownRunnerVersion: render refuses a chart whose runner version it
// does not know, and a runner version it has no facts for, naming the field
// to change (exit 2: invalid input); loading the file alone does not, so
// that rotate-token and doctor still work.
func TestUnknownRunnerVersion(t *testing.T) {
	ps := mustProfiles(t)
	for chart, want := range map[string]string{
		"{version: 0.94.1}":                        "chart.version: runnerctl does not know which gitlab-runner version chart 0.94.1 deploys (it knows 0.86.0 (gitlab-runner 18.9.0)), so it cannot tell which runners.config keys that runner understands; set chart.runnerVersion to the chart's appVersion",
		"{version: 0.94.1, runnerVersion: 19.5.1}": "chart.runnerVersion: runnerctl has no facts about the TOML keys of gitlab-runner 19.5.1; it knows 18.9.x and 19.3.x",
		"{runnerVersion: latest}":                  `chart.runnerVersion: runner version "latest" is not a version such as 18.9.0`,
	} {
		cfg, err := config.Parse("runnerctl.yaml", []byte(withChart("aws", "restricted", chart)), func(c *config.Config) []config.FieldError { return render.Check(c, ps) })
		if err != nil {
			t.Fatalf("%s: load: %v", chart, err)
		}
		_, err = render.Render(cfg, ps)
		var invalid *config.InvalidError
		if !errors.As(err, &invalid) || invalid.ExitCode() != 2 || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", chart, err, want)
		}
	}
}

// extraSpec is a restricted runner with extraConfig.
func extraSpec(extra string) string {
	var b strings.Builder
	b.WriteString(withChart("vault", "restricted", ""))
	b.WriteString("    extraConfig: |\n")
	for _, l := range strings.SplitAfter(extra, "\n") {
		if l != "" {
			b.WriteString("      " + l)
		}
	}
	return b.String()
}

// TestGoldenExtraConfig: extraConfig is merged into the generated entry:
// new keys and tables join runnerctl's, arrays of tables are appended.
func TestGoldenExtraConfig(t *testing.T) {
	spec := extraSpec(`[runners]
  environment = ["GIT_DEPTH=10"]
[runners.kubernetes]
  poll_timeout = 600
  [runners.kubernetes.node_selector]
    "kubernetes.io/arch" = "arm64"
  [[runners.kubernetes.volumes.empty_dir]]
    name = "scratch"
    mount_path = "/scratch"
[runners.kubernetes.pod_security_context]
  supplemental_groups = [2000]
[runners.feature_flags]
  FF_PRINT_POD_EVENTS = true
`)
	res, err := render.Render(mustLoad(t, spec), mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormedFor(t, res, "18.9.0", false)
	golden(t, "extra-config", joinFiles(res))
	got := runnerTOML(t, res, "ci")
	for _, want := range []string{
		"FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = true", "FF_PRINT_POD_EVENTS = true", "poll_timeout = 600",
		"'kubernetes.io/arch' = 'arm64'", "name = 'docker-certs'", "name = 'scratch'", "run_as_user = 1000", "supplemental_groups = [2000]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("merged runners.config lacks %s:\n%s", want, got)
		}
	}
	if strings.Index(got, "docker-certs") > strings.Index(got, "scratch") {
		t.Errorf("extraConfig's volume is not after the profile's:\n%s", got)
	}
	// With the [[runners]] line, as pasted from a config.toml: the same.
	res2, err := render.Render(mustLoad(t, extraSpec("[[runners]]\n  [runners.kubernetes]\n    poll_timeout = 600\n")), mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := runnerTOML(t, res2, "ci"); !strings.Contains(got, "poll_timeout = 600") {
		t.Errorf("[[runners]] form not merged:\n%s", got)
	}
}

// TestExtraConfigRefused: what extraConfig may not do is refused when
// runnerctl.yaml is loaded, on the field's line. Keys the runner does not
// know are not among them: validate and render's own check report those,
// with the line in runners.config.
func TestExtraConfigRefused(t *testing.T) {
	ps := mustProfiles(t)
	for name, tc := range map[string]struct{ extra, want string }{
		"undoes the profile": {
			"[runners.kubernetes]\n  privileged = true\n[runners.feature_flags]\n  FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = false\n",
			`line 15: runners[0].extraConfig: keys "runners.feature_flags.FF_DISABLE_AUTOMATIC_TOKEN_ROTATION", "runners.kubernetes.privileged" are set by runnerctl itself (from profile "restricted" or another field of the runner); change them there, not in extraConfig`,
		},
		"a field's key": {
			"[runners.kubernetes]\n  image = 'alpine'\n",
			`runners[0].extraConfig: key "runners.kubernetes.image" is set by runnerctl itself`,
		},
		"not TOML": {
			"[runners.kubernetes]\n  privileged =\n",
			"runners[0].extraConfig: not valid TOML: line 2 of extraConfig: ",
		},
		"outside the entry": {
			"concurrent = 4\n[kubernetes]\n  poll_timeout = 1\n",
			`runners[0].extraConfig: keys "concurrent", "kubernetes" are outside the runner's entry: write the keys as in config.toml, under runners ([runners.kubernetes] and so on)`,
		},
		"two entries": {
			"[[runners]]\n  name = 'a'\n[[runners]]\n  name = 'b'\n",
			"runners[0].extraConfig: holds 2 [[runners]] entries",
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := config.Parse("runnerctl.yaml", []byte(extraSpec(tc.extra)), func(c *config.Config) []config.FieldError { return render.Check(c, ps) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant %q", err, tc.want)
			}
		})
	}
	// A misspelt key passes here and reaches runners.config, where the
	// checks of validate and render find it.
	cfg, err := config.Parse("runnerctl.yaml", []byte(extraSpec("[runners.kubernetes]\n  privilegd = true\n")), func(c *config.Config) []config.FieldError { return render.Check(c, ps) })
	if err != nil {
		t.Fatal(err)
	}
	res, err := render.Render(cfg, ps)
	if err != nil {
		t.Fatal(err)
	}
	if got := runnerTOML(t, res, "ci"); !strings.Contains(got, "privilegd = true") {
		t.Errorf("runners.config:\n%s", got)
	}
}

// TestDefaultChartKnown: the default chart's runner version, which
// config documents, is the one runnerkeys maps it to and has facts for.
func TestDefaultChartKnown(t *testing.T) {
	v, ok := runnerkeys.RunnerOfChart(config.DefaultChartVersion)
	if !ok || v != config.DefaultChartAppVersion {
		t.Fatalf("chart %s: runnerkeys says gitlab-runner %q (%v), config says %s", config.DefaultChartVersion, v, ok, config.DefaultChartAppVersion)
	}
	if _, err := runnerkeys.Lookup(v); err != nil {
		t.Fatal(err)
	}
}
