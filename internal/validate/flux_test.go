package validate

import (
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/render"
)

// TestGeneratedFlux: under gitops.engine flux the runner's configuration
// is inside the HelmRelease, and is checked there; a kustomization.yaml is
// no object and needs no name.
func TestGeneratedFlux(t *testing.T) {
	const hr = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: gitlab-runner-ci, namespace: ci}\nspec:\n  interval: 10m\n"
	files := []render.File{
		{Path: "runners/a/kustomization.yaml", Content: []byte("# header\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n")},
		{Path: "runners/a/a.yaml", Content: []byte(hr + "  values:\n    runners:\n      config: |\n        [[runners]]\n          [runners.kubernetes]\n            namespace = 'ci'\n")},
		{Path: "runners/b/b.yaml", Content: []byte(hr + "  values:\n    runners:\n      config: |\n        [[runners]]\n          [runners.kubernetes]\n            privilegd = false\n")},
		{Path: "runners/c/c.yaml", Content: []byte(hr + "  values: {rbac: {create: true}}\n")},
	}
	ps := Generated(files, nil, runner(t, "18.9.0"))
	want := []string{
		"runners/b/b.yaml: HelmRelease ci/gitlab-runner-ci: spec.values.runners.config: unknown key \"runners.kubernetes.privilegd\"",
		"runners/c/c.yaml: HelmRelease ci/gitlab-runner-ci: spec.values.runners.config: missing",
	}
	if len(ps) != len(want) {
		t.Fatalf("want %d problems, got:\n%v", len(want), ps)
	}
	for i, p := range ps {
		if p.Severity != Error || !strings.HasPrefix(p.String(), want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, p.String(), want[i])
		}
	}
	// Manifest alone (committed files) skips the configuration, not the
	// names.
	if ps := Manifest("k.yaml", []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")); len(ps) != 0 {
		t.Errorf("kustomization.yaml: %v", ps)
	}
	if ps := Manifest("x.yaml", []byte("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n")); len(ps) != 1 || ps[0].Field != "metadata.name" {
		t.Errorf("a Flux Kustomization without a name: %v", ps)
	}
}

// TestChartValues: validate --chart renders the chart with the values of
// a values file as they are, and with a HelmRelease's inline values.
func TestChartValues(t *testing.T) {
	values := []byte("gitlabUrl: https://gitlab.example.com\nrunners:\n  config: |\n    [[runners]]\n")
	if got, err := ChartValues(values); err != nil || string(got) != string(values) {
		t.Errorf("values file: %q, %v", got, err)
	}
	hr := []byte("# header\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: x}\nspec:\n  interval: 10m\n  values:\n    gitlabUrl: https://gitlab.example.com\n    runners:\n      config: |\n        [[runners]]\n")
	if got, err := ChartValues(hr); err != nil || string(got) != string(values) {
		t.Errorf("HelmRelease: %q, %v; want %q", got, err, values)
	}
	if _, err := ChartValues([]byte("apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: x}\nspec: {interval: 10m}\n")); err == nil {
		t.Error("a HelmRelease without values gave values")
	}
}
