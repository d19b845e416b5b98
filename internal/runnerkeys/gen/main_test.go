package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../table.go from the reference sources")

// reference is ../shared/reference/gitlab-runner-source seen from the
// repository root; CI and developer machines have it, a fresh clone does
// not.
const reference = "../../../../shared/reference/gitlab-runner-source"

// TestTableUpToDate regenerates the table from gitlab-runner's sources and
// compares it with the committed one.
func TestTableUpToDate(t *testing.T) {
	if _, err := os.Stat(reference); err != nil {
		t.Skipf("gitlab-runner reference sources not found (%v): the table cannot be checked against them here; "+
			"they live in ../shared/reference next to the repository", err)
	}
	got, err := generate(reference)
	if err != nil {
		t.Fatal(err)
	}
	const path = "../table.go"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with %s: run go test ./internal/runnerkeys/gen -update (or go generate ./internal/runnerkeys)", path, reference)
	}
	// The facts the rest of runnerctl relies on, read straight from the
	// sources: keep them true whatever the table's layout.
	for _, want := range []string{
		`{"runners.kubernetes.privileged", "bool", 0x03}`,
		`{"runners.kubernetes.pod_security_context.seccomp_profile.type", "string", 0x02}`,
		`{"runners.kubernetes.helper_image", "string", 0x03}`,
		`{"FF_USE_ADVANCED_POD_SPEC_CONFIGURATION", 0x03, 0x00}`,
		`{"FF_DISABLE_AUTOMATIC_TOKEN_ROTATION", 0x03, 0x00}`,
	} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("generated table lacks %s", want)
		}
	}
}

// The generator's rules, on a small config.go of our own: they hold
// without the reference sources.
const sample = `package common

import "time"

type Inner struct {
	Shared bool ` + "`toml:\"shared\"`" + `
}

type Sub struct {
	Name string ` + "`toml:\"name\"`" + `
	Tags []string ` + "`toml:\"tags,omitempty\"`" + `
}

type RunnerCredentials struct {
	URL string ` + "`toml:\"url\"`" + `
}

type RunnerConfig struct {
	RunnerCredentials
	Inner ` + "`toml:\"inner\"`" + `
	Limit   *int ` + "`toml:\"limit,omitzero\"`" + `
	Skip    string ` + "`toml:\"-\"`" + `
	hidden  string
	Untagged string
	Wait    time.Duration ` + "`toml:\"wait\"`" + `
	Subs    []*Sub ` + "`toml:\"sub\"`" + `
	Labels  map[string][]string ` + "`toml:\"labels\"`" + `
	Anything interface{} ` + "`toml:\"anything\"`" + `
}
`

func TestExtractKeys(t *testing.T) {
	keys, err := extractKeys([]byte(sample), "sample.go")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range keys {
		got = append(got, k.path+" "+k.typ)
	}
	want := []string{
		"runners tables",
		"runners.Untagged string", // no tag: BurntSushi uses the field name
		"runners.anything any",
		"runners.inner table",
		"runners.inner.shared bool",
		"runners.labels map:list:string",
		"runners.limit int",
		"runners.sub tables",
		"runners.sub.name string",
		"runners.sub.tags list:string",
		"runners.url string", // embedded without a tag: flattened
		"runners.wait duration",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("keys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestExtractRefusesToGuess: types whose keys or values the generator
// cannot derive stop it, naming the key.
func TestExtractRefusesToGuess(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"foreign type": {
			"package common\ntype RunnerConfig struct {\n\tX net.IP `toml:\"x\"`\n}\n",
			"runners.x: type net.IP from another package; add what the runner accepts for it to externalTypes",
		},
		"own UnmarshalTOML": {
			"package common\ntype Odd struct{}\nfunc (o *Odd) UnmarshalTOML(any) error { return nil }\ntype RunnerConfig struct {\n\tO Odd `toml:\"o\"`\n}\n",
			"runners.o: type Odd has its own UnmarshalTOML; read it and add it to customTypes",
		},
		"foreign embedded": {
			"package common\ntype RunnerConfig struct {\n\tnet.Dialer\n}\n",
			"runners: embedded net.Dialer from another package; add it to externalTypes as opaque",
		},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := extractKeys([]byte(tc.src), "x.go")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestExtractFlags(t *testing.T) {
	src := `package featureflags
const (
	A string = "FF_A"
	B string = "FF_B"
)
var flags = []FeatureFlag{
	{Name: B, DefaultValue: false, Deprecated: true},
	{Name: "FF_LITERAL", DefaultValue: true},
	{Name: A},
}
`
	flags, err := extractFlags([]byte(src), "flags.go")
	if err != nil {
		t.Fatal(err)
	}
	want := []flagInfo{{"FF_A", false}, {"FF_B", true}, {"FF_LITERAL", false}}
	if len(flags) != len(want) {
		t.Fatalf("flags = %v, want %v", flags, want)
	}
	for i := range want {
		if flags[i] != want[i] {
			t.Errorf("flags[%d] = %v, want %v", i, flags[i], want[i])
		}
	}
}

// TestGenerateNeedsVersions: a reference directory without vX.Y.Z
// directories is an error, not an empty table.
func TestGenerateNeedsVersions(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "notes"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := generate(dir); err == nil || !strings.Contains(err.Error(), "no vX.Y.Z directory") {
		t.Errorf("err = %v", err)
	}
}
