package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/repofile"
)

// runnerctl.yaml is read at the start of init and import, and written
// back at the end with their change (a runner, its ID) made on what was
// read. Another writer in between (a second init for another runner, an
// import, an editor, a git checkout) would lose its change to the older
// text, and a runner whose ID is dropped is one that render no longer
// deploys, while GitLab and the secrets manager keep it. So every writer
// of a repository holds the repository lock from before its first change
// to its last file (lockForChanges), and every write of runnerctl.yaml
// compares the file with what the run read, or last wrote, first
// (writeConfig): a change that came in between is never overwritten.

// changedError: runnerctl.yaml is no longer what this run read.
type changedError struct{ path string }

func (e *changedError) Error() string {
	return fmt.Sprintf("%s changed since runnerctl read it (another runnerctl, an editor or git wrote it): not overwritten with a version made from the older text", e.path)
}

// readConfigFile reads runnerctl.yaml at path for a run that will write
// it back: bounded and confined as every read of it is (config.Load), a
// regular file of at most config.MaxFileSize; nil when there is none yet.
func readConfigFile(path string) ([]byte, error) {
	data, err := repofile.ReadFile(path, config.MaxFileSize)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &config.ReadError{Path: path, Err: err}
	}
	return data, nil
}

// unchangedConfig returns a *changedError when runnerctl.yaml at path no
// longer holds old ("" for a file that did not exist).
func unchangedConfig(path string, old []byte) error {
	cur, err := readConfigFile(path)
	if err != nil {
		return err
	}
	if !bytes.Equal(cur, old) {
		return &changedError{path: path}
	}
	return nil
}

// writeConfig replaces runnerctl.yaml atomically with content when that
// changes it, provided it still holds old: what this run read, or last
// wrote.
func writeConfig(path string, old, content []byte) error {
	if bytes.Equal(old, content) {
		return nil
	}
	if err := unchangedConfig(path, old); err != nil {
		return err
	}
	return gitops.WriteFile(filepath.Dir(path), filepath.Base(path), content)
}

// lockForChanges takes the repository lock of runnerctl.yaml at path for
// command, before it changes anything (in GitLab, the secrets manager or
// the repository), waiting up to gitops.ApplyWait for another writer, and
// then checks that runnerctl.yaml is still what the run read (existing).
// Either failure changes nothing: exit 1, run again.
func lockForChanges(path, command string, existing []byte) (*gitops.Lock, error) {
	lock, err := gitops.LockRepository(filepath.Dir(path), command, gitops.ApplyWait)
	if err != nil {
		return nil, &exitError{code: ExitFailure, msg: err.Error() + "; nothing was changed"}
	}
	if err := unchangedConfig(path, existing); err != nil {
		lock.Unlock()
		var ce *changedError
		if errors.As(err, &ce) {
			return nil, &exitError{code: ExitFailure, msg: fmt.Sprintf("%s changed while %s ran (another runnerctl, an editor or git wrote it); nothing was changed: run %s again, which starts from the new file", path, command, command)}
		}
		return nil, err
	}
	return lock, nil
}

// repoLock is the repository lock of a run that changes runnerctl.yaml,
// taken when the run is about to change something (take, bootstrap's
// Begin: once, however many runners the run makes sure of) and held
// until its files are written.
type repoLock struct {
	path, command string
	existing      []byte // runnerctl.yaml as the run read it
	held          *gitops.Lock
}

// take takes the lock (lockForChanges) unless it is held already.
func (l *repoLock) take() error {
	if l.held != nil {
		return nil
	}
	held, err := lockForChanges(l.path, l.command, l.existing)
	if err != nil {
		return err
	}
	l.held = held
	return nil
}

// release lets the lock go (no-op when not held).
func (l *repoLock) release() {
	l.held.Unlock()
	l.held = nil
}
