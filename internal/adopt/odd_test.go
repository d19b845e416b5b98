package adopt

import (
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// TestOddShapesDoNotPanic feeds documents whose fields have the wrong
// types: import must answer with a report or an InputError, never panic.
func TestOddShapesDoNotPanic(t *testing.T) {
	for _, in := range []string{
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nspec: 3\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: []\nspec:\n  sources: x\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: gitlab-runner-x}\nspec:\n  source: {chart: gitlab-runner, helm: {values: 5, valuesObject: [1]}}\n",
		"apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: gitlab-runner-x}\nspec:\n  source: {chart: gitlab-runner, helm: {values: \"- a\\n- b\\n\"}}\n",
		"gitlabUrl: 5\nrunners: 7\n",
		"gitlabUrl: https://g.example/\nrunners: {config: 7}\nconcurrent: many\nresources: [1]\nimage: x\n",
		"gitlabUrl: https://g.example/\nrunners: {config: \"[[runners]]\\nkubernetes = 3\\n\"}\n",
		"gitlabUrl: https://g.example/\nrunners: {config: \"runners = 3\\n\"}\n",
		"gitlabUrl: https://g.example/\n---\napiVersion: external-secrets.io/v1\nkind: ExternalSecret\nspec: {data: [1, {remoteRef: 3}], target: {template: {data: [x]}}}\n",
		"gitlabUrl: https://g.example/\n---\napiVersion: v1\nkind: Secret\nstringData: {runner-token: glrt-abcdefghijkl}\n",
	} {
		res, err := Import([]File{{Path: "x.yaml", Data: []byte(in)}}, Options{Name: "x", Profiles: builtins(t)})
		if err == nil && res == nil {
			t.Errorf("%q: no result and no error", in)
		}
	}
}

// TestTokenInPlainSecret reports a runner token committed in a plain
// Secret, by location, and tells render's ExternalSecret apart from it.
func TestTokenInPlainSecret(t *testing.T) {
	in := "gitlabUrl: https://g.example/\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: tok}\nstringData: {runner-token: glrt-CANARYs3cr3tpl41n}\n"
	res, err := Import([]File{{Path: "x.yaml", Data: []byte(in)}}, Options{Name: "x", Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range res.Report.Lines {
		found = found || (l.Class == Leak && l.Object == "Secret/tok" && l.Field == "stringData.runner-token")
	}
	if !found {
		t.Errorf("no leak line for Secret/tok stringData.runner-token:\n%s", res.Report.Text())
	}
}

// TestUnknownRunnerKeys keeps the runners.config settings runnerctl has no
// field for in extraConfig, but not a key the runner version rejects
// (render and validate would refuse the whole file): that one is reported
// as left out, and the rendered runners.config passes runnerctl's checks.
func TestUnknownRunnerKeys(t *testing.T) {
	in := "gitlabUrl: https://g.example/\nrunners:\n  config: |\n    [[runners]]\n      environment = [\"A=1\"]\n      [runners.kubernetes]\n        bogus_key = 1\n        [runners.kubernetes.node_selector]\n          disk = \"ssd\"\n"
	res, err := Import([]File{{Path: "x.yaml", Data: []byte(in)}}, Options{Name: "x", Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	extra := res.Config.Runners[0].ExtraConfig
	if !strings.Contains(extra, "environment") || !strings.Contains(extra, "disk = 'ssd'") || strings.Contains(extra, "bogus_key") {
		t.Errorf("extraConfig:\n%s", extra)
	}
	if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool {
		return l.Class == Unsupported && l.Field == "runners.config.runners[0].kubernetes.bogus_key"
	}) {
		t.Errorf("bogus_key is not reported as left out:\n%s", res.Report.Text())
	}
	data, _ := config.Marshal(res.Config)
	cfg, err := config.Parse("runnerctl.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	rv, err := render.RunnerVersion(cfg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := builtins(t).With(res.ProfileFile.Name+".yaml", res.ProfileFile.Data)
	if err != nil {
		t.Fatal(err)
	}
	out, err := render.Render(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]bool{render.ValuesPath(cfg, &cfg.Runners[0]): true}
	if ps := validate.Generated(out.Files, values, rv); validate.HasErrors(ps) {
		t.Errorf("the rendered files do not pass render's checks: %v", ps)
	}
}
