// Package tplreads finds which .Values keys a Helm chart's templates read,
// from their parse trees alone, so that validate can warn about values
// keys that have no effect. It links nothing but text/template/parse, so
// it can be fuzzed cheaply.
package tplreads

import (
	"slices"
	"strings"
	"text/template/parse"
)

// Reads are the .Values paths a chart's templates read, by walking
// their parse trees (Helm templates are Go text/template). A path read
// "whole" (printed, passed to toYaml, tpl, include, ranged over) covers its
// whole subtree; one only tested (if, and, or, not, eq, default...) covers
// just itself. Where the walk cannot follow a value (a dynamic index, a
// variable it did not see assigned), it counts the enclosing path as read
// whole: a values key wrongly called unread is worse than one missed. The
// root context passed to a function other than include or template (dict
// "root" $) is not followed.
type Reads struct {
	whole [][]string
	exact [][]string
	defs  map[string]*parse.ListNode
	// seen stops recursion through include: template name + dot.
	seen map[string]bool
}

// dot is what "." means at a point of a template: the root context, a
// path under .Values, or something unknown.
type dot struct {
	root    bool
	values  bool     // under .Values
	path    []string // when values
	unknown bool
}

var rootDot = dot{root: true}

// Analyze parses templates (file name to text) and collects their reads.
func Analyze(templates map[string]string) (*Reads, error) {
	rp := &Reads{defs: map[string]*parse.ListNode{}, seen: map[string]bool{}}
	var tops []*parse.Tree
	names := make([]string, 0, len(templates))
	for n := range templates {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		t := parse.New(name)
		t.Mode = parse.SkipFuncCheck | parse.ParseComments
		treeSet := map[string]*parse.Tree{}
		if _, err := t.Parse(templates[name], "{{", "}}", treeSet); err != nil {
			return nil, err
		}
		for n, tr := range treeSet {
			if n == name {
				tops = append(tops, tr)
				continue
			}
			if tr.Root != nil {
				rp.defs[n] = tr.Root
			}
		}
	}
	for _, t := range tops {
		if t.Root != nil {
			rp.list(t.Root, rootDot, map[string]dot{"$": rootDot})
		}
	}
	return rp, nil
}

func (rp *Reads) mark(d dot, whole bool) {
	switch {
	case d.values && whole:
		rp.whole = append(rp.whole, d.path)
	case d.values:
		rp.exact = append(rp.exact, d.path)
	}
	// The root context handed to a function (dict "ctx" $) is not
	// followed: include and template follow it themselves, and counting
	// it as a read of everything would hide every unread key.
}

func (rp *Reads) list(l *parse.ListNode, d dot, vars map[string]dot) {
	if l == nil {
		return
	}
	for _, n := range l.Nodes {
		rp.node(n, d, vars)
	}
}

func (rp *Reads) node(n parse.Node, d dot, vars map[string]dot) {
	switch n := n.(type) {
	case *parse.ActionNode:
		res := rp.pipe(n.Pipe, d, vars, false)
		if len(n.Pipe.Decl) == 0 {
			rp.mark(res, true) // printed
		}
	case *parse.IfNode:
		rp.pipe(n.Pipe, d, vars, true)
		rp.list(n.List, d, copyVars(vars))
		rp.list(n.ElseList, d, copyVars(vars))
	case *parse.WithNode:
		res := rp.pipe(n.Pipe, d, vars, true)
		rp.list(n.List, res, copyVars(vars))
		rp.list(n.ElseList, d, copyVars(vars))
	case *parse.RangeNode:
		res := rp.pipe(n.Pipe, d, vars, false)
		rp.mark(res, true)
		inner := copyVars(vars)
		for _, v := range n.Pipe.Decl {
			inner[v.Ident[0]] = dot{unknown: true}
		}
		rp.list(n.List, dot{unknown: true}, inner)
		rp.list(n.ElseList, d, copyVars(vars))
	case *parse.TemplateNode:
		arg := dot{unknown: true}
		if n.Pipe != nil {
			arg = rp.pipe(n.Pipe, d, vars, false)
		}
		rp.include(n.Name, arg)
	case *parse.ListNode:
		rp.list(n, d, vars)
	}
}

func copyVars(vars map[string]dot) map[string]dot {
	out := make(map[string]dot, len(vars))
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// include follows a named template called with dot d.
func (rp *Reads) include(name string, d dot) {
	key := name + "\x00" + strings.Join(d.path, ".")
	if d.unknown || rp.seen[key] {
		return
	}
	rp.seen[key] = true
	if body, ok := rp.defs[name]; ok {
		rp.list(body, d, map[string]dot{"$": rootDot})
	}
}

// pipe evaluates a pipeline's commands for the paths they read and
// returns what the pipeline yields when it is a plain path.
func (rp *Reads) pipe(p *parse.PipeNode, d dot, vars map[string]dot, test bool) dot {
	if p == nil {
		return dot{unknown: true}
	}
	res := dot{unknown: true}
	for i, c := range p.Cmds {
		res = rp.cmd(c, d, vars, test, i > 0, res)
	}
	for _, v := range p.Decl {
		vars[v.Ident[0]] = res
	}
	return res
}

// testFuncs only look at a value (or compare it); they do not consume
// its subtree.
var testFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true,
	"gt": true, "ge": true, "empty": true, "default": true, "hasKey": true, "kindIs": true,
	"typeIs": true, "required": true, "coalesce": true, "ternary": true, "len": true,
}

func (rp *Reads) cmd(c *parse.CommandNode, d dot, vars map[string]dot, test, piped bool, prev dot) dot {
	if len(c.Args) == 0 {
		return dot{unknown: true}
	}
	if id, ok := c.Args[0].(*parse.IdentifierNode); ok {
		args := c.Args[1:]
		switch id.Ident {
		case "include", "template":
			if len(args) >= 2 {
				if s, ok := args[0].(*parse.StringNode); ok {
					rp.include(s.Text, rp.arg(args[1], d, vars, false))
					return dot{unknown: true}
				}
			}
		case "index":
			if len(args) >= 1 {
				base := rp.arg(args[0], d, vars, false)
				for _, a := range args[1:] {
					s, ok := a.(*parse.StringNode)
					if !ok || !base.values && !base.root {
						rp.mark(base, true)
						return dot{unknown: true}
					}
					base = base.child(s.Text)
				}
				if test {
					rp.mark(base, false)
				}
				return base
			}
		case "tpl":
			if len(args) >= 1 {
				rp.mark(rp.arg(args[0], d, vars, false), true)
				for _, a := range args[1:] {
					rp.arg(a, d, vars, false)
				}
				return dot{unknown: true}
			}
		}
		whole := !testFuncs[id.Ident]
		for _, a := range args {
			rp.mark(rp.arg(a, d, vars, !whole), whole)
		}
		if piped {
			rp.mark(prev, whole)
		}
		return dot{unknown: true}
	}
	if len(c.Args) == 1 {
		r := rp.arg(c.Args[0], d, vars, test)
		if test {
			rp.mark(r, false)
		}
		return r
	}
	// A method-like call on a field: count everything as read.
	for _, a := range c.Args {
		rp.mark(rp.arg(a, d, vars, false), true)
	}
	return dot{unknown: true}
}

// arg resolves one argument to the path it denotes.
func (rp *Reads) arg(n parse.Node, d dot, vars map[string]dot, test bool) dot {
	switch n := n.(type) {
	case *parse.DotNode:
		return d
	case *parse.FieldNode:
		return d.fields(n.Ident)
	case *parse.VariableNode:
		base, ok := vars[n.Ident[0]]
		if !ok {
			return dot{unknown: true}
		}
		return base.fields(n.Ident[1:])
	case *parse.ChainNode:
		var base dot
		if p, ok := n.Node.(*parse.PipeNode); ok {
			base = rp.pipe(p, d, vars, test)
		} else {
			base = rp.arg(n.Node, d, vars, test)
		}
		return base.fields(n.Field)
	case *parse.PipeNode:
		return rp.pipe(n, d, vars, test)
	}
	return dot{unknown: true}
}

func (d dot) child(key string) dot {
	switch {
	case d.root && key == "Values":
		return dot{values: true}
	case d.values:
		return dot{values: true, path: append(slices.Clone(d.path), key)}
	}
	return dot{unknown: true}
}

func (d dot) fields(idents []string) dot {
	for _, id := range idents {
		d = d.child(id)
	}
	return d
}

// covers reports whether the templates read values key path k: a whole
// read of k or of an ancestor, an exact read of k, or any read below k.
func (rp *Reads) covers(k []string) bool {
	for _, w := range rp.whole {
		if hasPrefix(k, w) || hasPrefix(w, k) {
			return true
		}
	}
	for _, e := range rp.exact {
		if hasPrefix(e, k) {
			return true
		}
	}
	return false
}

func hasPrefix(p, prefix []string) bool {
	return len(prefix) <= len(p) && slices.Equal(p[:len(prefix)], prefix)
}

// Unread lists the key paths of values that the templates never read,
// stopping at the first unread key of each branch.
func (rp *Reads) Unread(values map[string]any) []string {
	var out []string
	var walk func(m map[string]any, path []string)
	walk = func(m map[string]any, path []string) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := append(slices.Clone(path), k)
			if !rp.covers(p) {
				out = append(out, strings.Join(p, "."))
				continue
			}
			if sub, ok := m[k].(map[string]any); ok && !rp.wholeAt(p) {
				walk(sub, p)
			}
		}
	}
	walk(values, nil)
	return out
}

// wholeAt: p's subtree is read whole, no need to look inside.
func (rp *Reads) wholeAt(p []string) bool {
	for _, w := range rp.whole {
		if hasPrefix(p, w) {
			return true
		}
	}
	return false
}
