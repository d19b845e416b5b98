package kubeschema

import (
	"context"
	"testing"

	"github.com/runnerctl/runnerctl/internal/validate"
)

const helmRepository = `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: gitlab-runner-ci, namespace: ci}
spec:
  url: https://charts.gitlab.io
  interval: 10m
`

const helmReleaseBoth = `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: gitlab-runner-ci, namespace: ci}
spec:
  interval: 10m
  chart:
    spec:
      chart: gitlab-runner
      version: 0.86.0
      reconcileStrategy: ChartVersion
      sourceRef: {kind: HelmRepository, name: gitlab-runner-ci}
  chartRef: {kind: OCIRepository, name: gitlab-runner-ci}
`

// TestFluxCRDs: the pinned Flux CRDs are known, report the defaults a
// Flux object leaves out as drift and their CEL rules as errors, and take
// no status default for drift (the create strategy drops status).
func TestFluxCRDs(t *testing.T) {
	v := upstreamValidator(t)
	want := map[string]bool{
		"helm.toolkit.fluxcd.io/HelmRelease": true, "source.toolkit.fluxcd.io/HelmRepository": true,
		"source.toolkit.fluxcd.io/OCIRepository": true, "kustomize.toolkit.fluxcd.io/Kustomization": true,
	}
	for _, k := range v.Kinds() {
		delete(want, k)
	}
	if len(want) > 0 {
		t.Fatalf("upstream CRDs lack %v", want)
	}

	ps := problems(t, v, helmRepository)
	wantProblem(t, ps, validate.Error, "spec.provider", `defaulted to "generic" on the server`)
	if len(ps) != 1 {
		t.Errorf("want only the provider's drift (none for status.observedGeneration), got:\n%s", dump(ps))
	}
	a := v.Admit(context.Background(), []byte(helmRepository))
	if _, ok := a.Stored["status"]; ok {
		t.Errorf("stored object has a status: %v", a.Stored["status"])
	}

	wantProblem(t, problems(t, v, helmReleaseBoth), validate.Error, "spec", "either chart or chartRef must be set")

	// kustomize's configuration is never sent to the API server.
	if ps := problems(t, v, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n"); len(ps) != 0 {
		t.Errorf("kustomization.yaml: %s", dump(ps))
	}
}
