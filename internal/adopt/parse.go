// Package adopt turns a runner set up by hand (an ArgoCD Application, an
// ExternalSecret or Secret reference, and the gitlab-runner chart's values)
// into a runnerctl.yaml runner, and reports, field by field, what a render
// of that runner would change. It is pure: the caller reads the files and
// hands their bytes in, and gets a Config and a Report back. It never keeps,
// prints or compares a token's value: a token found in the files is
// reported by location only.
package adopt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"

	"go.yaml.in/yaml/v3"
)

// File is one input file: its path as the user should read it in the report
// (relative to the repository, forward slashes) and its bytes.
type File struct {
	Path string
	Data []byte
	// Found is true for a file found by looking through a directory
	// rather than named by the user: one that does not parse is then
	// reported and left out (a repository holds other YAML, Helm templates
	// among it), where a named one is refused.
	Found bool
}

// InputError is input the user must fix before anything can be imported:
// an unparseable file, several runners at once, no runner at all. The CLI
// exits 2 on it.
type InputError struct {
	File string
	Msg  string
}

func (e *InputError) Error() string {
	if e.File == "" {
		return e.Msg
	}
	return e.File + ": " + e.Msg
}

// doc is one YAML document of an input file.
type doc struct {
	file  string
	index int // position in the file, for files holding several documents
	obj   map[string]any
}

func (d doc) kind() string       { s, _ := d.obj["kind"].(string); return s }
func (d doc) apiVersion() string { s, _ := d.obj["apiVersion"].(string); return s }
func (d doc) name() string {
	m, _ := d.obj["metadata"].(map[string]any)
	s, _ := m["name"].(string)
	return s
}

// object names a document the way kubectl does, Kind/name.
func (d doc) object() string {
	if d.kind() == "" {
		return "values"
	}
	return d.kind() + "/" + d.name()
}

// parseFiles splits every file into its YAML documents. A file that is not
// YAML at all, or whose documents are not mappings, is refused whole: a
// half-read file would make the report lie about what it holds.
func parseFiles(files []File) ([]doc, []Line, error) {
	var docs []doc
	var skipped []Line
	for _, f := range files {
		fd, err := parseFile(f)
		if err != nil && f.Found {
			skipped = append(skipped, Line{File: f.Path, Object: "file", Class: Ignored, Detail: err.Msg + " (skipped)"})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, fd...)
	}
	return docs, skipped, nil
}

func parseFile(f File) ([]doc, *InputError) {
	var docs []doc
	dec := yaml.NewDecoder(bytes.NewReader(f.Data))
	for i := 0; ; i++ {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &InputError{File: f.Path, Msg: fmt.Sprintf("not valid YAML (%v); fix or leave the file out", err)}
		}
		if v == nil {
			continue // an empty document between two ---
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, &InputError{File: f.Path, Msg: fmt.Sprintf("document %d is not a YAML mapping; leave the file out", i+1)}
		}
		docs = append(docs, doc{file: f.Path, index: i, obj: m})
	}
	return docs, nil
}

// isValues tells a chart values document from other YAML: it has no kind
// and sets what every gitlab-runner values file sets.
func isValues(m map[string]any) bool {
	if _, ok := m["kind"]; ok {
		return false
	}
	_, url := m["gitlabUrl"]
	_, runners := m["runners"]
	return url || runners
}

// get walks m along keys; nil when any step is missing or not a mapping.
func get(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func getString(m any, keys ...string) string {
	s, _ := get(m, keys...).(string)
	return s
}

func getMap(m any, keys ...string) map[string]any {
	mm, _ := get(m, keys...).(map[string]any)
	return mm
}

// toInt reads a YAML or TOML number that must be whole.
func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case uint64:
		return int(n), true
	case float64:
		if n == float64(int(n)) {
			return int(n), true
		}
	}
	return 0, false
}

// stringList reads a TOML or YAML value that is a string or a list of them.
func stringList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// dir is the directory part of a forward-slash path, "" at the root (of
// the repository, or of the file system for a file given from outside it),
// which leaves the gitops path to its default.
func dir(p string) string {
	if d := path.Dir(p); d != "." && d != "/" {
		return d
	}
	return ""
}
