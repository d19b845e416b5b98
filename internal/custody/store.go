package custody

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Steps reports progress, one line per step.
type Steps interface {
	Step(msg string)
}

// Checkpoint is called with the name of each step a token passes (see
// the Checkpoint* names). runnerctl leaves it nil; the tests of what a
// kill at each step leaves behind use it to kill the process there.
type Checkpoint func(name string)

// Hit calls c with name, if c is set.
func (c Checkpoint) Hit(name string) {
	if c != nil {
		c(name)
	}
}

// The steps a token passes, for Checkpoint.
const (
	CheckpointIntent   = "intent"   // intent record written, request not sent
	CheckpointAnswered = "answered" // GitLab's answer in hand, token not kept yet
	CheckpointKept     = "kept"     // token kept in its recovery file
	CheckpointPut      = "put"      // secrets manager wrote it, not read back yet
	CheckpointStored   = "stored"   // read back: stored
	CheckpointConfig   = "config"   // runnerctl.yaml written, generated files not yet
	CheckpointFiles    = "files"    // every file written, recovery file not removed yet
	CheckpointRollback = "rollback" // storing failed for good, runner not deleted yet
	CheckpointDone     = "released" // recovery file removed
)

// StoreRetry bounds the attempts to store a token.
type StoreRetry struct {
	// Tries bounds the attempts (default 5).
	Tries uint
	// Wait is the first wait between attempts (default backoff's 500ms).
	Wait time.Duration
}

// Verifier says whose current token a runner token is (gitlab.Client).
type Verifier interface {
	VerifyRunnerToken(ctx context.Context, tok secrets.Token) (int64, error)
}

// Custodian stores tokens: freshly issued ones, and kept ones once GitLab
// confirms they are still current.
type Custodian struct {
	Dir        *Dir
	GitLab     Verifier
	Store      secrets.Store
	Steps      Steps
	Retry      StoreRetry
	Checkpoint Checkpoint
}

// StoreToken puts tok at loc and reads it back, retrying transient failures
// (secrets.ErrTransient, and a read-back that does not match yet); any
// other failure is final at once. Each retry is reported on Steps.
func (c Custodian) StoreToken(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	tries := c.Retry.Tries
	if tries == 0 {
		tries = 5
	}
	b := backoff.NewExponentialBackOff()
	if c.Retry.Wait > 0 {
		b.InitialInterval = c.Retry.Wait
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := c.Store.Put(ctx, loc, tok)
		if err == nil {
			c.Checkpoint.Hit(CheckpointPut)
			err = secrets.VerifyStored(ctx, c.Store, loc, tok)
		}
		if err != nil && !errors.Is(err, secrets.ErrTransient) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(tries),
		backoff.WithNotify(func(err error, wait time.Duration) {
			c.Steps.Step(fmt.Sprintf("storing failed (%v); retrying in %s", err, wait.Round(time.Millisecond)))
		}))
	if err == nil {
		c.Checkpoint.Hit(CheckpointStored)
	}
	return err
}

// Settled is what Settle did with a kept token.
type Settled int

// Outcomes of Settle.
const (
	// AlreadyStored: the secrets manager holds the kept token already.
	AlreadyStored Settled = iota + 1
	// StoredKept: GitLab confirmed the kept token and it is stored now.
	StoredKept
	// Discarded: GitLab no longer accepts the kept token (another run has
	// reset it since, it expired, or its runner is gone); the file is
	// removed and nothing was stored.
	Discarded
)

// ErrUnsettled: whether a kept token is still current could not be
// decided (GitLab did not answer); nothing was stored, the file stays.
var ErrUnsettled = errors.New("could not check the kept token with GitLab")

// Settle finishes what an earlier run left in a recovery file: k's token
// goes to loc only if GitLab confirms that it is still runner k.RunnerID's
// current token. A stale file (its runner's token was reset by another run
// or machine since, or by the runner itself) would otherwise overwrite the
// live token with a dead one. The recovery file of a stored token is left
// for the caller to remove once the runner is recorded; a discarded one is
// removed at once, and the caller says so.
func (c Custodian) Settle(ctx context.Context, k Kept, loc secrets.Location) (Settled, error) {
	stored, err := c.Store.Get(ctx, loc)
	switch {
	case err == nil && stored.Equal(k.Token):
		return AlreadyStored, nil
	case err != nil && !errors.Is(err, secrets.ErrNotFound):
		return 0, fmt.Errorf("secrets backend %s: read %q: %w (nothing was changed; the token stays in %s)", c.Store.Backend(), loc, err, k.Path)
	}
	id, err := c.GitLab.VerifyRunnerToken(ctx, k.Token)
	switch {
	case errors.Is(err, gitlab.ErrTokenRefused) || err == nil && id != k.RunnerID:
		if rerr := c.Dir.Remove(k.Path); rerr != nil {
			return 0, fmt.Errorf("runner %q (id %d): the token kept in %s is no longer valid, but the file could not be removed: %w; delete it", k.Runner, k.RunnerID, k.Path, rerr)
		}
		return Discarded, nil
	case err != nil:
		return 0, fmt.Errorf("runner %q (id %d): %w before storing the token kept in %s: %w; nothing was stored, the file stays: run again",
			k.Runner, k.RunnerID, ErrUnsettled, k.Path, err)
	}
	c.Steps.Step(fmt.Sprintf("GitLab confirms the token kept in %s is runner %d's current one; storing it in %s at %q", k.Path, k.RunnerID, c.Store.Backend(), loc))
	if err := c.StoreToken(ctx, loc, k.Token); err != nil {
		return 0, err
	}
	return StoredKept, nil
}
