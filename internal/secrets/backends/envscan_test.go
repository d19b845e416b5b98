package backends

// A scanner of the environment variables that Go packages read, for
// TestLibrariesReadOnlyKeptVariables: the backends' SDKs and the standard
// library read the process environment themselves, behind the backends'
// Getenv options, and runnerctl-secrets gets only an allowlist of it.
//
// It parses each package's source (as `go list` selects it for a GOOS) and
// finds the calls of os.Getenv, os.LookupEnv and syscall.Getenv (and of
// Getenv and LookupEnv inside os and syscall), and of the package's own
// functions that pass a parameter on to one of them (found to a fixed
// point, as the AWS SDK's setStringFromEnvVal(dst, keys)). A read's name
// is resolved when it is a string constant, a literal, a package variable
// holding a list of them, or a local variable only ever assigned them.
// Anything else is reported as unresolved, and calls of os.Environ (the
// whole environment) are reported too: the test must explain each one.
// Without type information a method is known by its name alone, which can
// only find more reads, never fewer.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// listedPackage is what `go list -json` says of a package.
type listedPackage struct {
	ImportPath        string
	Dir               string
	GoFiles, CgoFiles []string
	Deps              []string
}

// goList lists patterns and their dependencies as built for goos.
func goList(goos string, patterns ...string) (map[string]listedPackage, error) {
	args := append([]string{"list", "-deps", "-json=ImportPath,Dir,GoFiles,CgoFiles,Deps"}, patterns...)
	cmd := exec.Command("go", args...)
	// As the release is built (.goreleaser.yaml).
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list (GOOS=%s): %w: %s", goos, err, stderr.Bytes())
	}
	pkgs := map[string]listedPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list (GOOS=%s): %w", goos, err)
		}
		pkgs[p.ImportPath] = p
	}
}

// envReads is what one package reads.
type envReads struct {
	names map[string]bool
	// Reads whose name is not a constant; reads of the whole environment;
	// exported functions that read the variable their caller names (their
	// callers, in other packages, are not followed).
	unresolved, whole, wrappers []envSite
}

// envSite is a place in a package's source.
type envSite struct{ pkg, fn, expr string }

func (s envSite) String() string { return s.pkg + " " + s.fn + ": " + s.expr }

func scanEnvReads(p listedPackage) (envReads, error) {
	s := &envScan{fset: token.NewFileSet(), pkg: p.ImportPath, values: map[string][]ast.Expr{}, readers: map[string]reader{}}
	var files []*ast.File
	for _, name := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
		f, err := parser.ParseFile(s.fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return envReads{}, err
		}
		files = append(files, f)
	}
	if p.ImportPath == "os" || p.ImportPath == "syscall" {
		s.readers["Getenv"], s.readers["LookupEnv"] = reader{}, reader{}
	}
	for _, f := range files {
		im := envImportsOf(f)
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, n := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					s.values[n.Name] = append(s.values[n.Name], vs.Values[i])
					if im.isGetenv(vs.Values[i]) {
						s.readers[n.Name] = reader{} // var getenv = os.Getenv
						s.aliases = append(s.aliases, vs.Values[i])
					}
				}
			}
		}
	}
	// Local constants too (const envVar = "..." inside a function).
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				ast.Inspect(fd.Body, func(n ast.Node) bool {
					if gd, ok := n.(*ast.GenDecl); ok && gd.Tok == token.CONST {
						for _, spec := range gd.Specs {
							vs := spec.(*ast.ValueSpec)
							for i, n := range vs.Names {
								if i < len(vs.Values) {
									s.values[n.Name] = append(s.values[n.Name], vs.Values[i])
								}
							}
						}
					}
					return true
				})
			}
		}
	}
	for {
		known := len(s.readers)
		s.out = envReads{names: map[string]bool{}}
		for _, f := range files {
			s.scanFile(f)
		}
		if len(s.readers) == known {
			break
		}
	}
	if p.ImportPath == "os" || p.ImportPath == "syscall" {
		return s.out, nil // their Getenv is os.Getenv itself
	}
	for fn := range s.readers {
		if ast.IsExported(fn) {
			s.out.wrappers = append(s.out.wrappers, envSite{s.pkg, fn, "reads the variable its caller names"})
		}
	}
	return s.out, nil
}

// reader is a function that reads the variable named by its parameter at
// pos (and at every later one when variadic).
type reader struct {
	pos      int
	variadic bool
}

type envScan struct {
	fset    *token.FileSet
	pkg     string
	values  map[string][]ast.Expr // constants and variables by name
	readers map[string]reader     // the package's own functions that read the environment
	aliases []ast.Expr            // os.Getenv taken as a value by a package variable
	out     envReads
}

// envImports are the names under which a file imports os and syscall.
type envImports struct{ os, syscall string }

func envImportsOf(f *ast.File) envImports {
	var im envImports
	for _, is := range f.Imports {
		path, _ := strconv.Unquote(is.Path.Value)
		name := path
		if is.Name != nil {
			name = is.Name.Name
		}
		switch path {
		case "os":
			im.os = name
		case "syscall":
			im.syscall = name
		}
	}
	return im
}

func (im envImports) selects(e ast.Expr, names ...string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok || x.Name == "" || (x.Name != im.os && x.Name != im.syscall) {
		return false
	}
	for _, n := range names {
		if sel.Sel.Name == n {
			return true
		}
	}
	return false
}

func (im envImports) isGetenv(e ast.Expr) bool { return im.selects(e, "Getenv", "LookupEnv") }

func (s *envScan) scanFile(f *ast.File) {
	im := envImportsOf(f)
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Body != nil {
				s.scanFunc(im, d.Name.Name, d.Type, d.Body)
			}
		case *ast.GenDecl:
			// Package variables initialized by a read.
			s.scanFunc(im, "(package var)", nil, d)
		}
	}
}

func (s *envScan) scanFunc(im envImports, fn string, typ *ast.FuncType, body ast.Node) {
	params := map[string]reader{} // parameters, and range variables over them
	if typ != nil {
		i := 0
		for _, field := range typ.Params.List {
			_, variadic := field.Type.(*ast.Ellipsis)
			for _, n := range field.Names {
				params[n.Name] = reader{pos: i, variadic: variadic}
				i++
			}
			if len(field.Names) == 0 {
				i++
			}
		}
	}
	assigned := map[string][]ast.Expr{} // local variables' assigned values
	ast.Inspect(body, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == len(as.Rhs) {
			for i, l := range as.Lhs {
				if id, ok := l.(*ast.Ident); ok {
					assigned[id.Name] = append(assigned[id.Name], as.Rhs[i])
				}
			}
		}
		return true
	})
	called := map[ast.Expr]bool{}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.RangeStmt:
			if x, ok := n.X.(*ast.Ident); ok {
				if r, ok := params[x.Name]; ok {
					if v, ok := n.Value.(*ast.Ident); ok {
						params[v.Name] = r // each element: all of a variadic parameter
					}
				}
			}
		case *ast.CallExpr:
			called[n.Fun] = true
			if im.selects(n.Fun, "Environ") {
				s.out.whole = append(s.out.whole, s.site(fn, n))
				return true
			}
			r, ok := s.readerOf(im, n.Fun)
			if !ok || r.pos >= len(n.Args) {
				return true
			}
			args := n.Args[r.pos : r.pos+1]
			if r.variadic {
				args = n.Args[r.pos:]
			}
			for _, arg := range args {
				s.read(fn, n, arg, params, assigned)
			}
		case *ast.SelectorExpr:
			if im.isGetenv(n) && !called[n] && !s.isAlias(n) {
				site := s.site(fn, n)
				site.expr += " (as a value)"
				s.out.unresolved = append(s.out.unresolved, site)
			}
		}
		return true
	})
}

func (s *envScan) read(fn string, call *ast.CallExpr, arg ast.Expr, params map[string]reader, assigned map[string][]ast.Expr) {
	if id, ok := arg.(*ast.Ident); ok && assigned[id.Name] == nil {
		if r, ok := params[id.Name]; ok {
			s.readers[fn] = r // a wrapper: its callers name the variable
			return
		}
	}
	if names, ok := s.eval(arg, assigned, 0); ok {
		for _, n := range names {
			s.out.names[n] = true
		}
		return
	}
	s.out.unresolved = append(s.out.unresolved, s.site(fn, call))
}

func (s *envScan) readerOf(im envImports, fun ast.Expr) (reader, bool) {
	if im.isGetenv(fun) {
		return reader{}, true
	}
	switch f := fun.(type) {
	case *ast.Ident:
		r, ok := s.readers[f.Name]
		return r, ok
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok && x.Name != "" && (x.Name == im.os || x.Name == im.syscall) {
			return reader{}, false
		}
		r, ok := s.readers[f.Sel.Name]
		return r, ok
	}
	return reader{}, false
}

func (s *envScan) isAlias(e ast.Expr) bool {
	for _, a := range s.aliases {
		if a == e {
			return true
		}
	}
	return false
}

// eval resolves e to the strings it can hold.
func (s *envScan) eval(e ast.Expr, assigned map[string][]ast.Expr, depth int) ([]string, bool) {
	if depth > 8 {
		return nil, false
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return nil, false
		}
		v, err := strconv.Unquote(e.Value)
		return []string{v}, err == nil
	case *ast.ParenExpr:
		return s.eval(e.X, assigned, depth+1)
	case *ast.Ident:
		defs := assigned[e.Name]
		if len(defs) == 0 {
			defs = s.values[e.Name]
		}
		if len(defs) == 0 {
			return nil, false
		}
		var out []string
		for _, d := range defs {
			v, ok := s.eval(d, assigned, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, v...)
		}
		return out, true
	case *ast.CompositeLit:
		var out []string
		for _, el := range e.Elts {
			v, ok := s.eval(el, assigned, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, v...)
		}
		return out, true
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return nil, false
		}
		l, ok1 := s.eval(e.X, assigned, depth+1)
		r, ok2 := s.eval(e.Y, assigned, depth+1)
		if !ok1 || !ok2 || len(l) != 1 || len(r) != 1 {
			return nil, false
		}
		return []string{l[0] + r[0]}, true
	}
	return nil, false
}

// site names a place in the source: package, function, expression.
func (s *envScan) site(fn string, n ast.Node) envSite {
	var b bytes.Buffer
	_ = printer.Fprint(&b, s.fset, n)
	return envSite{s.pkg, fn, b.String()}
}
