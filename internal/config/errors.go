package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with one field of runnerctl.yaml.
type FieldError struct {
	Path string // field path, such as runners[0].name
	Line int    // 1-based line in the file, 0 when unknown
	Msg  string // what is wrong and what to do
	// Source names where the value came from when not from the file: a
	// flag such as --name. The error then names it instead of a line.
	Source string
}

func (e FieldError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		fmt.Fprintf(&b, "%s (%s): %s", e.Source, e.Path, e.Msg)
		return b.String()
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		fmt.Fprintf(&b, "%s: ", e.Path)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// InvalidError lists every problem found in a configuration file, so that
// users fix them all in one go rather than one per run.
type InvalidError struct {
	File   string
	Errors []FieldError
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	what := e.File + " is invalid"
	if e.fromElsewhere() {
		// Every problem is a flag's or a variable's: the file may not
		// even exist.
		what = "invalid input"
	}
	fmt.Fprintf(&b, "%s (%d problem", what, len(e.Errors))
	if len(e.Errors) != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, fe := range e.Errors {
		b.WriteString("\n  ")
		b.WriteString(fe.Error())
	}
	return b.String()
}

func (e *InvalidError) fromElsewhere() bool {
	for _, fe := range e.Errors {
		if fe.Source == "" {
			return false
		}
	}
	return len(e.Errors) > 0
}

// ExitCode marks invalid input: exit status 2.
func (e *InvalidError) ExitCode() int { return 2 }

// Attribute marks the problems with fields whose values came from
// elsewhere than the file: sources maps a field path (runners[0].name) to
// where its value came from (--name). Those problems then name the flag,
// and no line of a file that may not even exist yet; problems with the
// fields below such a path (runners[0].registration.tags[3] under
// runners[0].registration.tags) are attributed too.
func (e *InvalidError) Attribute(sources map[string]string) {
	for i := range e.Errors {
		fe := &e.Errors[i]
		for p := fe.Path; p != ""; p = parentPath(p) {
			if src, ok := sources[p]; ok {
				fe.Source, fe.Line = src, 0
				break
			}
		}
	}
}
