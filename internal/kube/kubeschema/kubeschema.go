// Package kubeschema validates Kubernetes objects the way the API server
// does, without an API server: custom resources (ArgoCD's Application and
// ApplicationSet, ESO's ExternalSecret, SecretStore, ClusterSecretStore,
// Flux's HelmRelease, HelmRepository, OCIRepository and Kustomization,
// anything a CRD defines) against their CRD's structural schema with
// k8s.io/apiextensions-apiserver's own code — unknown fields the server
// would prune, defaulting, OpenAPI validation, metadata, list-type
// invariants and x-kubernetes-validations (CEL) rules — and built-in
// objects (Namespace, Secret, NetworkPolicy, Deployment, Role...) by strict
// decoding into k8s.io/api's types plus object metadata validation.
//
// It also reports drift: every field of a custom resource that the API
// server would fill in with a schema default on create, so that the live
// object, which GitOps tools compare with the file, would differ from it.
//
// It links a large part of Kubernetes, so only the runnerctl-kube helper
// imports it.
package kubeschema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apihelpers"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/validate"
)

// Validator validates objects against a set of CRDs and Kubernetes'
// built-in types.
type Validator struct {
	crds map[schema.GroupKind]*crdEntry
	// IgnoreMissing turns "no CRD for this kind" into a warning.
	IgnoreMissing bool
	// AllowDrift turns "the API server would fill in this field" into a
	// warning.
	AllowDrift bool
	strict     runtime.Decoder
	// serveAll: see crdEntry.version. Set only by this package's tests.
	serveAll bool
}

type crdEntry struct {
	crd    *apiextensionsv1.CustomResourceDefinition
	source string
	// versions are built on first use: the Application CRD's schema alone
	// is 400 kB.
	versions map[string]*version
}

type version struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
	namespaced bool
	// statusSubresource: the version has the status subresource.
	statusSubresource bool
	err               error
}

// New returns a Validator knowing no CRD yet.
func New() *Validator {
	return &Validator{
		crds: map[schema.GroupKind]*crdEntry{},
		strict: kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
			kjson.SerializerOptions{Yaml: true, Strict: true}),
	}
}

// AddCRDs reads CustomResourceDefinitions from a YAML file's content (one
// or more documents, or a List as `kubectl get crd -o yaml` prints it).
// Documents of other kinds are skipped: a directory of CRDs often holds a
// kustomization.yaml too. A CRD defined twice is a problem: which one the
// cluster has is not known.
func (v *Validator) AddCRDs(path string, content []byte) []validate.Problem {
	docs, err := validate.SplitDocs(content)
	if err != nil {
		return []validate.Problem{{Severity: validate.Error, File: path, Message: "CRD file is not valid YAML: " + err.Error()}}
	}
	var ps []validate.Problem
	for _, d := range docs {
		var raw map[string]any
		if err := d.Node.Decode(&raw); err != nil {
			continue
		}
		items := []any{raw}
		if raw["kind"] == "List" {
			items, _ = raw["items"].([]any)
		}
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok || m["kind"] != "CustomResourceDefinition" {
				continue
			}
			if p := v.addCRD(path, m); p != nil {
				ps = append(ps, *p)
			}
		}
	}
	return ps
}

func (v *Validator) addCRD(path string, m map[string]any) *validate.Problem {
	problem := func(name, format string, args ...any) *validate.Problem {
		return &validate.Problem{Severity: validate.Error, File: path, Object: validate.ObjectName("CustomResourceDefinition", "", name), Message: fmt.Sprintf(format, args...)}
	}
	name, _, _ := unstructured.NestedString(m, "metadata", "name")
	if av := m["apiVersion"]; av != "apiextensions.k8s.io/v1" {
		return problem(name, "apiVersion %v: only apiextensions.k8s.io/v1 CRDs are supported (Kubernetes 1.22 removed v1beta1)", av)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, crd); err != nil {
		return problem(name, "cannot read the CRD: %v", err)
	}
	apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(crd)
	gk := schema.GroupKind{Group: crd.Spec.Group, Kind: crd.Spec.Names.Kind}
	if prev, ok := v.crds[gk]; ok {
		return problem(name, "defined twice (also in %s): keep the one your cluster runs", prev.source)
	}
	v.crds[gk] = &crdEntry{crd: crd, source: path, versions: map[string]*version{}}
	return nil
}

// Kinds lists the kinds that CRDs were given for, as GROUP/KIND, sorted.
func (v *Validator) Kinds() []string {
	var out []string
	for gk := range v.crds {
		out = append(out, gk.Group+"/"+gk.Kind)
	}
	slices.Sort(out)
	return out
}

// File validates every object of a manifest file.
func (v *Validator) File(ctx context.Context, path string, content []byte) []validate.Problem {
	docs, err := validate.SplitDocs(content)
	if err != nil {
		return []validate.Problem{{Severity: validate.Error, File: path, Message: "not valid YAML: " + err.Error()}}
	}
	var ps []validate.Problem
	for _, d := range docs {
		var raw map[string]any
		if err := d.Node.Decode(&raw); err != nil {
			ps = append(ps, validate.Problem{Severity: validate.Error, File: path, Message: fmt.Sprintf("document %d (line %d) is not an object: %v", d.Index+1, d.Line, err)})
			continue
		}
		doc, err := yaml.Marshal(raw)
		if err != nil {
			ps = append(ps, validate.Problem{Severity: validate.Error, File: path, Message: fmt.Sprintf("document %d: %v", d.Index+1, err)})
			continue
		}
		for _, p := range v.Object(ctx, doc) {
			p.File = path
			ps = append(ps, p)
		}
	}
	return ps
}

// Object validates one object given as YAML or JSON.
func (v *Validator) Object(ctx context.Context, doc []byte) []validate.Problem {
	return v.Admit(ctx, doc).Problems
}

// Admission is what the API server makes of one object on create.
type Admission struct {
	// Given is the object as written, decoded as the API server decodes
	// JSON (integers as int64, other numbers as float64); nil when it does
	// not decode.
	Given map[string]any
	// Stored is the custom resource as the API server would store it:
	// unknown fields pruned, metadata coerced, schema defaults filled in.
	// It is nil for built-in kinds and for custom resources that cannot be
	// admitted (no CRD, a version not served, a CRD that does not build).
	Stored map[string]any
	// Problems are what validation finds, as Object reports them.
	Problems []validate.Problem
}

// Admit validates one object given as YAML or JSON, and returns it as
// written and as the API server would store it. Comparing the two (see
// Changes) tells whether a GitOps tool will ever see the live object equal
// its manifest.
func (v *Validator) Admit(ctx context.Context, doc []byte) Admission {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return Admission{Problems: []validate.Problem{{Severity: validate.Error, Message: "strict decoding: " + err.Error()}}}
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		// apimachinery's message repeats the whole object as JSON: a
		// file that is not a manifest would be printed whole.
		why := "apiVersion and kind must be strings"
		switch {
		case runtime.IsMissingKind(err):
			why = "kind is missing"
		case runtime.IsMissingVersion(err):
			why = "apiVersion is missing"
		}
		return Admission{Problems: []validate.Problem{{Severity: validate.Error, Message: "not a Kubernetes object: " + why}}}
	}
	a := Admission{Given: runtime.DeepCopyJSON(u.Object)}
	gvk := u.GroupVersionKind()
	obj := validate.ObjectName(gvk.Kind, u.GetNamespace(), u.GetName())
	at := func(ps []validate.Problem) Admission {
		for i := range ps {
			ps[i].Object = obj
		}
		a.Problems = ps
		return a
	}
	// A kustomization.yaml is kustomize's configuration, which Flux's
	// kustomize-controller builds with and never sends to the API server:
	// there is nothing to admit.
	if validate.IsKustomizeConfig(u.GetAPIVersion()) {
		return a
	}
	// What ArgoCD refuses only when it syncs, whatever the CRD says.
	var argo []validate.Problem
	switch {
	case gvk.Group == "argoproj.io" && gvk.Kind == "Application":
		argo = validate.ApplicationSources(u.Object)
	case gvk.Group == "argoproj.io" && gvk.Kind == "ApplicationSet":
		argo = append(validate.ApplicationSet(u.Object), v.generatedApplications(ctx, u.Object)...)
	}
	if e, ok := v.crds[gvk.GroupKind()]; ok {
		var ps []validate.Problem
		a.Stored, ps = v.custom(ctx, e, gvk, u)
		return at(append(ps, argo...))
	}
	if scheme.Scheme.Recognizes(gvk) {
		return at(v.builtin(js, gvk, u))
	}
	if scheme.Scheme.IsGroupRegistered(gvk.Group) {
		// A built-in group with a version or kind Kubernetes does not have.
		return at([]validate.Problem{{Severity: validate.Error, Field: "apiVersion", Message: fmt.Sprintf(
			"Kubernetes has no kind %q in %s (known versions of it: %s)", gvk.Kind, gvk.GroupVersion(), strings.Join(knownVersions(gvk.GroupKind()), ", "))}})
	}
	sev := validate.Error
	if v.IgnoreMissing {
		sev = validate.Warning
	}
	return at(append([]validate.Problem{{Severity: sev, Field: "apiVersion", Message: fmt.Sprintf(
		"no CRD given for %s, kind %s: not validated; pass its CRD with --crds (kubectl get crd -o yaml), or --ignore-missing-schemas", gvk.GroupVersion(), gvk.Kind)}}, argo...))
}

// generatedApplications admits every Application that ApplicationSet set
// generates (validate.GenerateApplications: the template with each
// generator's parameters) against the Application CRD, when it was
// given: the ApplicationSet CRD's schema of the template is the
// Application's, but only the generated objects show what the API server
// stores for them, and so whether ArgoCD's controller, which compares its
// Applications with the template on every reconcile, ever sees them
// equal. A problem is reported once for all the Applications it holds
// for, at the template's field.
func (v *Validator) generatedApplications(ctx context.Context, set map[string]any) []validate.Problem {
	e, ok := v.crds[schema.GroupKind{Group: "argoproj.io", Kind: "Application"}]
	if !ok {
		return nil
	}
	apps, _ := validate.GenerateApplications(runtime.DeepCopyJSON(set)) // its problems: validate.ApplicationSet
	var (
		ps    []validate.Problem
		whats [][]string // per problem of ps, the Applications it holds for
	)
	add := func(p validate.Problem, what string) {
		if i := slices.Index(ps, p); i >= 0 {
			whats[i] = append(whats[i], what)
			return
		}
		ps, whats = append(ps, p), append(whats, []string{what})
	}
	for _, app := range apps {
		obj, err := toJSONObject(app.Object)
		if err != nil {
			add(validate.Problem{Severity: validate.Error, Field: "spec.template", Message: err.Error()}, app.What)
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		_, found := v.custom(ctx, e, u.GroupVersionKind(), u)
		for _, p := range found {
			p.Field = strings.TrimSuffix("spec.template."+p.Field, ".")
			add(p, app.What)
		}
	}
	for i := range ps {
		// One problem for all the generated Applications is the
		// template's; one for some says which.
		of := ""
		if len(whats[i]) < len(apps) {
			of = " (" + strings.Join(whats[i], ", ") + ")"
		}
		ps[i].Message = "generated Application" + of + ": " + ps[i].Message
	}
	return ps
}

// toJSONObject gives obj the types of an object decoded from JSON (int64
// and float64 numbers), as the API server's decoding does.
func toJSONObject(obj map[string]any) (map[string]any, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		return nil, err
	}
	return u.Object, nil
}

func knownVersions(gk schema.GroupKind) []string {
	var out []string
	for _, gv := range scheme.Scheme.PrioritizedVersionsForGroup(gk.Group) {
		if scheme.Scheme.Recognizes(gv.WithKind(gk.Kind)) {
			out = append(out, gv.String())
		}
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

var strictField = regexp.MustCompile(`^(unknown|duplicate) field "(.*)"$`)

// builtin strictly decodes a built-in object into its k8s.io/api type, as
// the API server does with fieldValidation=Strict (kubectl's default), and
// validates its metadata.
func (v *Validator) builtin(js []byte, gvk schema.GroupVersionKind, u *unstructured.Unstructured) []validate.Problem {
	var ps []validate.Problem
	_, _, err := v.strict.Decode(js, nil, nil)
	if err != nil {
		if se, ok := runtime.AsStrictDecodingError(err); ok {
			for _, e := range se.Errors() {
				if m := strictField.FindStringSubmatch(e.Error()); m != nil {
					ps = append(ps, validate.Problem{Severity: validate.Error, Field: m[2], Message: m[1] + " field: " + kindHint(m[1], gvk)})
				} else {
					ps = append(ps, validate.Problem{Severity: validate.Error, Message: e.Error()})
				}
			}
		} else {
			return []validate.Problem{{Severity: validate.Error, Message: err.Error()}}
		}
	}
	nameFn := apimachineryvalidation.NameIsDNSSubdomain
	if gvk.Group == "" && gvk.Kind == "Namespace" {
		nameFn = apimachineryvalidation.ValidateNamespaceName
	}
	// Whether the kind is namespaced takes discovery to know; an object
	// with a namespace is taken as namespaced, one without as applied to
	// the namespace of the moment.
	errs := apimachineryvalidation.ValidateObjectMetaAccessor(u, u.GetNamespace() != "", nameFn, field.NewPath("metadata"))
	return append(ps, fieldErrors(errs)...)
}

func kindHint(what string, gvk schema.GroupVersionKind) string {
	if what == "duplicate" {
		return "given twice"
	}
	return fmt.Sprintf("%s %s has no such field; the API server rejects it (kubectl apply's default --validate=strict)", gvk.GroupVersion(), gvk.Kind)
}

// custom validates a custom resource as the API server's CRD handler
// does on create: decode (unknown fields pruned, metadata coerced, nulls
// dropped), default, then the resource strategy's validation. It returns
// the object as it would be stored, nil when it cannot be admitted.
func (v *Validator) custom(ctx context.Context, e *crdEntry, gvk schema.GroupVersionKind, u *unstructured.Unstructured) (map[string]any, []validate.Problem) {
	ver := e.version(gvk.Version, v.serveAll)
	if ver == nil {
		var served []string
		for _, cv := range e.crd.Spec.Versions {
			if cv.Served {
				served = append(served, cv.Name)
			}
		}
		return nil, []validate.Problem{{Severity: validate.Error, Field: "apiVersion", Message: fmt.Sprintf(
			"version %s is not served by CRD %s from %s (served: %s); for ExternalSecrets, set secrets.esoVersion in runnerctl.yaml to the ESO release your cluster runs",
			gvk.Version, e.crd.Name, e.source, strings.Join(served, ", "))}}
	}
	if ver.err != nil {
		return nil, []validate.Problem{{Severity: validate.Error, Message: fmt.Sprintf("CRD %s from %s: %v", e.crd.Name, e.source, ver.err)}}
	}
	var ps []validate.Problem
	for _, cv := range e.crd.Spec.Versions {
		if cv.Name == gvk.Version && cv.Deprecated {
			msg := fmt.Sprintf("%s %s is deprecated", gvk.GroupVersion(), gvk.Kind)
			if cv.DeprecationWarning != nil {
				msg = *cv.DeprecationWarning
			}
			ps = append(ps, validate.Problem{Severity: validate.Warning, Field: "apiVersion", Message: msg})
		}
	}
	if e.crd.Spec.Scope == apiextensionsv1.NamespaceScoped && u.GetNamespace() == "" {
		// kubectl and ArgoCD fill in the namespace of the moment.
		u.SetNamespace("default")
	}

	// Decoding, as unstructuredSchemaCoercer does with strict field
	// validation: what pruning would drop is an unknown field.
	_, _, metaUnknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return nil, append(ps, validate.Problem{Severity: validate.Error, Field: "metadata", Message: err.Error()})
	}
	unknown := append([]string(nil), metaUnknown...)
	if !e.crd.Spec.PreserveUnknownFields {
		unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, ver.structural, true,
			structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
		structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, ver.structural)
	}
	ferr, metaPaths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, ver.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		ps = append(ps, fieldErrors(field.ErrorList{ferr})...)
	}
	unknown = append(unknown, metaPaths...)
	slices.Sort(unknown)
	for _, p := range slices.Compact(unknown) {
		ps = append(ps, validate.Problem{Severity: validate.Error, Field: p, Message: fmt.Sprintf(
			"unknown field: the %s schema of %s does not declare it, so the API server drops it (or, with strict field validation, rejects the object)", gvk.Version, e.crd.Name)})
	}
	// What the file says, once what is reported above is set aside: the
	// rest of the difference from the stored object is the defaults.
	written := runtime.DeepCopyJSON(u.Object)
	structuraldefaulting.Default(u.Object, ver.structural)
	if ver.statusSubresource {
		// The create strategy drops status, the controller's, after
		// decoding has defaulted it (Flux's CRDs default
		// status.observedGeneration): a manifest neither has it nor
		// can make the live object's equal to it, and GitOps tools do
		// not compare it.
		delete(written, "status")
		delete(u.Object, "status")
	}
	for _, c := range Changes(written, u.Object) {
		ps = append(ps, v.drift(c))
	}

	errs, celSkipped := ver.validate(ctx, u)
	ps = append(ps, fieldErrors(errs)...)
	ps = append(ps, finalizerWarnings(u)...)
	if celSkipped {
		ps = append(ps, validate.Problem{Severity: validate.Warning, Message: "the CRD's CEL rules (x-kubernetes-validations) were not checked, as the API server does not check them either while the errors above remain"})
	}
	return u.Object, ps
}

// drift reports a field that the stored object has and the file does not
// (or has otherwise): GitOps tools compare the two, so the object never
// looks in sync. ArgoCD compares a list in a custom resource item by item
// as a whole, so one default inside spec.data[] is enough.
func (v *Validator) drift(c Change) validate.Problem {
	p := validate.Problem{Severity: validate.Error, Field: c.Path}
	if v.AllowDrift {
		p.Severity = validate.Warning
	}
	switch c.Kind {
	case Added:
		p.Message = fmt.Sprintf("defaulted to %s on the server; %s", JSONValue(c.To), validate.DriftNote)
	case Removed:
		p.Message = fmt.Sprintf("dropped on the server; %s", validate.DriftNote)
	default:
		p.Message = fmt.Sprintf("set to %s on the server (the file has %s); %s", JSONValue(c.To), JSONValue(c.From), validate.DriftNote)
	}
	return p
}

// validate is what the API server's custom resource strategy validates on
// create (apiextensions-apiserver's registry/customresource, whose
// package is not linked because it brings the whole storage layer, etcd
// client included): metadata, the OpenAPI schema, embedded objects'
// metadata, list-type invariants, then the CEL rules unless an earlier
// error makes them moot.
func (ver *version) validate(ctx context.Context, u *unstructured.Unstructured) (errs field.ErrorList, celSkipped bool) {
	errs = apimachineryvalidation.ValidateObjectMetaAccessor(u, ver.namespaced, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u.UnstructuredContent(), ver.validator)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, u.Object, ver.structural, false)...)
	errs = append(errs, structurallisttype.ValidateListSetsAndMaps(nil, ver.structural, u.Object)...)
	for _, e := range errs {
		switch e.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return errs, ver.cel != nil
		}
	}
	celErrs, _ := ver.cel.Validate(ctx, nil, ver.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...), false
}

// version builds what validating gvk's version takes, as the API server's
// CRD handler does when it starts serving the CRD; nil when the version is
// not served.
//
// serveAll takes every version of the CRD as served: tests use it to
// check objects of a version that current releases of an operator still
// define but no longer serve (ESO's external-secrets.io/v1beta1).
func (e *crdEntry) version(name string, serveAll bool) *version {
	if ver, ok := e.versions[name]; ok {
		return ver
	}
	var cv *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range e.crd.Spec.Versions {
		if e.crd.Spec.Versions[i].Name == name && (e.crd.Spec.Versions[i].Served || serveAll) {
			cv = &e.crd.Spec.Versions[i]
		}
	}
	if cv == nil {
		e.versions[name] = nil
		return nil
	}
	ver := &version{}
	ver.err = ver.build(e.crd, cv)
	e.versions[name] = ver
	return ver
}

func (ver *version) build(crd *apiextensionsv1.CustomResourceDefinition, cv *apiextensionsv1.CustomResourceDefinitionVersion) error {
	val, err := apihelpers.GetSchemaForVersion(crd, cv.Name)
	if err != nil {
		return err
	}
	if val == nil || val.OpenAPIV3Schema == nil {
		return errors.New("no schema: nothing can be checked")
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(val, internal, nil); err != nil {
		return fmt.Errorf("converting the schema: %w", err)
	}
	s, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return fmt.Errorf("the schema is not structural: %w", err)
	}
	s = s.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(s); err != nil {
		return fmt.Errorf("pruning defaults: %w", err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return fmt.Errorf("the schema: %w", err)
	}
	ver.structural = s
	ver.validator = validator
	ver.namespaced = crd.Spec.Scope == apiextensionsv1.NamespaceScoped
	if sub, err := apihelpers.GetSubresourcesForVersion(crd, cv.Name); err == nil && sub != nil && sub.Status != nil {
		ver.statusSubresource = true
	}
	// Compiles the CEL rules (x-kubernetes-validations) once.
	ver.cel = cel.NewValidator(s, true, celconfig.PerCallLimit)
	return nil
}

// fieldErrors turns the API server's field errors into problems.
func fieldErrors(errs field.ErrorList) []validate.Problem {
	var ps []validate.Problem
	for _, e := range errs {
		ps = append(ps, validate.Problem{Severity: validate.Error, Field: e.Field, Message: e.ErrorBody()})
	}
	return ps
}
