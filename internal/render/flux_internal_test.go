package render

import (
	"bytes"
	"testing"

	"go.yaml.in/yaml/v3"
)

// nestedValues is what encoding the values as a node inside a HelmRelease
// gives (the way before inlineValues): the values and tail encoded,
// parsed back, and encoded again at spec.values.
func nestedValues(t testing.TB, values any, tail []byte) []byte {
	t.Helper()
	raw, err := marshalDocsTail("", tail, values)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	type spec struct {
		Values *yaml.Node `yaml:"values"`
	}
	out, err := marshalDocsTail("", nil, struct {
		Spec spec `yaml:"spec"`
	}{spec{doc.Content[0]}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkInline fails the test when inlineValues does not give, after
// "spec:", the bytes of the nested encoding.
func checkInline(t testing.TB, values any, tail []byte) {
	t.Helper()
	inline, err := inlineValues(values, tail)
	if err != nil {
		t.Fatal(err)
	}
	got := append([]byte("spec:\n"), inline...)
	if want := nestedValues(t, values, tail); !bytes.Equal(got, want) {
		t.Errorf("inline values differ from the nested encoding:\n--- inline\n%s\n--- nested\n%s", got, want)
	}
	// And they are the values, read back.
	var back struct {
		Spec struct {
			Values map[string]any `yaml:"values"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(got, &back); err != nil || back.Spec.Values == nil {
		t.Errorf("inline values do not parse as a mapping: %v\n%s", err, got)
	}
}

// TestInlineValuesIsTheNestedEncoding: indenting the encoded values under
// spec.values gives the same bytes as encoding them as a node there, for
// the strings the encoder writes in every style: literal blocks with
// empty lines and an indentation indicator, quoted, long, multi-byte.
func TestInlineValuesIsTheNestedEncoding(t *testing.T) {
	values := map[string]any{
		"runners": map[string]any{
			"config":   "[[runners]]\n\n  [runners.kubernetes]\n    namespace = \"ci\"\n\n",
			"script":   "  starts with spaces\nthen not\n",
			"trailing": "a \nb",
			"long":     "word " + string(bytes.Repeat([]byte("x"), 300)) + " end",
			"colon":    "key: value # not a comment",
			"unicode":  "čeština 日本語",
			"empty":    "",
		},
		"list":   []any{map[string]any{"a": 1, "b": []any{"x", "y"}}, "plain", nil, true, 1.5},
		"none":   map[string]any{},
		"nolist": []any{},
	}
	checkInline(t, values, nil)
	checkInline(t, values, []byte("# the profile's part\nprofileKey:\n  nested: [a, b]\n"))
	var node yaml.Node
	if err := node.Encode(values); err != nil {
		t.Fatal(err)
	}
	checkInline(t, &node, nil) // patched values come as a node
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	if _, err := inlineValues(seq, nil); err == nil {
		t.Error("values that are not a mapping were inlined")
	}
}

// FuzzInlineValues: the same for any string, as a value, in a list and
// as a key.
func FuzzInlineValues(f *testing.F) {
	for _, s := range []string{"", "plain", "a\n\nb\n", "  lead\nx", "trail \n", "\t tab", "- dash", "# hash", "key: v", "'q'", "\"dq\"", "|", ">-", "\n", "\n\n", "x\r\ny", "\u2028", "null", "~", "0o17", "日本"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		checkInline(t, map[string]any{"v": s, "l": []any{s, map[string]any{"k": s}}, "k" + s: 1}, nil)
	})
}
