package render

import (
	"errors"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

// yamlSample holds every shape appendYAML writes: nested mappings and
// sequences in each position, empty and nil collections, pointers, and
// strings and map keys that come from the fuzzer.
type yamlSample struct {
	Name     string            `yaml:"name"`
	Opt      string            `yaml:"opt,omitempty"`
	N        int               `yaml:"n"`
	U        uint16            `yaml:"u,omitempty"`
	B        bool              `yaml:"b"`
	PB       *bool             `yaml:"pb,omitempty"`
	Labels   map[string]string `yaml:"labels,omitempty"`
	Empty    map[string]string `yaml:"empty"`
	List     []string          `yaml:"list"`
	Nested   []yamlSample      `yaml:"nested,omitempty"`
	Lists    [][]string        `yaml:"lists,omitempty"`
	Ptr      *yamlSample       `yaml:"ptr"`
	Sel      struct{}          `yaml:"sel"`
	Inner    yamlInner         `yaml:"inner"`
	OptInner yamlInner         `yaml:"optInner,omitempty"`
	Maps     []map[string]int  `yaml:"maps,omitempty"`
}

type yamlInner struct {
	Text string   `yaml:"text,omitempty"`
	More []string `yaml:"more,omitempty"`
}

func sampleOf(s, k string) yamlSample {
	yes := true
	return yamlSample{
		Name: s, Opt: s, N: -3, U: 7, PB: &yes,
		Labels: map[string]string{k: s, "a" + k: "x", k + "9": s + s, "k8s-app": "kube-dns", "a10": "", "a9": "1"},
		List:   []string{s, "", s + "\n", "x"},
		Nested: []yamlSample{{Name: s, List: []string{s}, Inner: yamlInner{Text: s, More: []string{s}}},
			{Opt: s, Labels: map[string]string{k: s}}},
		Lists: [][]string{{s, s}, {}, nil},
		Ptr:   &yamlSample{Name: "p", Inner: yamlInner{More: []string{s + "\nend\n"}}},
		Inner: yamlInner{Text: s},
		Maps:  []map[string]int{{k: 1, "b": 2}, {}},
	}
}

// checkSame compares appendYAML with yaml/v3 for v. It reports whether
// appendYAML wrote v at all (false: the caller falls back, which is fine).
func checkSame(t *testing.T, v any) bool {
	t.Helper()
	want, err := marshalDocsYAMLv3("", v)
	if err != nil {
		t.Fatalf("yaml/v3: %v", err)
	}
	got, err := appendYAML(nil, v)
	if errors.Is(err, errUnsupported) {
		return false
	}
	if err != nil {
		t.Fatalf("appendYAML: %v", err)
	}
	if string(got) != string(want) {
		t.Fatalf("appendYAML differs from yaml/v3 for %#v\n--- yaml/v3:\n%s\n--- appendYAML:\n%s", v, want, got)
	}
	return true
}

// Strings chosen for the corners of yaml/v3's choice of style: words that
// read back as other types, indicators, spaces at either end, line breaks
// of every kind, literal blocks with and without a final newline, tabs,
// non-ASCII, invalid UTF-8.
var yamlCorners = []string{
	"", "x", "r1", "gitlab-runner-r1", "$values/values/gitlab-runner-r1.yaml", "https://gitlab.example.com/",
	"0.86.0", "400m", "128Mi", "1000", "1e3", "0x1F", "1_000", "+1", "-1", ".5", "1.", "1:20", "2024-01-01",
	"true", "True", "TRUE", "false", "null", "Null", "NULL", "~", "yes", "No", "on", "OFF", "y", "n", ".inf", ".nan", "<<",
	"-", "-x", "- x", "?", "? x", ":", "a:", "a:b", "a: b", "a #b", "a#b", "#a", "{a,b}", "[x]", "*", "&a", "!t", "|", ">",
	"'q'", "\"q\"", "a'b", "a\"b", "%x", "@x", "`x", ",x", " x", "x ", " ", "a  b", "---", "...", "--- x",
	"a\nb\n", "a\nb", "a\n\nb\n", " a\nb\n", "a\nb\n\n", "\na\n", "a \nb\n", "a\tb\nc\n", "a\n  b\n", "a\nb ",
	"[[runners]]\n  name = 'x'\n\n  [runners.kubernetes]\n    image = \"a:b\"\n", "a\r\nb\n", "a\rb", "a\u2028b", "a\u0085b",
	"é", "日本", "a\x01b", "\xff", "a\x7fb", "\ufeffa", "k8s:io.kubernetes.pod.namespace", strings.Repeat("k", 129),
}

func TestYAMLWriterMatchesYAMLv3(t *testing.T) {
	written := 0
	for _, s := range yamlCorners {
		for _, k := range []string{"key", s} {
			if checkSame(t, sampleOf(s, k)) {
				written++
			}
			if checkSame(t, map[string]string{k: s}) {
				written++
			}
		}
	}
	if written < len(yamlCorners) {
		t.Errorf("appendYAML wrote only %d of %d samples: the fast path is hardly used", written, 4*len(yamlCorners))
	}
	// Things it leaves to yaml/v3.
	for _, v := range []any{
		struct {
			F float64 `yaml:"f"`
		}{1.5},
		struct {
			I any `yaml:"i"`
		}{1},
		struct{ NoTag string }{"x"},
		struct {
			S string `yaml:"s,flow"`
		}{"x"},
		"scalar document",
		map[string]string{strings.Repeat("k", 129): "x"},
		map[string]string{"a\nb": "x"},
		map[string]string{"k": "keep\n\n"},
	} {
		if _, err := appendYAML(nil, v); !errors.Is(err, errUnsupported) {
			t.Errorf("appendYAML(%#v): %v, want errUnsupported", v, err)
		}
	}
}

// FuzzYAMLWriter: for any string and key, appendYAML writes what yaml/v3
// writes, or leaves the value to yaml/v3.
func FuzzYAMLWriter(f *testing.F) {
	for _, s := range yamlCorners {
		f.Add(s, "key")
		f.Add("x", s)
	}
	f.Fuzz(func(t *testing.T, s, k string) {
		checkSame(t, sampleOf(s, k))
		checkSame(t, map[string]string{k: s, s: k})
	})
}

// TestRenderUsesYAMLWriter: every file of specs using each feature is
// written by appendYAML (only a profile's part, once per render, may go
// through yaml/v3): a type added to the objects that appendYAML does not
// take would make render several times slower, silently.
func TestRenderUsesYAMLWriter(t *testing.T) {
	ps, err := profile.Load("testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	for _, policy := range []string{"{", "{flavor: cilium, fqdns: [\"*.example.org\"], "} {
		spec := `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/", tls: {secretName: corp-ca}}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
runners:
  - name: a
    profile: restricted-reloader
    runnerImage: {registry: r.example.com, image: gitlab/runner, tag: v18.9.0}
    resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {memory: 1Gi}}
    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    autoscaling: {maxReplicas: 4}
    metrics: true
    networkPolicy: ` + policy + `gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
  - name: b
    profile: privileged-dind
    namespace: dind
`
		cfg, err := config.Parse("runnerctl.yaml", []byte(spec))
		if err != nil {
			t.Fatal(err)
		}
		profiles := map[string]bool{}
		for _, r := range cfg.Runners {
			profiles[r.Profile] = true
		}
		before := yamlFallbacks.Load()
		res, err := Render(cfg, ps)
		if err != nil {
			t.Fatal(err)
		}
		if n := yamlFallbacks.Load() - before; n > int64(len(profiles)) {
			t.Errorf("networkPolicy %s...}: %d files (of %d, with %d profiles) went through yaml/v3", policy, n, len(res.Files), len(profiles))
		}
	}
}
