package kubeschema

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/runnerctl/runnerctl/internal/validate"
)

// kubeFinalizers are the finalizer names Kubernetes itself uses, which
// need no domain or path.
var kubeFinalizers = []string{"orphan", "foregroundDeletion", "kubernetes"}

// finalizerWarnings are the warnings the API server returns when a custom
// resource is created with finalizer names it advises against (the rule
// of apiextensions-apiserver's registry/customresource validator, which is
// not linked here; see custom): a name that is not a qualified name, and
// any other name without a path ("example.com/x"), except Kubernetes'
// own. kubectl and ArgoCD show them on every apply.
func finalizerWarnings(u *unstructured.Unstructured) []validate.Problem {
	var ps []validate.Problem
	for i, name := range u.GetFinalizers() {
		f := fmt.Sprintf("metadata.finalizers[%d]", i)
		warn := func(msg string) {
			ps = append(ps, validate.Problem{Severity: validate.Warning, Field: f, Message: fmt.Sprintf("%q: %s (the API server warns on create)", name, msg)})
		}
		for _, msg := range validation.IsQualifiedName(name) {
			warn(msg)
		}
		if strings.Contains(name, "/") || slices.Contains(kubeFinalizers, name) {
			continue
		}
		if strings.Contains(name, ".") {
			warn("prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers")
		} else {
			warn("prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers")
		}
	}
	return ps
}
