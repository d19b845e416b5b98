package validate

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/template"
)

// dnsSubdomainRE is a Kubernetes object name (RFC 1123 subdomain), which
// every Application's metadata.name must be.
var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// Limits of an Application's name: the API server's for any object name,
// and a label value's, where ArgoCD's label tracking (and runnerctl's own
// Application names, config.MaxApplicationNameLen) put it.
const (
	maxObjectName = 253
	maxLabelValue = 63
)

// ApplicationSet checks an ArgoCD ApplicationSet against what ArgoCD
// itself refuses only when its controller generates the Applications
// (v3.5.7: the ApplicationSet controller's validateGeneratedApplications
// and the API server's checks of each Application it creates), for the
// generators whose parameters are known offline:
//
//   - list: each element's keys;
//   - clusters restricted by its selector on the parameters to listed
//     names (name In [...]): each of those names, as the cluster's name,
//     which is what runnerctl generates. A cluster generator without that
//     restriction depends on the clusters registered in ArgoCD and is
//     reported as not checked.
//
// For each set of parameters, the template is run as ArgoCD runs it
// (goTemplate with goTemplateOptions; without goTemplate, "{{key}}"
// substitution) over every key and string; the generated Applications'
// names must be valid object names of at most 63 characters and unique
// within the set, and each generated Application's sources must pass
// ApplicationSources. Problems the same for every generated Application
// are reported once. obj is the ApplicationSet decoded from YAML or JSON.
func ApplicationSet(obj map[string]any) []Problem {
	apps, ps := GenerateApplications(obj)
	add := func(p Problem) {
		if !slices.Contains(ps, p) {
			ps = append(ps, p)
		}
	}
	names := map[string]string{} // generated name: what generated it first
	for _, a := range apps {
		meta, _ := a.Object["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		nameField := "spec.template.metadata.name"
		switch {
		case name == "":
			add(Problem{Severity: Error, Field: nameField, Message: fmt.Sprintf("%s generates an Application without a name", a.What)})
		case len(name) > maxObjectName || !dnsSubdomainRE.MatchString(name):
			add(Problem{Severity: Error, Field: nameField, Message: fmt.Sprintf(
				"%s generates the Application name %q, which is not a valid object name (lowercase letters, digits, '-' and '.', at most %d characters)", a.What, name, maxObjectName)})
		case len(name) > maxLabelValue:
			add(Problem{Severity: Error, Field: nameField, Message: fmt.Sprintf(
				"%s generates the Application name %q, %d characters long: ArgoCD's label tracking puts it in a label value of at most %d", a.What, name, len(name), maxLabelValue)})
		}
		if prev, dup := names[name]; dup && name != "" {
			add(Problem{Severity: Error, Field: nameField, Message: fmt.Sprintf(
				"%s and %s both generate the Application %q; ArgoCD refuses an ApplicationSet with duplicate names", prev, a.What, name)})
		} else {
			names[name] = a.What
		}
		// A problem the same for every generated Application (not
		// naming a parameter's value) is added once.
		for _, sp := range ApplicationSources(a.Object) {
			sp.Field = "spec.template." + sp.Field
			add(sp)
		}
	}
	return ps
}

// GeneratedApplication is one Application that an ApplicationSet
// generates: what generated it ("spec.generators[0] element 1"), and the
// object as ArgoCD's controller would create it.
type GeneratedApplication struct {
	What   string
	Object map[string]any
}

// GenerateApplications generates the Applications of ApplicationSet obj
// as ArgoCD's controller would, for the generators whose parameters are
// known offline (see ApplicationSet); problems are the generators it
// cannot tell (warnings) and the parameters the template fails on.
func GenerateApplications(obj map[string]any) ([]GeneratedApplication, []Problem) {
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	if tmpl == nil {
		return nil, nil // the CRD's schema requires it: reported there
	}
	meta, _ := obj["metadata"].(map[string]any)
	setNamespace, _ := meta["namespace"].(string)
	goTemplate, _ := spec["goTemplate"].(bool)
	var opts []string
	if l, ok := spec["goTemplateOptions"].([]any); ok {
		for _, o := range l {
			if s, ok := o.(string); ok {
				opts = append(opts, s)
			}
		}
	}
	var (
		apps []GeneratedApplication
		ps   []Problem
	)
	generators, _ := spec["generators"].([]any)
	for i, g := range generators {
		gen, _ := g.(map[string]any)
		field := fmt.Sprintf("spec.generators[%d]", i)
		params, why := generatorParams(gen)
		if why != "" {
			ps = append(ps, Problem{Severity: Warning, Field: field, Message: "the generated Applications are not checked: " + why})
			continue
		}
		for _, p := range params {
			what := field + " " + p.what
			out, err := expand(tmpl, p.values, goTemplate, opts)
			if err != nil {
				ps = append(ps, Problem{Severity: Error, Field: "spec.template", Message: fmt.Sprintf("%s: ArgoCD cannot generate its Application: %v", what, err)})
				continue
			}
			app, _ := out.(map[string]any)
			app["apiVersion"], app["kind"] = "argoproj.io/v1alpha1", "Application"
			// The controller puts an Application without a namespace in
			// the ApplicationSet's.
			if m, ok := app["metadata"].(map[string]any); ok && m["namespace"] == nil && setNamespace != "" {
				m["namespace"] = setNamespace
			}
			apps = append(apps, GeneratedApplication{What: what, Object: app})
		}
	}
	return apps, ps
}

// generatorParam is the parameters of one Application a generator gives,
// and how a problem names them.
type generatorParam struct {
	what   string
	values map[string]any
}

// generatorParams lists the parameters generator gen gives, or why they
// are not known offline.
func generatorParams(gen map[string]any) ([]generatorParam, string) {
	if l, ok := gen["list"].(map[string]any); ok {
		if _, ok := l["elementsYaml"]; ok {
			return nil, "the list generator's elementsYaml is a template"
		}
		elems, _ := l["elements"].([]any)
		var out []generatorParam
		for i, e := range elems {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Sprintf("element %d is not a mapping", i)
			}
			out = append(out, generatorParam{what: fmt.Sprintf("element %d", i), values: m})
		}
		return out, ""
	}
	if _, ok := gen["clusters"].(map[string]any); ok {
		names := postSelectedNames(gen["selector"])
		if names == nil {
			return nil, "the cluster generator is not restricted to listed names (selector matchExpressions: name In [...]), so which clusters it gives depends on ArgoCD"
		}
		var out []generatorParam
		for _, n := range names {
			out = append(out, generatorParam{what: fmt.Sprintf("cluster %q", n), values: map[string]any{"name": n, "nameNormalized": n, "server": "https://" + n}})
		}
		return out, ""
	}
	var kinds []string
	for k := range gen {
		if k != "selector" {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	return nil, fmt.Sprintf("generator %s gives parameters known only to ArgoCD", strings.Join(kinds, ", "))
}

// postSelectedNames is the names a generator's selector on its parameters
// admits through matchExpressions key name, operator In; nil when it does
// not restrict names that way.
func postSelectedNames(sel any) []string {
	s, _ := sel.(map[string]any)
	exprs, _ := s["matchExpressions"].([]any)
	for _, e := range exprs {
		m, _ := e.(map[string]any)
		if m["key"] != "name" || m["operator"] != "In" {
			continue
		}
		vals, _ := m["values"].([]any)
		out := []string{}
		for _, v := range vals {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// expand runs every key and string of v as ArgoCD's ApplicationSet
// controller does (applicationset/utils' Render): a Go template with the
// given options, or without goTemplate the "{{key}}" substitution of its
// fasttemplate mode, which leaves an unknown key as written.
func expand(v any, params map[string]any, goTemplate bool, opts []string) (any, error) {
	switch v := v.(type) {
	case string:
		if !strings.Contains(v, "{{") {
			return v, nil
		}
		if !goTemplate {
			return substitute(v, params), nil
		}
		t, err := template.New("").Option(opts...).Parse(v)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		if err := t.Execute(&b, params); err != nil {
			return nil, err
		}
		return b.String(), nil
	case map[string]any:
		out := make(map[string]any, len(v))
		// In key order: the first error is the one reported, the same
		// every run.
		for _, k := range slices.Sorted(maps.Keys(v)) {
			item := v[k]
			kk, err := expand(k, params, goTemplate, opts)
			if err != nil {
				return nil, err
			}
			if out[kk.(string)], err = expand(item, params, goTemplate, opts); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			var err error
			if out[i], err = expand(item, params, goTemplate, opts); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

var fastTemplateRE = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

// substitute replaces "{{key}}" (spaces allowed inside) by the string
// parameter key, leaving unknown keys as written.
func substitute(s string, params map[string]any) string {
	return fastTemplateRE.ReplaceAllStringFunc(s, func(m string) string {
		key := strings.TrimSpace(m[2 : len(m)-2])
		if v, ok := params[key]; ok {
			return fmt.Sprint(v)
		}
		return m
	})
}
