package render

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

// A runner with clusters is one GitLab runner per cluster (config's
// Instances), deployed by one ArgoCD ApplicationSet: each instance gets
// the files a runner without clusters gets, but the Application, named
// after the runner and the cluster (fileStem); the ApplicationSet, in the
// runner's Application file, generates one Application per cluster from
// a single template. docs/fleets.md is the user's side of all this.

// Parameters of the ApplicationSet's template: the keys of the list
// generator's elements (listElement's yaml names, which must be these),
// or those ArgoCD's cluster generator gives.
const (
	// paramCluster is the element's runnerctl cluster name (list).
	paramCluster = "cluster"
	// paramServer is the destination's API server URL (list: from
	// clusters[].destination.server; clusters: the cluster Secret's).
	paramServer = "server"
	// paramDestinationName is the destination's name in ArgoCD (list:
	// clusters[].destination.name).
	paramDestinationName = "destinationName"
	// paramClusterName is the cluster generator's name of the cluster,
	// which config requires to be runnerctl's clusters[].name.
	paramClusterName = "name"
)

// clusterPlaceholder stands for the cluster's name while the template's
// templated strings are computed with the same functions that name a
// cluster's files (ValuesPath...): a control character, which no name or
// path of a valid runnerctl.yaml holds (config refuses them), so that it
// marks exactly where the parameter goes.
const clusterPlaceholder = "\x00"

// serverPlaceholder and destinationNamePlaceholder stand for the
// destination's parameters in the same way.
const (
	serverPlaceholder          = "\x01"
	destinationNamePlaceholder = "\x02"
)

// renderFleetRunner renders runner def, which has clusters: one ArgoCD
// ApplicationSet and, per cluster, that cluster's values and manifests.
// instances are def's, one per cluster in the order of def.Clusters.
func renderFleetRunner(cfg *config.Config, b *bases, eso *esoDefaults, def *config.Runner, index int, p *profile.Profile, profileYAML []byte, instances []*config.Runner) (runnerOutput, error) {
	if len(instances) != len(def.Clusters) {
		return runnerOutput{}, fmt.Errorf("runner %q has %d clusters but %d instances", def.Name, len(def.Clusters), len(instances))
	}
	var (
		out       runnerOutput
		generated = map[string]bool{patchApplication: true}
		perFiles  = make([][]pendingFile, len(instances))
		warnings  = make([][]string, len(instances))
		manifests []string
		invalid   []config.FieldError
	)
	var tomls tomlCache
	var like likeClusters
	leader := make([]int, len(instances))
	for i, inst := range instances {
		leader[i] = -1
		if l := like.leader(cfg, def, i, inst); l >= 0 {
			// A cluster like an earlier one: the same files but for the
			// token's location, and names.
			pending, err := likeFiles(cfg, b, eso, inst, perFiles[l])
			if err != nil {
				return runnerOutput{}, fmt.Errorf("cluster %q: %w", inst.Cluster, err)
			}
			perFiles[i], leader[i] = pending, l
			continue
		}
		pending, ms, err := runnerFiles(cfg, b, eso, inst, p, profileYAML, tomls.get)
		if err != nil {
			return runnerOutput{}, fmt.Errorf("cluster %q: %w", inst.Cluster, err)
		}
		if i == 0 {
			// Every cluster has the same kinds of manifests (what decides
			// them is the runner's, not the cluster's): the template lists
			// the first cluster's, by the name that every cluster's file
			// has with its own name in place of the first's.
			for _, m := range ms {
				manifests = append(manifests, strings.Replace(m, fileStem(inst), releaseName(inst)+"-"+clusterPlaceholder, 1))
			}
		}
		if hasPatches(cfg, inst) {
			pt := &patcher{cfg: cfg, r: inst, index: index, profile: p.Name}
			if err := pt.applyAll(pending, generated); err != nil {
				return runnerOutput{}, fmt.Errorf("cluster %q: %w", inst.Cluster, err)
			}
			pt.unusedOf(inst.ClusterPatches, inst.Path()+".patches", generated)
			invalid = append(invalid, pt.invalid...)
			warnings[i] = pt.warnings
		} else {
			for _, f := range pending {
				for _, k := range f.kinds {
					generated[k] = true
				}
			}
		}
		perFiles[i] = pending
	}

	set, setWarnings, setInvalid, err := buildApplicationSet(cfg, b, def, index, p, manifests, instances)
	if err != nil {
		return runnerOutput{}, err
	}
	invalid = append(invalid, setInvalid...)
	if hasPatches(cfg, def) {
		// The runner's own patches of kinds no cluster generates.
		pt := &patcher{cfg: cfg, r: def, index: index, profile: p.Name}
		pt.unused(generated)
		invalid = append(invalid, pt.invalid...)
	}
	if len(invalid) > 0 {
		return runnerOutput{invalid: dedupeErrors(invalid)}, nil
	}

	// A warning every cluster has (a runner's or a top-level patch) is
	// the runner's; one only some clusters have says which.
	out.warnings = slices.Clone(setWarnings)
	for _, w := range warnings[0] {
		if all(warnings, w) {
			out.warnings = append(out.warnings, w)
		}
	}
	for i, ws := range warnings {
		for _, w := range ws {
			if !all(warnings, w) {
				out.warnings = append(out.warnings, fmt.Sprintf("cluster %q: %s", instances[i].Cluster, w))
			}
		}
	}
	content, err := marshalDocs(fileHeader(def, p, out.warnings), set)
	if err != nil {
		return runnerOutput{}, fmt.Errorf("%s: %w", ApplicationPath(cfg, def), err)
	}
	out.files = append(out.files, File{Path: ApplicationPath(cfg, def), Content: content})
	var cache encodeCache
	bodies := make([][][]byte, len(instances))
	for i, inst := range instances {
		// A cluster's files warn of what loosens that cluster's runner.
		head := fileHeader(inst, p, slices.Concat(setWarnings, warnings[i]))
		bodies[i] = make([][]byte, len(perFiles[i]))
		for k, f := range perFiles[i] {
			var body []byte
			var err error
			if l := leader[i]; l >= 0 && !slices.Contains(f.kinds, patchExternalSecret) {
				// The leader's document itself: no need to compare.
				body = bodies[l][k]
			} else if body, err = cache.encode(f); err != nil {
				return runnerOutput{}, fmt.Errorf("cluster %q: %s: %w", inst.Cluster, f.path, err)
			}
			bodies[i][k] = body
			content := make([]byte, 0, len(head)+len(f.comment)+len(body))
			content = append(append(append(content, head...), f.comment...), body...)
			out.files = append(out.files, File{Path: f.path, Content: content})
		}
	}
	return out, nil
}

// likeClusters finds, among a runner's clusters, those whose files are
// the same as an earlier cluster's but for the token's location and the
// names: same overrides, and no patch at all (a patch is applied per
// cluster, and may be one cluster's own). Building, patching and comparing
// each cluster's documents would otherwise cost most of a fleet's render.
type likeClusters struct {
	leaders []int // indices into the runner's clusters
}

// leader returns the earlier cluster instance i (inst) is like, or -1;
// then records i as a leader when it may lead others.
func (l *likeClusters) leader(cfg *config.Config, def *config.Runner, i int, inst *config.Runner) int {
	if hasPatches(cfg, inst) {
		return -1
	}
	// The overrides, without what names the cluster's runner (its name,
	// its GitLab ID): every other field of a cluster may change its files.
	key := func(j int) config.RunnerCluster {
		rc := def.Clusters[j]
		rc.Name, rc.RunnerID = "", 0
		return rc
	}
	mine := key(i)
	for _, j := range l.leaders {
		if reflect.DeepEqual(key(j), mine) {
			return j
		}
	}
	l.leaders = append(l.leaders, i)
	return -1
}

// likeFiles are the files of instance inst, like those of an earlier
// cluster of its runner (lead, unpatched): the same documents in files
// named for inst, but for the token's ExternalSecret, which is inst's own.
func likeFiles(cfg *config.Config, b *bases, eso *esoDefaults, inst *config.Runner, lead []pendingFile) ([]pendingFile, error) {
	out := make([]pendingFile, len(lead))
	for k, f := range lead {
		f.docs = slices.Clone(f.docs)
		switch f.kinds[0] {
		case patchExternalSecret:
			f.path = ExternalSecretPath(cfg, inst)
			token, err := tokenExternalSecret(cfg, b, eso, inst)
			if err != nil {
				return nil, err
			}
			f.docs[0] = token
		case patchGitLabCASecret:
			f.path = GitLabCAPath(cfg, inst)
		case patchNetworkPolicy:
			f.path = NetworkPolicyPath(cfg, inst)
		case patchValues:
			f.path = ValuesPath(cfg, inst)
		default:
			return nil, fmt.Errorf("%s: no file of kind %q in a cluster's files", f.path, f.kinds[0])
		}
		out[k] = f
	}
	return out, nil
}

// encodeCache encodes the documents of a runner's clusters, each distinct
// one once. Most of a runner's objects are the same in every cluster (the
// network policy, the cache credentials' ExternalSecret, the values of
// every cluster without overrides), and encoding is most of a render's
// time: a 20-cluster runner would otherwise cost 20 runners.
type encodeCache struct {
	entries []encoded
	// keys encodes the remote references' keys, one document each, into
	// keyBuf: one encoder for all, as setting one up costs more than
	// encoding a key.
	keys   *yaml.Encoder
	keyBuf bytes.Buffer
}

// encoded is one document (with the tail that follows it, for values)
// and its encoding.
type encoded struct {
	doc  any
	tail []byte
	body []byte
}

// encode gives the body of file f: its documents, encoded as marshalDocs
// would encode them together, without header or comment.
func (c *encodeCache) encode(f pendingFile) ([]byte, error) {
	if len(f.docs) == 1 {
		// The cached bytes themselves: the caller copies them into the
		// file, after its header, and never changes them.
		return c.doc(f.docs[0], f.tail)
	}
	var body []byte
	for i, d := range f.docs {
		var tail []byte
		if i == len(f.docs)-1 {
			tail = f.tail
		}
		b, err := c.doc(d, tail)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			// What yaml/v3's Encoder writes between two documents.
			body = append(body, "---\n"...)
		}
		body = append(body, b...)
	}
	return body, nil
}

// doc encodes one document d followed by tail: an ExternalSecret by
// splicing its key into a shared encoding, anything else whole.
func (c *encodeCache) doc(d any, tail []byte) ([]byte, error) {
	if es, ok := d.(externalSecret); ok && tail == nil {
		if b, ok, err := c.externalSecret(es); ok || err != nil {
			return b, err
		}
	}
	return c.whole(d, tail)
}

// whole encodes d (and tail) whole, once for all equal documents.
func (c *encodeCache) whole(d any, tail []byte) ([]byte, error) {
	for _, e := range c.entries {
		// Equal documents encode to equal bytes: the encoder sorts map
		// keys, and nothing else in a document depends on order.
		if bytes.Equal(e.tail, tail) && reflect.DeepEqual(e.doc, d) {
			return e.body, nil
		}
	}
	b, err := marshalDocsTail("", tail, d)
	if err != nil {
		return nil, err
	}
	c.entries = append(c.entries, encoded{doc: d, tail: tail, body: b})
	return b, nil
}

// all reports whether every list of lists holds w.
func all(lists [][]string, w string) bool {
	for _, l := range lists {
		if !slices.Contains(l, w) {
			return false
		}
	}
	return true
}

// dedupeErrors drops repeats: a runner's patch refused in each cluster's
// objects is reported once.
func dedupeErrors(errs []config.FieldError) []config.FieldError {
	seen := map[config.FieldError]bool{}
	var out []config.FieldError
	for _, e := range errs {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

// buildApplicationSet fills templates/applicationset.yaml for runner def:
// its generator, and its template, the Application that buildApplication
// gives for a cluster named by the generator's parameter, patched by the
// runner's (and top-level) application patches; instances are def's, one
// per cluster, with their destinations. It returns the patches' warnings
// and the patches refused.
func buildApplicationSet(cfg *config.Config, b *bases, def *config.Runner, index int, p *profile.Profile, manifests []string, instances []*config.Runner) (applicationSet, []string, []config.FieldError, error) {
	as := cfg.ArgoCD.ApplicationSet
	set := b.ApplicationSet
	set.Metadata = metaOf(set.Metadata, releaseName(def), cfg.ArgoCD.Namespace, def)
	set.Spec.GoTemplateOptions = slices.Clone(set.Spec.GoTemplateOptions)

	clusterParam := paramCluster
	var dest appDestination
	switch as.Generator {
	case config.GeneratorClusters:
		clusterParam = paramClusterName
		dest.Server = serverPlaceholder
		names := make([]string, len(def.Clusters))
		for i, rc := range def.Clusters {
			names[i] = rc.Name
		}
		set.Spec.Generators = []appSetGenerator{{
			Clusters: &clusterGenerator{Selector: appSetSelector{MatchLabels: maps.Clone(as.Selector)}},
			// ArgoCD's selector on the generated parameters (its "post
			// selector"): of the labelled clusters, only those this
			// runner lists. The cluster Secret's name is no label the
			// cluster generator's own selector could match.
			Selector: &appSetSelector{MatchExpressions: []labelSelectorRequirement{{Key: paramClusterName, Operator: "In", Values: names}}},
		}}
	default:
		// The template names the destination the way the runner's
		// clusters do; each element gives every key the template uses
		// (missingkey=error), empty where its cluster uses the other.
		var byServer, byName bool
		for _, inst := range instances {
			byServer = byServer || inst.Destination.Server != ""
			byName = byName || inst.Destination.Name != ""
		}
		if byServer {
			dest.Server = serverPlaceholder
		}
		if byName {
			dest.Name = destinationNamePlaceholder
		}
		l := &listGenerator{Elements: make([]listElement, len(instances))}
		for i, inst := range instances {
			e := listElement{Cluster: inst.Cluster}
			if byServer {
				e.Server = &inst.Destination.Server
			}
			if byName {
				e.DestinationName = &inst.Destination.Name
			}
			l.Elements[i] = e
		}
		set.Spec.Generators = []appSetGenerator{{List: l}}
	}

	// The template is a cluster's Application with the placeholder for
	// its name; patched, then escaped, then given its parameters.
	tr := *def
	tr.Clusters, tr.Cluster, tr.ClusterIndex = nil, clusterPlaceholder, -1
	app := buildApplication(cfg, b, &tr, p, manifests)
	app.Spec.Destination.Server, app.Spec.Destination.Name = dest.Server, dest.Name
	var doc any = app
	var warnings []string
	var invalid []config.FieldError
	if hasPatches(cfg, def) {
		pt := &patcher{cfg: cfg, r: def, index: index, profile: p.Name}
		var err error
		if doc, _, err = pt.apply(patchApplication, doc, nil); err != nil {
			return applicationSet{}, nil, nil, fmt.Errorf("%s: %w", ApplicationPath(cfg, def), err)
		}
		warnings, invalid = pt.warnings, pt.invalid
	}
	var tmpl any
	var err error
	if typed, ok := doc.(application); ok && !hasTemplateText(reflect.ValueOf(typed)) {
		tmpl, err = typedTemplate(typed, "{{."+clusterParam+"}}")
	} else {
		tmpl, err = templateNode(doc, "{{."+clusterParam+"}}")
	}
	if err != nil {
		return applicationSet{}, nil, nil, fmt.Errorf("%s: template: %w", ApplicationPath(cfg, def), err)
	}
	set.Spec.Template = tmpl
	return set, warnings, invalid, nil
}

// templateNode encodes app, an Application (typed, or a patched
// *yaml.Node), as the template of an ApplicationSet: apiVersion and kind
// dropped (the template has metadata and spec only), every key and string
// escaped so that ArgoCD's Go templates print it as written, and then
// the placeholders replaced by template actions (clusterExpr for the
// cluster's name), in the strings that name the cluster's Application,
// destination and files: fields a patch may not change (ownedFields).
//
// ArgoCD renders every string of the template, map keys included, as a Go
// template (applicationset/utils' deeplyReplace). A "{{" from
// runnerctl.yaml (a repository path, a patch's annotation) would run as a
// template action in the controller: the same rule as for the chart's tpl
// (escapeTpl) applies, data is never template text.
func templateNode(app any, clusterExpr string) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(app); err != nil {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, errors.New("the Application is not a mapping")
	}
	kept := n.Content[:0]
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "apiVersion" || k == "kind" {
			continue
		}
		kept = append(kept, n.Content[i], n.Content[i+1])
	}
	n.Content = kept
	escapeNode(&n)
	var missing []string
	set := func(v *yaml.Node, placeholder, expr, what string) {
		if v == nil || v.Kind != yaml.ScalarNode || !strings.Contains(v.Value, placeholder) {
			missing = append(missing, what)
			return
		}
		v.Value = strings.ReplaceAll(v.Value, placeholder, expr)
		v.Style = 0
	}
	set(mapValue(&n, "metadata", "name"), clusterPlaceholder, clusterExpr, "metadata.name")
	if d := mapValue(&n, "spec", "destination"); d != nil {
		if v := mapValue(d, "server"); v != nil {
			set(v, serverPlaceholder, "{{."+paramServer+"}}", "spec.destination.server")
		}
		if v := mapValue(d, "name"); v != nil {
			set(v, destinationNamePlaceholder, "{{."+paramDestinationName+"}}", "spec.destination.name")
		}
	}
	for _, s := range seqItems(mapValue(&n, "spec", "sources")) {
		if h := mapValue(s, "helm"); h != nil {
			for _, f := range seqItems(mapValue(h, "valueFiles")) {
				set(f, clusterPlaceholder, clusterExpr, "spec.sources[].helm.valueFiles[]")
			}
		}
		if d := mapValue(s, "directory"); d != nil {
			set(mapValue(d, "include"), clusterPlaceholder, clusterExpr, "spec.sources[].directory.include")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("no cluster name in %s", strings.Join(missing, ", "))
	}
	// A stray placeholder (none is expected: config refuses control
	// characters) would reach ArgoCD as a NUL byte.
	if strayPlaceholder(&n) {
		return nil, errors.New("a control character in the template")
	}
	return &n, nil
}

// typedTemplate is templateNode for an unpatched Application in which no
// string holds "{{" (hasTemplateText): with nothing to escape, the
// placeholders are replaced in the typed object, which is encoded
// straight, as every other object is. Going through a yaml.Node costs
// about as much as the rest of a runner's render; the result is the same
// bytes (the fleet golden files hold both kinds).
func typedTemplate(app application, clusterExpr string) (appTemplate, error) {
	t := appTemplate{Metadata: app.Metadata, Spec: app.Spec}
	var missing []string
	set := func(v *string, placeholder, expr, what string) {
		if !strings.Contains(*v, placeholder) {
			missing = append(missing, what)
			return
		}
		*v = strings.ReplaceAll(*v, placeholder, expr)
	}
	set(&t.Metadata.Name, clusterPlaceholder, clusterExpr, "metadata.name")
	d := &t.Spec.Destination
	if d.Server != "" {
		set(&d.Server, serverPlaceholder, "{{."+paramServer+"}}", "spec.destination.server")
	}
	if d.Name != "" {
		set(&d.Name, destinationNamePlaceholder, "{{."+paramDestinationName+"}}", "spec.destination.name")
	}
	// The sources are the base's, shared with other runners: copied
	// before they change.
	t.Spec.Sources = slices.Clone(t.Spec.Sources)
	for i := range t.Spec.Sources {
		s := &t.Spec.Sources[i]
		if s.Helm != nil {
			h := *s.Helm
			h.ValueFiles = slices.Clone(h.ValueFiles)
			for j := range h.ValueFiles {
				set(&h.ValueFiles[j], clusterPlaceholder, clusterExpr, "spec.sources[].helm.valueFiles[]")
			}
			s.Helm = &h
		}
		if s.Directory != nil {
			dir := *s.Directory
			set(&dir.Include, clusterPlaceholder, clusterExpr, "spec.sources[].directory.include")
			s.Directory = &dir
		}
	}
	if len(missing) > 0 {
		return appTemplate{}, fmt.Errorf("no cluster name in %s", strings.Join(missing, ", "))
	}
	if hasPlaceholder(reflect.ValueOf(t)) {
		return appTemplate{}, errors.New("a control character in the template")
	}
	return t, nil
}

// hasTemplateText reports whether a string in v (map keys included) holds
// "{{", which ArgoCD would run as a template action.
func hasTemplateText(v reflect.Value) bool {
	return anyString(v, func(s string) bool { return strings.Contains(s, "{{") })
}

// hasPlaceholder reports whether a string in v still holds a placeholder.
func hasPlaceholder(v reflect.Value) bool {
	return anyString(v, func(s string) bool {
		return strings.ContainsAny(s, clusterPlaceholder+serverPlaceholder+destinationNamePlaceholder)
	})
}

// anyString reports whether f holds for a string in v: a field, an
// element, a map key or value, through pointers and interfaces.
func anyString(v reflect.Value, f func(string) bool) bool {
	switch v.Kind() {
	case reflect.String:
		return f(v.String())
	case reflect.Pointer, reflect.Interface:
		return !v.IsNil() && anyString(v.Elem(), f)
	case reflect.Struct:
		for i := range v.NumField() {
			if anyString(v.Field(i), f) {
				return true
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if anyString(v.Index(i), f) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if anyString(it.Key(), f) || anyString(it.Value(), f) {
				return true
			}
		}
	}
	return false
}

// tplEscapeArgo prints "{{" in an ArgoCD Go template.
const tplEscapeArgo = `{{"{{"}}`

// escapeNode escapes every scalar of n, keys included, for ArgoCD's Go
// templates: every "{{" in it is data.
func escapeNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "{{") {
			n.Value = strings.ReplaceAll(n.Value, "{{", tplEscapeArgo)
			n.Style = 0
		}
	default:
		for _, c := range n.Content {
			escapeNode(c)
		}
	}
}

func strayPlaceholder(n *yaml.Node) bool {
	if strings.ContainsAny(n.Value, clusterPlaceholder+serverPlaceholder+destinationNamePlaceholder) {
		return true
	}
	return slices.ContainsFunc(n.Content, strayPlaceholder)
}

// mapValue follows keys through nested mappings; nil when one is absent.
func mapValue(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

func seqItems(n *yaml.Node) []*yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// keyMarker stands for a remote reference's key in an ExternalSecret
// encoded once for all clusters: a plain YAML word, written as is.
const keyMarker = "RUNNERCTLREMOTEKEYMARKER"

// externalSecret encodes es, whose remote references' keys are what
// differs from one cluster to the next (each cluster's runner has its own
// token): the object is encoded once with keyMarker for each key, and each
// cluster's keys are encoded alone and spliced in. A key is a single-line
// scalar (config refuses control characters) whose encoding does not
// depend on where it stands in a block mapping, so the result is what
// encoding es whole gives (TestEncodeCacheExternalSecret checks it). ok
// is false when the shortcut does not apply (the marker is already in the
// object, a key encodes on several lines): es is then encoded whole.
func (c *encodeCache) externalSecret(es externalSecret) (body []byte, ok bool, err error) {
	if len(es.Spec.Data) != 1 {
		return nil, false, nil
	}
	key := es.Spec.Data[0].RemoteRef.Key
	masked := es
	masked.Spec.Data = slices.Clone(es.Spec.Data)
	masked.Spec.Data[0].RemoteRef.Key = keyMarker
	frame, err := c.whole(masked, nil)
	if err != nil {
		return nil, false, err
	}
	const markerLine = "key: " + keyMarker + "\n"
	if bytes.Count(frame, []byte(keyMarker)) != 1 || !bytes.Contains(frame, []byte(markerLine)) {
		return nil, false, nil
	}
	line, err := c.keyLine(key)
	if err != nil {
		return nil, false, err
	}
	if bytes.Count(line, []byte("\n")) != 1 {
		return nil, false, nil
	}
	return bytes.Replace(frame, []byte(markerLine), line, 1), true, nil
}

// tomlCache gives the runners.config of a runner's clusters, each
// distinct one built once: of what runnerTOML reads, only the node
// selector differs from one cluster to the next (config's instance
// copies the rest from the runner), and most clusters have none.
type tomlCache struct {
	entries []tomlEntry
}

type tomlEntry struct {
	nodeSelector map[string]string
	toml         string
}

func (c *tomlCache) get(cfg *config.Config, r *config.Runner, p *profile.Profile) (string, error) {
	for _, e := range c.entries {
		if maps.Equal(e.nodeSelector, r.NodeSelector) {
			return e.toml, nil
		}
	}
	toml, err := runnerTOML(cfg, r, p)
	if err != nil {
		return "", err
	}
	c.entries = append(c.entries, tomlEntry{nodeSelector: r.NodeSelector, toml: toml})
	return toml, nil
}

// keyLine encodes "key: KEY\n", as the encoder writes that field of a
// remote reference.
func (c *encodeCache) keyLine(key string) ([]byte, error) {
	if plainPath(key) {
		// What the encoder writes for it, without the encoder's cost
		// (a tenth of a fleet's render, one key per cluster).
		return []byte("key: " + key + "\n"), nil
	}
	if c.keys == nil {
		c.keys = yaml.NewEncoder(&c.keyBuf)
	}
	start := c.keyBuf.Len()
	if err := c.keys.Encode(struct {
		Key string `yaml:"key"`
	}{key}); err != nil {
		return nil, err
	}
	// Every document but the first starts with the separator.
	line := bytes.TrimPrefix(c.keyBuf.Bytes()[start:], []byte("---\n"))
	return slices.Clone(line), nil
}

// plainPath reports whether key is a path that YAML writes as a plain
// scalar, unquoted: letters, digits and "/_.-" only, with a "/" (no
// number, boolean, null or timestamp of YAML has one) and not starting
// with "-" or "." (a sequence entry, a document end or a float such as
// .inf). The default layouts of every backend but GCP give such keys;
// TestPlainPathIsWhatYAMLWrites checks the rule against the encoder.
func plainPath(key string) bool {
	if !strings.Contains(key, "/") || key[0] == '-' || key[0] == '.' {
		return false
	}
	for _, r := range key {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '/', r == '_', r == '.', r == '-':
		default:
			return false
		}
	}
	return true
}
