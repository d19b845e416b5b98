package config

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"

	"github.com/runnerctl/runnerctl/internal/repofile"
)

// Reference renders the field-by-field documentation of runnerctl.yaml as
// Markdown, from the doc and default tags of the types above, so the
// reference cannot drift from the code (docs/config.md is checked by a test).
func Reference() []byte {
	var b bytes.Buffer
	b.WriteString("<!-- Generated from internal/config/types.go by `go test ./internal/config -update`. DO NOT EDIT. -->\n")
	b.WriteString("# runnerctl.yaml reference\n\n")
	fmt.Fprintf(&b, "`apiVersion: %s`, `kind: %s`. Unknown fields, keys set twice, empty list items and fractions where whole numbers belong are errors. In backend layouts, `%s` is replaced by the runner's name.\n\n", APIVersion, Kind, RunnerPlaceholder)
	fmt.Fprintf(&b, "runnerctl.yaml is a regular file of at most %s (a symlink may lead only within its directory), with at most %d runners, other lists of at most %d items and values of at most %d bytes.\n\n", repofile.Size(MaxFileSize), MaxRunners, MaxListLen, MaxScalarLen)
	b.WriteString("| Field | Type | Default | Description |\n|---|---|---|---|\n")
	writeFields(&b, reflect.TypeOf(Config{}), "")
	return b.Bytes()
}

func writeFields(b *bytes.Buffer, t reflect.Type, prefix string) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		def := f.Tag.Get("default")
		if def != "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", path, typeName(ft), def, f.Tag.Get("doc"))
		switch {
		case ft.Kind() == reflect.Struct:
			writeFields(b, ft, path+".")
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			writeFields(b, ft.Elem(), path+"[].")
		}
	}
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "object"
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Map:
		return "mapping"
	}
	return t.Kind().String()
}
