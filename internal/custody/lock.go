package custody

import (
	"context"
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
	fl, holder, err := TakeLock(filepath.Join(dir, "runner-"+runner+"-"+identity), 0o600, 0, command)
	if err != nil {
		return nil, fmt.Errorf("lock runner %q: %w", runner, err)
	}
	if fl == nil {
		return nil, &LockedError{Runner: runner, Path: holder.Path, Holder: holder.Holder}
	}
	d.sweep(runner)
	return func() { _ = fl.Unlock() }, nil
}

// HeldLock is what TakeLock found when another process holds a lock.
type HeldLock struct {
	Path   string // the lock file
	Holder        // zero when the holder has not said who it is
}

// TakeLock takes the flock base+".lock" (created with perm), waiting up to
// wait for a holder to finish (not at all when wait is 0), and records who
// takes it (command, this pid, now) in base+".holder", for the message of
// a process that finds it held. When another process still holds it, fl is
// nil and held says who that is. The kernel releases an flock when its
// process dies, even by SIGKILL; the lock file stays when released, since
// deleting it while another process waits would let two hold "the" lock.
// The runner lock (Dir.Lock) and the repository lock of gitops share it.
func TakeLock(base string, perm os.FileMode, wait time.Duration, command string) (fl *flock.Flock, held *HeldLock, err error) {
	fl = flock.New(base+".lock", flock.SetPermissions(perm))
	ok, err := fl.TryLock()
	if err == nil && !ok && wait > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		ok, err = fl.TryLockContext(ctx, 50*time.Millisecond)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", fl.Path(), err)
	}
	if !ok {
		held = &HeldLock{Path: fl.Path()}
		if data, err := os.ReadFile(base + ".holder"); err == nil {
			_ = json.Unmarshal(data, &held.Holder)
		}
		return nil, held, nil
	}
	// Best effort: the lock itself is the flock.
	h, _ := json.Marshal(Holder{Command: command, PID: os.Getpid(), At: time.Now().UTC()})
	_ = atomicfile.WriteFile(base+".holder", append(h, '\n'), uint32(perm))
	return fl, nil, nil
}
