package tplreads

import (
	"slices"
	"testing"
)

func TestUnread(t *testing.T) {
	values := map[string]any{
		"securityContext": map[string]any{"runAsNonRoot": true},
		"rbac":            map[string]any{"create": true, "rules": []any{}, "clusterWide": false},
		"runners":         map[string]any{"config": "x", "secret": "s", "privileged": true},
		"image":           map[string]any{"registry": "r", "tag": "t"},
		"envVars":         []any{},
		"unused":          1,
	}
	for _, tc := range []struct {
		name, tpl string
		want      []string
	}{
		{"with and toYaml read the whole subtree",
			`{{ with .Values.securityContext }}{{ toYaml . }}{{ end }}`,
			[]string{"envVars", "image", "rbac", "runners", "unused"}},
		{"if reads only the key it tests",
			`{{ if .Values.rbac.create }}{{ toYaml .Values.rbac.rules }}{{ end }}`,
			[]string{"envVars", "image", "rbac.clusterWide", "runners", "securityContext", "unused"}},
		{"variables, tpl and required",
			`{{ $r := .Values.runners }}{{ tpl $r.config $ }}{{ $r.secret | required "x" }}`,
			[]string{"envVars", "image", "rbac", "runners.privileged", "securityContext", "unused"}},
		{"include follows the context into a named template",
			`{{ define "img" }}{{ .Values.image.registry }}/{{ index .Values "image" "tag" }}{{ end }}{{ include "img" . }}`,
			[]string{"envVars", "rbac", "runners", "securityContext", "unused"}},
		{"range reads the list",
			`{{ range $k, $v := .Values.envVars }}{{ $k }}={{ $v }}{{ end }}`,
			[]string{"image", "rbac", "runners", "securityContext", "unused"}},
		{"a dynamic index reads the whole parent",
			`{{ $k := "tag" }}{{ index .Values.image $k }}`,
			[]string{"envVars", "rbac", "runners", "securityContext", "unused"}},
		{"toYaml .Values reads everything",
			`{{ toYaml .Values }}`, nil},
	} {
		rp, err := Analyze(map[string]string{"templates/t.yaml": tc.tpl})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := rp.Unread(values); !slices.Equal(got, tc.want) {
			t.Errorf("%s: unread = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := Analyze(map[string]string{"templates/bad.yaml": "{{ if }}"}); err == nil {
		t.Error("a template that does not parse must be an error")
	}
}
