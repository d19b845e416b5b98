package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultFile is the configuration file at the repository root.
const DefaultFile = "runnerctl.yaml"

// Check is a further validation that needs more than the file itself (the
// hardening profiles, for example). Its errors get line numbers like the
// built-in ones. Checks run even when validation found problems, so that
// every problem is reported at once; they must cope with invalid fields.
type Check func(*Config) []FieldError

// Load reads, strictly decodes, defaults and validates a configuration file.
func Load(path string, checks ...Check) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %q: %w", path, err)
	}
	return Parse(path, data, checks...)
}

// Parse is Load for bytes already read. name is used in messages, and its
// directory is the repository root: the files the spec refers to
// (gitlab.tls.caFile) are read from there, never from outside it, so that
// render stays pure and sees only checked content.
//
// Decoding goes through go.yaml.in/yaml/v3 rather than sigs.k8s.io/yaml
// because its node tree keeps line numbers: every error names both the field
// path and the line, which is what a user needs to fix a file by hand.
func Parse(name string, data []byte, checks ...Check) (*Config, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &InvalidError{File: name, Errors: []FieldError{{Msg: "the file is empty; start from `runnerctl init` or examples/homelab/runnerctl.yaml"}}}
		}
		return nil, &InvalidError{File: name, Errors: []FieldError{syntaxError(err)}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &InvalidError{File: name, Errors: []FieldError{{Line: extra.Line, Msg: "more than one YAML document; runnerctl.yaml holds exactly one"}}}
	}
	idx := indexNode(&root)

	var cfg Config
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &InvalidError{File: name, Errors: []FieldError{syntaxError(err)}}
		}
		inv := &InvalidError{File: name}
		for _, msg := range te.Errors {
			inv.Errors = append(inv.Errors, idx.typeError(msg))
		}
		return nil, inv
	}

	cfg.ApplyDefaults()
	errs := cfg.Validate()
	errs = append(errs, cfg.readFiles(filepath.Dir(name))...)
	for _, check := range checks {
		errs = append(errs, check(&cfg)...)
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Line = idx.line(errs[i].Path)
		}
		return nil, &InvalidError{File: name, Errors: errs}
	}
	return &cfg, nil
}

var lineRE = newLazyRE(`^(?:yaml: )?line (\d+): (.*)$`)

func syntaxError(err error) FieldError {
	msg := err.Error()
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return FieldError{Line: n, Msg: "YAML syntax: " + m[2]}
	}
	return FieldError{Msg: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// nodeIndex maps field paths to lines and back.
type nodeIndex struct {
	lines map[string]int
	paths map[int][]string // line -> paths whose key starts there, outermost first
}

func indexNode(doc *yaml.Node) *nodeIndex {
	idx := &nodeIndex{lines: map[string]int{}, paths: map[int][]string{}}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		idx.walk("", doc.Content[0])
	}
	return idx
}

func (idx *nodeIndex) walk(path string, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			idx.record(p, k.Line)
			idx.walk(p, v)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			idx.record(p, item.Line)
			idx.walk(p, item)
		}
	}
}

func (idx *nodeIndex) record(path string, line int) {
	idx.lines[path] = line
	idx.paths[line] = append(idx.paths[line], path)
}

// pathAt names the field at line: the one called key when given (a line
// such as `stor: {name: x}` holds several), else the innermost.
func (idx *nodeIndex) pathAt(line int, key string) string {
	paths := idx.paths[line]
	for _, p := range paths {
		if key != "" && (p == key || strings.HasSuffix(p, "."+key)) {
			return p
		}
	}
	if len(paths) == 0 {
		return ""
	}
	return paths[len(paths)-1]
}

// line finds the line of path or of its nearest ancestor present in the file
// (a defaulted field has no line of its own, but its parent usually does).
func (idx *nodeIndex) line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := idx.lines[p]; ok {
			return l
		}
	}
	return 0
}

func parentPath(p string) string {
	if i := strings.LastIndexAny(p, ".["); i > 0 {
		return p[:i]
	}
	return ""
}

var (
	unknownFieldRE = newLazyRE(`^field (\S+) not found in type \S+$`)
	cannotRE       = newLazyRE("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// typeError turns one of yaml's "line N: ..." messages into a FieldError
// with the path of the field at that line.
func (idx *nodeIndex) typeError(msg string) FieldError {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return FieldError{Msg: msg}
	}
	line, _ := strconv.Atoi(m[1])
	fe := FieldError{Line: line, Path: idx.pathAt(line, ""), Msg: m[2]}
	if u := unknownFieldRE.FindStringSubmatch(m[2]); u != nil {
		fe.Path = idx.pathAt(line, u[1])
		fe.Msg = fmt.Sprintf("unknown field %q; check its spelling against docs/config.md", u[1])
	} else if c := cannotRE.FindStringSubmatch(m[2]); c != nil {
		fe.Msg = fmt.Sprintf("wrong type: %s %q where %s is expected", yamlTagName(c[1]), c[2], goTypeName(c[3]))
	}
	return fe
}

func yamlTagName(tag string) string {
	switch tag {
	case "str":
		return "string"
	case "int", "float":
		return "number"
	case "bool":
		return "boolean"
	case "seq":
		return "list"
	case "map":
		return "mapping"
	}
	return tag
}

func goTypeName(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "int"):
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	case strings.HasPrefix(t, "config."), strings.HasPrefix(t, "*config."):
		return "a mapping"
	}
	return t
}

// Marshal encodes cfg as runnerctl.yaml. Parse(Marshal(cfg)) gives cfg back
// (defaults applied), which init relies on when it records runner IDs.
func Marshal(cfg *Config) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(cfg); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return b.Bytes(), nil
}
