// Package bootstrap sequences the side effects of `runnerctl init`: check
// every credential, create the runner, store its token, and only then write
// files. A runner token exists once; after it is created, every path out of
// Run either stores it, deletes the runner again, or leaves the token in a
// 0600 recovery file with instructions, and what a killed run left behind
// (package custody) is resolved before anything new is created.
package bootstrap

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// GitLab is what Run needs of GitLab.
type GitLab interface {
	CheckToken(ctx context.Context) error
	Resolve(ctx context.Context, s config.Scope) (gitlab.Target, error)
	CreateRunner(ctx context.Context, spec gitlab.RunnerSpec, marker string) (*gitlab.Created, error)
	GetRunner(ctx context.Context, id int64) (*gitlab.RunnerInfo, error)
	UpdateRunner(ctx context.Context, id int64, spec gitlab.RunnerSpec) error
	HasProjectRunner(ctx context.Context, projectID, id int64) (bool, error)
	DeleteRunner(ctx context.Context, id int64) error
	ResetToken(ctx context.Context, id int64) (*gitlab.Created, error)
	FindByMarker(ctx context.Context, t gitlab.Target, description, marker string) (int64, error)
	FindByIdentity(ctx context.Context, t gitlab.Target, description, identity string) ([]gitlab.Found, error)
	VerifyRunnerToken(ctx context.Context, tok secrets.Token) (int64, error)
}

// Files writes runnerctl.yaml and the rendered files; it runs last.
type Files interface {
	Write() error
}

// Request is one runner to make sure of.
type Request struct {
	GitLabURL string
	Runner    *config.Runner // RunnerID 0: create one
	Location  secrets.Location
	// Identity names the runner by where its token lives (custody.Identity):
	// the lock of this machine, and the marker other machines see.
	Identity string
	// Recreate allows a new runner when the recorded one no longer exists.
	Recreate bool
}

// Steps reports progress, one line per step (stderr in the CLI).
type Steps interface {
	Step(msg string)
}

// Deps are the side effects, behind interfaces so tests fake them.
type Deps struct {
	GitLab GitLab
	Store  secrets.Store
	Files  Files
	// State is the state directory: intents, kept tokens, locks.
	State *custody.Dir
	Steps Steps
	// StoreTries bounds the attempts to store a token (default 5).
	StoreTries uint
	// RetryWait is the first wait between store attempts (default 1s).
	RetryWait time.Duration
	// Checkpoint marks each step of the token (tests kill the process
	// there); nil in runnerctl.
	Checkpoint custody.Checkpoint
	// FilesStep is the progress line of Files.Write, when it writes less
	// than runnerctl.yaml and the generated files (a runner with
	// clusters records each cluster's runner on its own first).
	FilesStep string
	// Begin, when set, runs once the runner's lock is held and before
	// anything is asked of GitLab or changed: the caller takes there what
	// it needs for Files (the CLI: the repository lock, with
	// runnerctl.yaml still as it was read). After the runner's lock, so
	// that a second run for the same runner stops at once on that lock,
	// naming the first, rather than wait for the repository.
	Begin func() error
}

func (d Deps) custodian() custody.Custodian {
	return custody.Custodian{Dir: d.State, GitLab: d.GitLab, Store: d.Store, Steps: d.Steps,
		Retry: custody.StoreRetry{Tries: d.StoreTries, Wait: d.RetryWait}, Checkpoint: d.Checkpoint}
}

// Outcome says what Run did.
type Outcome struct {
	RunnerID int64
	Created  bool
	// Adopted: the runner was made by an earlier run that did not finish
	// (or by another machine's finished run), and this run took it over.
	Adopted bool
	// Updated names the settings of an existing runner that were changed
	// in GitLab, by their runnerctl.yaml names (registration.tags is
	// "tags"), in a fixed order; empty when none was.
	Updated      []string
	RecoveryFile string // set when a token was left for the user to store
}

// FailureError is a failure after which the user must act; its message
// says exactly what to do.
type FailureError struct {
	Msg string
	Err error
}

func (e *FailureError) Error() string { return e.Msg + ": " + e.Err.Error() }
func (e *FailureError) Unwrap() error { return e.Err }

// errNoToken: nothing is stored where the runner's ExternalSecret reads.
var errNoToken = errors.New("no token stored")

// ErrConcurrent: another run (another machine) creates, or has created, the
// same runner; this run changed nothing (or undid what it made).
var ErrConcurrent = errors.New("another runnerctl init made this runner")

// run is one Run: its dependencies, request and what it has learnt.
type run struct {
	Deps
	req  Request
	cust custody.Custodian
	// recorded: runnerctl.yaml named the runner's ID when the run began.
	recorded bool
	// kept is a recovery file that holds the runner's stored token; it
	// goes once the files record the runner.
	kept string
	out  Outcome
}

func (x *run) step(format string, args ...any) { x.Steps.Step(fmt.Sprintf(format, args...)) }

// Run makes sure the runner exists and its token is stored, then writes the
// files. It holds the runner's lock throughout, and resolves first what an
// earlier run left in the state directory. ctx cancellation (Ctrl-C) is
// honoured before the runner is created; after that, the steps that secure
// the token run to completion.
func Run(ctx context.Context, d Deps, req Request) (Outcome, error) {
	r := req.Runner
	x := &run{Deps: d, req: req, cust: d.custodian(), recorded: r.RunnerID != 0, out: Outcome{RunnerID: r.RunnerID}}
	unlock, err := d.State.Lock(r.ID(), req.Identity, "init")
	if err != nil {
		return x.out, err
	}
	defer unlock()
	if d.Begin != nil {
		if err := d.Begin(); err != nil {
			return x.out, err
		}
	}

	x.step("checking the GitLab personal access token")
	if err := d.GitLab.CheckToken(ctx); err != nil {
		return x.out, err
	}
	if err := x.resolveIntents(ctx); err != nil {
		return x.out, err
	}
	if r.RunnerID == 0 {
		if err := x.adoptKept(ctx); err != nil {
			return x.out, err
		}
	}
	x.out.RunnerID = r.RunnerID
	if r.RunnerID != 0 {
		info, err := d.GitLab.GetRunner(ctx, r.RunnerID)
		switch {
		case err == nil:
			if x.recorded {
				x.step("runner %q exists in GitLab (id %d); no new runner", r.ID(), r.RunnerID)
			}
			x.out.Updated, err = x.useExisting(ctx, info)
			return x.out, err
		case !errors.Is(err, gitlab.ErrNotFound):
			return x.out, err
		case !req.Recreate:
			return x.out, fmt.Errorf("runner %q: runnerctl.yaml records runner id %d, which no longer exists in GitLab; run again with --recreate to create a new one", r.ID(), r.RunnerID)
		}
		x.step("runner id %d is gone from GitLab; creating a new runner", r.RunnerID)
	}
	return x.out, x.create(ctx)
}

// resolveIntents finishes or undoes each create an earlier run of this
// machine began and never saw the end of (killed while GitLab's answer was
// in flight, say): GitLab is asked for the runner by the intent's marker.
// None: nothing was created. One, while runnerctl.yaml records another
// runner that exists: a duplicate, deleted. Otherwise it is this runner:
// adopted, with a new token (its first was never seen).
func (x *run) resolveIntents(ctx context.Context) error {
	r := x.req.Runner
	intents, err := x.State.Intents(r.ID())
	if err != nil {
		return err
	}
	for _, in := range intents {
		if in.Kind != custody.IntentCreate || in.GitLabURL != x.req.GitLabURL {
			continue
		}
		x.step("an earlier init (%s) did not finish creating runner %q; looking for it in GitLab by its marker %s", in.Describe(), r.ID(), in.Marker)
		id, err := x.GitLab.FindByMarker(ctx, in.Target, in.Description, in.Marker)
		if err != nil {
			return fmt.Errorf("runner %q: looking for the runner an earlier init may have created (intent %s): %w; nothing was created: run again", r.ID(), in.Path, err)
		}
		kept, err := x.State.Kept(r.ID())
		if err != nil {
			return err
		}
		switch {
		case id == 0:
			x.step("GitLab has no runner with that marker: it was never created")
		case slices.ContainsFunc(kept, func(k custody.Kept) bool { return k.For(x.req.GitLabURL, id) }):
			// Its token was kept: the recovery file finishes it.
		case r.RunnerID != 0 && r.RunnerID != id && x.exists(ctx, r.RunnerID):
			x.step("runner %d, made by that init, duplicates runner %d, which runnerctl.yaml records; deleting it", id, r.RunnerID)
			if err := x.GitLab.DeleteRunner(ctx, id); err != nil && !errors.Is(err, gitlab.ErrNotFound) {
				return fmt.Errorf("runner %q: deleting runner %d, a duplicate left by an earlier init: %w; delete it in GitLab, or run again", r.ID(), id, err)
			}
		default:
			if err := x.adopt(ctx, id, in.Marker, "made by that init"); err != nil {
				return err
			}
		}
		if err := x.State.End(in); err != nil {
			return err
		}
	}
	return nil
}

// exists reports whether runner id exists; an error counts as existing,
// so that nothing is deleted on a guess.
func (x *run) exists(ctx context.Context, id int64) bool {
	_, err := x.GitLab.GetRunner(ctx, id)
	return !errors.Is(err, gitlab.ErrNotFound)
}

// adopt takes over runner id, whose token nobody knows (its create's
// answer was lost, or the token kept for it is no longer valid): reset the
// token, keep it, store it. Nobody else can be using that token: the
// runner was never recorded in a runnerctl.yaml.
func (x *run) adopt(ctx context.Context, id int64, marker, why string) error {
	r := x.req.Runner
	x.step("adopting runner %d (%s): resetting its token, which nobody has", id, why)
	safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	created, err := x.GitLab.ResetToken(safe, id)
	if err != nil {
		return fmt.Errorf("runner %q: adopting runner %d: %w; run init again to finish", r.ID(), id, err)
	}
	x.Checkpoint.Hit(custody.CheckpointAnswered)
	path, kerr := x.State.Keep(x.keptOf(id, marker, created.Token, false), x.instruction(id))
	if kerr != nil {
		x.step("warning: could not keep the new token in a recovery file (%v); storing it at once", kerr)
	} else {
		x.Checkpoint.Hit(custody.CheckpointKept)
	}
	if err := x.cust.StoreToken(safe, x.req.Location, created.Token); err != nil {
		if kerr != nil {
			return fmt.Errorf("runner %q: adopted runner %d, but %s could not store its new token (%w) and no recovery file could be written (%v): run init again, which resets it once more", r.ID(), id, x.Store.Backend(), err, kerr)
		}
		return &FailureError{Msg: fmt.Sprintf("runner %q: adopted runner %d, but could not store its new token; it is kept in %s (0600): fix %s and run init again", r.ID(), id, path, x.Store.Backend()), Err: err}
	}
	r.RunnerID, x.out.Adopted, x.kept = id, true, path
	return nil
}

func (x *run) keptOf(id int64, marker string, tok secrets.Token, rotation bool) custody.Kept {
	return custody.Kept{GitLabURL: x.req.GitLabURL, Runner: x.req.Runner.ID(), RunnerID: id, Backend: x.Store.Backend(),
		Location: x.req.Location, Marker: marker, Token: tok, Rotation: rotation}
}

// instruction is what a recovery file of init tells its reader.
func (x *run) instruction(id int64) string {
	r := x.req.Runner
	return fmt.Sprintf("once %s works, run `runnerctl init` again in the repository: it finds this file, checks with GitLab that the token is still current, stores it at %q for runner %q (id %d) and deletes the file. "+
		"Or store the token there by hand, set runnerID: %d at %s in runnerctl.yaml, run `runnerctl render`, and delete this file.",
		x.Store.Backend(), x.req.Location.String(), r.ID(), id, id, r.Path())
}

// adoptKept continues where an earlier run stopped after GitLab answered:
// a runner whose token is only in a recovery file (its store and its
// rollback failed, or runnerctl was killed) is used instead of creating
// another one.
func (x *run) adoptKept(ctx context.Context) error {
	r := x.req.Runner
	kept, err := x.State.Kept(r.ID())
	if err != nil {
		return err
	}
	for _, k := range kept {
		if k.GitLabURL != x.req.GitLabURL || k.Rotation {
			continue
		}
		_, err := x.GitLab.GetRunner(ctx, k.RunnerID)
		switch {
		case err == nil:
			x.step("runner %q (id %d) was created by an earlier run that did not store its token (%s); using it", r.ID(), k.RunnerID, k.Path)
			r.RunnerID, x.out.Adopted = k.RunnerID, true
			return nil
		case errors.Is(err, gitlab.ErrNotFound):
			x.step("removing %s: its runner (id %d) no longer exists", k.Path, k.RunnerID)
			if err := x.State.Remove(k.Path); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// ensureStored makes sure an existing runner's token is where the rendered
// ExternalSecret will read it. A token kept in a recovery file by an
// earlier run is stored now, once GitLab confirms it is still the runner's
// (custody.Custodian.Settle); a stale one is discarded. Otherwise a missing
// token is an error: a renamed runner or a changed layout moves that place,
// GitLab never shows a token again, and writing the files anyway would
// leave the runner's pod without a token at its next start. A runner that
// no runnerctl.yaml ever recorded gets a new token instead (adopt).
func (x *run) ensureStored(ctx context.Context) error {
	r, loc := x.req.Runner, x.req.Location
	// Files under the runner's bare name too: those of a runnerctl from
	// before clusters, or of the runner before it had clusters; only one
	// for this runner ID is picked below.
	all, err := x.State.Kept(r.ID(), r.Name)
	if err != nil {
		return err
	}
	var kept *custody.Kept
	for i := range all {
		if all[i].For(x.req.GitLabURL, r.RunnerID) {
			kept = &all[i]
		}
	}
	if kept != nil && kept.Rotation {
		stored, err := x.Store.Get(ctx, loc)
		switch {
		case err == nil && stored.Equal(kept.Token):
			x.kept = kept.Path
			return nil
		case err != nil && !errors.Is(err, secrets.ErrNotFound):
			return fmt.Errorf("secrets backend %s: read %q to confirm runner %q's token is there: %w (nothing was changed)", x.Store.Backend(), loc, r.ID(), err)
		}
		id, verr := x.GitLab.VerifyRunnerToken(ctx, kept.Token)
		switch {
		case verr == nil && id == r.RunnerID:
			// A rotation reset the token and could not store it: the stored
			// one is dead. Finishing that is rotate-token's job (it stores
			// the kept token and restarts the runner).
			return fmt.Errorf("runner %q (id %d): a token rotation did not finish: %s does not hold the runner's current token, which is kept in %s; run `runnerctl rotate-token %s` to store it: %w",
				r.ID(), r.RunnerID, x.Store.Backend(), kept.Path, r.ID(), errNoToken)
		case verr == nil || errors.Is(verr, gitlab.ErrTokenRefused):
			x.step("discarded %s: GitLab no longer accepts the token a rotation kept there (another rotation has replaced it)", kept.Path)
			if err := x.State.Remove(kept.Path); err != nil {
				return err
			}
			kept = nil
		default:
			return fmt.Errorf("runner %q (id %d): %w before deciding about the token kept in %s: %w; nothing was changed: run again", r.ID(), r.RunnerID, custody.ErrUnsettled, kept.Path, verr)
		}
	}
	if kept != nil {
		settled, err := x.cust.Settle(ctx, *kept, loc)
		switch {
		case err != nil:
			return &FailureError{Msg: fmt.Sprintf("could not store the token of runner %q (id %d); it is still in %s: fix what is named and run again", r.ID(), r.RunnerID, kept.Path), Err: err}
		case settled != custody.Discarded:
			x.kept = kept.Path
			return nil
		}
		x.step("discarded %s: GitLab no longer accepts the token kept there for runner %q (id %d): another run has reset it since, it expired, or the runner is gone; nothing was stored from it",
			kept.Path, r.ID(), r.RunnerID)
		if !x.recorded {
			return x.adopt(ctx, r.RunnerID, kept.Marker, "its kept token is no longer valid")
		}
	}
	_, err = x.Store.Get(ctx, loc)
	switch {
	case err == nil:
		return nil
	case !errors.Is(err, secrets.ErrNotFound):
		return fmt.Errorf("secrets backend %s: read %q to confirm runner %q's token is there: %w (nothing was changed)", x.Store.Backend(), loc, r.ID(), err)
	case !x.recorded:
		return x.adopt(ctx, r.RunnerID, "", "no valid token of it is kept")
	}
	return fmt.Errorf("runner %q (id %d) exists, but %s has no token at %q, where its ExternalSecret will read it "+
		"(was the runner renamed, or the secrets layout changed?): copy the token there from its old place, "+
		"run init with the old name and layout, or give the runner a new token with `runnerctl rotate-token %s`; nothing was changed: %w", r.ID(), r.RunnerID, x.Store.Backend(), loc, r.ID(), errNoToken)
}

// writeFiles writes runnerctl.yaml and the generated files, then removes
// the recovery file of the stored token: only now does runnerctl.yaml
// record the runner, so until now the file is what tells a later run that
// the runner is this one.
func (x *run) writeFiles() error {
	if err := x.Files.Write(); err != nil {
		return err
	}
	x.Checkpoint.Hit(custody.CheckpointFiles)
	if x.kept != "" {
		if err := x.State.Remove(x.kept); err != nil {
			x.step("warning: the token is stored but the recovery file %s could not be removed: %v; delete it", x.kept, err)
		}
		x.Checkpoint.Hit(custody.CheckpointDone)
	}
	return nil
}

// create makes a new runner: check the backend, make sure no other run
// makes the same one, record the intent, create, keep the token, check for
// a race with another machine, store it, and write the files.
func (x *run) create(ctx context.Context) error {
	r := x.req.Runner
	x.step("checking %s access to %q", x.Store.Backend(), x.req.Location)
	if err := x.Store.Check(ctx, x.req.Location); err != nil {
		return fmt.Errorf("secrets backend %s: %w (nothing was created)", x.Store.Backend(), err)
	}
	reg := r.Registration // defaulted by config.ApplyDefaults
	if reg == nil || reg.RunUntagged == nil {
		return fmt.Errorf("runner %q: registration settings missing (configuration not defaulted)", r.ID())
	}
	target, err := x.GitLab.Resolve(ctx, reg.Scope)
	if err != nil {
		return err
	}
	spec := specOf(reg, target)
	if done, err := x.otherCreator(ctx, spec); done || err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted before creating the runner; nothing was created: %w", err)
	}

	marker := gitlab.NewMarker(x.req.Identity)
	in, err := x.State.Begin(custody.Intent{Kind: custody.IntentCreate, GitLabURL: x.req.GitLabURL, Runner: r.ID(),
		Marker: marker, Target: target, Description: spec.Description, Command: "runnerctl init"})
	if err != nil {
		return fmt.Errorf("runner %q: %w (nothing was created)", r.ID(), err)
	}
	x.Checkpoint.Hit(custody.CheckpointIntent)
	x.step("creating runner %q in GitLab", r.ID())
	// From here on the token must be secured whatever happens: later steps
	// ignore cancellation and run with their own deadline.
	safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	created, err := x.GitLab.CreateRunner(safe, spec, marker)
	if err != nil {
		if errors.Is(err, gitlab.ErrUncertain) {
			return fmt.Errorf("%w; the next `runnerctl init` looks for the runner by its marker and finishes or undoes this (intent kept in %s)", err, in.Path)
		}
		if eerr := x.State.End(in); eerr != nil {
			x.step("warning: %v", eerr)
		}
		return err
	}
	x.Checkpoint.Hit(custody.CheckpointAnswered)
	x.out.RunnerID, x.out.Created = created.ID, true
	r.RunnerID = created.ID

	// Write-ahead: the token is on disk (0600, outside the repository)
	// before any attempt to store it. The intent goes once it is.
	recFile, recErr := x.State.Keep(x.keptOf(created.ID, marker, created.Token, false), x.instruction(created.ID))
	if recErr != nil {
		x.step("warning: could not write the recovery file: %v", recErr)
	} else {
		if err := x.State.End(in); err != nil {
			x.step("warning: %v", err)
		}
		x.Checkpoint.Hit(custody.CheckpointKept)
	}
	if lost, err := x.lostRace(safe, spec, created.ID, recFile); lost || err != nil {
		return err
	}

	x.step("storing the token in %s at %q", x.Store.Backend(), x.req.Location)
	if err := x.cust.StoreToken(safe, x.req.Location, created.Token); err != nil {
		return x.rollback(safe, created.ID, recFile, in, err)
	}
	x.kept = recFile
	if recErr != nil {
		_ = x.State.End(in) // the token is stored: nothing left to resolve
	}
	x.step("%s", cmp.Or(x.FilesStep, "writing runnerctl.yaml and the generated files"))
	if err := x.writeFiles(); err != nil {
		msg := fmt.Sprintf("runner %q (id %d) is created and its token stored, but the files could not be written; fix that and run `runnerctl init` again: it records the runner and writes them", r.ID(), created.ID)
		if recFile == "" {
			msg = fmt.Sprintf("runner %q (id %d) is created and its token stored, but the files could not be written; set runnerID: %d at %s in runnerctl.yaml and run `runnerctl render`", r.ID(), created.ID, created.ID, r.Path())
		}
		return &FailureError{Msg: msg, Err: err}
	}
	return nil
}

// otherCreator looks in GitLab for a runner that another runnerctl made
// for the same token location (the identity in its marker) and that
// runnerctl.yaml does not record: another machine's init, running or done.
// Done, with the token it stored at this location still valid: it is
// adopted (done = true, the files are written). Otherwise this run stops,
// naming the other, and creates nothing.
func (x *run) otherCreator(ctx context.Context, spec gitlab.RunnerSpec) (done bool, err error) {
	r := x.req.Runner
	found, err := x.GitLab.FindByIdentity(ctx, spec.Target, spec.Description, x.req.Identity)
	if err != nil {
		return false, fmt.Errorf("runner %q: looking for a runner another runnerctl made for %q: %w (nothing was created)", r.ID(), x.req.Location, err)
	}
	if len(found) == 0 {
		return false, nil
	}
	other := found[0]
	if stored, err := x.Store.Get(ctx, x.req.Location); err == nil {
		if id, err := x.GitLab.VerifyRunnerToken(ctx, stored); err == nil && id == other.ID {
			x.step("runner %d was created for runner %q by another runnerctl init, which stored its token at %q; using it", other.ID, r.ID(), x.req.Location)
			info, err := x.GitLab.GetRunner(ctx, other.ID)
			if err != nil {
				return true, err
			}
			r.RunnerID, x.out.RunnerID, x.out.Adopted = other.ID, other.ID, true
			x.out.Updated, err = x.useExisting(ctx, info)
			return true, err
		}
	}
	return true, fmt.Errorf("runner %q: %s, and runnerctl.yaml does not record it; its token is not stored at %q yet. "+
		"If that init is still running, let it finish and take its runnerctl.yaml; if it was stopped, run init again where it ran "+
		"(its state directory resolves it), or delete runner %d in GitLab. Nothing was created: %w",
		r.ID(), describeOther(other), x.req.Location, other.ID, ErrConcurrent)
}

func describeOther(f gitlab.Found) string {
	at := ""
	if f.CreatedAt != nil {
		at = ", created " + f.CreatedAt.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("another runnerctl init created runner %d for the same token location (marker %s%s)", f.ID, f.Marker, at)
}

// lostRace checks, right after creating runner id, whether another
// machine created the same runner at the same moment (both saw none
// before): the lowest ID wins, the others delete theirs again before
// storing anything, so GitLab keeps one runner and the secrets manager
// one token. A failed check is reported and ignored: the check before the
// create passed, and the window is a few milliseconds.
func (x *run) lostRace(ctx context.Context, spec gitlab.RunnerSpec, id int64, recFile string) (bool, error) {
	r := x.req.Runner
	found, err := x.GitLab.FindByIdentity(ctx, spec.Target, spec.Description, x.req.Identity)
	if err != nil {
		x.step("warning: could not check for a runner another machine created at the same time: %v", err)
		return false, nil
	}
	i := slices.IndexFunc(found, func(f gitlab.Found) bool { return f.ID != id })
	if i < 0 || found[i].ID > id {
		return false, nil
	}
	other := found[i]
	x.step("%s at the same time; this run deletes its runner %d again", describeOther(other), id)
	delErr := x.GitLab.DeleteRunner(ctx, id)
	if delErr != nil && !errors.Is(delErr, gitlab.ErrNotFound) {
		return true, &FailureError{
			Msg: fmt.Sprintf("runner %q: %s at the same time, and deleting this run's runner %d failed: delete runner %d in GitLab; its token is kept in %s until then", r.ID(), describeOther(other), id, id, recFile),
			Err: fmt.Errorf("%w: %w", ErrConcurrent, delErr),
		}
	}
	r.RunnerID, x.out.RunnerID, x.out.Created = 0, 0, false
	if recFile != "" {
		_ = x.State.Remove(recFile)
	}
	return true, fmt.Errorf("runner %q: %s; this run deleted its own runner %d again and changed nothing else: take runnerctl.yaml from that run (or set runnerID: %d for runner %q) and run init again: %w",
		r.ID(), describeOther(other), id, other.ID, r.ID(), ErrConcurrent)
}

// specOf is what GitLab should keep for the runner: the registration
// settings (defaulted by config.ApplyDefaults), in target.
func specOf(reg *config.Registration, target gitlab.Target) gitlab.RunnerSpec {
	return gitlab.RunnerSpec{
		Target:          target,
		Description:     reg.Description,
		Tags:            reg.Tags,
		RunUntagged:     *reg.RunUntagged,
		Locked:          reg.Locked,
		AccessLevel:     reg.AccessLevel,
		MaximumTimeout:  reg.MaximumTimeout,
		Paused:          reg.Paused,
		MaintenanceNote: reg.MaintenanceNote,
	}
}

// useExisting finishes a run whose runner exists: its scope must be the
// configured one, its token must be stored, and its settings in GitLab are
// brought to what runnerctl.yaml says before the files are written. It
// returns the settings it changed.
func (x *run) useExisting(ctx context.Context, info *gitlab.RunnerInfo) ([]string, error) {
	r := x.req.Runner
	reg := r.Registration
	if reg == nil || reg.RunUntagged == nil {
		return nil, fmt.Errorf("runner %q: registration settings missing (configuration not defaulted)", r.ID())
	}
	target, err := checkScope(ctx, x.GitLab, r, info)
	if err != nil {
		return nil, err
	}
	if err := x.ensureStored(ctx); err != nil {
		return nil, err
	}
	want := specOf(reg, target)
	changed := changedSettings(info, want)
	if len(changed) == 0 {
		if err := x.writeFiles(); err != nil {
			return nil, x.filesFailed(err)
		}
		return nil, nil
	}
	x.step("updating runner %q (id %d) in GitLab: %s", r.ID(), r.RunnerID, strings.Join(changed, ", "))
	// Keep the create marker a runnerctl-made runner carries: it does no
	// harm, it says where the runner came from, and another machine's init
	// finds the runner by it.
	if _, marker := gitlab.SplitMarker(info.MaintenanceNote); marker != "" {
		if note := gitlab.JoinMarker(want.MaintenanceNote, marker); utf8.RuneCountInString(note) <= maxNote {
			want.MaintenanceNote = note
		}
	}
	if err := x.GitLab.UpdateRunner(ctx, r.RunnerID, want); err != nil {
		return nil, updateFailed(r, err)
	}
	if err := x.writeFiles(); err != nil {
		return changed, fmt.Errorf("runner %q (id %d) is updated in GitLab (%s), but the files could not be written; run init again to write them: %w",
			r.ID(), r.RunnerID, strings.Join(changed, ", "), err)
	}
	return changed, nil
}

// filesFailed says what a failed write of the files left: the token is
// stored; a recovery file still names the runner until a run records it.
func (x *run) filesFailed(err error) error {
	r := x.req.Runner
	if x.kept == "" {
		return err
	}
	return &FailureError{Msg: fmt.Sprintf("runner %q (id %d) has its token stored, but the files could not be written; fix that and run `runnerctl init` again: it records the runner and writes them", r.ID(), r.RunnerID), Err: err}
}

// maxNote is the longest maintenance note GitLab accepts.
const maxNote = 1024

var scopeNames = map[string]string{
	"instance_type": "an instance runner",
	"group_type":    "a group runner",
	"project_type":  "a project runner",
}

// checkScope refuses a runner whose scope is not the configured one: GitLab
// cannot move a runner to another scope (PUT /runners/:id has no such
// setting), and writing runnerctl.yaml with the new scope would record
// something that is not so. It returns the runner's target.
func checkScope(ctx context.Context, gl GitLab, r *config.Runner, info *gitlab.RunnerInfo) (gitlab.Target, error) {
	sc := r.Registration.Scope
	where := sc.Type
	if sc.Path != "" {
		where = fmt.Sprintf("%s %q", sc.Type, sc.Path)
	}
	refuse := func(is string) error {
		return fmt.Errorf("runner %q (id %d) is %s in GitLab, but runnerctl.yaml (or the flags) ask for scope %s, and GitLab cannot change a runner's scope: "+
			"set the scope back, or delete runner %d in GitLab, remove its runnerID from runnerctl.yaml and run init again to create a new runner; nothing was changed",
			r.ID(), r.RunnerID, is, where, r.RunnerID)
	}
	if want := sc.Type + "_type"; info.Type != want {
		is, ok := scopeNames[info.Type]
		if !ok {
			is = fmt.Sprintf("of type %q", info.Type)
		}
		return gitlab.Target{}, refuse(is)
	}
	target, err := gl.Resolve(ctx, sc)
	if err != nil {
		return target, fmt.Errorf("runner %q: checking its scope %s: %w", r.ID(), where, err)
	}
	switch target.Type {
	case "group_type":
		// GitLab lists only the groups the token may read; none is no answer.
		if len(info.GroupIDs) > 0 && !slices.Contains(info.GroupIDs, target.GroupID) {
			return target, refuse("a runner of another group")
		}
	case "project_type":
		ok, err := gl.HasProjectRunner(ctx, target.ProjectID, info.ID)
		if err != nil {
			return target, fmt.Errorf("runner %q: checking its scope %s: %w", r.ID(), where, err)
		}
		if !ok {
			return target, refuse("not a runner of that project")
		}
	}
	return target, nil
}

// changedSettings names the settings where the runner differs from want,
// by their runnerctl.yaml names. Tags are a set. The maintenance note is
// compared without the create marker (see gitlab.JoinMarker), and not at
// all when GitLab hides it (the token may not update the runner: any
// difference elsewhere then ends in GitLab's 403). Locked is a project
// runner's setting only, as at creation.
func changedSettings(info *gitlab.RunnerInfo, want gitlab.RunnerSpec) []string {
	var changed []string
	note, _ := gitlab.SplitMarker(info.MaintenanceNote)
	for _, c := range []struct {
		name string
		diff bool
	}{
		{"description", info.Description != want.Description},
		{"tags", !sameSet(info.TagList, want.Tags)},
		{"runUntagged", info.RunUntagged != want.RunUntagged},
		{"locked", want.Target.Type == "project_type" && info.Locked != want.Locked},
		{"accessLevel", want.AccessLevel != "" && info.AccessLevel != want.AccessLevel},
		{"maximumTimeout", info.MaximumTimeout != want.MaximumTimeout},
		{"paused", info.Paused != want.Paused},
		{"maintenanceNote", !info.NoteHidden && strings.TrimSpace(note) != strings.TrimSpace(want.MaintenanceNote)},
	} {
		if c.diff {
			changed = append(changed, c.name)
		}
	}
	return changed
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// gitlabFields maps GitLab's attribute names to runnerctl.yaml's.
var gitlabFields = map[string]string{
	"description":      "description",
	"tags_list":        "tags",
	"tag_list":         "tags",
	"run_untagged":     "runUntagged",
	"locked":           "locked",
	"access_level":     "accessLevel",
	"maximum_timeout":  "maximumTimeout",
	"active":           "paused",
	"paused":           "paused",
	"maintenance_note": "maintenanceNote",
}

// updateFailed says what a failed update left behind: nothing written,
// and, unless GitLab's answer was lost, nothing changed in GitLab.
func updateFailed(r *config.Runner, err error) error {
	if errors.Is(err, gitlab.ErrUncertain) {
		return fmt.Errorf("updating runner %q (id %d) in GitLab failed: %w; runnerctl.yaml and the generated files were not changed: "+
			"run init again (updating is safe to repeat)", r.ID(), r.RunnerID, err)
	}
	var ve *gitlab.ValidationError
	if errors.As(err, &ve) {
		parts := make([]string, len(ve.Fields))
		for i, f := range ve.Fields {
			name := f.Field
			if n, ok := gitlabFields[f.Field]; ok {
				name = fmt.Sprintf("registration.%s (GitLab's %s)", n, f.Field)
			}
			parts[i] = name + ": " + strings.Join(f.Messages, ", ")
		}
		return fmt.Errorf("GitLab refused the settings of runner %q (id %d): %s; fix them in runnerctl.yaml or the flags and run init again; "+
			"nothing was changed in GitLab, runnerctl.yaml or the generated files", r.ID(), r.RunnerID, strings.Join(parts, "; "))
	}
	return fmt.Errorf("updating runner %q (id %d) in GitLab failed: %w; nothing was changed in GitLab, runnerctl.yaml or the generated files",
		r.ID(), r.RunnerID, err)
}

// rollback deletes the runner whose token could not be stored. If that
// fails too, the token stays in the recovery file, runnerctl.yaml records
// the runner, and the error says how to finish.
func (x *run) rollback(ctx context.Context, id int64, recFile string, in custody.Intent, storeErr error) error {
	r := x.req.Runner
	x.Checkpoint.Hit(custody.CheckpointRollback)
	x.step("storing the token failed; deleting runner %d again", id)
	delErr := x.GitLab.DeleteRunner(ctx, id)
	if errors.Is(delErr, gitlab.ErrNotFound) {
		// The client retries a DELETE whose answer was lost; the retry
		// then finds the runner gone, which is what was asked.
		delErr = nil
	}
	if delErr == nil {
		r.RunnerID, x.out.RunnerID, x.out.Created = 0, 0, false
		if recFile != "" {
			_ = x.State.Remove(recFile) // the token belongs to a deleted runner
		}
		_ = x.State.End(in)
		return &FailureError{Msg: fmt.Sprintf("could not store the token of runner %q, so the runner was deleted again; nothing is left behind, fix the secrets backend and run again", r.ID()), Err: storeErr}
	}
	if recFile == "" {
		return &FailureError{
			Msg: fmt.Sprintf("could not store the token of runner %q (id %d), could not delete the runner (%v), and could not write a recovery file: the token is lost; delete runner %d in GitLab and run again", r.ID(), id, delErr, id),
			Err: storeErr,
		}
	}
	x.out.RecoveryFile = recFile
	// Record the runner (never its token) so that no later run creates a
	// second one; the next init stores the kept token.
	msg := fmt.Sprintf("could not store the token of runner %q (id %d) and could not delete the runner (%v). The token is kept in %s (mode 0600). "+
		"runnerctl.yaml records the runner: once %s works, run `runnerctl init` again and it stores the token from that file and deletes the file",
		r.ID(), id, delErr, recFile, x.Store.Backend())
	if err := x.Files.Write(); err != nil {
		msg = fmt.Sprintf("could not store the token of runner %q (id %d), could not delete the runner (%v), and could not write runnerctl.yaml (%v). The token is kept in %s (mode 0600): "+
			"run `runnerctl init` again once %s works; it finds that file, stores the token and records the runner",
			r.ID(), id, delErr, err, recFile, x.Store.Backend())
	}
	return &FailureError{Msg: msg, Err: storeErr}
}

// Writer adapts a function to Files.
type Writer func() error

// Write calls w.
func (w Writer) Write() error { return w() }

// LineSteps prints each step on its own line.
type LineSteps struct{ W io.Writer }

// Step prints msg.
func (s LineSteps) Step(msg string) {
	if s.W != nil {
		fmt.Fprintln(s.W, "• "+msg)
	}
}
