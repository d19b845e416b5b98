package validate

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Each multi-source rule of ArgoCD, one mistake at a time, on the
// Application runnerctl renders (which breaks none of them).
func TestApplicationSources(t *testing.T) {
	const base = `
spec:
  sources:
    - repoURL: https://charts.gitlab.io
      chart: gitlab-runner
      targetRevision: 0.86.0
      helm:
        valueFiles: [$values/values/gitlab-runner-ci.yaml]
    - repoURL: https://gitlab.example.com/ops/gitops.git
      targetRevision: HEAD
      ref: values
    - repoURL: https://gitlab.example.com/ops/gitops.git
      targetRevision: HEAD
      path: manifests
`
	for _, tc := range []struct {
		name, from, to, field, msg string
	}{
		{"valid", "", "", "", ""},
		{"ref source that is a chart", "      ref: values\n", "      ref: values\n      chart: other\n", "spec.sources[0].helm.valueFiles[0]", "refers to $values, a Helm chart source"},
		{"$values not at the start", "[$values/values/", "[values/$values/values/", "spec.sources[0].helm.valueFiles[0]", "$values must start the path"},
		{"unknown ref", "[$values/", "[$vals/", "spec.sources[0].helm.valueFiles[0]", "refers to $vals, which no source's ref defines"},
		{"no ref at all", "      ref: values\n", "      path: x\n", "spec.sources[0].helm.valueFiles[0]", "but no source has a ref"},
		{"ref with a dot", "values", "val.ues", "spec.sources[1].ref", `"val.ues": a ref may hold letters`},
		{"duplicate ref", "      path: manifests\n", "      path: manifests\n      ref: values\n", "spec.sources[2].ref", "another source has the same ref"},
		{"chart without targetRevision", "      targetRevision: 0.86.0\n", "", "spec.sources[0].targetRevision", "needs targetRevision"},
		{"neither path, chart nor ref", "      path: manifests\n", "", "spec.sources[2]", "needs repoURL and one of path, chart or ref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := base
			if tc.from != "" {
				if !strings.Contains(doc, tc.from) {
					t.Fatalf("%q is not in the base", tc.from)
				}
				doc = strings.ReplaceAll(doc, tc.from, tc.to)
			}
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
				t.Fatal(err)
			}
			ps := ApplicationSources(obj)
			if tc.field == "" {
				if len(ps) > 0 {
					t.Fatalf("want none, got %v", ps)
				}
				return
			}
			if len(ps) != 1 || ps[0].Field != tc.field || !strings.Contains(ps[0].Message, tc.msg) || ps[0].Severity != Error {
				t.Fatalf("want one error at %s containing %q, got %v", tc.field, tc.msg, ps)
			}
		})
	}
}
