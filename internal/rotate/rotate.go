// Package rotate gives runners new tokens: reset each one in GitLab, store
// the new token where the runner's ExternalSecret reads it, and never lose
// it. A reset kills the old token at once, so unlike init there is no
// rollback: from the reset on, the new token is kept in a 0600 recovery
// file until the secrets manager holds it, and a later run stores a kept
// token instead of resetting again.
//
// The sequencing here is pure apart from the interfaces it is given, so
// tests drive every step's failure without a network.
package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// GitLab is what a rotation needs of GitLab.
type GitLab interface {
	GetRunner(ctx context.Context, id int64) (*gitlab.RunnerInfo, error)
	// TokenExpiresAt is when the runner's current token expires; nil: never.
	TokenExpiresAt(ctx context.Context, id int64) (*time.Time, error)
	ResetToken(ctx context.Context, id int64) (*gitlab.Created, error)
	VerifyRunnerToken(ctx context.Context, tok secrets.Token) (int64, error)
}

// Steps reports progress, one line per step.
type Steps interface {
	Step(msg string)
}

// Deps are the side effects.
type Deps struct {
	GitLab GitLab
	Store  secrets.Store // unused with Options.DryRun
	// State is the state directory: intents, kept tokens, the runners'
	// locks (package custody).
	State *custody.Dir
	Steps Steps
	// Cluster, when set, gets each stored token into the running runner
	// (targets with a Cluster part); Contacts then confirms the runner's
	// contact with GitLab.
	Cluster  Cluster
	Contacts Contacts
	// Checkpoint marks each step of a token (tests kill the process
	// there); nil in runnerctl.
	Checkpoint custody.Checkpoint
}

// Options apply to every runner of a run.
type Options struct {
	GitLabURL string
	// IfExpiresWithin, when positive, skips a runner whose token expires
	// later than that from now, or never.
	IfExpiresWithin time.Duration
	// Parallel bounds the runners rotated at once (default DefaultParallel).
	Parallel int
	// DryRun reads GitLab and the state directory and says what would be
	// done; it takes no lock and changes nothing.
	DryRun bool
	// StoreRetry bounds the attempts to store a token.
	StoreRetry custody.StoreRetry
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// ClusterWait bounds a runner's cluster steps together (default
	// DefaultClusterWait); PollInterval is how often they ask again.
	ClusterWait  time.Duration
	PollInterval time.Duration
}

// DefaultParallel is how many runners rotate at once by default. A rotation
// is three sequential GitLab requests and a store, so a fleet's time is
// latency-bound: 10 at once brings 50 runners to about a tenth of the
// sequential time (the target is at most 0.15) while staying far below
// GitLab's authenticated API rate limits.
const DefaultParallel = 10

// Target is one runner to rotate.
type Target struct {
	// Name names the runner in messages and in the state directory: its
	// name, or for a runner deployed to clusters its instance ID
	// NAME@CLUSTER, so that each cluster's runner has its own lock and
	// files.
	Name     string
	RunnerID int64 // 0: not created yet
	Location secrets.Location
	// Identity names the runner by where its token lives
	// (custody.Identity): the lock it shares with init.
	Identity string
	// Cluster names the runner's objects; nil without cluster access.
	Cluster *ClusterTarget
	// Kube, when set, is the cluster this runner runs in, instead of
	// Deps.Cluster: each cluster of a runner deployed to several is
	// reached through its own kubeconfig context.
	Kube Cluster
	// Group puts the runners of one runner definition deployed to several
	// clusters together: they rotate one after the other, in order, and
	// the first that does not finish (rotated, with its cluster steps
	// done when there are any) stops the rest of its group, so that a
	// fault leaves at most one cluster's runner without a working token.
	// Empty: a group of its own.
	Group string
	// Legacy is another name its files may be kept under (the runner's
	// bare name, for files of a runnerctl from before clusters).
	Legacy string
}

// Status is a runner's outcome.
type Status string

// The outcomes.
const (
	Rotated     Status = "rotated"
	Skipped     Status = "skipped"
	Failed      Status = "failed"
	WouldRotate Status = "would-rotate" // --dry-run
)

// Result is what happened to one runner. It never holds a token.
type Result struct {
	Name     string `json:"name"`
	RunnerID int64  `json:"runnerID,omitempty"`
	Status   Status `json:"status"`
	// Detail says why a runner was skipped, or what a rotation did.
	Detail string `json:"detail,omitempty"`
	// Error says why it failed and how to finish.
	Error string `json:"error,omitempty"`
	// TokenExpiresAt is when the runner's token (the new one once rotated)
	// expires; nil: never, or not known.
	TokenExpiresAt *time.Time `json:"tokenExpiresAt,omitempty"`
	// RecoveryFile holds the new token when it could not be stored.
	RecoveryFile string `json:"recoveryFile,omitempty"`
	// Warnings are things to act on even though the runner was handled.
	Warnings []string `json:"warnings,omitempty"`
	// Cluster is how far the new token got into the running runner (with
	// cluster access only). A rotated runner whose Cluster is not done is
	// a failure for the exit code: the user has work to do.
	Cluster *ClusterResult `json:"cluster,omitempty"`
	// Err is the failure, for errors.Is.
	Err error `json:"-"`
}

// Run rotates targets, at most o.Parallel at once. Every runner gets a
// result, in the order of targets; one failure does not stop the others.
func Run(ctx context.Context, d Deps, o Options, targets []Target) []Result {
	if o.Parallel <= 0 {
		o.Parallel = DefaultParallel
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	results := make([]Result, len(targets))
	var g errgroup.Group
	g.SetLimit(o.Parallel)
	for _, group := range groups(targets) {
		g.Go(func() error {
			var stop *Result
			for _, i := range group {
				if stop != nil {
					results[i] = Result{Name: targets[i].Name, RunnerID: targets[i].RunnerID, Status: Skipped,
						Detail: fmt.Sprintf("not rotated, nothing changed: %s, before it in the same runner's clusters, did not finish; fix that and run again", stop.Name)}
					continue
				}
				results[i] = one(ctx, d, o, targets[i])
				if r := results[i]; r.Status == Failed || r.Status == Rotated && r.Cluster != nil && !r.Cluster.Done() {
					if targets[i].Group != "" {
						stop = &results[i]
					}
				}
			}
			return nil // a runner's failure is its result, not the fleet's
		})
	}
	_ = g.Wait()
	return results
}

// groups lists the indexes of targets by Group, in the order of their
// first target; a target without a Group is alone in its own.
func groups(targets []Target) [][]int {
	var out [][]int
	at := map[string]int{}
	for i, t := range targets {
		if t.Group == "" {
			out = append(out, []int{i})
			continue
		}
		j, ok := at[t.Group]
		if !ok {
			j = len(out)
			at[t.Group] = j
			out = append(out, nil)
		}
		out[j] = append(out[j], i)
	}
	return out
}

// one rotates one runner.
func one(ctx context.Context, d Deps, o Options, t Target) Result {
	res := Result{Name: t.Name, RunnerID: t.RunnerID}
	if t.Kube != nil {
		d.Cluster = t.Kube // d is this runner's copy
	}
	fail := func(err error) Result {
		res.Status, res.Err, res.Error = Failed, err, redact.Text(err.Error())
		return res
	}
	if t.RunnerID == 0 {
		return fail(fmt.Errorf("runner %q has no runnerID in runnerctl.yaml: create it with `runnerctl init --name %s` first", t.Name, t.Name))
	}
	if err := ctx.Err(); err != nil {
		return fail(fmt.Errorf("runner %q: not started: %w", t.Name, err))
	}
	steps := prefixed{d.Steps, t.Name}
	step := func(format string, args ...any) { steps.Step(fmt.Sprintf(format, args...)) }
	cust := custody.Custodian{Dir: d.State, GitLab: d.GitLab, Store: d.Store, Steps: steps, Retry: o.StoreRetry, Checkpoint: d.Checkpoint}

	if !o.DryRun {
		unlock, err := d.State.Lock(t.Name, t.Identity, "rotate-token")
		if err != nil {
			return fail(fmt.Errorf("runner %q (id %d): %w; nothing was changed", t.Name, t.RunnerID, err))
		}
		defer unlock()
	}

	// a. The runner must exist.
	if _, err := d.GitLab.GetRunner(ctx, t.RunnerID); err != nil {
		if errors.Is(err, gitlab.ErrNotFound) {
			return fail(fmt.Errorf("runner %q: runner %d does not exist in GitLab (or the token may not see it): fix runnerID in runnerctl.yaml, or create it with `runnerctl init --name %s --recreate`; nothing was changed: %w", t.Name, t.RunnerID, t.Name, err))
		}
		return fail(fmt.Errorf("runner %q: %w; nothing was changed", t.Name, err))
	}
	expires, err := d.GitLab.TokenExpiresAt(ctx, t.RunnerID)
	if err != nil {
		return fail(fmt.Errorf("runner %q: %w; nothing was changed", t.Name, err))
	}
	res.TokenExpiresAt = expires

	// b. A token kept by an earlier rotation that could not store it is
	// the runner's live one, unless another rotation has replaced it
	// since: GitLab decides, and a stale file is discarded, never stored.
	kept, err := keptToken(d.State, o.GitLabURL, t)
	if err != nil {
		return fail(fmt.Errorf("runner %q: read the state directory: %w; nothing was changed", t.Name, err))
	}
	if kept != nil {
		if o.DryRun {
			res.Status, res.Detail = WouldRotate, fmt.Sprintf("would store the token kept in %s by an earlier rotation, once GitLab confirms it is still current (no new reset)", kept.Path)
			return res
		}
		settled, err := cust.Settle(ctx, *kept, t.Location)
		if err != nil {
			res.RecoveryFile = kept.Path
			return fail(fmt.Errorf("runner %q (id %d): the token kept in %s by an earlier rotation could not be stored in %s at %q: %w; "+
				"fix %s and run `runnerctl rotate-token %s` again (it stores the kept token once GitLab confirms it, without a new reset)",
				t.Name, t.RunnerID, kept.Path, d.Store.Backend(), t.Location, err, d.Store.Backend(), t.Name))
		}
		if settled != custody.Discarded {
			res.Status, res.Detail = Rotated, fmt.Sprintf("finished an earlier rotation: stored the token kept in %s", kept.Path)
			if err := d.State.Remove(kept.Path); err != nil {
				res.Warnings = append(res.Warnings, fmt.Sprintf("the token is stored but the recovery file %s could not be removed (%v): delete it", kept.Path, err))
			}
			if in := rotateIntent(d.State, o.GitLabURL, t); in != nil {
				_ = d.State.End(*in)
			}
			res.Warnings = append(res.Warnings, expiryWarnings(expires)...)
			if d.Cluster != nil && t.Cluster != nil {
				res.Cluster = toCluster(ctx, d, o, t, kept.Token, o.Now())
			}
			return res
		}
		res.Warnings = append(res.Warnings, fmt.Sprintf("discarded %s: GitLab no longer accepts the token an earlier rotation kept there (another rotation, on this machine or another, has replaced it since); nothing was stored from it", kept.Path))
	}
	discarded := kept != nil

	// c. An earlier rotation stopped after asking GitLab for a reset (it
	// was killed, or the answer was lost), or its kept token was stale: if
	// the stored token no longer works, only a new reset brings a known
	// one, whatever --if-expires-within says.
	force := false
	in := rotateIntent(d.State, o.GitLabURL, t)
	if in != nil && o.DryRun {
		res.Status, res.Detail = WouldRotate, fmt.Sprintf("an earlier rotation (%s) did not finish: would check the stored token with GitLab and reset it if it no longer works", in.Describe())
		return res
	}
	if in != nil || discarded {
		live, err := storedIsLive(ctx, d, t)
		switch {
		case err != nil:
			return fail(fmt.Errorf("runner %q (id %d): an earlier rotation did not finish, and checking whether the stored token still works failed: %w; nothing was changed: run again", t.Name, t.RunnerID, err))
		case live && in == nil:
			res.Status, res.Detail = Skipped, "the stored token is the runner's current one (another rotation finished since): nothing to do"
			return res
		case live:
			step("an earlier rotation (%s) did not finish, but the stored token still works: GitLab never reset it", in.Describe())
			_ = d.State.End(*in)
		default:
			step("the stored token no longer works (an earlier rotation reset it and never stored the new one); resetting it again")
			force = true
		}
	}

	// d. Not close enough to expiry: nothing to do.
	if o.IfExpiresWithin > 0 && !force {
		if expires == nil {
			res.Status, res.Detail = Skipped, "no expiry set; skipped"
			return res
		}
		if left := expires.Sub(o.Now()); left > o.IfExpiresWithin {
			res.Status, res.Detail = Skipped, fmt.Sprintf("token expires %s, in %s, later than --if-expires-within %s", expires.UTC().Format(time.RFC3339), roundDuration(left), o.IfExpiresWithin)
			res.Warnings = append(res.Warnings, expiryWarnings(expires)...)
			return res
		}
	}
	if o.DryRun {
		res.Status, res.Detail = WouldRotate, fmt.Sprintf("would reset the token and store it in %s", t.Location)
		res.Warnings = append(res.Warnings, expiryWarnings(expires)...)
		return res
	}

	// e. The reset kills the old token at once: prove first that the new
	// one can be stored.
	step("checking %s access to %q", d.Store.Backend(), t.Location)
	if err := d.Store.Check(ctx, t.Location); err != nil {
		return fail(fmt.Errorf("runner %q: secrets backend %s cannot write %q: %w; the token was not reset, nothing was changed", t.Name, d.Store.Backend(), t.Location, err))
	}

	// f. Reset, with the intent on disk first: a kill while GitLab's
	// answer is in flight must not let a later run skip this runner.
	intent, err := d.State.Begin(custody.Intent{Kind: custody.IntentRotate, GitLabURL: o.GitLabURL, Runner: t.Name, RunnerID: t.RunnerID, Command: "runnerctl rotate-token"})
	if err != nil {
		return fail(fmt.Errorf("runner %q: %w; the token was not reset, nothing was changed", t.Name, err))
	}
	d.Checkpoint.Hit(custody.CheckpointIntent)
	rotatedAt := o.Now()
	step("resetting the token of runner %d", t.RunnerID)
	created, err := d.GitLab.ResetToken(ctx, t.RunnerID)
	if errors.Is(err, gitlab.ErrUncertain) {
		// GitLab may have reset it unseen: the stored token would then be
		// dead, and only a new reset brings a known one. The intent stays,
		// so that the next run checks, whatever its --if-expires-within.
		return fail(fmt.Errorf("runner %q: %w; GitLab may have reset the token without answering, and then the stored token no longer works: run `runnerctl rotate-token %s` again", t.Name, err, t.Name))
	}
	if err != nil {
		if !force {
			// Nothing was reset. (After an earlier interrupted reset, the
			// intent stays: that one may have happened.)
			_ = d.State.End(intent)
		}
		return fail(fmt.Errorf("runner %q: %w; the token was not reset, nothing was changed", t.Name, err))
	}
	d.Checkpoint.Hit(custody.CheckpointAnswered)
	res.TokenExpiresAt = created.ExpiresAt

	// g. Write-ahead: the new token is on disk (0600, outside the repo)
	// before the secrets manager is asked, so no crash can lose it.
	recFile, recErr := d.State.Keep(custody.Kept{GitLabURL: o.GitLabURL, Runner: t.Name, RunnerID: t.RunnerID, Backend: d.Store.Backend(),
		Location: t.Location, Rotation: true, Token: created.Token}, keptInstruction(d.Store.Backend(), t))
	if recErr != nil {
		step("warning: could not keep the new token in a recovery file (%v); storing it anyway", recErr)
	} else {
		_ = d.State.End(intent)
		d.Checkpoint.Hit(custody.CheckpointKept)
	}
	step("storing the new token in %s at %q", d.Store.Backend(), t.Location)
	if err := cust.StoreToken(ctx, t.Location, created.Token); err != nil {
		// No rollback exists: the old token is dead. The kept token is the
		// way forward.
		if recErr != nil {
			return fail(fmt.Errorf("runner %q (id %d): GitLab issued a new token and the old one no longer works, but %s could not store it (%w) and no recovery file could be written (%v): the new token is lost; fix %s and run `runnerctl rotate-token %s` again to issue another",
				t.Name, t.RunnerID, d.Store.Backend(), err, recErr, d.Store.Backend(), t.Name))
		}
		res.RecoveryFile = recFile
		return fail(fmt.Errorf("runner %q (id %d): GitLab issued a new token and the old one no longer works, but %s could not store it at %q: %w; "+
			"the new token is kept in %s (0600): fix %s and run `runnerctl rotate-token %s` again, which stores the kept token without a new reset",
			t.Name, t.RunnerID, d.Store.Backend(), t.Location, err, recFile, d.Store.Backend(), t.Name))
	}
	if recErr == nil {
		if err := d.State.Remove(recFile); err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the token is stored but the recovery file %s could not be removed (%v): delete it", recFile, err))
		}
		d.Checkpoint.Hit(custody.CheckpointDone)
	} else {
		_ = d.State.End(intent)
	}
	res.Status, res.Detail = Rotated, fmt.Sprintf("new token stored in %s at %q", d.Store.Backend(), t.Location)
	res.Warnings = append(res.Warnings, expiryWarnings(created.ExpiresAt)...)
	if d.Cluster != nil && t.Cluster != nil {
		res.Cluster = toCluster(ctx, d, o, t, created.Token, rotatedAt)
	}
	return res
}

// keptInstruction is what a recovery file of a rotation tells its reader.
func keptInstruction(backend string, t Target) string {
	return fmt.Sprintf("the runner's old token no longer works. Once %s works, run `runnerctl rotate-token %s` again: it finds this file, checks with GitLab that the token is still current, stores it at %q (without resetting it again) and deletes the file. "+
		"Or store the token there by hand and delete this file.", backend, t.Name, t.Location.String())
}

// keptToken is the token an earlier rotation of t kept, or nil.
func keptToken(dir *custody.Dir, gitlabURL string, t Target) (*custody.Kept, error) {
	kept, err := dir.Kept(t.Name, cmp.Or(t.Legacy, t.Name))
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(kept, func(k custody.Kept) bool { return k.Rotation && k.For(gitlabURL, t.RunnerID) })
	if i < 0 {
		return nil, nil
	}
	return &kept[i], nil
}

// rotateIntent is the intent of an earlier rotation of t that never kept
// its token, or nil.
func rotateIntent(dir *custody.Dir, gitlabURL string, t Target) *custody.Intent {
	ins, err := dir.Intents(t.Name)
	if err != nil {
		return nil
	}
	for _, in := range ins {
		if in.Kind == custody.IntentRotate && in.GitLabURL == gitlabURL && in.RunnerID == t.RunnerID {
			return &in
		}
	}
	return nil
}

// storedIsLive reports whether the token stored for t is the runner's
// current one, as GitLab says. Nothing stored is not live.
func storedIsLive(ctx context.Context, d Deps, t Target) (bool, error) {
	stored, err := d.Store.Get(ctx, t.Location)
	if errors.Is(err, secrets.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%s: read %q: %w", d.Store.Backend(), t.Location, err)
	}
	id, err := d.GitLab.VerifyRunnerToken(ctx, stored)
	if errors.Is(err, gitlab.ErrTokenRefused) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return id == t.RunnerID, nil
}

// expiryWarnings explain what GitLab's runner token expiry means for a
// token kept in a secrets manager.
func expiryWarnings(expires *time.Time) []string {
	if expires == nil {
		return nil
	}
	return []string{fmt.Sprintf("GitLab's runner token expiration applies: this token expires %s; gitlab-runner resets an expiring token itself and keeps the new one only in its pod, so the stored copy goes stale (see ExpiryAdvice)",
		expires.UTC().Format(time.RFC3339))}
}

// ExpiryAdvice is the choice a user has when runner tokens expire; the CLI
// prints it once when any result carries an expiry warning.
const ExpiryAdvice = `GitLab expires these runners' tokens (a runner token expiration interval is set on the instance, group or project). ` +
	`Before a token expires, gitlab-runner resets it itself and writes the new one only to the config in its pod; the secrets manager keeps the old, dead one, ` +
	`and the next pod restart starts with it and fails. Either turn runner token expiration off (Admin > Settings > CI/CD > Runners, or the group's or project's CI/CD settings), ` +
	`or rotate with runnerctl on a schedule well before the runner would: e.g. a scheduled pipeline running ` +
	"`runnerctl rotate-token --all --if-expires-within 720h` with an interval that is a fraction of the expiration interval."

// prefixed puts the runner's name before a shared step's lines.
type prefixed struct {
	s    Steps
	name string
}

func (p prefixed) Step(msg string) { p.s.Step(fmt.Sprintf("runner %q: %s", p.name, msg)) }

func roundDuration(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Minute)
	}
	return d.Round(time.Second)
}
