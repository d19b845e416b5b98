package custody

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/runnerctl/runnerctl/internal/atomicfile"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Identity names the runner whose token lives at loc in the secrets
// manager store (backend and its settings, such as a Vault mount) of the
// GitLab at gitlabURL: 8 hex digits of a SHA-256. Two runs that would
// store a token at the same place are working on the same runner, whatever
// the runner is called and wherever runnerctl.yaml is; two runs that store
// at different places are not. The lock of one machine (Lock) and the
// create marker seen by every machine (gitlab.NewMarker) both use it.
func Identity(gitlabURL, store string, loc secrets.Location) string {
	u := strings.TrimRight(gitlabURL, "/")
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		u = strings.ToLower(p.Host) + strings.TrimRight(p.EscapedPath(), "/")
	}
	sum := sha256.Sum256([]byte(u + "\x00" + store + "\x00" + loc.Key + "\x00" + loc.Property))
	return hex.EncodeToString(sum[:4])
}

// ErrLocked: another runnerctl process of this machine holds the runner's
// lock.
var ErrLocked = errors.New("locked")

// LockedError names the process that holds a runner's lock.
type LockedError struct {
	Runner string
	Path   string
	Holder Holder // zero when the holder has not said who it is
}

func (e *LockedError) Error() string {
	who := "another runnerctl process"
	if e.Holder.PID != 0 {
		who = fmt.Sprintf("another runnerctl %s (pid %d, started %s)", e.Holder.Command, e.Holder.PID, e.Holder.At.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s is working on runner %q (it holds %s): wait for it to finish, then run again", who, e.Runner, e.Path)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// Holder says who holds a lock.
type Holder struct {
	Command string    `json:"command"`
	PID     int       `json:"pid"`
	At      time.Time `json:"started_at"`
}

// Lock takes, without waiting, the lock of the runner named runner with
// identity (Identity) on this machine: init and rotate-token take it
// before anything else, so that two processes never create, reset or
// store one runner's token at once. command says who takes it, for the
// message of a process that finds it held (*LockedError, ErrLocked).
//
// The lock is an flock on a file under locks/; the kernel releases it
// when the process dies, even by SIGKILL. Lock files are left in place:
// deleting one while another process waits for it would let two processes
// hold "the" lock. Once locked, temporary files that a killed write of the
// runner's files left behind are removed.
func (d *Dir) Lock(runner, identity, command string) (unlock func(), err error) {
	dir := filepath.Join(d.path, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory %q: %w", dir, err)
	}
	base := filepath.Join(dir, "runner-"+runner+"-"+identity)
	fl := flock.New(base+".lock", flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock runner %q (%s): %w", runner, fl.Path(), err)
	}
	if !ok {
		e := &LockedError{Runner: runner, Path: fl.Path()}
		if data, err := os.ReadFile(base + ".holder"); err == nil {
			_ = json.Unmarshal(data, &e.Holder)
		}
		return nil, e
	}
	// Who holds it, for the message of a process that finds it held. Best
	// effort: the lock itself is the flock.
	h, _ := json.Marshal(Holder{Command: command, PID: os.Getpid(), At: time.Now().UTC()})
	_ = atomicfile.WriteFile(base+".holder", append(h, '\n'), 0o600)
	d.sweep(runner)
	return func() { _ = fl.Unlock() }, nil
}
