package validate

import (
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"

	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

// FuzzRunnerConfig feeds arbitrary TOML to the runners.config check: it
// must never panic; every problem it reports is located and explained;
// whatever it accepts without an error is TOML; and what runnerctl's own
// model decodes survives an encode/decode round trip unchanged (the model
// loses nothing it claims to understand).
func FuzzRunnerConfig(f *testing.F) {
	rv, err := runnerkeys.Lookup("18.9.0")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("[[runners]]\n  [runners.kubernetes]\n    namespace = 'ci'\n    privileged = false\n")
	f.Add("[[runners]]\n  [runners.kubernetes]\n    privilegd = false\n")
	f.Add("[[runners]]\n  [runners.cache]\n    Type = 's3'\n    [runners.cache.s3]\n      BucketName = 'b'\n")
	f.Add("[[runners]]\n  [runners.kubernetes]\n    privileged = 'yes'\n")
	f.Add("[[runners]]\n  [runners.feature_flags]\n    FF_X = true\n")
	f.Fuzz(func(t *testing.T, text string) {
		ps := RunnerConfig("values.yaml", "runners.config", text, rv)
		for _, p := range ps {
			if p.Severity != Error && p.Severity != Warning || p.File != "values.yaml" || p.Field != "runners.config" || strings.TrimSpace(p.Message) == "" {
				t.Fatalf("badly formed problem %+v", p)
			}
		}
		if HasErrors(ps) {
			return
		}
		var doc map[string]any
		if err := toml.Unmarshal([]byte(text), &doc); err != nil {
			t.Fatalf("no error reported, but it is not TOML: %v", err)
		}
		rc, err := render.DecodeRunnerConfig(text)
		if err != nil {
			return // keys the runner knows and runnerctl does not model
		}
		out, err := toml.Marshal(rc)
		if err != nil {
			t.Fatalf("accepted config does not encode: %v", err)
		}
		back, err := render.DecodeRunnerConfig(string(out))
		if err != nil {
			t.Fatalf("re-encoded config does not decode: %v\n%s", err, out)
		}
		again, err := toml.Marshal(back)
		if err != nil || string(again) != string(out) {
			t.Fatalf("round trip changed the config:\n%s\n---\n%s", out, again)
		}
	})
}

// FuzzManifest: the identity check never panics and only reports located
// problems.
func FuzzManifest(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n")
	f.Add("---\n# only a comment\n---\nkind: X\n")
	f.Add("a: 1\na: 2\n")
	f.Fuzz(func(t *testing.T, doc string) {
		for _, p := range Manifest("m.yaml", []byte(doc)) {
			if p.File != "m.yaml" || p.Message == "" {
				t.Fatalf("badly formed problem %+v", p)
			}
		}
	})
}
