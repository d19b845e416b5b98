package render_test

import (
	"errors"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// FuzzRenderFleet feeds arbitrary strings into the fields of a fleet that
// reach an ApplicationSet's template or its generator: the repository,
// the manifests directory, a cluster's name and destination, and a
// patched annotation (key and value) of the template. Each input is
// rejected with an InvalidError or rendered into an ApplicationSet whose
// Applications, generated as ArgoCD's controller generates them (every
// key and string run as a Go template), hold every value exactly as
// given: nothing from runnerctl.yaml runs as an ApplicationSet template
// action.
func FuzzRenderFleet(f *testing.F) {
	f.Add("https://h/r.git", "manifests", "eu-1", "https://eu-1.example.com", "example.com/note", "plain")
	f.Add("https://h/{{.cluster}}.git", "m", "us-1", "https://us-1.example.com", "example.com/{{.name}}", `{{"{{"}} {{ .server }}`)
	f.Add("https://h/r", "m{{x}}", "c", "https://x/", "a", "}}{{{{")
	f.Add("https://h/r", "manifests", "eu-1", "https://x/{{.cluster}}", "{{- .cluster -}}", "{{- .cluster -}}")
	f.Add("https://h/r", "manifests", "eu-1", "", "k", "v")
	ps := mustProfiles(f)
	f.Fuzz(func(t *testing.T, repoURL, manifests, cluster, server, annotationKey, annotation string) {
		in := &config.Config{
			APIVersion: config.APIVersion, Kind: config.Kind,
			GitLab:   config.GitLab{URL: "https://gitlab.example.com/"},
			GitOps:   config.GitOps{RepoURL: repoURL, Paths: config.Paths{Manifests: manifests}},
			Secrets:  config.Secrets{Backend: config.BackendVault, Store: config.StoreRef{Name: "vault"}},
			Clusters: []config.Cluster{{Name: cluster, Destination: config.Destination{Server: server}}},
			Runners: []config.Runner{{
				Name: "ci",
				Patches: &config.Patches{
					Application: config.Patch{"metadata": map[string]any{"annotations": map[string]any{annotationKey: annotation}}},
				},
				Clusters: []config.RunnerCluster{{Name: cluster}},
			}},
		}
		data, err := config.Marshal(in)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		cfg, err := config.Parse("runnerctl.yaml", data)
		if err != nil {
			var inv *config.InvalidError
			if !errors.As(err, &inv) || len(inv.Errors) == 0 {
				t.Fatalf("rejected without a field error: %v", err)
			}
			return
		}
		res, err := render.Render(cfg, ps)
		if err != nil {
			var inv *config.InvalidError
			if errors.As(err, &inv) && len(inv.Errors) > 0 {
				return // a patch refused (an owned field, such as the runner label)
			}
			t.Fatalf("valid spec failed to render: %v", err)
		}
		checkWellFormed(t, res)
		s := decodeAppSet(t, fileOf(t, res, render.ApplicationPath(cfg, &cfg.Runners[0])))
		params := paramsOf(t, cfg, s)
		app, err := generate(t, s, params[cluster])
		if err != nil {
			t.Fatalf("ArgoCD would not generate the Application: %v", err)
		}
		inst := cfg.Instance("ci@" + cluster)
		if app.Metadata.Name != "gitlab-runner-ci-"+cluster || app.Spec.Destination.Server != cfg.Clusters[0].Destination.Server ||
			app.Metadata.Annotations[annotationKey] != annotation {
			t.Errorf("generated Application did not round-trip: %+v", app)
		}
		for _, src := range app.Spec.Sources {
			if src.Directory != nil && (src.Path != manifests || src.RepoURL != repoURL) {
				t.Errorf("manifests source did not round-trip: %+v", src)
			}
			if src.Helm != nil && src.Helm.ValueFiles[0] != "$values/"+render.ValuesPath(cfg, inst) {
				t.Errorf("valueFiles %q", src.Helm.ValueFiles)
			}
		}
	})
}
