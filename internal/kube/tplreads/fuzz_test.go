package tplreads

import (
	"slices"
	"strings"
	"testing"
)

// FuzzTemplateReads runs the values-read analysis over arbitrary template
// text: it must never panic, what it calls unread must be keys of the
// values, and a key a template prints directly is never called unread.
func FuzzTemplateReads(f *testing.F) {
	f.Add(`{{ with .Values.securityContext }}{{ toYaml . }}{{ end }}`, "securityContext")
	f.Add(`{{ if .Values.rbac.create }}{{ toYaml .Values.rbac.rules }}{{ end }}`, "rbac")
	f.Add(`{{ $x := .Values.runners }}{{ tpl $x.config $ }}`, "runners")
	f.Add(`{{ include "x" . }}{{ define "x" }}{{ .Values.a | quote }}{{ end }}`, "a")
	f.Add(`{{ index .Values "b" "c" }}`, "b")
	f.Add(`{{ range $k, $v := .Values.envVars }}{{ $k }}{{ end }}`, "envVars")
	f.Fuzz(func(t *testing.T, tpl, key string) {
		values := map[string]any{key: map[string]any{"x": 1}, "zz-not-read": 1}
		rp, err := Analyze(map[string]string{"templates/t.yaml": tpl})
		if err != nil {
			return
		}
		for _, k := range rp.Unread(values) {
			if k != key && k != key+".x" && k != "zz-not-read" {
				t.Fatalf("unread key %q is not a key path of the values", k)
			}
		}
		if key == "" || strings.ContainsAny(key, ". {}\"`$|()\\\n\r\t'") || key == "zz-not-read" {
			return
		}
		rp, err = Analyze(map[string]string{"templates/t.yaml": tpl + "{{ .Values." + key + " }}"})
		if err != nil {
			return // the key is not an identifier text/template accepts
		}
		if slices.Contains(rp.Unread(values), key) {
			t.Fatalf("key %q is printed by the template but called unread", key)
		}
	})
}
