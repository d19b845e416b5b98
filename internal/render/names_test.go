package render_test

import (
	"fmt"
	"path"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/rotate"
)

// TestNamesAreRendered checks that every name NamesOf gives, which
// rotate-token (force-sync, restart) and validate (the chart's release)
// act on, is the name of an object render writes, of the right kind: if
// render renamed an object and not NamesOf, rotation would act on nothing.
func TestNamesAreRendered(t *testing.T) {
	spec := strings.Replace(fmt.Sprintf(baseSpec, "vault", "vault", "restricted"), "  url: https://gitlab.example.com/gitlab/\n",
		"  url: https://gitlab.example.com/gitlab/\n  tls: {caFile: testdata/gitlab-ca.pem}\n", 1)
	spec += `    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
`
	cfg := mustLoad(t, spec)
	res, err := render.Render(cfg, mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	r := &cfg.Runners[0]
	n := render.NamesOf(r)

	type object struct {
		Kind     string
		Metadata struct{ Name string }
		Spec     struct {
			Sources []struct {
				Helm *struct {
					ReleaseName string `json:"releaseName"`
				}
			}
			Target struct {
				Name     string
				Template struct{ Data map[string]string }
			}
		}
		Runners struct {
			Secret string
			Cache  struct {
				SecretName string `json:"secretName"`
			}
		}
		CertsSecretName string `json:"certsSecretName"`
		ServiceAccount  struct{ Name string }
	}
	objects := map[string]object{} // by kind/name
	var values object
	for _, f := range res.Files {
		if !strings.HasPrefix(path.Base(f.Path), render.FilePrefix) {
			t.Errorf("%s does not start with render.FilePrefix %q: runnerctl would not find it", f.Path, render.FilePrefix)
		}
		for doc := range strings.SplitSeq(string(f.Content), "\n---\n") {
			var o object
			if err := sigsyaml.Unmarshal([]byte(doc), &o); err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if f.Path == render.ValuesPath(cfg, r) {
				values = o
				continue
			}
			objects[o.Kind+"/"+o.Metadata.Name] = o
		}
	}

	app, ok := objects["Application/"+n.Application]
	if !ok {
		t.Fatalf("no Application %s in %v", n.Application, objects)
	}
	if got := app.Spec.Sources[0].Helm.ReleaseName; got != n.Release {
		t.Errorf("Helm release %q, NamesOf says %q", got, n.Release)
	}
	// The chart names its Deployment after the release (validate's chart
	// check confirms it against the chart itself).
	if n.Deployment != n.Release {
		t.Errorf("Deployment %q is not the release %q", n.Deployment, n.Release)
	}
	token, ok := objects["ExternalSecret/"+n.TokenExternalSecret]
	if !ok {
		t.Fatalf("no ExternalSecret %s in %v", n.TokenExternalSecret, objects)
	}
	if token.Spec.Target.Name != n.TokenSecret || values.Runners.Secret != n.TokenSecret {
		t.Errorf("token Secret: ExternalSecret target %q, values runners.secret %q, NamesOf %q", token.Spec.Target.Name, values.Runners.Secret, n.TokenSecret)
	}
	if _, ok := token.Spec.Target.Template.Data[rotate.SecretKey]; !ok {
		t.Errorf("the token Secret has no key %q, which rotate-token reads: %v", rotate.SecretKey, token.Spec.Target.Template.Data)
	}
	cache, ok := objects["ExternalSecret/"+n.CacheSecret]
	if !ok || cache.Spec.Target.Name != n.CacheSecret || values.Runners.Cache.SecretName != n.CacheSecret {
		t.Errorf("cache Secret %q: ExternalSecret %v, values %q", n.CacheSecret, ok, values.Runners.Cache.SecretName)
	}
	if _, ok := objects["Secret/"+n.GitLabCASecret]; !ok || values.CertsSecretName != n.GitLabCASecret {
		t.Errorf("no CA Secret %s (certsSecretName %q)", n.GitLabCASecret, values.CertsSecretName)
	}
	if _, ok := objects["NetworkPolicy/"+n.NetworkPolicy]; !ok {
		t.Errorf("no NetworkPolicy %s in %v", n.NetworkPolicy, objects)
	}
	// config's default service account is the release's name.
	if values.ServiceAccount.Name != n.Release {
		t.Errorf("default service account %q, release %q", values.ServiceAccount.Name, n.Release)
	}
}
