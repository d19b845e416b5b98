package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

const minimalFlux = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.com/
gitops:
  repoURL: https://gitlab.com/org/gitops.git
  engine: flux
  paths: {applications: clusters/prod/runners, manifests: runners}
secrets:
  backend: vault
  store:
    name: vault
runners:
  - name: ci
`

// TestFluxDefaults checks the documented defaults of flux.*, which
// TestDocumentedDefaults leaves out (they apply only under flux), and that
// no ArgoCD default is filled in under flux (validation would then refuse
// what the user never wrote).
func TestFluxDefaults(t *testing.T) {
	cfg, err := config.Parse("runnerctl.yaml", []byte(minimalFlux))
	if err != nil {
		t.Fatal(err)
	}
	want := config.Flux{
		Namespace: "flux-system",
		SourceRef: config.FluxSourceRef{Kind: "GitRepository", Name: "flux-system", Namespace: "flux-system"},
		Interval:  "10m",
	}
	if !reflect.DeepEqual(cfg.Flux, want) {
		t.Errorf("flux = %+v, want %+v", cfg.Flux, want)
	}
	// Every documented default of flux.* that is a plain value.
	var walk func(v reflect.Value, path string)
	checked := 0
	walk = func(v reflect.Value, path string) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			name := path + "." + strings.Split(f.Tag.Get("yaml"), ",")[0]
			if v.Field(i).Kind() == reflect.Struct {
				walk(v.Field(i), name)
				continue
			}
			def, ok := f.Tag.Lookup("default")
			if !ok || strings.Contains(def, ".") {
				continue // "flux.namespace": another field's value
			}
			checked++
			if got := v.Field(i).String(); got != def {
				t.Errorf("%s: documented default %q, applied %q", name, def, got)
			}
		}
	}
	walk(reflect.ValueOf(cfg.Flux), "flux")
	if checked != 4 {
		t.Errorf("%d documented flux defaults checked, want 4", checked)
	}
	if cfg.ArgoCD.Namespace != "" || cfg.ArgoCD.SyncPolicy != nil || cfg.ArgoCD.Destination.Server != "" {
		t.Errorf("ArgoCD defaults applied under flux: %+v", cfg.ArgoCD)
	}
	// sourceRef.namespace follows flux.namespace.
	cfg, err = config.Parse("runnerctl.yaml", []byte(minimalFlux+"flux: {namespace: gitops}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Flux.SourceRef.Namespace != "gitops" {
		t.Errorf("flux.sourceRef.namespace = %q, want flux.namespace (gitops)", cfg.Flux.SourceRef.Namespace)
	}
}

func TestFluxErrors(t *testing.T) {
	cases := []struct {
		name string
		spec string
		want []string
	}{
		{"argocd under flux", minimalFlux + "argocd: {project: team, destination: {name: prod}}\n",
			[]string{"argocd.project: has no effect with gitops.engine flux", "argocd.destination: has no effect"}},
		{"flux under argocd", strings.Replace(minimalFlux, "  engine: flux\n", "", 1) + "flux: {interval: 5m}\n",
			[]string{"flux: is used only with gitops.engine flux"}},
		{"no directory for the Kustomizations", strings.Replace(minimalFlux, "applications: clusters/prod/runners, ", "", 1),
			[]string{"gitops.paths.applications: is required with gitops.engine flux"}},
		{"manifests inside the Kustomizations' directory", strings.Replace(minimalFlux, "manifests: runners", "manifests: clusters/prod/runners/apps", 1),
			[]string{"gitops.paths.manifests: \"clusters/prod/runners/apps\" is inside gitops.paths.applications"}},
		{"interval Go accepts but Flux does not", minimalFlux + "flux: {interval: 10us}\n",
			[]string{"flux.interval: \"10us\" is not a Flux duration"}},
		{"source kind", minimalFlux + "flux: {sourceRef: {kind: HelmRepository}}\n",
			[]string{"flux.sourceRef.kind: \"HelmRepository\" is not one of GitRepository, OCIRepository, Bucket"}},
		{"dependsOn twice", minimalFlux + "flux: {dependsOn: [eso, eso]}\n",
			[]string{"flux.dependsOn[1]: \"eso\" is listed twice"}},
		{"runner in Flux's namespace", minimalFlux + "    namespace: flux-system\n",
			[]string{"runners[0].namespace: \"flux-system\" is Flux's own namespace"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("runnerctl.yaml", []byte(c.spec))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
