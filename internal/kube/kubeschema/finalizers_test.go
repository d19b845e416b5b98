package kubeschema

import (
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/validate"
)

// The API server warns about finalizer names without a path; ArgoCD's
// path form (the one render writes) draws no warning.
func TestFinalizerWarnings(t *testing.T) {
	v := upstreamValidator(t)
	withFinalizer := func(name string) string {
		return strings.Replace(application, "  namespace: argocd\n", "  namespace: argocd\n  finalizers: ["+name+"]\n", 1)
	}
	ps := problems(t, v, withFinalizer("resources-finalizer.argocd.argoproj.io"))
	wantProblem(t, ps, validate.Warning, "metadata.finalizers[0]", `"resources-finalizer.argocd.argoproj.io": prefer a domain-qualified finalizer name including a path (/)`)
	ps = problems(t, v, withFinalizer("cleanup"))
	wantProblem(t, ps, validate.Warning, "metadata.finalizers[0]", `"cleanup": prefer a domain-qualified finalizer name to avoid`)
	for _, ok := range []string{"resources-finalizer.argocd.argoproj.io/foreground", "resources-finalizer.argocd.argoproj.io/background", "kubernetes"} {
		if ps := problems(t, v, withFinalizer(ok)); len(ps) > 0 {
			t.Errorf("%s: want no warning, got:\n%s", ok, dump(ps))
		}
	}
}
