package gitops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/runnerctl/runnerctl/internal/custody"
)

// The repository lock: one runnerctl process of a machine writes a
// repository's generated files at a time. Without it, twenty renders of two
// specs started together all succeeded and left a tree mixed from both.
//
// It is custody's mechanism (custody.Dir.Lock, the runner lock of init and
// rotate-token) applied to a repository: an flock, which the kernel
// releases when the process dies, even by SIGKILL, taken without waiting,
// and a holder record next to it naming the process for whoever finds it
// held. Where the lock file lives decides who sees it; it must be every
// process of the machine that writes the directory, whatever its user,
// HOME or XDG_STATE_HOME, or container sharing the checkout, and Git must
// never show it. So it is not in the state directory (one per user and
// HOME: two users, or a CI job with its own HOME, would not see each
// other's lock), but:
//
//   - inside a Git work tree, in that work tree's Git directory:
//     <git dir>/runnerctl/repository.lock (for a linked work tree or a
//     submodule, the directory its .git file names). git status and git
//     add never look inside it. A directory anywhere in the work tree
//     takes the work tree's lock, so two writers of one clone never
//     interleave, whichever directory each writes;
//   - elsewhere (a directory that is no Git work tree, such as a render
//     --out preview), in the directory itself: DIR/.runnerctl/
//     repository.lock. No Git sees it there either.

// Lock is a held repository lock. Release it with Unlock.
type Lock struct {
	fl   *flock.Flock
	base string // lockBase
}

// LockedError: another runnerctl process of this machine is writing the
// repository. It wraps custody.ErrLocked, like the runner lock's error.
type LockedError struct {
	Dir    string // the directory to write, absolute
	Path   string // the lock file
	Holder custody.Holder
}

func (e *LockedError) Error() string {
	who := "another runnerctl process"
	if e.Holder.PID != 0 {
		command := e.Holder.Command
		if command == "" {
			command = "process"
		}
		who = fmt.Sprintf("another runnerctl %s (pid %d, started %s)", command, e.Holder.PID, e.Holder.At.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s is writing this repository (%s; it holds %s): wait for it to finish, then run again", who, e.Dir, e.Path)
}

func (e *LockedError) Unwrap() error { return custody.ErrLocked }

// LockRepository takes the lock of the repository that holds dir (which
// need not exist yet), for command (who takes it, for the message of a
// process that finds it held). It waits up to wait for a holder to finish,
// not at all when wait is 0, and then returns a *LockedError.
func LockRepository(dir, command string, wait time.Duration) (*Lock, error) {
	resolved, err := resolveDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lock repository %q: %w", dir, err)
	}
	base, err := lockBase(resolved)
	if err == nil {
		err = os.MkdirAll(filepath.Dir(base), 0o755)
	}
	if err != nil {
		return nil, fmt.Errorf("lock repository %q: %w", dir, err)
	}
	// Readable by all: another user who writes the work tree must be able
	// to open it (an flock needs no write access).
	fl, held, err := custody.TakeLock(base, 0o644, wait, command)
	if err != nil {
		return nil, fmt.Errorf("lock repository %q: %w", dir, err)
	}
	if fl == nil {
		return nil, &LockedError{Dir: resolved, Path: held.Path, Holder: held.Holder}
	}
	return &Lock{fl: fl, base: base}, nil
}

// Unlock releases the lock. The lock file stays: deleting it while
// another process waits for it would let two processes hold "the" lock.
func (l *Lock) Unlock() {
	if l != nil {
		_ = l.fl.Unlock()
	}
}

// covers reports whether l is the lock of the repository of dir.
func (l *Lock) covers(dir string) bool {
	resolved, err := resolveDir(dir)
	if err != nil {
		return false
	}
	base, err := lockBase(resolved)
	return err == nil && base == l.base
}

// lockBase is the lock's file name without extension, for the resolved
// directory dir.
func lockBase(dir string) (string, error) {
	gitDir, err := gitDirOf(dir)
	if err != nil {
		return "", err
	}
	if gitDir == "" {
		return filepath.Join(dir, ".runnerctl", "repository"), nil
	}
	return filepath.Join(gitDir, "runnerctl", "repository"), nil
}

// resolveDir makes dir absolute and resolves the symlinks of its longest
// existing part: the same directory always gives the same path, however
// it is named, and one not created yet is judged by where it will be.
func resolveDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return custody.Resolve(abs)
}

// gitDirOf is the Git directory of the work tree holding dir (resolved),
// or "" when none does: the nearest .git at or above dir, a directory, or
// a file saying "gitdir: PATH" (a linked work tree, a submodule).
func gitDirOf(dir string) (string, error) {
	for d := dir; ; {
		dotGit := filepath.Join(d, ".git")
		fi, err := os.Stat(dotGit)
		switch {
		case err == nil && fi.IsDir():
			return dotGit, nil
		case err == nil:
			data, err := os.ReadFile(dotGit)
			if err != nil {
				return "", err
			}
			line, _, _ := strings.Cut(string(data), "\n")
			target, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
			if !ok {
				return "", fmt.Errorf("%s: not a gitdir file", dotGit)
			}
			target = strings.TrimSpace(target)
			if !filepath.IsAbs(target) {
				target = filepath.Join(d, target)
			}
			return target, nil
		case !errors.Is(err, os.ErrNotExist):
			return "", err
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", nil
		}
		d = parent
	}
}
