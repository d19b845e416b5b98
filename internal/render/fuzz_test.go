package render_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// FuzzRender feeds arbitrary strings into every free-text field of the spec.
// Each input is either rejected with an InvalidError (exit 2, naming the
// field) or rendered into files that parse, in which every value comes back
// exactly as given: no YAML, TOML or Helm-template injection. tls ending in
// .pem is gitlab.tls.caFile (read relative to this package's directory, the
// test's repository root), anything else non-empty gitlab.tls.secretName.
// description is also patched into an annotation of the Application and tag
// into the values' nodeSelector: a patched object round-trips too.
func FuzzRender(f *testing.F) {
	f.Add("homelab", "gitlab-runner", "https://gitlab.com/", "https://gitlab.com/org/repo.git", "ubuntu:22.04", "gitlab/gitlab-runner-helper:x86_64-latest", "k8s", "my runner", "manifests", "/gitlab/runners/{runner}", "store", "")
	f.Add("a", "b", "http://h/", "git@h:o/r.git", "img{{x}}", "", "a,b", "\"quoted\"\n", "x/../y", "/p", "s", "testdata/gitlab-ca.pem")
	f.Add("x", "y", "https://h/'\"", "ssh://h/r", "i\"mg", "h'i", " t ", "# c", "m: x", "/a\nb", "s\"", "../../go.pem")
	f.Add("ci", "ns", "https://gitlab.example.com/gitlab/", "https://h/r", "reg.io:5000/a/b@sha256:abc", "h", "tag: [x]", "{{ .Values }}", "dir/sub", "/k", "st", "corp-ca")
	f.Add("ci", "ns", "https://gitlab.example.com:8443/", "https://h/r", "i", "", "t", "d", "manifests", "/k", "st", "testdata/gitlab-ca.pem")
	ps := mustProfiles(f)
	caPEM := readCAPEM(f)
	f.Fuzz(func(t *testing.T, name, namespace, gitlabURL, repoURL, image, helper, tag, description, manifests, infisicalPath, store, tls string) {
		untagged := true
		in := &config.Config{
			APIVersion: config.APIVersion, Kind: config.Kind,
			GitLab: config.GitLab{URL: gitlabURL},
			GitOps: config.GitOps{RepoURL: repoURL, Paths: config.Paths{Manifests: manifests}},
			Secrets: config.Secrets{
				Backend:   config.BackendInfisical,
				Store:     config.StoreRef{Name: store},
				Infisical: &config.Infisical{Path: infisicalPath},
			},
			Runners: []config.Runner{{
				Name: name, Namespace: namespace, Image: image, HelperImage: helper, Profile: "restricted",
				Registration: &config.Registration{Tags: []string{tag}, Description: description, RunUntagged: &untagged},
				Patches: &config.Patches{
					Application: config.Patch{"metadata": map[string]any{"annotations": map[string]any{"example.com/note": description}}},
					Values:      config.Patch{"nodeSelector": map[string]any{"pool": tag}},
				},
			}},
		}
		switch {
		case strings.HasSuffix(tls, ".pem"):
			in.GitLab.TLS = &config.GitLabTLS{CAFile: tls}
		case tls != "":
			in.GitLab.TLS = &config.GitLabTLS{SecretName: tls}
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
		// The spec itself round-trips: what init saves is what it meant.
		r := cfg.Runners[0]
		if r.Name != name || r.Namespace != namespace || r.Image != image || r.HelperImage != helper ||
			cfg.GitLab.URL != gitlabURL || cfg.GitOps.RepoURL != repoURL || cfg.GitOps.Paths.Manifests != manifests ||
			!slices.Equal(r.Registration.Tags, []string{tag}) || r.Registration.Description != description ||
			(in.GitLab.TLS != nil && (cfg.GitLab.TLS.CAFile != in.GitLab.TLS.CAFile || cfg.GitLab.TLS.SecretName != in.GitLab.TLS.SecretName)) {
			t.Fatalf("spec did not round-trip:\n%s", data)
		}
		wantCerts := ""
		if in.GitLab.TLS != nil {
			wantCerts = in.GitLab.TLS.SecretName
			if in.GitLab.TLS.CAFile != "" {
				wantCerts = "gitlab-runner-" + name + "-gitlab-ca"
			}
		}
		res, err := render.Render(cfg, ps)
		if err != nil {
			t.Fatalf("valid spec failed to render: %v", err)
		}
		checkWellFormed(t, res)
		var sawApp, sawES, sawValues, sawCA bool
		for _, file := range res.Files {
			body := bytes.TrimPrefix(file.Content, []byte(render.Header))
			switch {
			case strings.HasSuffix(file.Path, "-external-secret.yaml"):
				sawES = true
				if !strings.HasPrefix(file.Path, manifests+"/") {
					t.Errorf("ExternalSecret written to %q, outside %q", file.Path, manifests)
				}
				var es struct {
					Metadata struct{ Name, Namespace string }
					Spec     struct {
						SecretStoreRef struct{ Name string } `json:"secretStoreRef"`
						Data           []struct {
							RemoteRef struct{ Key string } `json:"remoteRef"`
						}
					}
				}
				if err := sigsyaml.Unmarshal(body, &es); err != nil {
					t.Fatal(err)
				}
				wantKey := strings.TrimSuffix(strings.ReplaceAll(infisicalPath, "{runner}", name), "/") + "/RUNNER_TOKEN"
				if es.Metadata.Namespace != namespace || es.Spec.SecretStoreRef.Name != store || es.Spec.Data[0].RemoteRef.Key != wantKey {
					t.Errorf("ExternalSecret did not round-trip: %+v", es)
				}
			case strings.HasSuffix(file.Path, "-gitlab-ca.yaml"):
				sawCA = true
				var sec struct {
					Metadata   struct{ Name, Namespace string }
					StringData map[string]string `json:"stringData"`
				}
				if err := sigsyaml.Unmarshal(body, &sec); err != nil {
					t.Fatal(err)
				}
				key, err := config.CertKey(gitlabURL)
				if err != nil || sec.Metadata.Name != wantCerts || sec.Metadata.Namespace != namespace || len(sec.StringData) != 1 || sec.StringData[key] != caPEM {
					t.Errorf("CA Secret did not round-trip (key %q, %v): %+v", key, err, sec)
				}
			case strings.HasPrefix(file.Path, "argocd-apps/"):
				sawApp = true
				var app struct {
					Metadata struct {
						Name        string
						Annotations map[string]string
					}
					Spec struct {
						Sources []struct {
							RepoURL string `json:"repoURL"`
							Path    string
						}
					}
				}
				if err := sigsyaml.Unmarshal(body, &app); err != nil {
					t.Fatal(err)
				}
				if app.Metadata.Name != "gitlab-runner-"+name || app.Spec.Sources[1].RepoURL != repoURL || app.Spec.Sources[2].Path != manifests ||
					app.Metadata.Annotations["example.com/note"] != description {
					t.Errorf("Application did not round-trip: %+v", app)
				}
			case strings.HasPrefix(file.Path, "values/"):
				sawValues = true
				var v struct {
					GitLabURL       string            `json:"gitlabUrl"`
					CertsSecretName string            `json:"certsSecretName"`
					NodeSelector    map[string]string `json:"nodeSelector"`
					Runners         struct{ Config string }
				}
				if err := sigsyaml.Unmarshal(body, &v); err != nil {
					t.Fatal(err)
				}
				rc, err := render.DecodeRunnerConfig(untpl(t, v.Runners.Config))
				if err != nil {
					t.Fatal(err)
				}
				k := rc.Runners[0].Kubernetes
				if v.CertsSecretName != wantCerts {
					t.Errorf("certsSecretName = %q, want %q", v.CertsSecretName, wantCerts)
				}
				if v.NodeSelector["pool"] != tag {
					t.Errorf("patched nodeSelector = %q, want %q", v.NodeSelector, tag)
				}
				if v.GitLabURL != gitlabURL || k.Image != image || k.HelperImage != helper || k.Namespace != namespace {
					t.Errorf("values did not round-trip: url=%q image=%q helper=%q ns=%q", v.GitLabURL, k.Image, k.HelperImage, k.Namespace)
				}
			}
		}
		if !sawApp || !sawES || !sawValues || sawCA != (in.GitLab.TLS != nil && in.GitLab.TLS.CAFile != "") {
			t.Fatalf("missing or extra files: %v", res.Files)
		}
	})
}

// readCAPEM is what the CA Secret must hold for testdata/gitlab-ca.pem: its
// certificate, without the comments around it.
func readCAPEM(t testing.TB) string {
	data, err := os.ReadFile("testdata/gitlab-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	return string(data[bytes.Index(data, []byte("-----BEGIN")):])
}
