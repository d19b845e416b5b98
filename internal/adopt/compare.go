package adopt

import (
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

// Class is what render would do to one field.
type Class string

// The classes of a report line.
const (
	// Identical: render writes the same value.
	Identical Class = "identical"
	// Equivalent: render writes runnerctl's form of it; Detail says why
	// nothing changes in the cluster.
	Equivalent Class = "equivalent"
	// Differs: render changes it; the user must decide.
	Differs Class = "differs"
	// Unsupported: runnerctl.yaml cannot express it; render leaves it out.
	Unsupported Class = "unsupported"
	// Leak: a token is written in the file.
	Leak Class = "leak"
	// Ignored: an object that is not part of the runner.
	Ignored Class = "ignored"
	// Warning: what a proposed profile weakens, as profiles warn.
	Warning Class = "warning"
)

// Line is one finding: the input file, the object in it, the field path
// inside the object, the class, and the explanation. It never holds a
// token: values of leaked fields and values that look like tokens are not
// shown.
type Line struct {
	File   string `json:"file,omitempty"`
	Object string `json:"object"`
	Field  string `json:"field,omitempty"`
	Class  Class  `json:"class"`
	Detail string `json:"detail,omitempty"`
}

// Report is every finding of an import, sorted.
type Report struct {
	Lines []Line `json:"lines"`
}

func (r *Report) add(l Line) { r.Lines = append(r.Lines, l) }

func (r *Report) sort() { slices.SortStableFunc(r.Lines, compareLines) }

func compareLines(a, b Line) int {
	return strings.Compare(a.File+"\x00"+a.Object+"\x00"+a.Field, b.File+"\x00"+b.Object+"\x00"+b.Field)
}

// Has reports whether some line has class c.
func (r Report) Has(c Class) bool {
	return slices.ContainsFunc(r.Lines, func(l Line) bool { return l.Class == c })
}

// Text is the report for a terminal: one line per finding, identical
// fields counted per object rather than listed.
func (r Report) Text() string {
	var b strings.Builder
	same := map[string]int{}
	var order []string
	for _, l := range r.Lines {
		where := l.Object
		if l.File != "" {
			where = l.File + ": " + where
		}
		if l.Class == Identical {
			if same[where] == 0 {
				order = append(order, where)
			}
			same[where]++
			continue
		}
		field := ""
		if l.Field != "" {
			field = l.Field + ": "
		}
		fmt.Fprintf(&b, "%s: %s%s: %s\n", safetext.Terminal(where), safetext.Terminal(field), l.Class, safetext.Terminal(l.Detail))
	}
	for _, where := range order {
		fmt.Fprintf(&b, "%s: %d field(s) identical\n", safetext.Terminal(where), same[where])
	}
	return b.String()
}

func countDiffs(lines []Line) int {
	n := 0
	for _, l := range lines {
		if l.Class == Differs || l.Class == Unsupported {
			n++
		}
	}
	return n
}

// compare decodes the files render made for the runner and compares each
// with its hand-written counterpart, field by field. Both sides go through
// the same decoding (YAML to generic maps, runners.config TOML to maps), so
// a line says identical only when the values are.
func compare(in *inputs, rendered []render.File, leaks leakSet) ([]Line, error) {
	var app, es, values map[string]any
	var valuesPath string
	var lines []Line
	for _, f := range rendered {
		d, perr := parseFile(File{Path: f.Path, Data: f.Content})
		if perr != nil || len(d) != 1 {
			return nil, fmt.Errorf("rendered %s does not decode: %v", f.Path, perr)
		}
		switch o := d[0]; {
		case o.kind() == "Application":
			app = o.obj
		case o.kind() == "ExternalSecret" && strings.HasSuffix(o.name(), "-token"):
			es = o.obj
		case isValues(o.obj):
			values, valuesPath = o.obj, f.Path
		default:
			lines = append(lines, Line{File: f.Path, Object: o.object(), Class: Differs, Detail: "render adds this object"})
		}
	}
	if in.app != nil {
		lines = append(lines, diff(in.app.file, in.app.object(), normalizeApp(in.app.obj), normalizeApp(app), leaks)...)
		if in.valuesFile == in.app.file {
			lines = append(lines, Line{File: in.app.file, Object: in.app.object(), Field: "spec.sources.chart.helm.values", Class: Equivalent,
				Detail: fmt.Sprintf("render moves the inline values to %s, read through a ref source; compared field by field under %q", valuesPath, in.valuesObject)})
		}
	} else {
		lines = append(lines, Line{Object: "Application/" + getString(app, "metadata", "name"), Class: Differs, Detail: "render adds the ArgoCD Application that deploys the runner"})
	}
	nv, err := normalizeValues(in.values)
	if err != nil {
		return nil, err
	}
	rv, err := normalizeValues(values)
	if err != nil {
		return nil, err
	}
	lines = append(lines, diff(in.valuesFile, in.valuesObject, nv, rv, leaks)...)
	switch {
	case in.es != nil:
		lines = append(lines, diff(in.es.file, in.es.object(), normalizeES(in.es.obj), normalizeES(es), leaks)...)
	case in.secret != nil:
		lines = append(lines, Line{File: in.secret.file, Object: in.secret.object(), Class: Differs,
			Detail: "render replaces this Secret with an ExternalSecret that reads the token from the secrets manager; store the token there first"})
	default:
		lines = append(lines, Line{Object: "ExternalSecret/" + getString(es, "metadata", "name"), Class: Differs,
			Detail: "render adds an ExternalSecret that reads the token from the secrets manager; store the token there first"})
	}
	return lines, nil
}

// normalizeApp keys an Application's sources by their role (the chart, the
// ref source of the values, the manifests directory) instead of their
// position, so that a single-source Application compares with runnerctl's
// multi-source one, and leaves out the chart's values, which are compared
// on their own.
func normalizeApp(app map[string]any) map[string]any {
	out := deepCopy(app).(map[string]any)
	spec := getMap(out, "spec")
	if spec == nil {
		return out
	}
	roles := map[string]any{}
	other := 0
	for _, s := range sources(app) {
		s = deepCopy(s).(map[string]any)
		switch {
		case getString(s, "chart") == "gitlab-runner":
			if h := getMap(s, "helm"); h != nil {
				delete(h, "values")
				delete(h, "valuesObject")
				delete(h, "valueFiles")
				if len(h) == 0 {
					delete(s, "helm")
				}
			}
			roles["chart"] = s
		case s["ref"] != nil && s["path"] == nil:
			roles["values"] = s
		case s["path"] != nil && roles["manifests"] == nil:
			roles["manifests"] = s
		default:
			roles[fmt.Sprintf("%d", other)] = s
			other++
		}
	}
	delete(spec, "source")
	delete(spec, "sources")
	spec["sources"] = roles
	return out
}

// normalizeES names the ExternalSecret's data entries by position in both
// secretKey and the template that refers to them: the name is ESO's
// internal one, and only its use in the template matters.
func normalizeES(es map[string]any) map[string]any {
	out := deepCopy(es).(map[string]any)
	data, _ := get(out, "spec", "data").([]any)
	tmpl := getMap(out, "spec", "target", "template", "data")
	for i, e := range data {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		key := getString(m, "secretKey")
		pos := fmt.Sprintf("data%d", i)
		for k, v := range tmpl {
			if s, ok := v.(string); ok && key != "" {
				tmpl[k] = regexp.MustCompile(`\.`+regexp.QuoteMeta(key)+`\b`).ReplaceAllString(s, "."+pos)
			}
		}
		m["secretKey"] = pos
	}
	return out
}

// normalizeValues decodes runners.config, so that TOML formatting (quotes,
// indentation, table order) does not count as a difference.
func normalizeValues(v map[string]any) (map[string]any, error) {
	out := deepCopy(v).(map[string]any)
	if text, ok := get(out, "runners", "config").(string); ok {
		var t map[string]any
		if err := toml.Unmarshal([]byte(text), &t); err != nil {
			return nil, fmt.Errorf("runners.config: %w", err)
		}
		getMap(out, "runners")["config"] = t
	}
	return out, nil
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// flatten maps every leaf of v to its field path. Lists of scalars are one
// leaf (their order matters as a whole); lists of mappings are indexed.
func flatten(path string, v any, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[path] = x
		}
		for k, e := range x {
			flatten(joinKey(path, k), e, out)
		}
	case []any:
		if len(x) == 0 || !slices.ContainsFunc(x, func(e any) bool { _, m := e.(map[string]any); _, l := e.([]any); return m || l }) {
			out[path] = scalars(x)
			return
		}
		for i, e := range x {
			flatten(fmt.Sprintf("%s[%d]", path, i), e, out)
		}
	default:
		out[path] = scalar(v)
	}
}

// scalar makes YAML's and TOML's numbers comparable: 2 (int) from YAML and
// 2 (int64) from TOML are the same setting.
func scalar(v any) any {
	if n, ok := toInt(v); ok {
		return int64(n)
	}
	return v
}

func scalars(l []any) []any {
	out := make([]any, len(l))
	for i, e := range l {
		out[i] = scalar(e)
	}
	return out
}

// diff compares the hand-written object a with the rendered b. A subtree
// that only one side has is one line, not one per leaf.
func diff(file, object string, a, b map[string]any, leaks leakSet) []Line {
	fa, fb := map[string]any{}, map[string]any{}
	flatten("", a, fa)
	flatten("", b, fb)
	inA, inB := prefixSet(fa), prefixSet(fb)
	kind := objectKind(object)
	var lines []Line
	done := map[string]bool{}
	for _, p := range slices.Sorted(maps.Keys(union(fa, fb))) {
		av, aok := fa[p]
		bv, bok := fb[p]
		if leaks.under(file, p) {
			continue // reported as a leak, never shown
		}
		if aok && bok && reflect.DeepEqual(av, bv) {
			lines = append(lines, Line{File: file, Object: object, Field: p, Class: Identical})
			continue
		}
		what := ""
		switch {
		case !aok:
			if top := topMissing(p, inA); top != p {
				p, bok, what = top, true, fmt.Sprintf("render adds %s (%d fields)", top, countUnder(fb, top))
				bv = nil
			}
		case !bok:
			if top := topMissing(p, inB); top != p {
				p, aok, what = top, true, fmt.Sprintf("render removes %s (%d fields)", top, countUnder(fa, top))
				av = nil
			}
		}
		if done[p] {
			continue
		}
		done[p] = true
		if what == "" {
			what = change(av, aok, bv, bok)
		} else {
			// A whole subtree: classify it as the addition or removal it is.
			aok, bok = !strings.HasPrefix(what, "render adds"), !strings.HasPrefix(what, "render removes")
		}
		class, why := explain(kind, p, av, aok, bv, bok)
		if !aok || !bok {
			// leaf under a removed or added subtree: the rules speak of
			// leaves, so the subtree takes their verdict when they agree.
			class, why = explainSubtree(kind, p, fa, fb, !aok, class, why)
		}
		lines = append(lines, Line{File: file, Object: object, Field: p, Class: class, Detail: why + ": " + what})
	}
	return lines
}

// explainSubtree classifies the addition (or removal) of the subtree at
// top by its leaves: their common verdict, else the subtree's own.
func explainSubtree(kind, top string, fa, fb map[string]any, adds bool, class Class, why string) (Class, string) {
	if why != genericWhy {
		return class, why // a rule speaks of the subtree itself
	}
	side := fa
	if adds {
		side = fb
	}
	first := true
	var c Class
	var w string
	for p, v := range side {
		if p != top && !strings.HasPrefix(p, top+".") && !strings.HasPrefix(p, top+"[") {
			continue
		}
		var lc Class
		var lw string
		if adds {
			lc, lw = explain(kind, p, nil, false, v, true)
		} else {
			lc, lw = explain(kind, p, v, true, nil, false)
		}
		if first {
			c, w, first = lc, lw, false
		} else if lc != c || lw != w {
			return class, why
		}
	}
	if first {
		return class, why
	}
	return c, w
}

// objectKind is what the rules match objects by: the kind, or "values".
func objectKind(object string) string {
	if strings.Contains(object, "values") {
		return "values"
	}
	k, _, _ := strings.Cut(object, "/")
	return k
}

// prefixes lists the paths of p's ancestors, shortest first: a.b[0].c
// gives a, a.b, a.b[0]. Dots inside a bracketed, quoted key do not count.
func prefixes(p string) []string {
	var out []string
	quoted := false
	for i, c := range p {
		switch {
		case c == '"':
			quoted = !quoted
		case !quoted && (c == '.' || c == '[') && i > 0:
			out = append(out, p[:i])
		}
	}
	return out
}

func prefixSet(flat map[string]any) map[string]bool {
	s := map[string]bool{}
	for p := range flat {
		s[p] = true
		for _, q := range prefixes(p) {
			s[q] = true
		}
	}
	return s
}

// topMissing is p's shortest ancestor (or p) that the other side lacks.
func topMissing(p string, other map[string]bool) string {
	for _, q := range prefixes(p) {
		if !other[q] {
			return q
		}
	}
	return p
}

func countUnder(flat map[string]any, top string) int {
	n := 0
	for p := range flat {
		if strings.HasPrefix(p, top+".") || strings.HasPrefix(p, top+"[") {
			n++
		}
	}
	return n
}

func union(a, b map[string]any) map[string]any {
	u := maps.Clone(a)
	maps.Copy(u, b)
	return u
}

// change says what render does to a field, never showing a token.
func change(av any, aok bool, bv any, bok bool) string {
	switch {
	case !aok:
		return "render adds " + show(bv)
	case !bok:
		return "render removes " + show(av)
	}
	return fmt.Sprintf("render writes %s instead of %s", show(bv), show(av))
}

func show(v any) string {
	s := fmt.Sprint(v)
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		s = "{}"
	}
	if l, ok := v.([]any); ok {
		parts := make([]string, len(l))
		for i, e := range l {
			parts[i] = fmt.Sprint(e)
		}
		s = "[" + strings.Join(parts, ", ") + "]"
	}
	if tokenRE.MatchString(s) {
		return "a value that looks like a token (not shown)"
	}
	if _, ok := v.(string); ok {
		return safetext.Quote(safetext.Clip(s, 120))
	}
	return safetext.Clip(s, 120)
}

// rule explains a difference at a field path.
type rule struct {
	// kind is the object kind the rule is for ("values" for chart
	// values); empty for any.
	kind string
	path *regexp.Regexp
	// when narrows the rule to additions (render adds a field the file
	// does not have) or to particular values; nil matches any change.
	when  func(av any, aok bool, bv any, bok bool) bool
	class Class
	why   string
}

func added(_ any, aok bool, _ any, _ bool) bool   { return !aok }
func removed(_ any, _ bool, _ any, bok bool) bool { return !bok }
func addedAs(v any) func(any, bool, any, bool) bool {
	return func(_ any, aok bool, bv any, _ bool) bool { return !aok && reflect.DeepEqual(bv, v) }
}

// rules are checked in order; a difference no rule explains is Differs.
var rules = []rule{
	{"values", regexp.MustCompile(`^initContainers$`), nil, Differs, "the gitlab-runner chart has no initContainers value (its templates never read it), so it never ran; render leaves it out"},
	{"", regexp.MustCompile(`^metadata\.labels\[`), added, Equivalent, "runnerctl labels the objects it manages"},
	{"", regexp.MustCompile(`^spec\.(target\.(creationPolicy|deletionPolicy|template\.engineVersion|template\.mergePolicy)|data\[\d+\]\.remoteRef\.(conversionStrategy|decodingStrategy|metadataPolicy|nullBytePolicy))$`), added, Equivalent,
		"the API server fills in this CRD default; runnerctl writes it so that the live object equals the file and ArgoCD stays Synced"},
	{"", regexp.MustCompile(`^spec\.data\[\d+\]\.secretKey$`), nil, Equivalent, "ESO's internal name of the value, used only by the template"},
	{"", regexp.MustCompile(`^spec\.sources\.values\.`), added, Equivalent, "ArgoCD reads the values file from this repository through a ref source"},
	{"", regexp.MustCompile(`^runners\.secretPath$`), removed, Equivalent, "the chart has no runners.secretPath value: it always reads the Secret's key runner-token"},
	{"", regexp.MustCompile(`^securityContext\.privileged$`), addedAs(false), Equivalent, "false is Kubernetes' default"},
	{"", regexp.MustCompile(`^unregisterRunners$`), addedAs(true), Equivalent, "true is the chart's default"},
	{"", regexp.MustCompile(`^runners\.config\.runners\[0\]\.(url|executor|name)$`), removed, Equivalent, "the chart writes it into config.toml when the runner starts"},
	{"", regexp.MustCompile(`^metadata\.name$|^spec\.target\.name$|^runners\.secret$`), nil, Differs, "runnerctl names every object after the runner (gitlab-runner-NAME): ArgoCD replaces the old object with the new one"},
	{"", regexp.MustCompile(`^spec\.sources\.chart\.helm\.releaseName$`), nil, Differs, "the Helm release is named after the runner: the chart's Deployment and other objects get new names, and the old ones are pruned"},
	{"", regexp.MustCompile(`^spec\.sources\.chart\.targetRevision$`), nil, Differs, "runnerctl pins a chart version whose runner keys it has verified; set chart.version and chart.runnerVersion to keep yours"},
	{"", regexp.MustCompile(`FF_DISABLE_AUTOMATIC_TOKEN_ROTATION$`), nil, Differs, "the profile stops the runner from rotating its own token, which would leave a dead token in the secrets manager"},
	{"values", regexp.MustCompile(`^runners\.name$`), removed, Equivalent, regNameWhy},
	{"values", regexp.MustCompile(`^runners\.(tags|runUntagged|locked|protected)$`), removed, Equivalent, regWhy},
	{"values", regexp.MustCompile(`^(runners\.)?[^.\[]+$`), removed, Unsupported, "runnerctl.yaml has no field for this chart value, so render leaves it out: keep it by hand or open an issue"},
	{"values", regexp.MustCompile(`^serviceAccount\.`), nil, Differs, "the chart creates the runner pod's service account under this name, bound to the profile's RBAC rules"},
	{"", regexp.MustCompile(`^spec\.(destination\.|project$)`), nil, Differs, "runnerctl writes the Application's destination and project in full (argocd.destination, argocd.project)"},
	{"", regexp.MustCompile(`^spec\.sources\.[a-z0-9]+\.targetRevision$`), addedAs("HEAD"), Equivalent, "HEAD is what ArgoCD tracks when targetRevision is empty"},
	{"", regexp.MustCompile(`^spec\.target\.template\.type$`), addedAs("Opaque"), Equivalent, "Opaque is the type a Secret gets when none is set"},
	{"values", regexp.MustCompile(`^runners\.config\.runners\[0\]\.kubernetes\.((cpu|memory)_(limit|request)|pull_policy)$`), added, Differs, "runnerctl's default for a job setting the files leave unset (runners[].jobResources, runners[].pullPolicy); set your own there"},
	{"values", regexp.MustCompile(`^(concurrent|checkInterval)$`), added, Differs, "runnerctl's default (runners[].concurrent, runners[].checkInterval) where the chart has its own; set yours there"},
	{"values", regexp.MustCompile(`^resources$`), added, Differs, "runnerctl's default resources of the runner pod (runners[].resources); set your own there"},
	{"values", regexp.MustCompile(`^rbac\.rules$`), added, Differs, "the files list no RBAC rules, which the chart turns into a Role allowing everything; runnerctl always lists them (a tightening)"},
	{"values", regexp.MustCompile(`^(securityContext|podSecurityContext|rbac|runners\.config\.runners\[0\]\.kubernetes\.(privileged|allow_privilege_escalation|volumes|.*security_context))`), nil, Differs, "the hardening profile decides it (runnerctl profiles show PROFILE)"},
	{"", regexp.MustCompile(`^spec\.syncPolicy$`), addedAs(map[string]any{}), Equivalent, "an empty syncPolicy is manual sync, as none is"},
	{"values", regexp.MustCompile(`^runners\.config\.runners\[0\]\.`), removed, Unsupported, "runnerctl.yaml cannot keep it: the runner version runnerctl renders for rejects this key or value (gitlab-runner ignores a key it does not know, so it may never have taken effect); render leaves it out"},
	{"", regexp.MustCompile(`^metadata\.finalizers$`), nil, Differs, "deleting the Application then deletes the runner's resources first (cascading delete)"},
	{"", regexp.MustCompile(`^spec\.sources\.manifests\.directory\.include$`), nil, Differs, "the Application lists exactly the files runnerctl generates for this runner"},
}

func explain(kind, p string, av any, aok bool, bv any, bok bool) (Class, string) {
	for _, r := range rules {
		if (r.kind == "" || r.kind == kind) && r.path.MatchString(p) && (r.when == nil || r.when(av, aok, bv, bok)) {
			return r.class, r.why
		}
	}
	return Differs, genericWhy
}

// genericWhy explains a difference no rule knows.
const genericWhy = "render would change it"
