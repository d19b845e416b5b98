package kubeschema

import (
	"context"
	"slices"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/validate"
)

func changeStrings(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func TestChanges(t *testing.T) {
	from := map[string]any{
		"spec": map[string]any{
			"data": []any{
				map[string]any{"remoteRef": map[string]any{"key": "a"}},
				map[string]any{"remoteRef": map[string]any{"key": "b", "property": "p"}},
			},
			"nulled":  nil,
			"pruned":  "x",
			"changed": int64(1),
			"list":    []any{"a"},
			"template": map[string]any{
				"data": map[string]any{"runner-token": "t"},
			},
		},
	}
	to := map[string]any{
		"spec": map[string]any{
			"data": []any{
				map[string]any{"remoteRef": map[string]any{"key": "a", "decodingStrategy": "None"}},
				map[string]any{"remoteRef": map[string]any{"key": "b", "property": "p", "conversionStrategy": "Default"}},
			},
			"nulled":  "filled",
			"changed": int64(2),
			"list":    []any{"a", "b"},
			"target":  map[string]any{"deletionPolicy": "Retain", "creationPolicy": "Owner", "empty": map[string]any{}},
			"template": map[string]any{
				"data": map[string]any{"runner-token": "u"},
			},
		},
	}
	want := []string{
		`spec.changed: changed from 1 to 2`,
		`spec.data[0].remoteRef.decodingStrategy: added "None"`,
		`spec.data[1].remoteRef.conversionStrategy: added "Default"`,
		`spec.list: changed from ["a"] to ["a","b"]`,
		`spec.nulled: added "filled"`,
		`spec.pruned: removed (was "x")`,
		`spec.target.creationPolicy: added "Owner"`,
		`spec.target.deletionPolicy: added "Retain"`,
		`spec.target.empty: added {}`,
		`spec.template.data[runner-token]: changed from "t" to "u"`,
	}
	if got := changeStrings(Changes(from, to)); !slices.Equal(got, want) {
		t.Errorf("Changes:\n got %q\nwant %q", got, want)
	}
	if got := Changes(from, from); len(got) != 0 {
		t.Errorf("an object against itself: %q", changeStrings(got))
	}
}

func TestJSONValue(t *testing.T) {
	for v, want := range map[any]string{"None": `"None"`, int64(3): `3`, "<&>": `"<&>"`, true: `true`} {
		if got := JSONValue(v); got != want {
			t.Errorf("JSONValue(%#v) = %s, want %s", v, got, want)
		}
	}
	if got := JSONValue(map[string]any{"b": 1, "a": "x"}); got != `{"a":"x","b":1}` {
		t.Errorf("map: %s", got)
	}
}

// TestAdmitFillsInDefaults reads what ESO v1.3.2's CRD defaults in an
// ExternalSecret that sets only the fields a person would write.
func TestAdmitFillsInDefaults(t *testing.T) {
	v := upstreamValidator(t)
	v.AllowDrift = true
	a := v.Admit(context.Background(), []byte(externalSecret))
	if validate.HasErrors(a.Problems) {
		t.Fatalf("problems: %s", dump(a.Problems))
	}
	if a.Given == nil || a.Stored == nil {
		t.Fatalf("Given %v, Stored %v: want both", a.Given, a.Stored)
	}
	want := []string{
		`spec.data[0].remoteRef.conversionStrategy: added "Default"`,
		`spec.data[0].remoteRef.decodingStrategy: added "None"`,
		`spec.data[0].remoteRef.metadataPolicy: added "None"`,
		`spec.target.deletionPolicy: added "Retain"`,
	}
	if got := changeStrings(Changes(a.Given, a.Stored)); !slices.Equal(got, want) {
		t.Errorf("ESO v1.3.2 defaults:\n got %q\nwant %q", got, want)
	}

	// Written with every default, the object is a fixed point.
	stored, err := yaml.Marshal(a.Stored)
	if err != nil {
		t.Fatal(err)
	}
	again := v.Admit(context.Background(), stored)
	if cs := Changes(again.Given, again.Stored); len(cs) > 0 {
		t.Errorf("the stored form is not a fixed point: %q", changeStrings(cs))
	}

	// A built-in object is not admitted through a CRD.
	if b := v.Admit(context.Background(), []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: ci}\n")); b.Stored != nil || b.Given == nil {
		t.Errorf("Namespace: Given %v, Stored %v", b.Given, b.Stored)
	}
}
