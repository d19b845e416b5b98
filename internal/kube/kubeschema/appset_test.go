package kubeschema

import (
	"context"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/validate"
)

// applicationSet is the shape of the ApplicationSet runnerctl renders for
// a runner with clusters, with a list generator.
const applicationSet = `apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata:
  name: gitlab-runner-build
  namespace: argocd
spec:
  goTemplate: true
  goTemplateOptions:
    - missingkey=error
  generators:
    - list:
        elements:
          - {cluster: eu-1, server: https://eu-1.example.com}
          - {cluster: us-1, server: https://us-1.example.com}
  template:
    metadata:
      name: gitlab-runner-build-{{.cluster}}
      namespace: argocd
      finalizers:
        - resources-finalizer.argocd.argoproj.io/foreground
    spec:
      project: default
      destination:
        server: '{{.server}}'
        namespace: gitlab-runner
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
`

// TestApplicationSetAdmission: the ApplicationSet CRD and ArgoCD's rules
// for the Applications it generates (validate.ApplicationSet), and each
// generated Application admitted against the Application CRD.
func TestApplicationSetAdmission(t *testing.T) {
	v := upstreamValidator(t)
	t.Run("valid, stored as written", func(t *testing.T) {
		a := v.Admit(context.Background(), []byte(applicationSet))
		if len(a.Problems) > 0 || a.Stored == nil {
			t.Fatalf("stored %v, problems:\n%s", a.Stored != nil, dump(a.Problems))
		}
		if ch := Changes(a.Given, a.Stored); len(ch) > 0 {
			t.Errorf("the API server would change it: %v", ch)
		}
	})
	t.Run("unknown field in the template", func(t *testing.T) {
		doc := strings.Replace(applicationSet, "      project: default\n", "      project: default\n      projekt: x\n", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.template.spec.projekt", "unknown field")
	})
	t.Run("duplicate generated names", func(t *testing.T) {
		doc := strings.Replace(applicationSet, "cluster: us-1", "cluster: eu-1", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.template.metadata.name", "duplicate names")
	})
	t.Run("generated name the Application CRD refuses", func(t *testing.T) {
		doc := strings.Replace(applicationSet, "cluster: us-1", "cluster: US_1", 1)
		ps := problems(t, v, doc)
		wantProblem(t, ps, validate.Error, "spec.template.metadata.name", "not a valid object name")
		wantProblem(t, ps, validate.Error, "spec.template.metadata.name", "generated Application (spec.generators[0] element 1): Invalid value: \"gitlab-runner-build-US_1\"")
	})
	t.Run("template source rule", func(t *testing.T) {
		doc := strings.Replace(applicationSet, "- $values/", "- $vals/", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.template.spec.sources[0].helm.valueFiles[0]", "which no source's ref defines")
	})
	t.Run("generated Application invalid for its CRD only", func(t *testing.T) {
		// A parameter, not the template, makes a label value of the
		// generated Application invalid: the ApplicationSet CRD sees only
		// a map of strings, admitting the generated object shows it.
		doc := strings.Replace(applicationSet, "      namespace: argocd\n      finalizers:", "      namespace: argocd\n      labels: {server: '{{.server}}'}\n      finalizers:", 1)
		ps := problems(t, v, doc)
		if len(ps) == 0 {
			t.Fatal("no problem")
		}
		wantProblem(t, ps, validate.Error, "spec.template.metadata.labels", "generated Application (spec.generators[0] element 0): Invalid value: \"https://eu-1.example.com\"")
	})
	t.Run("the same problem for every generated Application", func(t *testing.T) {
		doc := strings.Replace(applicationSet, "      namespace: argocd\n      finalizers:", "      namespace: argocd\n      annotations: {'bad key!': x}\n      finalizers:", 1)
		ps := problems(t, v, doc)
		if len(ps) != 1 {
			t.Fatalf("want one problem for both Applications, got:\n%s", dump(ps))
		}
		wantProblem(t, ps, validate.Error, "spec.template.metadata.annotations", "generated Application: Invalid value: \"bad key!\"")
	})
}
