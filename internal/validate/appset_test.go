package validate

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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
			msg: `cluster "eu-1": ArgoCD cannot generate its Application`, sev: Error, wantCount: 2},
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
			// The source problem names each cluster's file: one per
			// cluster, never the same one twice.
			for i, p := range ps {
				msg := tc.msg
				if i > 0 {
					msg = msg[strings.Index(msg, ":")+1:] // the first names its cluster
				}
				if p.Field != tc.field || !strings.Contains(p.Message, msg) || p.Severity != tc.sev {
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
