package render_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// FuzzRenderFlux is FuzzRender for gitops.engine flux: arbitrary strings in
// the fields that reach the Flux objects are either refused with a field
// error or come back exactly as given, from the values inline in the
// HelmRelease and from its patched annotation as much as from the
// Kustomization's path.
func FuzzRenderFlux(f *testing.F) {
	f.Add("ci", "gitlab-runner", "https://gitlab.com/", "ubuntu:22.04", "k8s", "my runner", "runners", "clusters/prod", "flux-system")
	f.Add("a", "b", "http://h/", "img{{x}}", "a,b", "\"quoted\"\n", "x/../y", "c", "src")
	f.Add("x", "y", "https://h/'\"", "i\"mg", " t ", "# c", "m: x", "apps: [x]", "s\"")
	f.Add("ci", "ns", "https://gitlab.example.com/gitlab/", "reg.io:5000/a/b@sha256:abc", "tag: [x]", "{{ .Values }}", "dir/sub", "dir", "flux-system")
	ps := mustProfiles(f)
	f.Fuzz(func(t *testing.T, name, namespace, gitlabURL, image, tag, description, manifests, applications, source string) {
		in := &config.Config{
			APIVersion: config.APIVersion, Kind: config.Kind,
			GitLab: config.GitLab{URL: gitlabURL},
			GitOps: config.GitOps{RepoURL: "https://gitlab.com/org/repo.git", Engine: config.EngineFlux,
				Paths: config.Paths{Manifests: manifests, Applications: applications}},
			Flux:    config.Flux{SourceRef: config.FluxSourceRef{Name: source}},
			Secrets: config.Secrets{Backend: config.BackendVault, Store: config.StoreRef{Name: "vault"}},
			Runners: []config.Runner{{
				Name: name, Namespace: namespace, Image: image, Profile: "restricted",
				Registration: &config.Registration{Tags: []string{tag}, Description: description},
				Patches: &config.Patches{
					Application: config.Patch{"metadata": map[string]any{"annotations": map[string]any{"example.com/note": description}}},
					Values:      config.Patch{"nodeSelector": map[string]any{"pool": tag}},
				},
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
			t.Fatalf("valid spec failed to render: %v", err)
		}
		checkWellFormed(t, res)
		var sawHR, sawKS bool
		for _, file := range res.Files {
			body := bytes.TrimPrefix(file.Content, []byte(render.Header))
			switch {
			case strings.HasSuffix(file.Path, "-helm-release.yaml"):
				sawHR = true
				var hr struct {
					Metadata struct {
						Name, Namespace string
						Annotations     map[string]string
					}
					Spec struct {
						Values struct {
							GitLabURL    string            `json:"gitlabUrl"`
							NodeSelector map[string]string `json:"nodeSelector"`
							Runners      struct{ Config string }
						}
					}
				}
				if err := sigsyaml.Unmarshal(body, &hr); err != nil {
					t.Fatal(err)
				}
				rc, err := render.DecodeRunnerConfig(untpl(t, hr.Spec.Values.Runners.Config))
				if err != nil {
					t.Fatal(err)
				}
				v, k := hr.Spec.Values, rc.Runners[0].Kubernetes
				if hr.Metadata.Name != "gitlab-runner-"+name || hr.Metadata.Namespace != namespace || hr.Metadata.Annotations["example.com/note"] != description ||
					v.GitLabURL != gitlabURL || v.NodeSelector["pool"] != tag || k.Image != image || k.Namespace != namespace {
					t.Errorf("HelmRelease did not round-trip: %+v\n%+v", hr, k)
				}
			case strings.HasPrefix(file.Path, applications+"/"):
				sawKS = true
				var ks struct {
					Spec struct {
						Path      string
						SourceRef struct{ Name string } `json:"sourceRef"`
					}
				}
				if err := sigsyaml.Unmarshal(body, &ks); err != nil {
					t.Fatal(err)
				}
				if ks.Spec.Path != "./"+manifests+"/gitlab-runner-"+name || ks.Spec.SourceRef.Name != source {
					t.Errorf("Kustomization did not round-trip: %+v", ks)
				}
			}
		}
		if !sawHR || !sawKS {
			t.Fatalf("missing files: %v", res.Files)
		}
	})
}
