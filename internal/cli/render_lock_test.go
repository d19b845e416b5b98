package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/runnerctl/runnerctl/internal/gitops"
)

// lockedMessage is what a render that finds the repository being written
// says.
var lockedMessage = regexp.MustCompile(`(?m)^runnerctl: another runnerctl (render|test) \(pid \d+, started \S+\) is writing this repository \(.+; it holds .+repository\.lock\): wait for it to finish, then run again$`)

// Twenty renders of two specs into one repository at once (issue 13, item
// 7): each one either writes the whole of its spec or stops at once with
// the message naming the writer, exit 1; afterwards the tree is exactly one
// spec's render (render --check passes for it and finds drift for the
// other), with no temporary file left. With and without Git: the lock is
// in the Git directory, or in the directory itself.
func TestConcurrentRendersOneRepository(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 40 processes")
	}
	// Mostly waiting for its processes: run beside the scripts.
	t.Parallel()
	bin, err := exec.LookPath("runnerctl") // the test binary, put on PATH by TestMain
	if err != nil {
		t.Fatal(err)
	}
	for _, git := range []bool{true, false} {
		t.Run(fmt.Sprintf("git=%v", git), func(t *testing.T) {
			t.Parallel()
			repo := t.TempDir()
			if git {
				if err := os.Mkdir(filepath.Join(repo, ".git"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// The same 40 runners in another namespace, and one runner of
			// its own each: a mix of the two would show in most files.
			for _, spec := range []struct{ file, ns, own string }{{"a.yaml", "ci-a", "only-a"}, {"b.yaml", "ci-b", "only-b"}} {
				text := string(fleetSpec(40, spec.ns)) + "  - {<<: *runner, name: " + spec.own + "}\n"
				if err := os.WriteFile(filepath.Join(repo, spec.file), []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			render := func(args ...string) (int, string) {
				cmd := exec.Command(bin, append([]string{"render", "--quiet"}, args...)...)
				cmd.Dir = repo
				cmd.Env = append(os.Environ(), "HOME="+repo, "NO_COLOR=1")
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				err := cmd.Run()
				var ee *exec.ExitError
				switch {
				case err == nil:
					return 0, stderr.String()
				case errors.As(err, &ee):
					return ee.ExitCode(), stderr.String()
				}
				t.Fatalf("run runnerctl: %v", err)
				return 0, ""
			}
			if code, out := render("--config", "a.yaml"); code != 0 {
				t.Fatalf("first render: exit %d: %s", code, out)
			}

			// While another process holds the lock, every render stops at
			// once and names it; nothing changes.
			held, err := gitops.LockRepository(repo, "test", 0)
			if err != nil {
				t.Fatal(err)
			}
			if code, out := render("--config", "b.yaml"); code != 1 || !lockedMessage.MatchString(out) {
				t.Errorf("render while the lock is held: exit %d, %q", code, out)
			}
			// runnerctl.yaml is read under the lock only: the spec that
			// another writer (an init adding a runner) is changing is
			// never rendered half-way, nor is a broken one reported.
			if err := os.WriteFile(filepath.Join(repo, "c.yaml"), []byte("runners: [\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, out := render("--config", "c.yaml"); code != 1 || !lockedMessage.MatchString(out) {
				t.Errorf("render of a file being written while the lock is held: exit %d, %q", code, out)
			}
			held.Unlock()
			if code, out := render("--check", "--config", "a.yaml"); code != 0 {
				t.Fatalf("a render stopped by the lock changed files: %s", out)
			}

			// Twenty at once.
			var wg sync.WaitGroup
			codes := make([]int, 20)
			outs := make([]string, 20)
			for i := range codes {
				wg.Go(func() {
					codes[i], outs[i] = render("--config", []string{"a.yaml", "b.yaml"}[i%2])
				})
			}
			wg.Wait()
			stopped := 0
			for i, code := range codes {
				switch {
				case code == 0:
				case code == 1 && lockedMessage.MatchString(outs[i]):
					stopped++
				default:
					t.Errorf("render %d: exit %d: %s", i, code, outs[i])
				}
			}
			t.Logf("%d of 20 renders stopped by the lock", stopped)
			codeA, outA := render("--check", "--config", "a.yaml")
			codeB, outB := render("--check", "--config", "b.yaml")
			if codeA+codeB != 1 {
				t.Errorf("render --check: a exit %d, b exit %d; want exactly one up to date\n%s\n%s", codeA, codeB, outA, outB)
			}
			err = filepath.WalkDir(repo, func(path string, d os.DirEntry, err error) error {
				if err == nil && strings.HasPrefix(d.Name(), ".gitlab-runner-") {
					t.Errorf("temporary file left: %s", path)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
