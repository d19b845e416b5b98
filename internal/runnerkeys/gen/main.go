// Command gen derives runnerkeys' table from gitlab-runner's sources: for
// each runner version, every TOML key path of a [[runners]] entry with its
// type (from common/config.go) and every feature flag (from
// helpers/featureflags/flags.go). Only facts go into the table — key names,
// types, flag names — never the upstream files.
//
//	go run ./internal/runnerkeys/gen -ref ../shared/reference/gitlab-runner-source
//
// writes internal/runnerkeys/table.go (go generate ./internal/runnerkeys
// does the same). The reference directory holds one vX.Y.Z directory per
// runner version with config.go and featureflags.go in it.
//
// The generator refuses to guess: a type defined outside config.go, or one
// with its own UnmarshalTOML, must be listed in externalTypes or
// customTypes below with what the runner accepts for it, or generation
// fails naming it. A new runner version therefore cannot silently widen
// the table.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Types, as the table spells them. A list or map names its element type
// after a colon: "list:string", "map:list:string".
const (
	tString      = "string"
	tBool        = "bool"
	tInt         = "int"
	tFloat       = "float"
	tDuration    = "duration"
	tDatetime    = "datetime"
	tAny         = "any"
	tStringOrArr = "string-or-list"
	tTable       = "table"
	tTables      = "tables"
	tOpaque      = "opaque"
)

// externalTypes are the types config.go uses from other packages, with
// what the runner's TOML decoder (BurntSushi/toml) accepts for them.
// opaque marks a table whose keys are defined in a file the reference does
// not hold: runnerkeys cannot check them and says so.
var externalTypes = map[string]string{
	"time.Duration":       tDuration, // BurntSushi parses "1h30m" or takes nanoseconds
	"time.Time":           tDatetime,
	"api.Capability":      tString, // k8s.io/api/core/v1: string types
	"api.ProcMountType":   tString,
	"spec.PullPolicy":     tString, // common/spec: a string type
	"referees.Config":     tOpaque,
	"runner.Monitoring":   tOpaque,
	"cacheconfig.Config":  tOpaque, // 19.x moved [runners.cache] out of config.go
	"docker.Credentials":  tOpaque,
	"process.Credentials": tOpaque,
	"timeperiod.Period":   tOpaque,
}

// packageTypes are types of package common that config.go uses but
// another file of the package defines; the reference does not hold them.
var packageTypes = map[string]string{
	"Labels": tOpaque,
}

// customTypes have their own UnmarshalTOML in config.go; what it accepts
// is read from its code and recorded here by hand.
var customTypes = map[string]string{
	// A string, or an array of strings.
	"StringOrArray": tStringOrArr,
	// Reads exactly its own fields' keys from a table (19.x).
	"KubernetesNFS": tTable,
}

// key is one TOML key path and its type.
type key struct {
	path, typ string
}

type extractor struct {
	types  map[string]ast.Expr
	custom map[string]bool
	keys   map[string]string
	errs   []error
}

// extractKeys reads config.go and returns every key path under a
// [[runners]] entry ("runners" itself included), sorted.
func extractKeys(src []byte, name string) ([]key, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	x := &extractor{types: map[string]ast.Expr{}, custom: map[string]bool{}, keys: map[string]string{}}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, s := range d.Specs {
				if ts, ok := s.(*ast.TypeSpec); ok {
					x.types[ts.Name.Name] = ts.Type
				}
			}
		case *ast.FuncDecl:
			if d.Recv != nil && d.Name.Name == "UnmarshalTOML" && len(d.Recv.List) == 1 {
				x.custom[recvName(d.Recv.List[0].Type)] = true
			}
		}
	}
	if _, ok := x.types["RunnerConfig"]; !ok {
		return nil, fmt.Errorf("%s: no type RunnerConfig", name)
	}
	x.keys["runners"] = tTables
	x.walkStruct("runners", "RunnerConfig", nil)
	if err := errors.Join(x.errs...); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out := make([]key, 0, len(x.keys))
	for p, t := range x.keys {
		out = append(out, key{p, t})
	}
	slices.SortFunc(out, func(a, b key) int { return strings.Compare(a.path, b.path) })
	return out, nil
}

func recvName(e ast.Expr) string {
	if s, ok := e.(*ast.StarExpr); ok {
		e = s.X
	}
	if id, ok := e.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// walkStruct records the fields of the named struct type under prefix.
// seen guards against recursive types.
func (x *extractor) walkStruct(prefix, typeName string, seen []string) {
	if slices.Contains(seen, typeName) {
		x.errs = append(x.errs, fmt.Errorf("type %s contains itself (%s)", typeName, prefix))
		return
	}
	st, ok := x.types[typeName].(*ast.StructType)
	if !ok {
		x.errs = append(x.errs, fmt.Errorf("%s: type %s is not a struct", prefix, typeName))
		return
	}
	x.walkFields(prefix, st, append(seen, typeName))
}

func (x *extractor) walkFields(prefix string, st *ast.StructType, seen []string) {
	for _, f := range st.Fields.List {
		tag := ""
		if f.Tag != nil {
			s, err := strconv.Unquote(f.Tag.Value)
			if err != nil {
				x.errs = append(x.errs, fmt.Errorf("%s: bad tag %s", prefix, f.Tag.Value))
				continue
			}
			tag, _, _ = strings.Cut(reflect.StructTag(s).Get("toml"), ",")
		}
		if tag == "-" {
			continue
		}
		if len(f.Names) == 0 {
			// An embedded struct without a key of its own: BurntSushi/toml
			// reads its fields as if they were the outer struct's.
			if tag == "" {
				x.embed(prefix, f.Type, seen)
				continue
			}
			x.field(prefix+"."+tag, f.Type, seen)
			continue
		}
		for _, n := range f.Names {
			if !n.IsExported() {
				continue
			}
			k := tag
			if k == "" {
				k = n.Name
			}
			x.field(prefix+"."+k, f.Type, seen)
		}
	}
}

func (x *extractor) embed(prefix string, t ast.Expr, seen []string) {
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	switch t := t.(type) {
	case *ast.Ident:
		x.walkStruct(prefix, t.Name, seen)
	case *ast.SelectorExpr:
		// An embedded struct from another package: its keys land directly
		// in the outer table, and are unknown here. The outer table's own
		// keys are still checked; others are reported as not checked.
		if externalTypes[exprString(t)] != tOpaque {
			x.errs = append(x.errs, fmt.Errorf("%s: embedded %s from another package; add it to externalTypes as opaque", prefix, exprString(t)))
			return
		}
		x.keys[prefix] = tOpaque
	default:
		x.errs = append(x.errs, fmt.Errorf("%s: embedded %s", prefix, exprString(t)))
	}
}

// field records path with the type of t, and the keys below it.
func (x *extractor) field(path string, t ast.Expr, seen []string) {
	typ, structName, inline := x.typeOf(path, t)
	if typ == "" {
		return
	}
	if prev, ok := x.keys[path]; ok && prev != typ {
		x.errs = append(x.errs, fmt.Errorf("%s: declared twice (%s, %s)", path, prev, typ))
	}
	x.keys[path] = typ
	switch {
	case structName != "":
		x.walkStruct(path, structName, seen)
	case inline != nil:
		x.walkFields(path, inline, seen)
	}
}

// typeOf gives the table's type for t. For a table or an array of tables
// it also names the struct (or gives the inline struct) whose fields are
// the keys below it.
func (x *extractor) typeOf(path string, t ast.Expr) (typ, structName string, inline *ast.StructType) {
	switch t := t.(type) {
	case *ast.StarExpr:
		return x.typeOf(path, t.X)
	case *ast.Ident:
		switch t.Name {
		case "string":
			return tString, "", nil
		case "bool":
			return tBool, "", nil
		case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
			return tInt, "", nil
		case "float32", "float64":
			return tFloat, "", nil
		case "any":
			return tAny, "", nil
		}
		if x.custom[t.Name] {
			c, ok := customTypes[t.Name]
			if !ok {
				x.errs = append(x.errs, fmt.Errorf("%s: type %s has its own UnmarshalTOML; read it and add it to customTypes", path, t.Name))
				return "", "", nil
			}
			if c == tTable {
				return tTable, t.Name, nil
			}
			return c, "", nil
		}
		def, ok := x.types[t.Name]
		if !ok {
			if p, ok := packageTypes[t.Name]; ok {
				return p, "", nil
			}
			x.errs = append(x.errs, fmt.Errorf("%s: unknown type %s", path, t.Name))
			return "", "", nil
		}
		if _, isStruct := def.(*ast.StructType); isStruct {
			return tTable, t.Name, nil
		}
		return x.typeOf(path, def)
	case *ast.SelectorExpr:
		name := exprString(t)
		e, ok := externalTypes[name]
		if !ok {
			x.errs = append(x.errs, fmt.Errorf("%s: type %s from another package; add what the runner accepts for it to externalTypes", path, name))
			return "", "", nil
		}
		return e, "", nil
	case *ast.InterfaceType:
		return tAny, "", nil
	case *ast.StructType:
		return tTable, "", t
	case *ast.ArrayType:
		et, es, ei := x.typeOf(path, t.Elt)
		switch {
		case et == "":
			return "", "", nil
		case et == tTable:
			return tTables, es, ei
		case et == tTables || et == tOpaque:
			x.errs = append(x.errs, fmt.Errorf("%s: list of %s is not supported", path, et))
			return "", "", nil
		}
		return "list:" + et, "", nil
	case *ast.MapType:
		if k, ok := t.Key.(*ast.Ident); !ok || k.Name != "string" {
			x.errs = append(x.errs, fmt.Errorf("%s: map key %s is not string", path, exprString(t.Key)))
			return "", "", nil
		}
		et, _, _ := x.typeOf(path, t.Value)
		switch et {
		case "":
			return "", "", nil
		case tTable, tTables, tOpaque:
			x.errs = append(x.errs, fmt.Errorf("%s: map of %s is not supported", path, et))
			return "", "", nil
		}
		return "map:" + et, "", nil
	}
	x.errs = append(x.errs, fmt.Errorf("%s: unsupported type %s", path, exprString(t)))
	return "", "", nil
}

func exprString(e ast.Expr) string {
	var b bytes.Buffer
	_ = format.Node(&b, token.NewFileSet(), e)
	return b.String()
}

// flagInfo is one feature flag.
type flagInfo struct {
	name       string
	deprecated bool
}

// extractFlags reads the flags list of featureflags.go.
func extractFlags(src []byte, name string) ([]flagInfo, error) {
	f, err := parser.ParseFile(token.NewFileSet(), name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	consts := map[string]string{}
	var list *ast.CompositeLit
	for _, d := range f.Decls {
		gd, ok := d.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, s := range gd.Specs {
			vs, ok := s.(*ast.ValueSpec)
			if !ok {
				continue
			}
			for i, n := range vs.Names {
				if i >= len(vs.Values) {
					continue
				}
				if gd.Tok == token.CONST {
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						consts[n.Name], _ = strconv.Unquote(lit.Value)
					}
				}
				if gd.Tok == token.VAR && n.Name == "flags" {
					list, _ = vs.Values[i].(*ast.CompositeLit)
				}
			}
		}
	}
	if list == nil {
		return nil, fmt.Errorf("%s: no var flags = []FeatureFlag{...}", name)
	}
	var out []flagInfo
	for _, el := range list.Elts {
		cl, ok := el.(*ast.CompositeLit)
		if !ok {
			return nil, fmt.Errorf("%s: flags element %s is not a literal", name, exprString(el))
		}
		var fi flagInfo
		for _, kv := range cl.Elts {
			kv, ok := kv.(*ast.KeyValueExpr)
			if !ok {
				return nil, fmt.Errorf("%s: flags element without field names", name)
			}
			switch exprString(kv.Key) {
			case "Name":
				switch v := kv.Value.(type) {
				case *ast.BasicLit:
					fi.name, _ = strconv.Unquote(v.Value)
				case *ast.Ident:
					fi.name = consts[v.Name]
				}
			case "Deprecated":
				fi.deprecated = exprString(kv.Value) == "true"
			}
		}
		if !strings.HasPrefix(fi.name, "FF_") {
			return nil, fmt.Errorf("%s: cannot read the name of flag %s", name, exprString(cl))
		}
		out = append(out, fi)
	}
	slices.SortFunc(out, func(a, b flagInfo) int { return strings.Compare(a.name, b.name) })
	return slices.CompactFunc(out, func(a, b flagInfo) bool { return a.name == b.name }), nil
}

// generate reads every vX.Y.Z directory of ref and returns table.go.
func generate(ref string) ([]byte, error) {
	entries, err := os.ReadDir(ref)
	if err != nil {
		return nil, err
	}
	type version struct {
		name  string
		nums  [3]int
		keys  []key
		flags []flagInfo
	}
	var versions []version
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if !e.IsDir() || !ok {
			continue
		}
		dir := filepath.Join(ref, e.Name())
		cfg, err := os.ReadFile(filepath.Join(dir, "config.go"))
		if err != nil {
			return nil, err
		}
		keys, err := extractKeys(cfg, e.Name()+"/config.go")
		if err != nil {
			return nil, err
		}
		ff, err := os.ReadFile(filepath.Join(dir, "featureflags.go"))
		if err != nil {
			return nil, err
		}
		flags, err := extractFlags(ff, e.Name()+"/featureflags.go")
		if err != nil {
			return nil, err
		}
		versions = append(versions, version{strings.TrimPrefix(e.Name(), "v"), v, keys, flags})
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%s: no vX.Y.Z directory", ref)
	}
	if len(versions) > 8 {
		return nil, fmt.Errorf("%s: %d versions; the table's version mask holds 8", ref, len(versions))
	}
	slices.SortFunc(versions, func(a, b version) int { return slices.Compare(a.nums[:], b.nums[:]) })

	// One row per key path and type, with the versions that have it as a
	// bit mask (bit i: versions[i]): most keys exist in every version.
	type row struct {
		path, typ string
		mask      uint8
	}
	rows := map[[2]string]uint8{}
	flagRows := map[string]uint8{}
	deprecated := map[string]uint8{}
	for i, v := range versions {
		for _, k := range v.keys {
			rows[[2]string{k.path, k.typ}] |= 1 << i
		}
		for _, f := range v.flags {
			flagRows[f.name] |= 1 << i
			if f.deprecated {
				deprecated[f.name] |= 1 << i
			}
		}
	}
	var keyRows []row
	for k, m := range rows {
		keyRows = append(keyRows, row{k[0], k[1], m})
	}
	slices.SortFunc(keyRows, func(a, b row) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.typ, b.typ)
	})
	flagNames := make([]string, 0, len(flagRows))
	for n := range flagRows {
		flagNames = append(flagNames, n)
	}
	slices.Sort(flagNames)

	var b bytes.Buffer
	b.WriteString("// Code generated by go run ./internal/runnerkeys/gen; DO NOT EDIT.\n\n")
	b.WriteString("// Facts derived from gitlab-runner's common/config.go (TOML key paths of a\n")
	b.WriteString("// [[runners]] entry and their types) and helpers/featureflags/flags.go\n")
	b.WriteString("// (feature flag names) at each version's tag.\n\n")
	b.WriteString("package runnerkeys\n\n")
	b.WriteString("// tableVersions are the runner versions of the table; bit i of a mask\n// stands for tableVersions[i].\n")
	b.WriteString("var tableVersions = []string{")
	for i, v := range versions {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", v.name)
	}
	b.WriteString("}\n\n")
	b.WriteString("// tableKeys is sorted by path, then type.\nvar tableKeys = []keyRow{\n")
	for _, r := range keyRows {
		fmt.Fprintf(&b, "\t{%q, %q, %#02x},\n", r.path, r.typ, r.mask)
	}
	b.WriteString("}\n\n")
	b.WriteString("// tableFlags is sorted by name.\nvar tableFlags = []flagRow{\n")
	for _, n := range flagNames {
		fmt.Fprintf(&b, "\t{%q, %#02x, %#02x},\n", n, flagRows[n], deprecated[n])
	}
	b.WriteString("}\n")
	return format.Source(b.Bytes())
}

func parseVersion(dir string) ([3]int, bool) {
	var v [3]int
	s, ok := strings.CutPrefix(dir, "v")
	if !ok {
		return v, false
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

func main() {
	ref := flag.String("ref", "../../../shared/reference/gitlab-runner-source", "directory with one vX.Y.Z directory per runner version")
	out := flag.String("out", "table.go", "file to write")
	flag.Parse()
	src, err := generate(*ref)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
