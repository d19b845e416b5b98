package config

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/safetext"
)

// Limits on runnerctl.yaml. Each keeps the memory and time of a load
// bounded whatever a merge request commits, while staying far above what a
// real fleet needs.
const (
	// MaxFileSize bounds runnerctl.yaml as read from disk. Decoding YAML
	// takes up to about 100 times a file's size in memory (one node per
	// value), so 1 MiB keeps the worst case near 100 MB, while a
	// 10,000-runner fleet fits at about 100 bytes a runner (name, ID,
	// profile and a few tags; shared settings go in YAML anchors).
	MaxFileSize = 1 << 20
	// MaxRunners bounds the fleet of one file: every runner is rendered,
	// validated and written on every run. 10,000 is above any fleet we
	// know of and what the render benchmarks may use.
	MaxRunners = 10_000
	// MaxScalarLen bounds every value of the file. The longest legitimate
	// one is a maintenance note of 990 characters (up to 4 bytes each).
	MaxScalarLen = 4096
	// MaxListLen bounds every other list (tags, CIDRs, ports, sync
	// options): each becomes part of every rendered file of its runner,
	// and none needs more than a few dozen entries.
	MaxListLen = 1000
	// maxNodeVisits bounds the shape check's walk, which follows aliases:
	// about three times the values of a 1 MiB file, far below what a
	// "billion laughs" document expands to.
	maxNodeVisits = 2_000_000
)

// shapeChecker walks the YAML node tree against the Go types of Config
// before anything is decoded, so that every mistake of type or structure
// is reported with its field path and the line where the user wrote it:
//
//   - unknown and duplicate keys;
//   - a value of the wrong kind, named in user terms (a mapping, a list, a
//     whole number), never by a Go type such as config.Secrets;
//   - a float where a whole number belongs (runnerID: 12.7 would otherwise
//     become 12, another runner);
//   - a null or empty list item (runners: [~, ~] would otherwise be an
//     empty fleet, and prune every generated file);
//   - values longer than MaxScalarLen, reported without being echoed.
//
// Inside an alias, errors carry the line of the alias's use: that is where
// the field path points, and the anchor may sit in another runner.
type shapeChecker struct {
	errs   []FieldError
	visits int
}

func checkShape(doc *yaml.Node) []FieldError {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil
	}
	top := doc.Content[0]
	if n := runnersNode(top); n != nil && len(n.Content) > MaxRunners {
		return []FieldError{{Path: "runners", Line: n.Line, Msg: fmt.Sprintf(
			"lists %d runners; runnerctl handles at most %d in one file (split the fleet into several repositories or --config files)", len(n.Content), MaxRunners)}}
	}
	s := &shapeChecker{}
	s.walk(top, reflect.TypeOf(Config{}), "", 0)
	return s.errs
}

// runnersNode is the runners list, through an alias if need be.
func runnersNode(top *yaml.Node) *yaml.Node {
	if top.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "runners" {
			n := top.Content[i+1]
			for n.Kind == yaml.AliasNode && n.Alias != nil {
				n = n.Alias
			}
			if n.Kind == yaml.SequenceNode {
				return n
			}
		}
	}
	return nil
}

func (s *shapeChecker) add(path string, line int, format string, args ...any) {
	s.errs = append(s.errs, FieldError{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// walk checks node n against type t at path. use is the line of the alias
// being expanded, 0 outside aliases.
func (s *shapeChecker) walk(n *yaml.Node, t reflect.Type, path string, use int) {
	if !s.spend(n, path, use) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return // the parser has reported the unknown anchor
		}
		if use == 0 {
			use = n.Line
		}
		s.walk(n.Alias, t, path, use)
		return
	}
	line := lineOf(n, use)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(n) {
		return // the field keeps its zero value, as if omitted
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			s.wrongType(path, line, n, "a mapping")
			return
		}
		s.mapping(n, t, path, use, map[string]int{})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.wrongType(path, line, n, "a list")
			return
		}
		if path != "runners" && len(n.Content) > MaxListLen {
			s.add(path, line, "lists %d items; runnerctl accepts at most %d", len(n.Content), MaxListLen)
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if isNull(item) || item.Kind == yaml.MappingNode && len(item.Content) == 0 {
				s.add(p, lineOf(item, use), "is empty; remove the list item or fill it in")
				continue
			}
			s.walk(item, t.Elem(), p, use)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			s.wrongType(path, line, n, "a string")
			return
		}
		if len(n.Value) > MaxScalarLen {
			s.add(path, line, "is %d bytes long; runnerctl accepts at most %d bytes in one value", len(n.Value), MaxScalarLen)
		}
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			s.wrongType(path, line, n, "a whole number")
			return
		}
		var v int64
		if err := n.Decode(&v); err != nil || reflect.Zero(t).OverflowInt(v) {
			s.add(path, line, "%s is out of range", safetext.Quote(n.Value))
		}
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			s.wrongType(path, line, n, "true or false")
		}
	case reflect.Map:
		// A Patch: free-form, so only its shape and size are checked here.
		if n.Kind != yaml.MappingNode {
			s.wrongType(path, line, n, "a mapping")
			return
		}
		s.free(n, path, use, 1)
	}
}

// MaxPatchDepth bounds the nesting of a patch: the deepest field of a
// generated object (a values file's securityContext.capabilities.drop, an
// Application's ignoreDifferences) is under ten levels, and a deeper patch
// could only be a mistake or an attack on the merge's recursion.
const MaxPatchDepth = 32

// free checks a free-form value (a patch) at depth: keys are plain
// strings, values within the limits of every other field, nesting within
// MaxPatchDepth. Timestamps and binary would not survive the patch's JSON
// form unchanged, so they are refused rather than converted silently.
func (s *shapeChecker) free(n *yaml.Node, path string, use, depth int) {
	if !s.spend(n, path, use) {
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias != nil {
			if use == 0 {
				use = n.Line
			}
			s.free(n.Alias, path, use, depth)
		}
		return
	}
	line := lineOf(n, use)
	if depth > MaxPatchDepth {
		s.add(path, line, "nests deeper than %d levels; runnerctl accepts at most %d in a patch", MaxPatchDepth, MaxPatchDepth)
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || len(k.Value) > MaxScalarLen {
				s.add(path, lineOf(k, use), "has a key that is not a plain string; quote it")
				continue
			}
			if i := safetext.BadRune(k.Value, false); i >= 0 {
				s.add(path, lineOf(k, use), "has a key %s with an invisible or invalid character at byte %d; remove it", safetext.Quote(k.Value), i)
				continue
			}
			p := joinPath(path, k.Value)
			if seen[k.Value] {
				s.add(p, lineOf(k, use), "is set twice; keep one")
				continue
			}
			seen[k.Value] = true
			s.free(v, p, use, depth+1)
		}
	case yaml.SequenceNode:
		if len(n.Content) > MaxListLen {
			s.add(path, line, "lists %d items; runnerctl accepts at most %d", len(n.Content), MaxListLen)
			return
		}
		for i, item := range n.Content {
			s.free(item, fmt.Sprintf("%s[%d]", path, i), use, depth+1)
		}
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!null":
		default:
			s.add(path, line, "%s is a %s; quote it to make it a string", safetext.Quote(n.Value), strings.TrimPrefix(n.ShortTag(), "!!"))
			return
		}
		if len(n.Value) > MaxScalarLen {
			s.add(path, line, "is %d bytes long; runnerctl accepts at most %d bytes in one value", len(n.Value), MaxScalarLen)
			return
		}
		// As in every other field: a control or format character (a
		// YAML escape such as "\0") would reach the generated files
		// unseen by a reviewer, and invalid UTF-8 would be replaced in
		// the patch's JSON form. A patch keeps newlines and tabs, which
		// a script or a multi-line annotation needs.
		if i := safetext.BadRune(n.Value, true); i >= 0 {
			s.add(path, line, "contains an invisible or invalid character at byte %d; remove it (a patch's strings may hold newlines and tabs)", i)
		}
	}
}

// mapping checks the keys of n against struct type t; seen maps each key
// already set to its line (merged mappings share it: a key set both by
// "<<" and by hand is YAML's override, not a duplicate).
func (s *shapeChecker) mapping(n *yaml.Node, t reflect.Type, path string, use int, seen map[string]int) {
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		line := lineOf(k, use)
		if k.Kind != yaml.ScalarNode {
			s.add(path, line, "has a key that is not a plain name")
			continue
		}
		p := joinPath(path, k.Value)
		f, ok := fieldByYAMLName(t, k.Value)
		if !ok {
			if len(k.Value) > safetext.MaxExcerpt || safetext.BadRune(k.Value, false) >= 0 {
				p = path // the message quotes an excerpt; the path would repeat it whole
			}
			s.add(p, line, "unknown field %s; check its spelling against docs/config.md", safetext.Quote(k.Value))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			s.add(p, line, "is set twice (first at line %d); keep one", first)
			continue
		}
		seen[k.Value] = line
		s.walk(v, f.Type, p, use)
	}
	// Keys merged in with "<<" give way to the mapping's own keys.
	for _, m := range merges {
		s.merge(m, t, path, use, seen)
	}
}

// spend counts one more node visited, aliases and merges expanded: false
// once the budget is spent (the first time, with an error).
func (s *shapeChecker) spend(n *yaml.Node, path string, use int) bool {
	s.visits++
	if s.visits == maxNodeVisits {
		s.add(path, lineOf(n, use), "the document expands to more than %d values (through aliases or merge keys); runnerctl refuses it", maxNodeVisits)
	}
	return s.visits < maxNodeVisits
}

func (s *shapeChecker) merge(m *yaml.Node, t reflect.Type, path string, use int, seen map[string]int) {
	if !s.spend(m, path, use) {
		return
	}
	if m.Kind == yaml.AliasNode && m.Alias != nil {
		if use == 0 {
			use = m.Line
		}
		m = m.Alias
	}
	switch m.Kind {
	case yaml.MappingNode:
		own := map[string]int{}
		for k, l := range seen {
			own[k] = l
		}
		// Keys already set win over merged ones: skip them here.
		var rest []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			if _, set := seen[m.Content[i].Value]; set && m.Content[i].ShortTag() != "!!merge" {
				continue
			}
			rest = append(rest, m.Content[i], m.Content[i+1])
		}
		s.mapping(&yaml.Node{Kind: yaml.MappingNode, Content: rest, Line: m.Line}, t, path, use, own)
		for k, l := range own {
			if _, ok := seen[k]; !ok {
				seen[k] = l
			}
		}
	case yaml.SequenceNode:
		for _, item := range m.Content {
			s.merge(item, t, path, use, seen)
		}
	default:
		s.add(path, lineOf(m, use), "\"<<\" must merge a mapping or a list of mappings")
	}
}

// wrongType reports n where want is expected, saying what n is in YAML's
// terms and quoting at most a short excerpt of it.
func (s *shapeChecker) wrongType(path string, line int, n *yaml.Node, want string) {
	var got string
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	default:
		got = yamlTagName(strings.TrimPrefix(n.ShortTag(), "!!")) + " " + safetext.Quote(n.Value)
	}
	s.add(path, line, "wrong type: %s where %s is expected", got, want)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func lineOf(n *yaml.Node, use int) int {
	if use != 0 {
		return use
	}
	return n.Line
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldByYAMLName finds the field of struct t that YAML names name.
func fieldByYAMLName(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); tag == name && tag != "-" && f.IsExported() {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
