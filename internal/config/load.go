package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/repofile"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

// DefaultFile is the configuration file at the repository root.
const DefaultFile = "runnerctl.yaml"

// Check is a further validation that needs more than the file itself (the
// hardening profiles, for example). Its errors get line numbers like the
// built-in ones. Checks run even when validation found problems, so that
// every problem is reported at once; they must cope with invalid fields.
type Check func(*Config) []FieldError

// Load reads, strictly decodes, defaults and validates a configuration file.
// The file must be a regular file of at most MaxFileSize bytes; a symlink
// is followed only while it stays in the file's directory, the repository
// root. A FIFO or a device (--config /dev/zero) is refused before it is
// opened.
func Load(path string, checks ...Check) (*Config, error) {
	data, err := repofile.ReadFile(path, MaxFileSize)
	if err != nil {
		return nil, &ReadError{Path: path, Err: err}
	}
	return Parse(path, data, checks...)
}

// ReadError is a configuration file that could not be read.
type ReadError struct {
	Path string
	Err  error
}

func (e *ReadError) Error() string {
	if re := (*repofile.Error)(nil); errors.As(e.Err, &re) {
		return fmt.Sprintf("read config %q: %s", e.Path, re.Reason())
	}
	return fmt.Sprintf("read config %q: %v", e.Path, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

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
	// The shape check does what a strict decoder would (unknown fields,
	// types), and more: see shapeChecker. Decoding the checked tree then
	// saves parsing the file a second time.
	if errs := checkShape(&root); len(errs) > 0 {
		return nil, &InvalidError{File: name, Errors: errs}
	}
	// The line index serves only error messages: built when one needs it,
	// it costs a valid file nothing (a tenth of loading a large fleet).
	var idx *nodeIndex
	index := func() *nodeIndex {
		if idx == nil {
			idx = indexNode(&root)
		}
		return idx
	}

	var cfg Config
	if err := root.Decode(&cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &InvalidError{File: name, Errors: []FieldError{syntaxError(err)}}
		}
		inv := &InvalidError{File: name}
		for _, msg := range te.Errors {
			inv.Errors = append(inv.Errors, index().typeError(msg))
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
			errs[i].Line = index().line(errs[i].Path)
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
		return FieldError{Line: n, Msg: "YAML syntax: " + safetext.Clip(m[2], maxMessage)}
	}
	return FieldError{Msg: "YAML syntax: " + safetext.Clip(strings.TrimPrefix(msg, "yaml: "), maxMessage)}
}

// maxMessage bounds a message of the YAML parser repeated to the user: some
// name what they could not parse (an anchor, a tag), unbounded.
const maxMessage = 200

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
		return FieldError{Msg: safetext.Clip(msg, maxMessage)}
	}
	line, _ := strconv.Atoi(m[1])
	fe := FieldError{Line: line, Path: idx.pathAt(line, ""), Msg: safetext.Clip(m[2], maxMessage)}
	if u := unknownFieldRE.FindStringSubmatch(m[2]); u != nil {
		fe.Path = idx.pathAt(line, u[1])
		fe.Msg = fmt.Sprintf("unknown field %s; check its spelling against docs/config.md", safetext.Quote(u[1]))
	} else if c := cannotRE.FindStringSubmatch(m[2]); c != nil {
		fe.Msg = fmt.Sprintf("wrong type: %s %s where %s is expected", yamlTagName(c[1]), safetext.Quote(c[2]), goTypeName(c[3]))
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
	return "another type" // never a Go type name: users write YAML
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
