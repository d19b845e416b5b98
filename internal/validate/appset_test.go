package validate

import (
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
)

// appSetBase is the shape of the ApplicationSet runnerctl renders for a
// runner with clusters (list generator), cut to what the checks read.
const appSetBase = `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: gitlab-runner-build, namespace: argocd}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
    - list:
        elements:
          - {cluster: eu-1, server: https://eu-1.example.com}
          - {cluster: eu-2, server: https://eu-2.example.com}
          - {cluster: us-1, server: https://us-1.example.com}
  template:
    metadata:
      name: gitlab-runner-build-{{.cluster}}
      annotations:
        note: '{{"{{"}} .server }}'
    spec:
      project: default
      destination: {server: '{{.server}}', namespace: gitlab-runner}
      sources:
        - repoURL: https://charts.gitlab.io
          chart: gitlab-runner
          targetRevision: 0.86.0
          helm:
            releaseName: gitlab-runner-build
            valueFiles:
              - $values/values/gitlab-runner-build-{{.cluster}}.yaml
        - repoURL: https://gitlab.example.com/ops/gitops.git
          targetRevision: HEAD
          ref: values
        - repoURL: https://gitlab.example.com/ops/gitops.git
          targetRevision: HEAD
          path: manifests
          directory: {include: 'gitlab-runner-build-{{.cluster}}-external-secret.yaml'}
`

// clusterGen replaces the list generator with runnerctl's cluster
// generator, restricted to names.
const clusterGen = `    - clusters:
        selector:
          matchLabels: {fleet: ci}
      selector:
        matchExpressions:
          - {key: name, operator: In, values: [eu-1, eu-2]}
`

func TestApplicationSet(t *testing.T) {
	list := appSetBase[strings.Index(appSetBase, "    - list:"):strings.Index(appSetBase, "  template:")]
	for _, tc := range []struct {
		name      string
		from, to  string
		field     string
		msg       string
		sev       Severity
		wantCount int
		// cluster, when set, replaces the cluster parameter everywhere.
		cluster string
	}{
		{name: "valid"},
		{name: "valid cluster generator", from: list, to: clusterGen, cluster: "{{.name}}"},
		{name: "cluster generator without the parameter", from: list, to: clusterGen, field: "spec.template",
			msg: `: ArgoCD cannot generate its Application: template: :1:22: executing "" at <.cluster>: map has no entry for key "cluster"`, sev: Error, wantCount: 2},
		{name: "duplicate element", from: "cluster: us-1", to: "cluster: eu-1", field: "spec.template.metadata.name",
			msg: `element 0 and spec.generators[0] element 2 both generate the Application "gitlab-runner-build-eu-1"`, sev: Error, wantCount: 1},
		{name: "name too long for a label", from: "cluster: us-1", to: "cluster: " + strings.Repeat("u", 50), field: "spec.template.metadata.name",
			msg: "characters long: ArgoCD's label tracking", sev: Error, wantCount: 1},
		{name: "not an object name", from: "cluster: us-1", to: "cluster: US_1", field: "spec.template.metadata.name",
			msg: `"gitlab-runner-build-US_1", which is not a valid object name`, sev: Error, wantCount: 1},
		{name: "missing parameter", from: "{cluster: eu-2, server: https://eu-2.example.com}", to: "{cluster: eu-2}", field: "spec.template",
			msg: "element 1: ArgoCD cannot generate its Application", sev: Error, wantCount: 1},
		{name: "source problem once for all clusters", from: "- $values/", to: "- $vals/", field: "spec.template.spec.sources[0].helm.valueFiles[0]",
			msg: "which no source's ref defines", sev: Error, wantCount: 3},
		{name: "unrestricted cluster generator", from: list, to: "    - clusters: {selector: {matchLabels: {fleet: ci}}}\n", field: "spec.generators[0]",
			msg: "not restricted to listed names", sev: Warning, wantCount: 1},
		{name: "git generator", from: list, to: "    - git: {repoURL: x, revision: HEAD}\n", field: "spec.generators[0]",
			msg: "generator git gives parameters known only to ArgoCD", sev: Warning, wantCount: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := appSetBase
			if tc.from != "" {
				if !strings.Contains(doc, tc.from) {
					t.Fatalf("%q is not in the base", tc.from)
				}
				doc = strings.Replace(doc, tc.from, tc.to, 1)
			}
			if tc.cluster != "" {
				doc = strings.ReplaceAll(doc, "{{.cluster}}", tc.cluster)
			}
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatal(err)
			}
			ps := ApplicationSet(obj)
			if len(ps) != tc.wantCount {
				t.Fatalf("want %d problems, got %v", tc.wantCount, ps)
			}
			if tc.wantCount == 0 {
				return
			}
			// A problem of each cluster (its name, its file) is reported
			// for each, never the same one twice.
			for _, p := range ps {
				if p.Field != tc.field || !strings.Contains(p.Message, tc.msg) || p.Severity != tc.sev {
					t.Errorf("want %s %s: ...%s..., got %+v", tc.sev, tc.field, tc.msg, p)
				}
			}
		})
	}
}

// TestApplicationSetSameProblemOnce: a problem that does not depend on the
// cluster (a chart source without targetRevision) is reported once, not
// once per generated Application.
func TestApplicationSetSameProblemOnce(t *testing.T) {
	doc := strings.Replace(appSetBase, "          targetRevision: 0.86.0\n", "", 1)
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatal(err)
	}
	ps := ApplicationSet(obj)
	if len(ps) != 1 || ps[0].Field != "spec.template.spec.sources[0].targetRevision" {
		t.Fatalf("want one targetRevision problem, got %v", ps)
	}
}

// TestApplicationSetExpand checks the two template modes against what
// ArgoCD gives: an escaped "{{" is printed, keys are templated, and
// without goTemplate an unknown key stays as written.
func TestApplicationSetExpand(t *testing.T) {
	tmpl := map[string]any{"name": "a-{{.cluster}}", "{{.cluster}}-key": `{{"{{"}} .server }}`}
	got, err := expand(tmpl, map[string]any{"cluster": "eu", "server": "s"}, true, []string{"missingkey=error"})
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if m["name"] != "a-eu" || m["eu-key"] != "{{ .server }}" {
		t.Errorf("goTemplate: %v", m)
	}
	got, err = expand(map[string]any{"name": "a-{{ cluster }}-{{other}}"}, map[string]any{"cluster": "eu"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.(map[string]any)["name"]; n != "a-eu-{{other}}" {
		t.Errorf("fasttemplate: %v", n)
	}
}

// TestRenderedApplicationSets: what runnerctl renders for a runner with
// clusters, with either generator, gives no problem at all (not even a
// "not checked" warning) and generates one Application per cluster.
func TestRenderedApplicationSets(t *testing.T) {
	ps, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for name, argocd := range map[string]string{
		"list":     "clusters:\n  - {name: eu-1, destination: {server: https://eu-1.example.com}}\n  - {name: us-1, destination: {name: us-1}}\n",
		"clusters": "argocd: {applicationSet: {generator: clusters, selector: {fleet: ci}}}\nclusters:\n  - {name: eu-1}\n  - {name: us-1}\n",
	} {
		t.Run(name, func(t *testing.T) {
			spec := `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
` + argocd + `runners:
  - name: ci
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
    clusters: [{name: eu-1}, {name: us-1}]
`
			cfg, err := config.Parse("runnerctl.yaml", []byte(spec))
			if err != nil {
				t.Fatal(err)
			}
			res, err := render.Render(cfg, ps)
			if err != nil {
				t.Fatal(err)
			}
			var sets int
			for _, f := range res.Files {
				docs, err := SplitDocs(f.Content)
				if err != nil {
					t.Fatal(err)
				}
				var obj map[string]any
				if err := docs[0].Node.Decode(&obj); err != nil {
					t.Fatal(err)
				}
				if obj["kind"] != "ApplicationSet" {
					continue
				}
				sets++
				if ps := ApplicationSet(obj); len(ps) > 0 {
					t.Errorf("%s: %v", f.Path, ps)
				}
				apps, _ := GenerateApplications(obj)
				var names []string
				for _, a := range apps {
					names = append(names, a.Object["metadata"].(map[string]any)["name"].(string))
				}
				if want := []string{"gitlab-runner-ci-eu-1", "gitlab-runner-ci-us-1"}; !slices.Equal(names, want) {
					t.Errorf("generated %q, want %q", names, want)
				}
			}
			if sets != 1 {
				t.Errorf("%d ApplicationSets rendered, want 1", sets)
			}
		})
	}
}
