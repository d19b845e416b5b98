package atomicfile

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// batchTree makes dirs a and b under a new directory, with files
// a/f0..b/f(n-1) holding old content, and returns the root and the
// entries that would give each file its new content.
func batchTree(t *testing.T, n int) (*os.Root, string, []Entry) {
	t.Helper()
	dir := t.TempDir()
	var entries []Entry
	for i := range n {
		rel := filepath.Join([]string{"a", "b"}[i%2], fmt.Sprintf("f%d", i))
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), content("old", i), 0o600); err != nil {
			t.Fatal(err)
		}
		entries = append(entries, Entry{Path: rel, Data: content("new", i), Perm: 0o644})
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r, dir, entries
}

// content is long enough that a partial write would show.
func content(gen string, i int) []byte {
	return []byte(strings.Repeat(fmt.Sprintf("%s %d\n", gen, i), 512))
}

// checkOldOrNew fails unless every file holds exactly its old or its new
// content, and returns how many hold the new one. No other file may be
// left in the directories (no temporary file).
func checkOldOrNew(t *testing.T, dir string, n int) int {
	t.Helper()
	fresh := 0
	for i := range n {
		rel := filepath.Join([]string{"a", "b"}[i%2], fmt.Sprintf("f%d", i))
		got, err := os.ReadFile(filepath.Join(dir, rel))
		switch {
		case err != nil:
			t.Fatalf("%s: %v", rel, err)
		case bytes.Equal(got, content("new", i)):
			fresh++
		case !bytes.Equal(got, content("old", i)):
			t.Fatalf("%s holds neither its old nor its new content (%d bytes)", rel, len(got))
		}
	}
	for _, d := range []string{"a", "b"} {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				t.Errorf("temporary file left: %s/%s", d, e.Name())
			}
		}
	}
	return fresh
}

func TestBatchCommits(t *testing.T) {
	// Below and above flushTogetherMin: each file synced, or one flush.
	for _, n := range []int{3, 2 * flushTogetherMin} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r, dir, entries := batchTree(t, n)
			entries = append(entries, Entry{Path: filepath.Join("a", "created"), Data: []byte("x\n"), Perm: 0o640, New: true})
			b, err := PrepareAll(r, entries, 4)
			if err != nil {
				t.Fatal(err)
			}
			// Nothing is in place before Commit.
			if checkOldOrNewAllowingTemps(t, dir, n) != 0 {
				t.Fatal("a file changed before Commit")
			}
			ps := b.Pending()
			for i, p := range ps {
				if p.Path() != filepath.Clean(entries[i].Path) {
					t.Fatalf("pending %d is %s, want %s", i, p.Path(), entries[i].Path)
				}
				if err := p.Commit(); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range []string{"a", "b"} {
				if err := b.SyncDir(d); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(dir, "a", "created")); err != nil {
				t.Fatal(err)
			}
			if got := checkOldOrNew(t, dir, n); got != n {
				t.Errorf("%d of %d files new", got, n)
			}
			if runtime.GOOS != "windows" {
				// An existing file keeps its mode; a new one gets Perm less
				// the umask.
				fi, err := os.Stat(filepath.Join(dir, "a", "f0"))
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("a/f0: %v, %v; want the old file's 0600", fi.Mode(), err)
				}
			}
		})
	}
}

// checkOldOrNewAllowingTemps is checkOldOrNew while a batch holds its
// temporary files.
func checkOldOrNewAllowingTemps(t *testing.T, dir string, n int) int {
	t.Helper()
	fresh := 0
	for i := range n {
		rel := filepath.Join([]string{"a", "b"}[i%2], fmt.Sprintf("f%d", i))
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(got, content("new", i)) {
			fresh++
		}
	}
	return fresh
}

// A batch that fails while writing changes no file, and leaves no
// temporary file.
func TestBatchWriteFailureChangesNothing(t *testing.T) {
	for _, n := range []int{4, 2 * flushTogetherMin} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r, dir, entries := batchTree(t, n)
			// A directory where the file should be: its temporary file is
			// written, but the entry is refused before any commit (a path
			// leaving the root is refused as well).
			bad := slices.Clone(entries)
			bad = slices.Insert(bad, n/2, Entry{Path: filepath.Join("..", "escape"), Data: []byte("x")})
			if _, err := PrepareAll(r, bad, 3); err == nil {
				t.Fatal("no error for a path outside the root")
			}
			if got := checkOldOrNew(t, dir, n); got != 0 {
				t.Errorf("%d files changed", got)
			}
			bad = slices.Insert(slices.Clone(entries), n/2, Entry{Path: filepath.Join("missing", "f"), Data: []byte("x")})
			if _, err := PrepareAll(r, bad, 3); err == nil || !strings.Contains(err.Error(), "missing") {
				t.Fatalf("error %v, want one naming the missing directory", err)
			}
			if got := checkOldOrNew(t, dir, n); got != 0 {
				t.Errorf("%d files changed", got)
			}
			// A name too long for its temporary name ("." + name + digits):
			// the other files' temporary files are written by then.
			bad = slices.Insert(slices.Clone(entries), n/2, Entry{Path: filepath.Join("b", strings.Repeat("x", 250)), Data: []byte("x")})
			if _, err := PrepareAll(r, bad, 3); err == nil {
				t.Fatal("no error for a name too long")
			}
			if got := checkOldOrNew(t, dir, n); got != 0 {
				t.Errorf("%d files changed", got)
			}
			if runtime.GOOS == "windows" || os.Getuid() == 0 {
				return // no read-only directory for Windows or root
			}
			if err := os.Chmod(filepath.Join(dir, "b"), 0o555); err != nil {
				t.Fatal(err)
			}
			defer os.Chmod(filepath.Join(dir, "b"), 0o755)
			if _, err := PrepareAll(r, entries, 3); !errorsIsPermission(err) {
				t.Fatalf("error %v, want permission denied", err)
			}
			os.Chmod(filepath.Join(dir, "b"), 0o755)
			if got := checkOldOrNew(t, dir, n); got != 0 {
				t.Errorf("%d files changed", got)
			}
		})
	}
}

func errorsIsPermission(err error) bool {
	return err != nil && (os.IsPermission(err) || strings.Contains(err.Error(), fs.ErrPermission.Error()))
}

// A batch stopped halfway through its commits (a rename fails) leaves each
// file old or new, never partial, and Close removes what was not
// committed.
func TestBatchFailureMidCommit(t *testing.T) {
	const n = 10
	r, dir, entries := batchTree(t, n)
	b, err := PrepareAll(r, entries, 4)
	if err != nil {
		t.Fatal(err)
	}
	// f6 becomes a non-empty directory: renaming a file over it fails.
	victim := filepath.Join(dir, "a", "f6")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(victim, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	committed := 0
	for _, p := range b.Pending() {
		if err := p.Commit(); err != nil {
			if p.Path() != filepath.Join("a", "f6") {
				t.Fatalf("%s: %v", p.Path(), err)
			}
			break
		}
		committed++
	}
	if committed != 6 {
		t.Fatalf("%d commits before the failure, want 6", committed)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(victim, content("old", 6), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := checkOldOrNew(t, dir, n); got != 6 {
		t.Errorf("%d files new, want the 6 committed", got)
	}
}

func TestKernelVersion(t *testing.T) {
	for release, want := range map[string][2]int{"6.8.0-45-generic": {6, 8}, "5.8-rc1": {5, 8}, "4.19.0": {4, 19}, "6.18.44-fc-v1272": {6, 18}} {
		major, minor, ok := kernelVersionForTest(release)
		if !ok || [2]int{major, minor} != want {
			t.Errorf("%s: %d.%d %v, want %v", release, major, minor, ok, want)
		}
	}
}

// A process killed at any moment of a batch (kill -9) leaves every file
// complete: one generation's content or another's, never a mix or a
// truncated file.
func TestBatchKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	const n = 2 * flushTogetherMin
	dir := t.TempDir()
	for i := range n {
		rel := filepath.Join(dir, []string{"a", "b"}[i%2], fmt.Sprintf("f%d", i))
		if err := os.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(rel, content("gen0", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gens := map[string]bool{}
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBatchKilledChild$")
		cmd.Env = append(os.Environ(), "ATOMICFILE_KILL_DIR="+dir, fmt.Sprintf("ATOMICFILE_KILL_GEN=%d", 100*(round+1)))
		// The child says when its first generation is in place; the kill
		// comes at a random moment after that. A fixed delay from the start
		// was too short on a loaded machine: the child had not written yet.
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = pw, pw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		var out bytes.Buffer
		ready := make(chan struct{})
		read := make(chan struct{})
		go func() {
			defer close(read)
			sc := bufio.NewScanner(pr)
			signalled := false
			for sc.Scan() {
				out.WriteString(sc.Text() + "\n")
				if sc.Text() == "written" && !signalled {
					signalled = true
					close(ready)
				}
			}
		}()
		select {
		case <-ready:
		case <-read:
			t.Fatalf("child stopped before writing: %s", out.String())
		case <-time.After(time.Minute):
			t.Fatal("child wrote nothing in a minute")
		}
		time.Sleep(time.Duration(rand.IntN(100)) * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		<-read
		pr.Close()
		if strings.Contains(out.String(), "FAIL") {
			t.Fatalf("child: %s", out.String())
		}
		for i := range n {
			rel := filepath.Join([]string{"a", "b"}[i%2], fmt.Sprintf("f%d", i))
			got, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatalf("round %d: %s: %v", round, rel, err)
			}
			gen, _, _ := strings.Cut(string(got), " ")
			gens[gen] = true
			if !bytes.Equal(got, content(gen, i)) {
				t.Fatalf("round %d: %s is not one generation's whole content (%d bytes, starts %q)", round, rel, len(got), got[:min(len(got), 20)])
			}
		}
	}
	if len(gens) < 3 {
		t.Errorf("the killed processes wrote too little to tell (generations seen: %v)", slices.Sorted(maps.Keys(gens)))
	}
}

// TestBatchKilledChild writes generations of the files of
// ATOMICFILE_KILL_DIR until killed.
func TestBatchKilledChild(t *testing.T) {
	dir := os.Getenv("ATOMICFILE_KILL_DIR")
	if dir == "" {
		t.Skip("run by TestBatchKilled")
	}
	first, err := strconv.Atoi(os.Getenv("ATOMICFILE_KILL_GEN"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2 * flushTogetherMin
	for gen := first; ; gen++ {
		var entries []Entry
		for i := range n {
			entries = append(entries, Entry{Path: filepath.Join([]string{"a", "b"}[i%2], fmt.Sprintf("f%d", i)), Data: content(fmt.Sprintf("gen%d", gen), i), Perm: 0o644})
		}
		size := n
		if gen%2 == 1 {
			size = 5 // below flushTogetherMin: each file synced on its own
		}
		b, err := PrepareAll(r, entries[:size], 8)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range b.Pending() {
			if err := p.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		for _, d := range []string{"a", "b"} {
			if err := b.SyncDir(d); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if gen == first {
			fmt.Println("written") // TestBatchKilled kills after this
		}
	}
}
