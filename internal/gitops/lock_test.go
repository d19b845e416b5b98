package gitops

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/custody"
)

func TestLockRepository(t *testing.T) {
	base := t.TempDir()
	repo := filepath.Join(base, "repo")
	linked := filepath.Join(base, "linked")
	plain := filepath.Join(base, "plain")
	for _, d := range []string{filepath.Join(repo, ".git", "worktrees", "linked"), filepath.Join(repo, "sub"), linked, plain} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A linked work tree (git worktree add) has a .git file naming its own
	// Git directory.
	if err := os.WriteFile(filepath.Join(linked, ".git"), []byte("gitdir: ../repo/.git/worktrees/linked\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, lockFile string
		sameAs              []string // other directories the same lock covers
	}{
		{"work tree", repo, filepath.Join(repo, ".git", "runnerctl", "repository.lock"), []string{filepath.Join(repo, "sub"), filepath.Join(repo, "new", "dir")}},
		{"linked work tree", linked, filepath.Join(repo, ".git", "worktrees", "linked", "runnerctl", "repository.lock"), nil},
		{"no Git", plain, filepath.Join(plain, ".runnerctl", "repository.lock"), nil},
		{"new --out directory", filepath.Join(base, "out"), filepath.Join(base, "out", ".runnerctl", "repository.lock"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := LockRepository(tc.dir, "render", 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(tc.lockFile); err != nil {
				t.Fatalf("lock file: %v", err)
			}
			for _, d := range append([]string{tc.dir}, tc.sameAs...) {
				_, err := LockRepository(d, "init", 0)
				var locked *LockedError
				if !errors.As(err, &locked) || !errors.Is(err, custody.ErrLocked) {
					t.Fatalf("second lock of %s: %v, want a *LockedError", d, err)
				}
				if locked.Holder.PID != os.Getpid() || locked.Holder.Command != "render" || locked.Path != tc.lockFile {
					t.Errorf("holder %+v at %s", locked.Holder, locked.Path)
				}
				re := `^another runnerctl render \(pid \d+, started \S+\) is writing this repository \(` + regexp.QuoteMeta(d) + `; it holds ` + regexp.QuoteMeta(tc.lockFile) + `\): wait for it to finish, then run again$`
				if !regexp.MustCompile(re).MatchString(err.Error()) {
					t.Errorf("message %q", err)
				}
				if !l.covers(d) {
					t.Errorf("the lock does not cover %s", d)
				}
			}
			// A waiting taker gets it once the holder lets go.
			go func() {
				time.Sleep(200 * time.Millisecond)
				l.Unlock()
			}()
			l2, err := LockRepository(tc.dir, "init", 5*time.Second)
			if err != nil {
				t.Fatalf("waiting lock: %v", err)
			}
			l2.Unlock()
		})
	}
	// Different repositories do not exclude each other.
	a, err := LockRepository(repo, "render", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	b, err := LockRepository(plain, "render", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Unlock()
	if a.covers(plain) || b.covers(repo) {
		t.Error("a lock covers another repository")
	}
}

// Apply takes the lock itself, waiting for a holder; ApplyLocked needs
// the lock of its own repository.
func TestApplyTakesTheLock(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, ".git"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(root, runnerFiles("1", "a"), managed, false)
	if err != nil {
		t.Fatal(err)
	}
	l, err := LockRepository(root, "render", 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := LockRepository(t.TempDir(), "render", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	if err := p.ApplyLocked(other); err == nil {
		t.Error("ApplyLocked with another repository's lock")
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(released)
		l.Unlock()
	}()
	if err := p.Apply(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-released:
	default:
		t.Error("Apply wrote while the lock was held")
	}
	if _, ok := tree(t, root)["values/gitlab-runner-a.yaml"]; !ok {
		t.Error("nothing written")
	}
}
