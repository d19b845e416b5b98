package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitops"
)

// writeConfig writes over runnerctl.yaml only while it holds what the run
// read: a change made in between is kept, and the write refused.
func TestWriteConfigKeepsAChangeMadeMeanwhile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runnerctl.yaml")
	read := []byte("runners:\n  - name: a\n")
	if err := os.WriteFile(path, read, 0o644); err != nil {
		t.Fatal(err)
	}
	mine := []byte("runners:\n  - name: a\n    runnerID: 1\n")
	if err := writeConfig(path, read, mine); err != nil {
		t.Fatalf("unchanged file: %v", err)
	}
	// Another writer adds runner b; this run, still on its older text,
	// records a second ID.
	theirs := []byte("runners:\n  - name: a\n    runnerID: 1\n  - name: b\n    runnerID: 2\n")
	if err := os.WriteFile(path, theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	err := writeConfig(path, mine, []byte("runners:\n  - name: a\n    runnerID: 3\n"))
	var ce *changedError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "changed since runnerctl read it") {
		t.Fatalf("err = %v, want a changedError", err)
	}
	if got, _ := os.ReadFile(path); string(got) != string(theirs) {
		t.Errorf("the other writer's change was overwritten:\n%s", got)
	}
	// A file that did not exist when the run read it, and does now.
	fresh := filepath.Join(t.TempDir(), "runnerctl.yaml")
	if err := os.WriteFile(fresh, theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeConfig(fresh, nil, mine); !errors.As(err, &ce) {
		t.Errorf("a file created meanwhile: err = %v", err)
	}
}

// lockForChanges holds the repository's lock, the one render and every
// other writer take, and refuses to start from a runnerctl.yaml that
// changed since it was read: exit 1, nothing changed.
func TestLockForChanges(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "runnerctl.yaml")
	read := []byte("runners: []\n")
	if err := os.WriteFile(path, read, 0o644); err != nil {
		t.Fatal(err)
	}
	lock, err := lockForChanges(path, "init", read)
	if err != nil {
		t.Fatal(err)
	}
	_, err = gitops.LockRepository(dir, "render", 0)
	if !errors.Is(err, custody.ErrLocked) || !strings.Contains(err.Error(), "another runnerctl init") {
		t.Errorf("a render while init holds the lock: %v", err)
	}
	lock.Unlock()
	if err := os.WriteFile(path, []byte("runners: [{name: b}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = lockForChanges(path, "init", read)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitFailure || !strings.Contains(ee.msg, "changed while init ran") || !strings.Contains(ee.msg, "nothing was changed") {
		t.Fatalf("changed file: err = %v", err)
	}
	// Refused, it holds nothing.
	l, err := gitops.LockRepository(dir, "render", 0)
	if err != nil {
		t.Fatalf("the lock stayed held after the refusal: %v", err)
	}
	l.Unlock()
}
