// Package custody keeps a runner token from the moment GitLab may hand it
// out until the secrets manager holds it, across kills, races and files
// left by older runs. The rules live here once, for init and rotate-token:
//
//   - Before a runner is created (or its token reset), an intent record is
//     written and synced: a run killed while GitLab's answer is in flight
//     leaves it, and the next run resolves it (finds the runner by its
//     marker, then adopts or deletes it) before it creates anything.
//   - Once GitLab answers, the token is kept in a 0600 recovery file (the
//     write-ahead copy) before anything tries to store it, and the file
//     goes only once the token is stored and the runner recorded.
//   - A kept token is stored only after GitLab confirms it is still the
//     runner's current one (Custodian.Settle); a stale file is discarded,
//     never stored over a live token.
//   - One runner is worked on by one process of a machine at a time (Lock);
//     across machines, the identity in the create marker makes a second
//     creator see the first.
//
// Every file lives in the state directory (Dir), which is never inside
// the repository, not even through a symlink.
package custody

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Dir is runnerctl's state directory: intent records, kept tokens and
// locks, one directory per machine and user. Open it with Open.
type Dir struct {
	path string
}

// ErrPlace: the state directory is somewhere a token must not rest.
var ErrPlace = errors.New("not a place for runner tokens")

// Open checks and prepares the state directory dir for the repository at
// repoRoot, before anything is created: dir is made absolute (relative to
// the working directory) and resolved through symlinks, then refused
// (ErrPlace) when it is the repository, inside it, or inside the Git work
// tree around it, where `git status` would show a token and `git add .`
// commit it. It is created 0700 if missing, and proven writable by writing,
// syncing and removing a probe file, so that the write-ahead copy of a new
// token cannot fail for a reason known in advance.
func Open(dir, repoRoot string) (*Dir, error) {
	d, err := Locate(dir, repoRoot)
	if err != nil {
		return nil, err
	}
	resolved := d.path
	if err := os.MkdirAll(resolved, 0o700); err != nil {
		return nil, fmt.Errorf("create state directory %q: %w", resolved, err)
	}
	// Resolve again: a component created meanwhile may be a symlink.
	if again, err := filepath.EvalSymlinks(resolved); err != nil {
		return nil, fmt.Errorf("state directory %q: %w", resolved, err)
	} else if again != resolved {
		if err := outside(again, dir, repoRoot); err != nil {
			return nil, err
		}
		resolved = again
	}
	probe, err := os.CreateTemp(resolved, ".runnerctl-probe-")
	if err != nil {
		return nil, fmt.Errorf("state directory %q cannot be written: %w", resolved, err)
	}
	_, werr := probe.WriteString("probe\n")
	serr := probe.Sync()
	cerr := probe.Close()
	rerr := os.Remove(probe.Name())
	if err := errors.Join(werr, serr, cerr, rerr); err != nil {
		return nil, fmt.Errorf("state directory %q cannot be written: %w", resolved, err)
	}
	return &Dir{path: resolved}, nil
}

// Locate is Open without changing anything, for dry runs: dir is
// resolved and refused in the same places, but not created or probed. A
// directory that does not exist holds nothing; Keep, Begin and Lock need
// Open.
func Locate(dir, repoRoot string) (*Dir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory %q: %w", dir, err)
	}
	resolved, err := Resolve(abs)
	if err != nil {
		return nil, fmt.Errorf("state directory %q: %w", dir, err)
	}
	if err := outside(resolved, dir, repoRoot); err != nil {
		return nil, err
	}
	return &Dir{path: resolved}, nil
}

// Path is the directory's resolved, absolute path.
func (d *Dir) Path() string { return d.path }

// Resolve evaluates the symlinks of the longest existing prefix of abs (an
// absolute path) and appends the rest, so that a directory that does not
// exist yet is judged by where it will be created.
func Resolve(abs string) (string, error) {
	var rest []string
	p := filepath.Clean(abs)
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			for i := len(rest) - 1; i >= 0; i-- {
				r = filepath.Join(r, rest[i])
			}
			return r, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return "", err
		}
		rest = append(rest, filepath.Base(p))
		p = parent
	}
}

// outside refuses dir (resolved) when it is the repository at repoRoot,
// inside it, or inside the Git work tree that holds it. given is what the
// user gave, for the message.
func outside(dir, given, repoRoot string) error {
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		return fmt.Errorf("repository %q: %w", repoRoot, err)
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	for _, top := range []string{root, workTree(root)} {
		if top == "" {
			continue
		}
		if rel, err := filepath.Rel(top, dir); err == nil && (rel == "." || filepath.IsLocal(rel)) {
			what := "the repository"
			if top != root {
				what = "the Git work tree"
			}
			shown := given
			if dir != given {
				shown = fmt.Sprintf("%s (%s)", given, dir)
			}
			return fmt.Errorf("%w: the state directory %s is inside %s %s, where a runner token could be committed; "+
				"choose a directory outside it (--recovery-dir, or XDG_STATE_HOME)", ErrPlace, shown, what, top)
		}
	}
	return nil
}

// workTree is the nearest directory at or above dir that holds a .git
// entry (a directory, or a file in a linked work tree), or "".
func workTree(dir string) string {
	for d := dir; ; {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// DefaultPath is $XDG_STATE_HOME/runnerctl, else ~/.local/state/runnerctl,
// else runnerctl in the temporary directory.
func DefaultPath(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "runnerctl")
	}
	if h, err := os.UserHomeDir(); err == nil && !strings.HasPrefix(h, ".") {
		return filepath.Join(h, ".local", "state", "runnerctl")
	}
	return filepath.Join(os.TempDir(), "runnerctl")
}

// remove deletes path; a file already gone is no error.
func remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
