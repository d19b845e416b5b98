package render

import (
	"fmt"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/templates"
)

// TestBases: every file of templates/ decodes strictly into its object,
// and none is left out of decodeBases.
func TestBases(t *testing.T) {
	b, err := loadBases()
	if err != nil {
		t.Fatal(err)
	}
	// Deploys recognises an Application by its first lines.
	if want := "\napiVersion: " + b.Application.APIVersion + "\nkind: " + b.Application.Kind + "\n"; applicationStart != want {
		t.Errorf("Deploys looks for %q, templates/application.yaml starts %q", applicationStart, want)
	}
	if want := "\napiVersion: " + b.ApplicationSet.APIVersion + "\nkind: " + b.ApplicationSet.Kind + "\n"; applicationSetStart != want {
		t.Errorf("Deploys looks for %q, templates/applicationset.yaml starts %q", applicationSetStart, want)
	}
	var decoded []string
	for _, f := range (&bases{}).files() {
		decoded = append(decoded, f.name)
	}
	embedded, err := fs.Glob(templates.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(decoded)
	if !slices.Equal(embedded, decoded) {
		t.Errorf("templates/ holds %q, render decodes %q", embedded, decoded)
	}
}

// TestBasesStrict: a key that the typed object lacks, a second document
// and a value of the wrong type are errors, not silently dropped.
func TestBasesStrict(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown key":     "kind: ExternalSecret\nspec:\n  target:\n    creationPolicy: Owner\n    immutable: true\n",
		"second document": "kind: ExternalSecret\n---\nkind: Secret\n",
		"wrong type":      "kind: ExternalSecret\nspec:\n  data: {secretKey: x}\n",
	} {
		var es externalSecret
		if err := decodeBase([]byte(doc), &es); err == nil {
			t.Errorf("%s: decoded into %+v", name, es)
		}
	}
}

// TestBasesNotChanged: rendering fills copies of the bases, never the
// bases themselves, which every runner shares (go test -race also sees a
// change made by two runners at once).
func TestBasesNotChanged(t *testing.T) {
	var spec strings.Builder
	spec.WriteString(`apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/", tls: {caFile: testdata/gitlab-ca.pem}}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
clusters:
  - {name: eu, destination: {server: "https://eu.example.com"}}
  - {name: us, destination: {name: us}}
runners:
  - name: fleet
    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
    patches: {application: {metadata: {annotations: {a: b}}}, values: {podLabels: {a: b}}}
    clusters:
      - {name: eu, nodeSelector: {pool: a}, patches: {values: {podLabels: {c: d}}}}
      - {name: us, concurrent: 3, resources: {limits: {cpu: "1"}}}
`)
	for i, policy := range []string{"", "flavor: cilium, fqdns: [registry.example.com], ", "", "flavor: cilium, "} {
		fmt.Fprintf(&spec, `  - name: r%d
    registration: {tags: [t%d]}
    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    autoscaling: {maxReplicas: 4}
    metrics: true
    networkPolicy: {%sgitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
`, i, i, policy)
	}
	cfg, err := config.Parse("runnerctl.yaml", []byte(spec.String()))
	if err != nil {
		t.Fatal(err)
	}
	ps, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Render(cfg, ps); err != nil {
		t.Fatal(err)
	}
	shared, err := loadBases()
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := decodeBases()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shared, fresh) {
		t.Errorf("rendering changed the bases:\n%+v\nwant\n%+v", shared, fresh)
	}
}
