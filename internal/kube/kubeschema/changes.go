package kubeschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
)

// ChangeKind says how a field differs between two forms of an object.
type ChangeKind string

// Kinds of Change.
const (
	// Added: the field is absent (or null) in the first form and set in the
	// second, as when the API server fills in a schema default.
	Added ChangeKind = "added"
	// Removed: the field is set in the first form and absent in the second,
	// as when the API server prunes a field its schema does not declare.
	Removed ChangeKind = "removed"
	// Changed: the field holds different values.
	Changed ChangeKind = "changed"
)

// Change is one field that differs between two forms of an object: the
// manifest as written and the object the API server stores from it.
type Change struct {
	// Path is the field's path in the API server's notation, list items by
	// index: spec.data[0].remoteRef.decodingStrategy. Map keys that are not
	// plain identifiers are bracketed: spec.target.template.data[runner-token].
	Path string
	Kind ChangeKind
	// From and To are the field's values in each form (JSON values as
	// unstructured objects hold them); nil for the side the field is
	// absent from.
	From, To any
}

// String is "PATH: added VALUE", "PATH: removed (was VALUE)" or "PATH:
// changed from VALUE to VALUE", values in JSON.
func (c Change) String() string {
	switch c.Kind {
	case Added:
		return fmt.Sprintf("%s: added %s", c.Path, JSONValue(c.To))
	case Removed:
		return fmt.Sprintf("%s: removed (was %s)", c.Path, JSONValue(c.From))
	}
	return fmt.Sprintf("%s: changed from %s to %s", c.Path, JSONValue(c.From), JSONValue(c.To))
}

// Changes lists every field that differs between from and to, in path
// order. Maps are compared key by key and lists of equal length item by
// item, so that a default filled in deep inside spec.data[] is named
// where it is, not as a change of the whole list. A map that appears
// whole (a defaulted object) is listed leaf by leaf: one Change per field
// that a manifest would have to set.
func Changes(from, to any) []Change {
	var out []Change
	diff("", from, to, &out)
	return out
}

func diff(path string, a, b any, out *[]Change) {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := make([]string, 0, len(av)+len(bv))
			for k := range av {
				keys = append(keys, k)
			}
			for k := range bv {
				if _, dup := av[k]; !dup {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				va, inA := av[k]
				vb, inB := bv[k]
				p := childPath(path, k)
				// A null that the second form drops is not listed: the
				// API server drops the nulls its schema does not allow
				// before defaulting, and a null is what "absent" means in
				// an apply patch anyway.
				switch {
				case inA && va != nil && !inB:
					*out = append(*out, Change{Path: p, Kind: Removed, From: va})
				case (!inA || va == nil) && inB && vb != nil:
					added(p, vb, out)
				case inA && inB:
					diff(p, va, vb, out)
				}
			}
			return
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				diff(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out)
			}
			return
		}
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, Change{Path: path, Kind: Changed, From: a, To: b})
	}
}

// added lists a value that only the second form has, leaf by leaf.
func added(path string, v any, out *[]Change) {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if m[k] != nil {
				added(childPath(path, k), m[k], out)
			}
		}
		return
	}
	*out = append(*out, Change{Path: path, Kind: Added, To: v})
}

var identifierRE = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)

func childPath(parent, key string) string {
	if !identifierRE.MatchString(key) {
		return parent + "[" + key + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// JSONValue is v in JSON, as messages quote values: "None", 2, {"a":"b"}.
// Keys come out sorted, and nothing is HTML-escaped.
func JSONValue(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
