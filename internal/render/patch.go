package render

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
)

// Overlays: runnerctl.yaml's patches, JSON merge patches (RFC 7386) on the
// generated objects, for what runnerctl does not model. They are applied
// after everything else (the profile included), on the typed object's
// encoded form: the object is encoded as render would write it, decoded
// into generic JSON, patched (top-level patches, then the runner's), and
// encoded again. The merge itself is github.com/evanphx/json-patch/v5, the
// current major version of the implementation kubectl and ArgoCD use (they
// are still on v4), free of dependencies outside the standard library.
//
// A patch may add to an object but not change what runnerctl owns for the
// object to work (ownedFields: names, namespaces, the Application's
// sources, the token's remote reference and keys): that is refused, exit
// 2, naming the field and the runnerctl.yaml field to set instead. A patch
// that loosens the profile's hardening (hardeningRules) is allowed but
// warned about as a loosening profile is: on render's stderr and in every
// generated file of the runner.

// Patch kinds: the fields of config.Patches, one per generated object.
const (
	patchApplication         = "application"
	patchExternalSecret      = "externalSecret"
	patchCacheExternalSecret = "cacheExternalSecret"
	patchGitLabCASecret      = "gitlabCASecret"
	patchNetworkPolicy       = "networkPolicy"
	patchValues              = "values"
)

// hasPatches reports whether any patch applies to runner r (or, for a
// cluster's instance of a runner, the cluster's patches).
func hasPatches(cfg *config.Config, r *config.Runner) bool {
	for _, ps := range []*config.Patches{cfg.Patches, r.Patches, r.ClusterPatches} {
		for _, k := range ps.Kinds() {
			if k.Patch != nil {
				return true
			}
		}
	}
	return false
}

// patcher applies the patches of one runner and gathers what they do.
type patcher struct {
	cfg   *config.Config
	r     *config.Runner
	index int // of r in cfg.Runners, for field paths
	// profile is r's profile, whose hardening a patch may loosen.
	profile string
	// flux: gitops.engine flux, where patches.application patches the
	// HelmRelease.
	flux bool
	// invalid are patches refused; warnings, loosened hardening.
	invalid  []config.FieldError
	warnings []string
}

// stage is one patch applied in turn: its field path and its JSON.
type stage struct {
	path string
	data []byte
}

// stages lists the patches of kind for runner r, top-level first, then the
// runner's, then its cluster's (for a cluster's instance of a runner).
func (pt *patcher) stages(kind string) ([]stage, error) {
	var out []stage
	for _, s := range []struct {
		path string
		ps   *config.Patches
	}{
		{"patches." + kind, pt.cfg.Patches},
		{fmt.Sprintf("runners[%d].patches.%s", pt.index, kind), pt.r.Patches},
		{fmt.Sprintf("runners[%d].clusters[%d].patches.%s", pt.index, pt.r.ClusterIndex, kind), pt.r.ClusterPatches},
	} {
		p := s.ps.Get(kind)
		if p == nil {
			continue
		}
		data, err := p.JSON()
		if err != nil { // config.Validate refuses it first
			return nil, fmt.Errorf("%s: %w", s.path, err)
		}
		out = append(out, stage{s.path, data})
	}
	return out, nil
}

// unused refuses the runner's own patches of kinds it generates no object
// of (a networkPolicy patch without networkPolicy): they would silently do
// nothing. Top-level patches apply to the runners that have the object.
func (pt *patcher) unused(generated map[string]bool) {
	pt.unusedOf(pt.r.Patches, fmt.Sprintf("runners[%d].patches", pt.index), generated)
}

func (pt *patcher) unusedOf(ps *config.Patches, at string, generated map[string]bool) {
	if ps == nil {
		return
	}
	for _, k := range ps.Kinds() {
		if k.Patch != nil && !generated[k.Name] {
			pt.invalid = append(pt.invalid, config.FieldError{
				Path: at + "." + k.Name,
				Msg:  fmt.Sprintf("runner %q generates no %s object (its setting is off in runnerctl.yaml); remove the patch", pt.r.Name, k.Name),
			})
		}
	}
}

// apply patches doc (a typed object, followed by tail, already-encoded
// YAML that continues its top-level mapping: a profile's part of the
// values) with the patches of kind. It returns what to marshal in doc's
// place: doc itself when no patch applies, else the patched object as a
// *yaml.Node whose keys keep the order of doc's encoding (new keys after
// them, sorted), so that a patch shows in a diff as what it adds.
func (pt *patcher) apply(kind string, doc any, tail []byte) (any, []byte, error) {
	stages, err := pt.stages(kind)
	if err != nil || len(stages) == 0 {
		return doc, tail, err
	}
	raw, err := marshalDocsTail("", tail, doc)
	if err != nil {
		return nil, nil, err
	}
	var ref yaml.Node
	if err := yaml.Unmarshal(raw, &ref); err != nil {
		return nil, nil, err
	}
	var orig any
	if err := ref.Decode(&orig); err != nil {
		return nil, nil, err
	}
	cur, err := json.Marshal(orig)
	if err != nil {
		return nil, nil, err
	}
	before, err := decodeJSON(cur)
	if err != nil {
		return nil, nil, err
	}
	after := before
	for _, s := range stages {
		prev := after
		if cur, err = jsonpatch.MergePatch(cur, s.data); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.path, err)
		}
		if after, err = decodeJSON(cur); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", s.path, err)
		}
		// Checked for each stage against the one before, so that the
		// error names the patch that changed the field.
		// One field is enough to say what is wrong: replacing a list
		// (sources) would otherwise name each of its items' fields.
		for _, f := range pt.ownedFields(kind) {
			if !reflect.DeepEqual(lookup(prev, f.path), lookup(after, f.path)) {
				pt.invalid = append(pt.invalid, config.FieldError{Path: s.path, Msg: fmt.Sprintf(
					"runner %q: the patch changes %s, which runnerctl sets for the runner to work; %s", pt.r.Name, pathString(f.path), f.instead)})
				break
			}
		}
	}
	for _, h := range pt.hardeningRules(kind) {
		if w := h.check(lookup(before, h.path), lookup(after, h.path)); w != "" {
			pt.warnings = append(pt.warnings, fmt.Sprintf("patches.%s weakens the isolation of profile %q: %s %s", kind, pt.profile, pathString(h.path), w))
		}
	}
	var out yaml.Node
	if err := out.Encode(after); err != nil {
		return nil, nil, err
	}
	reorder(&out, ref.Content[0])
	return &out, nil, nil
}

// decodeJSON decodes a patched object. Numbers become int64 where they are
// whole (a port, a UID), float64 otherwise, so that YAML writes them as
// the numbers they were.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbers(v), nil
}

func numbers(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			v[k] = numbers(item)
		}
	case []any:
		for i, item := range v {
			v[i] = numbers(item)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

// reorder sorts the keys of mapping n (and of its children) in the order
// of ref, the object before patching; keys that ref lacks stay after
// those, in the sorted order yaml.Node.Encode gave them.
func reorder(n, ref *yaml.Node) {
	if n == nil || ref == nil || n.Kind != ref.Kind {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		at := map[string]int{}
		vals := map[string]*yaml.Node{}
		for i := 0; i+1 < len(ref.Content); i += 2 {
			at[ref.Content[i].Value] = i / 2
			vals[ref.Content[i].Value] = ref.Content[i+1]
		}
		pairs := make([][2]*yaml.Node, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			pairs = append(pairs, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
		}
		pos := func(k *yaml.Node) int {
			if i, ok := at[k.Value]; ok {
				return i
			}
			return len(at)
		}
		slices.SortStableFunc(pairs, func(a, b [2]*yaml.Node) int { return cmp.Compare(pos(a[0]), pos(b[0])) })
		n.Content = n.Content[:0]
		for _, p := range pairs {
			n.Content = append(n.Content, p[0], p[1])
			reorder(p[1], vals[p[0].Value])
		}
	case yaml.SequenceNode:
		for i := range min(len(n.Content), len(ref.Content)) {
			reorder(n.Content[i], ref.Content[i])
		}
	}
}

// each, as a path segment, stands for every item of a list.
const each = "[]"

// lookup finds path in v: nil when absent; under each, the list of what
// path's rest finds in every item (so a list that grows or shrinks
// compares unequal).
func lookup(v any, path []string) any {
	for i, seg := range path {
		if seg == each {
			l, ok := v.([]any)
			if !ok {
				return nil
			}
			out := make([]any, len(l))
			for j, item := range l {
				out[j] = lookup(item, path[i+1:])
			}
			return out
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[seg]
	}
	return v
}

// pathString writes path as the user would: spec.sources[].chart, with
// keys holding dots or slashes quoted.
func pathString(path []string) string {
	var b strings.Builder
	for i, seg := range path {
		switch {
		case seg == each:
			b.WriteString(each)
			continue
		case strings.ContainsAny(seg, "./"):
			seg = fmt.Sprintf("[%q]", seg)
		case i > 0:
			b.WriteByte('.')
		}
		b.WriteString(seg)
	}
	return b.String()
}

// ownedField is a field of a generated object that runnerctl sets for the
// runner to work, and what to set in runnerctl.yaml instead.
type ownedField struct {
	path    []string
	instead string
}

// fieldPath is a path of keys (and each) into an object.
func fieldPath(segs ...string) []string { return segs }

// ownedFields lists the fields a patch of kind may not change. Names and
// namespaces tie the objects to each other and to runnerctl's other
// commands (rotate-token, status and prune find them by NamesOf); the
// Application's sources say what is deployed from where; the
// ExternalSecret's store, remote reference, target and keys are where the
// token comes from and where the chart reads it.
func ownedFields(kind string) []ownedField {
	const rename = "runnerctl names every object after the runner; rename the runner instead"
	out := []ownedField{
		{fieldPath("apiVersion"), "the API version follows from runnerctl.yaml (secrets.esoVersion for ExternalSecrets)"},
		{fieldPath("kind"), "generate another kind of object outside runnerctl"},
		{fieldPath("metadata", "name"), rename},
		{fieldPath("metadata", "namespace"), "set runners[].namespace (argocd.namespace for the Application)"},
		{fieldPath("metadata", "labels", runnerLabel), "the label names the runner; it cannot be changed"},
	}
	switch kind {
	case patchApplication:
		out = append(out,
			ownedField{fieldPath("spec", "project"), "set argocd.project"},
			ownedField{fieldPath("spec", "destination"), "set argocd.destination and runners[].namespace"},
			ownedField{fieldPath("spec", "sources", each, "repoURL"), "set chart.repoURL or gitops.repoURL"},
			ownedField{fieldPath("spec", "sources", each, "chart"), "set chart.name"},
			ownedField{fieldPath("spec", "sources", each, "targetRevision"), "set chart.version or gitops.revision"},
			ownedField{fieldPath("spec", "sources", each, "path"), "set gitops.paths.manifests"},
			ownedField{fieldPath("spec", "sources", each, "ref"), "the values files are read through this ref"},
			ownedField{fieldPath("spec", "sources", each, "helm", "releaseName"), rename},
			ownedField{fieldPath("spec", "sources", each, "helm", "valueFiles"), "patch the values themselves (patches.values)"},
			ownedField{fieldPath("spec", "sources", each, "directory", "include"), "the manifests listed are those runnerctl generates for the runner"},
		)
	case patchExternalSecret, patchCacheExternalSecret:
		out = append(out,
			ownedField{fieldPath("spec", "secretStoreRef"), "set secrets.store"},
			ownedField{fieldPath("spec", "target", "name"), "the chart reads the Secret of this name; rename the runner instead"},
			ownedField{fieldPath("spec", "target", "template", "data"), "these are the keys the chart reads"},
			ownedField{fieldPath("spec", "data"), "set the token's location with secrets or runners[].tokenSecret (cache.s3.credentials for the cache)"},
		)
	case patchGitLabCASecret:
		out = append(out,
			ownedField{fieldPath("stringData"), "set gitlab.tls.caFile"},
			ownedField{fieldPath("type"), "the chart mounts an Opaque Secret"},
		)
	case patchValues:
		out = append(out,
			ownedField{fieldPath("gitlabUrl"), "set gitlab.url"},
			ownedField{fieldPath("certsSecretName"), "set gitlab.tls"},
			ownedField{fieldPath("runners", "secret"), "the ExternalSecret fills this Secret with the token; it cannot be changed"},
			ownedField{fieldPath("runners", "cache", "secretName"), "set cache.s3.credentials"},
			ownedField{fieldPath("serviceAccount", "name"), "set runners[].serviceAccount"},
		)
	}
	return out
}

// ownedFields are those of ownedFields(kind) for the engine in use: under
// flux, an application patch patches the HelmRelease.
func (pt *patcher) ownedFields(kind string) []ownedField {
	if pt.flux && kind == patchApplication {
		return helmReleaseOwnedFields()
	}
	return ownedFields(kind)
}

// helmReleaseOwnedFields are what patches.application may not change in a
// HelmRelease: what ownedFields says of every object, the chart and where
// it comes from, the release's name and namespaces (rotate-token finds the
// Deployment by them), the cluster deployed to, and the values, which
// patches.values patches where runnerctl checks them.
func helmReleaseOwnedFields() []ownedField {
	const rename = "runnerctl names every object after the runner; rename the runner instead"
	out := ownedFields(patchApplication)[:5]
	out[3].instead = "set runners[].namespace"
	return append(out,
		ownedField{fieldPath("spec", "chart"), "set chart.repoURL, chart.name and chart.version"},
		ownedField{fieldPath("spec", "chartRef"), "set chart.repoURL, chart.name and chart.version"},
		ownedField{fieldPath("spec", "releaseName"), rename},
		ownedField{fieldPath("spec", "targetNamespace"), "set runners[].namespace"},
		ownedField{fieldPath("spec", "storageNamespace"), "set runners[].namespace"},
		ownedField{fieldPath("spec", "kubeConfig"), "runnerctl deploys each runner to the cluster its Flux runs in; keep one runnerctl.yaml per cluster"},
		ownedField{fieldPath("spec", "values"), "patch the values themselves (patches.values), where runnerctl checks them against the profile"},
		ownedField{fieldPath("spec", "valuesFrom"), "patch the values themselves (patches.values): values from elsewhere escape runnerctl's checks"},
	)
}

// hardeningRules are those of hardeningRules(kind) for the engine in use.
func (pt *patcher) hardeningRules(kind string) []hardeningRule {
	if pt.flux && kind == patchApplication {
		// The HelmRelease holds no hardening of its own (the Namespace's
		// labels are not patchable under flux), but post-renderers rewrite
		// the chart's objects after every check runnerctl makes, and drift
		// detection is what undoes a loosening kubectl edit.
		return []hardeningRule{
			{fieldPath("spec", "postRenderers"), changed("rewrite the chart's objects after runnerctl's checks: runnerctl cannot tell whether the runner pod keeps the profile's security context")},
			{fieldPath("spec", "driftDetection", "mode"), func(before, after any) string {
				if before == after {
					return ""
				}
				return fmt.Sprintf("is %v, not %v (changes made in the cluster to the runner's objects are no longer undone)", after, before)
			}},
		}
	}
	return hardeningRules(kind)
}

// hardeningRule is a field that a profile hardens, and how to tell that a
// patch loosened it: check returns why (completing "PATH ..."), or "".
// Removing a field the profile set (null in the patch) counts as
// loosening: the Kubernetes or chart default it falls back to is looser.
type hardeningRule struct {
	path  []string
	check func(before, after any) string
}

// hardeningRules lists, per kind, what the profile checks (the runner
// pod's security contexts, its Role, its job pods' configuration and the
// namespace's Pod Security level) as it appears in the generated object.
func hardeningRules(kind string) []hardeningRule {
	switch kind {
	case patchValues:
		var out []hardeningRule
		for _, sc := range []string{"securityContext", "podSecurityContext"} {
			out = append(out,
				hardeningRule{fieldPath(sc, "privileged"), mustStay(false, "(the runner pod runs privileged)")},
				hardeningRule{fieldPath(sc, "allowPrivilegeEscalation"), mustStay(false, "(the runner's processes may gain privileges)")},
				hardeningRule{fieldPath(sc, "runAsNonRoot"), mustStay(true, "(the runner may run as root)")},
				hardeningRule{fieldPath(sc, "readOnlyRootFilesystem"), mustStay(true, "(the runner's root filesystem is writable)")},
				hardeningRule{fieldPath(sc, "runAsUser"), notRoot},
				hardeningRule{fieldPath(sc, "capabilities", "drop"), keepsAll("drops fewer capabilities than the profile's")},
				hardeningRule{fieldPath(sc, "capabilities", "add"), addsNone},
				hardeningRule{fieldPath(sc, "seccompProfile"), keepsSeccomp},
			)
		}
		return append(out,
			hardeningRule{fieldPath("rbac"), changed("differs from the profile's (the runner's Role grants what the patch says, and an empty rbac.rules is a wildcard Role)")},
			hardeningRule{fieldPath("unregisterRunners"), mustStay(false, "(the runner manager is deleted in GitLab whenever its pod stops)")},
			hardeningRule{fieldPath("runners", "config"), changed("is replaced: the profile's job pod hardening and FF_DISABLE_AUTOMATIC_TOKEN_ROTATION live there, and runnerctl cannot check a replaced config.toml against them (runners[].extraConfig adds to it and is checked)")},
		)
	case patchApplication:
		return []hardeningRule{{fieldPath("spec", "syncPolicy", "managedNamespaceMetadata", "labels", "pod-security.kubernetes.io/enforce"), loosensPSA}}
	case patchNetworkPolicy:
		return []hardeningRule{{fieldPath("spec"), changed("differs from what runnerctl generated: runnerctl cannot tell whether egress is still restricted")}}
	}
	return nil
}

func mustStay(safe bool, why string) func(before, after any) string {
	return func(before, after any) string {
		// Loosened: set to the unsafe value, or no longer the safe one
		// the profile set (removed included).
		if after == safe || before == after || before != safe && after != !safe {
			return ""
		}
		if after == nil {
			return "is removed " + why
		}
		return fmt.Sprintf("is %v %s", after, why)
	}
}

func notRoot(before, after any) string {
	switch {
	case before == nil || reflect.DeepEqual(before, after):
		return ""
	case after == nil:
		return "is removed (the runner runs as its image's user, which may be root)"
	case after == int64(0):
		return "is 0 (the runner runs as root)"
	}
	return ""
}

func keepsAll(why string) func(before, after any) string {
	return func(before, after any) string {
		b, _ := before.([]any)
		a, _ := after.([]any)
		for _, c := range b {
			if !slices.Contains(a, c) {
				return fmt.Sprintf("no longer drops %v (%s)", c, why)
			}
		}
		return ""
	}
}

func addsNone(before, after any) string {
	b, _ := before.([]any)
	a, _ := after.([]any)
	for _, c := range a {
		if !slices.Contains(b, c) {
			return fmt.Sprintf("adds %v to the runner", c)
		}
	}
	return ""
}

func keepsSeccomp(before, after any) string {
	switch {
	case before == nil || reflect.DeepEqual(before, after):
		return ""
	case after == nil:
		return "is removed (no system call filtering unless the node's default has one)"
	case lookup(after, fieldPath("type")) == "Unconfined":
		return "is Unconfined (no system call filtering)"
	}
	return ""
}

func changed(why string) func(before, after any) string {
	return func(before, after any) string {
		if reflect.DeepEqual(before, after) {
			return ""
		}
		return why
	}
}

// psaLevels are Pod Security Admission's levels, loosest first.
var psaLevels = []any{"privileged", "baseline", "restricted"}

func loosensPSA(before, after any) string {
	if before == nil || slices.Index(psaLevels, after) >= slices.Index(psaLevels, before) {
		return ""
	}
	if after == nil {
		return fmt.Sprintf("is removed (the namespace was enforced at %v)", before)
	}
	return fmt.Sprintf("is %v, looser than the profile's %v", after, before)
}
