// Package bootstrap sequences the side effects of `runnerctl init`: check
// every credential, create the runner, store its token, and only then write
// files. A runner token exists once; after it is created, every path out of
// Run either stores it, deletes the runner again, or leaves the token in a
// 0600 recovery file with instructions.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cenkalti/backoff/v5"

	"github.com/runnerctl/runnerctl/internal/config"
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
	// Recreate allows a new runner when the recorded one no longer exists.
	Recreate bool
}

// Steps reports progress, one line per step (stderr in the CLI).
type Steps interface {
	Step(msg string)
}

// Deps are the side effects, behind interfaces so tests fake them.
type Deps struct {
	GitLab   GitLab
	Store    secrets.Store
	Files    Files
	Recovery Recovery
	Steps    Steps
	// StoreTries bounds the attempts to store a token (default 5).
	StoreTries uint
	// RetryWait is the first wait between store attempts (default 1s).
	RetryWait time.Duration
}

// Outcome says what Run did.
type Outcome struct {
	RunnerID int64
	Created  bool
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

// ensureStored makes sure an existing runner's token is where the rendered
// ExternalSecret will read it. A token kept in a recovery file by an
// earlier run that could not store it is stored now. Otherwise a missing
// token is an error: a renamed runner or a changed layout moves that place,
// GitLab never shows a token again, and writing the files anyway would
// leave the runner's pod without a token at its next start.
func ensureStored(ctx context.Context, d Deps, r *config.Runner, loc secrets.Location) error {
	saved, err := d.Recovery.Find(r.Name)
	if err != nil {
		return err
	}
	var kept *Saved
	for i := range saved {
		if saved[i].RunnerID == r.RunnerID {
			kept = &saved[i]
		}
	}
	stored, err := d.Store.Get(ctx, loc)
	switch {
	case err == nil && kept != nil && stored.Equal(kept.Token):
		d.Steps.Step(fmt.Sprintf("the token is stored; removing the recovery file %s", kept.Path))
		return removeFile(kept.Path)
	case err == nil && kept != nil && kept.Rotation:
		// A rotation reset the token and could not store it: the stored
		// one is dead. Finishing that is rotate-token's job (it stores the
		// kept token without resetting again).
		return fmt.Errorf("runner %q (id %d): a token rotation did not finish: %s holds the old token, which GitLab no longer accepts, and the new one is kept in %s; run `runnerctl rotate-token %s` to store it: %w", r.Name, r.RunnerID, d.Store.Backend(), kept.Path, r.Name, errNoToken)
	case err == nil && kept != nil:
		// Which one is current (a rotation since, or a stale store) is not
		// for runnerctl to guess; the file stays for the user to decide.
		d.Steps.Step(fmt.Sprintf("warning: %s holds a different token for runner %q than the one kept in %s; the stored one is used and the file left in place: delete it once you know the stored token works", d.Store.Backend(), r.Name, kept.Path))
		return nil
	case err == nil:
		return nil
	case !errors.Is(err, secrets.ErrNotFound):
		return fmt.Errorf("secrets backend %s: read %q to confirm runner %q's token is there: %w (nothing was changed)", d.Store.Backend(), loc, r.Name, err)
	case kept == nil:
		return fmt.Errorf("runner %q (id %d) exists, but %s has no token at %q, where its ExternalSecret will read it "+
			"(was the runner renamed, or the secrets layout changed?): copy the token there from its old place, "+
			"or run init with the old name and layout; nothing was changed: %w", r.Name, r.RunnerID, d.Store.Backend(), loc, errNoToken)
	}
	d.Steps.Step(fmt.Sprintf("storing the token kept in %s in %s at %q", kept.Path, d.Store.Backend(), loc))
	if err := storeToken(ctx, d, loc, kept.Token); err != nil {
		return &FailureError{Msg: fmt.Sprintf("could not store the token of runner %q (id %d); it is still in %s: fix %s and run again", r.Name, r.RunnerID, kept.Path, d.Store.Backend()), Err: err}
	}
	if err := removeFile(kept.Path); err != nil {
		d.Steps.Step(fmt.Sprintf("warning: the token is stored but the recovery file %s could not be removed: %v; delete it", kept.Path, err))
	}
	return nil
}

// adoptRecovered continues where an earlier run stopped: a runner that was
// created but whose token is only in a recovery file (its store and its
// rollback failed, or runnerctl was killed) is used instead of creating
// another one.
func adoptRecovered(ctx context.Context, d Deps, req Request) error {
	r := req.Runner
	saved, err := d.Recovery.Find(r.Name)
	if err != nil {
		return err
	}
	for _, s := range saved {
		if s.GitLabURL != req.GitLabURL {
			continue
		}
		_, err := d.GitLab.GetRunner(ctx, s.RunnerID)
		switch {
		case err == nil:
			d.Steps.Step(fmt.Sprintf("runner %q (id %d) was created by an earlier run that could not store its token (%s); using it", r.Name, s.RunnerID, s.Path))
			r.RunnerID = s.RunnerID
			return nil
		case errors.Is(err, gitlab.ErrNotFound):
			d.Steps.Step(fmt.Sprintf("removing %s: its runner (id %d) no longer exists", s.Path, s.RunnerID))
			if err := removeFile(s.Path); err != nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// Run makes sure the runner exists and its token is stored, then writes the
// files. ctx cancellation (Ctrl-C) is honoured before the runner is
// created; after that, the steps that secure the token run to completion.
func Run(ctx context.Context, d Deps, req Request) (Outcome, error) {
	r := req.Runner
	out := Outcome{RunnerID: r.RunnerID}

	d.Steps.Step("checking the GitLab personal access token")
	if err := d.GitLab.CheckToken(ctx); err != nil {
		return out, err
	}
	if r.RunnerID == 0 {
		if err := adoptRecovered(ctx, d, req); err != nil {
			return out, err
		}
		out.RunnerID = r.RunnerID
	}
	if r.RunnerID != 0 {
		info, err := d.GitLab.GetRunner(ctx, r.RunnerID)
		switch {
		case err == nil:
			d.Steps.Step(fmt.Sprintf("runner %q exists in GitLab (id %d); no new runner", r.Name, r.RunnerID))
			out.Updated, err = useExisting(ctx, d, req, info)
			return out, err
		case !errors.Is(err, gitlab.ErrNotFound):
			return out, err
		case !req.Recreate:
			return out, fmt.Errorf("runner %q: runnerctl.yaml records runner id %d, which no longer exists in GitLab; run again with --recreate to create a new one", r.Name, r.RunnerID)
		}
		d.Steps.Step(fmt.Sprintf("runner id %d is gone from GitLab; creating a new runner", r.RunnerID))
	}

	d.Steps.Step(fmt.Sprintf("checking %s access to %q", d.Store.Backend(), req.Location))
	if err := d.Store.Check(ctx, req.Location); err != nil {
		return out, fmt.Errorf("secrets backend %s: %w (nothing was created)", d.Store.Backend(), err)
	}
	reg := r.Registration // defaulted by config.ApplyDefaults
	if reg == nil || reg.RunUntagged == nil {
		return out, fmt.Errorf("runner %q: registration settings missing (configuration not defaulted)", r.Name)
	}
	target, err := d.GitLab.Resolve(ctx, reg.Scope)
	if err != nil {
		return out, err
	}
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("interrupted before creating the runner; nothing was created: %w", err)
	}

	d.Steps.Step(fmt.Sprintf("creating runner %q in GitLab", r.Name))
	// From here on the token must be secured whatever happens: later steps
	// ignore cancellation and run with their own deadline.
	safe, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	created, err := d.GitLab.CreateRunner(safe, specOf(reg, target), gitlab.NewMarker(""))
	if err != nil {
		return out, err
	}
	out.RunnerID, out.Created = created.ID, true
	r.RunnerID = created.ID

	// Write-ahead: the token is on disk (0600, outside the repository)
	// before any attempt to store it.
	recFile, recErr := d.Recovery.Save(req.GitLabURL, r.Name, created.ID, d.Store.Backend(), req.Location, created.Token)
	if recErr != nil {
		d.Steps.Step(fmt.Sprintf("warning: could not write the recovery file: %v", recErr))
	}

	d.Steps.Step(fmt.Sprintf("storing the token in %s at %q", d.Store.Backend(), req.Location))
	if err := storeToken(safe, d, req.Location, created.Token); err != nil {
		return out, rollback(safe, d, r, created.ID, recFile, err)
	}
	if recFile != "" {
		if err := removeFile(recFile); err != nil {
			d.Steps.Step(fmt.Sprintf("warning: the token is stored but the recovery file %s could not be removed: %v; delete it", recFile, err))
		}
	}
	d.Steps.Step("writing runnerctl.yaml and the generated files")
	if err := d.Files.Write(); err != nil {
		return out, &FailureError{
			Msg: fmt.Sprintf("runner %q (id %d) is created and its token stored, but the files could not be written; set runnerID: %d for it in runnerctl.yaml and run `runnerctl render`", r.Name, created.ID, created.ID),
			Err: err,
		}
	}
	return out, nil
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
func useExisting(ctx context.Context, d Deps, req Request, info *gitlab.RunnerInfo) ([]string, error) {
	r := req.Runner
	reg := r.Registration
	if reg == nil || reg.RunUntagged == nil {
		return nil, fmt.Errorf("runner %q: registration settings missing (configuration not defaulted)", r.Name)
	}
	target, err := checkScope(ctx, d, r, info)
	if err != nil {
		return nil, err
	}
	if err := ensureStored(ctx, d, r, req.Location); err != nil {
		return nil, err
	}
	want := specOf(reg, target)
	changed := changedSettings(info, want)
	if len(changed) == 0 {
		return nil, d.Files.Write()
	}
	d.Steps.Step(fmt.Sprintf("updating runner %q (id %d) in GitLab: %s", r.Name, r.RunnerID, strings.Join(changed, ", ")))
	// Keep the create marker a runnerctl-made runner carries: it does no
	// harm, and it says where the runner came from.
	if _, marker := gitlab.SplitMarker(info.MaintenanceNote); marker != "" {
		if note := gitlab.JoinMarker(want.MaintenanceNote, marker); utf8.RuneCountInString(note) <= maxNote {
			want.MaintenanceNote = note
		}
	}
	if err := d.GitLab.UpdateRunner(ctx, r.RunnerID, want); err != nil {
		return nil, updateFailed(r, err)
	}
	if err := d.Files.Write(); err != nil {
		return changed, fmt.Errorf("runner %q (id %d) is updated in GitLab (%s), but the files could not be written; run init again to write them: %w",
			r.Name, r.RunnerID, strings.Join(changed, ", "), err)
	}
	return changed, nil
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
func checkScope(ctx context.Context, d Deps, r *config.Runner, info *gitlab.RunnerInfo) (gitlab.Target, error) {
	sc := r.Registration.Scope
	where := sc.Type
	if sc.Path != "" {
		where = fmt.Sprintf("%s %q", sc.Type, sc.Path)
	}
	refuse := func(is string) error {
		return fmt.Errorf("runner %q (id %d) is %s in GitLab, but runnerctl.yaml (or the flags) ask for scope %s, and GitLab cannot change a runner's scope: "+
			"set the scope back, or delete runner %d in GitLab, remove its runnerID from runnerctl.yaml and run init again to create a new runner; nothing was changed",
			r.Name, r.RunnerID, is, where, r.RunnerID)
	}
	if want := sc.Type + "_type"; info.Type != want {
		is, ok := scopeNames[info.Type]
		if !ok {
			is = fmt.Sprintf("of type %q", info.Type)
		}
		return gitlab.Target{}, refuse(is)
	}
	target, err := d.GitLab.Resolve(ctx, sc)
	if err != nil {
		return target, fmt.Errorf("runner %q: checking its scope %s: %w", r.Name, where, err)
	}
	switch target.Type {
	case "group_type":
		// GitLab lists only the groups the token may read; none is no answer.
		if len(info.GroupIDs) > 0 && !slices.Contains(info.GroupIDs, target.GroupID) {
			return target, refuse("a runner of another group")
		}
	case "project_type":
		ok, err := d.GitLab.HasProjectRunner(ctx, target.ProjectID, info.ID)
		if err != nil {
			return target, fmt.Errorf("runner %q: checking its scope %s: %w", r.Name, where, err)
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
			"run init again (updating is safe to repeat)", r.Name, r.RunnerID, err)
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
			"nothing was changed in GitLab, runnerctl.yaml or the generated files", r.Name, r.RunnerID, strings.Join(parts, "; "))
	}
	return fmt.Errorf("updating runner %q (id %d) in GitLab failed: %w; nothing was changed in GitLab, runnerctl.yaml or the generated files",
		r.Name, r.RunnerID, err)
}

// storeToken writes and reads back, retrying what is worth retrying.
func storeToken(ctx context.Context, d Deps, loc secrets.Location, tok secrets.Token) error {
	return StoreToken(ctx, d.Store, loc, tok, StoreRetry{Tries: d.StoreTries, Wait: d.RetryWait}, d.Steps)
}

// StoreRetry bounds StoreToken's attempts.
type StoreRetry struct {
	// Tries bounds the attempts (default 5).
	Tries uint
	// Wait is the first wait between attempts (default backoff's 500ms).
	Wait time.Duration
}

// StoreToken puts tok at loc and reads it back, retrying transient
// failures (secrets.ErrTransient, and a read-back that does not match yet);
// any other failure is final at once. Each retry is reported on steps.
func StoreToken(ctx context.Context, s secrets.Store, loc secrets.Location, tok secrets.Token, r StoreRetry, steps Steps) error {
	tries := r.Tries
	if tries == 0 {
		tries = 5
	}
	b := backoff.NewExponentialBackOff()
	if r.Wait > 0 {
		b.InitialInterval = r.Wait
	}
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := s.Put(ctx, loc, tok)
		if err == nil {
			err = secrets.VerifyStored(ctx, s, loc, tok)
		}
		if err != nil && !errors.Is(err, secrets.ErrTransient) {
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxTries(tries),
		backoff.WithNotify(func(err error, wait time.Duration) {
			steps.Step(fmt.Sprintf("storing failed (%v); retrying in %s", err, wait.Round(time.Millisecond)))
		}))
	return err
}

// rollback deletes the runner whose token could not be stored. If that
// fails too, the token stays in the recovery file and the error says how to
// finish by hand.
func rollback(ctx context.Context, d Deps, r *config.Runner, id int64, recFile string, storeErr error) error {
	d.Steps.Step(fmt.Sprintf("storing the token failed; deleting runner %d again", id))
	delErr := d.GitLab.DeleteRunner(ctx, id)
	if errors.Is(delErr, gitlab.ErrNotFound) {
		// The client retries a DELETE whose answer was lost; the retry
		// then finds the runner gone, which is what was asked.
		delErr = nil
	}
	if delErr == nil {
		r.RunnerID = 0
		if recFile != "" {
			_ = removeFile(recFile) // the token belongs to a deleted runner
		}
		return &FailureError{Msg: fmt.Sprintf("could not store the token of runner %q, so the runner was deleted again; nothing is left behind, fix the secrets backend and run again", r.Name), Err: storeErr}
	}
	if recFile == "" {
		return &FailureError{
			Msg: fmt.Sprintf("could not store the token of runner %q (id %d), could not delete the runner (%v), and could not write a recovery file: the token is lost; delete runner %d in GitLab and run again", r.Name, id, delErr, id),
			Err: storeErr,
		}
	}
	// Record the runner (never its token) so that no later run creates a
	// second one; the next init stores the kept token.
	msg := fmt.Sprintf("could not store the token of runner %q (id %d) and could not delete the runner (%v). The token is kept in %s (mode 0600). "+
		"runnerctl.yaml records the runner: once %s works, run `runnerctl init` again and it stores the token from that file and deletes the file",
		r.Name, id, delErr, recFile, d.Store.Backend())
	if err := d.Files.Write(); err != nil {
		msg = fmt.Sprintf("could not store the token of runner %q (id %d), could not delete the runner (%v), and could not write runnerctl.yaml (%v). The token is kept in %s (mode 0600): "+
			"set runnerID: %d for the runner in runnerctl.yaml, then run `runnerctl init` again once %s works; it stores the token from that file",
			r.Name, id, delErr, err, recFile, id, d.Store.Backend())
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
