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
}

func (e FieldError) Error() string {
	var b strings.Builder
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
	fmt.Fprintf(&b, "%s is invalid (%d problem", e.File, len(e.Errors))
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

// ExitCode marks invalid input: exit status 2.
func (e *InvalidError) ExitCode() int { return 2 }
