package cli

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
	"go.yaml.in/yaml/v3"
)

// The CLI reference (docs/cli/*.md) and the man pages (docs/man/*.1) are
// generated from the commands' own help. cobra/doc (and go-md2man) is
// imported here only, in a test, so the runnerctl binary stays small and
// quick to start.
var update = flag.Bool("update", false, "rewrite docs/cli and docs/man")

// manDate is the date in the man pages' footer: fixed, so that the pages
// depend on nothing but the commands.
var manDate = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// genCLIDocs writes the markdown reference into mdDir and the man pages
// into manDir.
func genCLIDocs(t *testing.T, mdDir, manDir string) {
	t.Helper()
	var discard bytes.Buffer
	root := newRootCmd(&factory{stdin: strings.NewReader(""), stdout: &discard, stderr: &discard, getenv: func(string) string { return "" }})
	var noAutoGen func(*cobra.Command)
	noAutoGen = func(c *cobra.Command) {
		c.DisableAutoGenTag = true // no "Auto generated ... on DATE" lines
		for _, sub := range c.Commands() {
			noAutoGen(sub)
		}
	}
	noAutoGen(root)
	if err := doc.GenMarkdownTree(root, mdDir); err != nil {
		t.Fatal(err)
	}
	header := &doc.GenManHeader{Section: "1", Date: &manDate, Source: "runnerctl", Manual: "runnerctl manual"}
	if err := doc.GenManTree(root, header, manDir); err != nil {
		t.Fatal(err)
	}
}

func TestCLIDocsUpToDate(t *testing.T) {
	tmp := t.TempDir()
	dirs := map[string]string{"../../docs/cli": filepath.Join(tmp, "cli"), "../../docs/man": filepath.Join(tmp, "man")}
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	genCLIDocs(t, dirs["../../docs/cli"], dirs["../../docs/man"])

	var stale []string
	for committed, fresh := range dirs {
		want := readDir(t, fresh)
		if len(want) < 10 {
			t.Fatalf("only %d files generated into %s", len(want), fresh)
		}
		got := readDir(t, committed)
		for name, content := range want {
			if old, ok := got[name]; !ok || !bytes.Equal(old, content) {
				stale = append(stale, filepath.Join(strings.TrimPrefix(committed, "../../"), name))
				if *update {
					if err := os.MkdirAll(committed, 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(committed, name), content, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		for name := range got {
			if _, ok := want[name]; !ok {
				stale = append(stale, filepath.Join(strings.TrimPrefix(committed, "../../"), name)+" (no such command any more)")
				if *update {
					if err := os.Remove(filepath.Join(committed, name)); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	slices.Sort(stale)
	if len(stale) > 0 && !*update {
		t.Errorf("the CLI docs are out of date; run go test ./internal/cli -run TestCLIDocsUpToDate -update\n  %s", strings.Join(stale, "\n  "))
	}
}

// readDir reads the generated files of a docs directory (*.md, *.1); a
// missing directory has none.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".md") || strings.HasSuffix(e.Name(), ".1")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

// TestCLIDocsDeterministic generates the docs twice, in another
// environment the second time, and expects the same bytes: no date, no
// home directory, nothing of the machine.
func TestCLIDocsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	genCLIDocs(t, a, a)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("SOURCE_DATE_EPOCH", "0")
	genCLIDocs(t, b, b)
	fa, fb := readDir(t, a), readDir(t, b)
	if len(fa) != len(fb) {
		t.Fatalf("%d files, then %d", len(fa), len(fb))
	}
	for name, content := range fa {
		if !bytes.Equal(content, fb[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}

// TestBinaryDoesNotLinkDocGenerators keeps cobra/doc and the markdown and
// man page renderers out of the runnerctl binary: they are for this test
// only, and every package linked in costs start-up time.
func TestBinaryDoesNotLinkDocGenerators(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "list", "-deps", "../../cmd/runnerctl").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	if !strings.Contains(string(out), "github.com/spf13/cobra\n") {
		t.Fatalf("go list -deps ./cmd/runnerctl does not list cobra:\n%s", out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/spf13/cobra/doc" || strings.Contains(pkg, "go-md2man") || strings.Contains(pkg, "blackfriday") {
			t.Errorf("runnerctl links %s", pkg)
		}
	}
}

// TestReleaseShipsEveryManPage: the Homebrew cask in .goreleaser.yaml names
// its man pages one by one (archives and packages take manpages/* whole);
// a new command's page must be added there too.
func TestReleaseShipsEveryManPage(t *testing.T) {
	data, err := os.ReadFile("../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rel struct {
		Casks []struct {
			Manpages []string `yaml:"manpages"`
		} `yaml:"homebrew_casks"`
	}
	if err := yaml.Unmarshal(data, &rel); err != nil {
		t.Fatal(err)
	}
	if len(rel.Casks) != 1 {
		t.Fatalf("%d homebrew_casks in .goreleaser.yaml, want 1", len(rel.Casks))
	}
	var want []string
	for name := range readDir(t, "../../docs/man") {
		want = append(want, "manpages/"+name+".gz")
	}
	got := slices.Clone(rel.Casks[0].Manpages)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf(".goreleaser.yaml homebrew_casks[0].manpages:\n  %s\nwant (from docs/man):\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
