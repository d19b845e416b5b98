package rotate

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/gofrs/flock"
)

// FileLocks are per-runner advisory file locks (flock) under Dir/locks, so
// two runnerctl processes on one machine never rotate the same runner at
// once: the second would reset the token the first is storing. Locks do
// not span machines; CI jobs that rotate from several runners should share
// a GitLab CI resource_group.
//
// Lock files are left in place: deleting one while another process waits
// to lock it would let two processes hold "the" lock at once.
type FileLocks struct {
	Dir string
}

// Path is runner id's lock file: one per GitLab host, as runner IDs are
// per instance.
func (l FileLocks) Path(gitlabURL string, id int64) string {
	host := gitlabURL
	if u, err := url.Parse(gitlabURL); err == nil && u.Host != "" {
		host = u.Host
	}
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, host)
	return filepath.Join(l.Dir, "locks", fmt.Sprintf("runner-%s-%d.lock", host, id))
}

// TryLock takes runner id's lock without waiting.
func (l FileLocks) TryLock(gitlabURL string, id int64) (func(), error) {
	path := l.Path(gitlabURL, id)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	fl := flock.New(path, flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	return func() { _ = fl.Unlock() }, nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
