package config_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
)

const head = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.com/"}
gitops: {repoURL: "https://gitlab.com/org/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
`

// TestShapeErrors: mistakes of type and structure are refused with the
// line and field path, in YAML's terms, before anything is decoded.
func TestShapeErrors(t *testing.T) {
	long := strings.Repeat("x", 10<<20)
	cases := []struct {
		name, spec string
		want       []string
		not        []string
	}{
		{"null runners", head + "runners: [~, ~]\n",
			[]string{"line 6: runners[0]: is empty; remove the list item", "line 6: runners[1]: is empty"}, nil},
		{"null among runners", head + "runners:\n  - ~\n  - name: ci\n",
			[]string{"line 7: runners[0]: is empty"}, nil},
		{"empty runner", head + "runners:\n  - {}\n", []string{"line 7: runners[0]: is empty"}, nil},
		{"null tag", head + "runners:\n  - name: ci\n    registration: {tags: [a, null]}\n",
			[]string{"line 8: runners[0].registration.tags[1]: is empty"}, nil},
		{"float runner ID", head + "runners:\n  - name: ci\n    runnerID: 12.7\n",
			[]string{`line 8: runners[0].runnerID: wrong type: number "12.7" where a whole number is expected`}, nil},
		{"float concurrent", head + "runners:\n  - name: ci\n    concurrent: 4.5\n",
			[]string{`runners[0].concurrent: wrong type: number "4.5" where a whole number is expected`}, nil},
		{"huge integer", head + "runners:\n  - name: ci\n    runnerID: 99999999999999999999\n",
			[]string{`runners[0].runnerID: wrong type: number "99999999999999999999" where a whole number is expected`}, nil},
		{"list for a mapping", head + "argocd: [a]\nrunners: [{name: ci}]\n",
			[]string{"line 6: argocd: wrong type: a list where a mapping is expected"}, []string{"config."}},
		{"mapping for a list", head + "runners: {name: ci}\n",
			[]string{"line 6: runners: wrong type: a mapping where a list is expected"}, []string{"config."}},
		{"string for a mapping", strings.Replace(head, "secrets: {backend: vault, store: {name: vault}}", "secrets: vault", 1) + "runners: [{name: ci}]\n",
			[]string{`line 5: secrets: wrong type: string "vault" where a mapping is expected`}, []string{"config."}},
		{"boolean", head + "runners:\n  - name: ci\n    metrics: yes please\n",
			[]string{`runners[0].metrics: wrong type: string "yes please" where true or false is expected`}, nil},
		{"duplicate key", head + "runners:\n  - name: ci\n    name: other\n",
			[]string{"line 8: runners[0].name: is set twice (first at line 7)"}, nil},
		{"long unknown key", head + "runners:\n  - name: ci\n    ? " + long + "\n    : 1\n",
			[]string{`line 8: runners[0]: unknown field "` + strings.Repeat("x", 60) + `"... (10485760 bytes)`}, []string{strings.Repeat("x", 61)}},
		{"long value", head + "runners:\n  - name: ci\n    image: " + long + "\n",
			[]string{"line 8: runners[0].image: is 10485760 bytes long; runnerctl accepts at most 4096 bytes"}, []string{"xxxx"}},
		{"long list", head + "runners:\n  - name: ci\n    pullPolicy: [" + strings.Repeat("always, ", config.MaxListLen) + "never]\n",
			[]string{"line 8: runners[0].pullPolicy: lists 1001 items; runnerctl accepts at most 1000"}, nil},
		{"too many runners", head + "runners:\n" + strings.Repeat("  - name: r\n", config.MaxRunners+1),
			[]string{"line 7: runners: lists 10001 runners; runnerctl handles at most 10000"}, nil},
		{"patch of an unknown kind", head + "patches: {deployment: {a: 1}}\nrunners: [{name: ci}]\n",
			[]string{`line 6: patches.deployment: unknown field "deployment"`}, nil},
		{"patch not a mapping", head + "runners:\n  - name: ci\n    patches: {values: [a]}\n",
			[]string{"line 8: runners[0].patches.values: wrong type: a list where a mapping is expected"}, nil},
		{"patch with a timestamp", head + "runners:\n  - name: ci\n    patches:\n      application: {metadata: {annotations: {since: 2024-01-02}}}\n",
			[]string{`line 9: runners[0].patches.application.metadata.annotations.since: "2024-01-02" is a timestamp; quote it`}, nil},
		{"patch with a non-string key", head + "runners:\n  - name: ci\n    patches:\n      values: {nodeSelector: {[a]: b}}\n",
			[]string{"runners[0].patches.values.nodeSelector: has a key that is not a plain string"}, nil},
		{"patch key set twice", head + "runners:\n  - name: ci\n    patches:\n      values: {a: 1, a: 2}\n",
			[]string{"runners[0].patches.values.a: is set twice"}, nil},
		{"patch too deep", head + "runners:\n  - name: ci\n    patches:\n      values: " + strings.Repeat("{a: ", config.MaxPatchDepth+1) + "1" + strings.Repeat("}", config.MaxPatchDepth+1) + "\n",
			[]string{"nests deeper than 32 levels"}, nil},
		{"patch with a control character", head + "runners:\n  - name: ci\n    patches:\n      application: {metadata: {annotations: {note: \"a\\0b\"}}}\n",
			[]string{`line 9: runners[0].patches.application.metadata.annotations.note: contains an invisible or invalid character at byte 1; remove it`}, nil},
		{"patch with a bidirectional override", head + "runners:\n  - name: ci\n    patches:\n      values: {a: [\"x\\u202Ey\"]}\n",
			[]string{`runners[0].patches.values.a[0]: contains an invisible or invalid character at byte 1`}, nil},
		{"patch key with a control character", head + "runners:\n  - name: ci\n    patches:\n      values: {\"a\\x10\": b}\n",
			[]string{`runners[0].patches.values: has a key "a\x10" with an invisible or invalid character at byte 1; remove it`}, []string{"\x10"}},
		{"patch with infinity", head + "runners:\n  - name: ci\n    patches:\n      values: {a: .inf}\n",
			[]string{"line 9: runners[0].patches.values: has no JSON form", "a merge patch holds only mappings"}, nil},
		{"patch too long", head + "runners:\n  - name: ci\n    patches:\n      values: {a: [" + strings.Repeat(strings.Repeat("x", 100)+", ", 700) + "]}\n",
			[]string{"line 9: runners[0].patches.values: is 7", "runnerctl accepts at most 65536 bytes in one patch"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("runnerctl.yaml", []byte(c.spec))
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.ExitCode() != 2 {
				t.Fatalf("want an InvalidError (exit 2), got %v", err)
			}
			msg := err.Error()
			if len(msg) > 2000 {
				t.Errorf("the message is %d bytes long", len(msg))
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q:\n%.1000s", w, msg)
				}
			}
			for _, n := range c.not {
				if strings.Contains(msg, n) {
					t.Errorf("error contains %q:\n%.1000s", n, msg)
				}
			}
		})
	}
}

// TestAliasErrorsPointAtTheUse: a mistake reached through an alias is
// reported at the line that uses the alias, the one the field path names.
func TestAliasErrorsPointAtTheUse(t *testing.T) {
	spec := head + `runners:
  - name: a
    registration: &reg {maximumTimeout: soon}
  - name: b
    registration: *reg
`
	_, err := config.Parse("runnerctl.yaml", []byte(spec))
	for _, w := range []string{
		`line 8: runners[0].registration.maximumTimeout: wrong type: string "soon"`,
		`line 10: runners[1].registration.maximumTimeout: wrong type: string "soon"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in:\n%v", w, err)
		}
	}
	// Semantic errors too.
	spec = head + `runners:
  - &base {name: a, concurrent: -1}
  - <<: *base
    name: b
`
	_, err = config.Parse("runnerctl.yaml", []byte(spec))
	for _, w := range []string{"line 7: runners[0].concurrent: must be 1 or more", "line 8: runners[1].concurrent: must be 1 or more"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("want %q in:\n%v", w, err)
		}
	}
}

// TestMergeKeys: YAML merge keys are accepted, the mapping's own keys
// winning, as the decoder applies them.
func TestMergeKeys(t *testing.T) {
	spec := head + `runners:
  - &base {name: a, concurrent: 3, image: "alpine:3"}
  - <<: *base
    name: b
`
	cfg, err := config.Parse("runnerctl.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if b := cfg.Runners[1]; b.Name != "b" || b.Concurrent != 3 || b.Image != "alpine:3" {
		t.Errorf("merged runner = %+v", b)
	}
}

// TestFleetLimit: a fleet of MaxRunners runners is accepted.
func TestFleetLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString(head + "runners:\n")
	for i := range config.MaxRunners {
		fmt.Fprintf(&b, "  - {name: r%d}\n", i)
	}
	cfg, err := config.Parse("runnerctl.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runners) != config.MaxRunners {
		t.Errorf("%d runners", len(cfg.Runners))
	}
}

// TestAttribute: a value that came from a flag is reported by the flag's
// name, not by the line of the YAML runnerctl built from it.
func TestAttribute(t *testing.T) {
	_, err := config.Parse("runnerctl.yaml", []byte(head+"runners:\n  - name: Bad_Name\n    registration: {tags: [\"a,b\"]}\n"))
	var inv *config.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("got %v", err)
	}
	inv.Attribute(map[string]string{"runners[0].name": "--name", "runners[0].registration.tags": "--tags"})
	msg := inv.Error()
	for _, want := range []string{
		`--name (runners[0].name): "Bad_Name" is not a DNS label`,
		`--tags (runners[0].registration.tags[0]): "a,b" must have no commas`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("want %q in:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "line ") {
		t.Errorf("an attributed problem names a line:\n%s", msg)
	}
}

// TestMergeLaughs: merge keys nesting aliases ten times ten deep expand
// to 10^11 mappings; the check stops at its budget, quickly.
func TestMergeLaughs(t *testing.T) {
	var b strings.Builder
	b.WriteString(head + "runners:\n- &m0 {name: a}\n")
	for i := 1; i <= 11; i++ {
		refs := strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 10), ", ")
		fmt.Fprintf(&b, "- &m%d {<<: [%s]}\n", i, refs)
	}
	done := make(chan error, 1)
	go func() { _, err := config.Parse("runnerctl.yaml", []byte(b.String())); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "the document expands to more than 2000000 values") {
			t.Errorf("got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the shape check did not stop")
	}
}

// TestPatchKeepsNewlinesAndTabs: the check on a patch's strings refuses
// invisible characters, not the newlines and tabs of a script or a
// multi-line annotation.
func TestPatchKeepsNewlinesAndTabs(t *testing.T) {
	spec := head + "runners:\n  - name: ci\n    patches:\n      values: {script: \"set -e\\n\\techo ok\\n\"}\n"
	cfg, err := config.Parse("runnerctl.yaml", []byte(spec))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Runners[0].Patches.Values["script"]; got != "set -e\n\techo ok\n" {
		t.Errorf("script = %q", got)
	}
}
