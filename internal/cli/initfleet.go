package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/runnerctl/runnerctl/internal/bootstrap"
	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/prompt"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// splitInstance splits init's --name into the runner's name and, for
// NAME@CLUSTER, the cluster: init then works on that cluster's runner
// only. A cluster is named only for a runner runnerctl.yaml deploys to
// clusters (the clusters are added by --clusters, a question of their
// own, not by a name).
func splitInstance(raw *config.Config, name string) (runner, cluster string, err error) {
	runner, cluster, has := config.SplitInstanceID(name)
	if !has {
		return name, "", nil
	}
	if cluster == "" {
		return "", "", &exitError{code: ExitUsage, msg: fmt.Sprintf("--name %q: give NAME or NAME@CLUSTER, with a cluster after the @", name)}
	}
	if p := unknownCluster(raw, name); p != "" {
		return "", "", &exitError{code: ExitUsage, msg: "--name: " + p + "; nothing was changed"}
	}
	for _, r := range raw.Runners {
		if r.Name == runner {
			return runner, cluster, nil
		}
	}
	return "", "", &exitError{code: ExitUsage, msg: fmt.Sprintf("--name %q: runnerctl.yaml has no runner %q; to create a runner in clusters, give --name %s --clusters %s (see docs/fleets.md); nothing was changed", name, runner, runner, cluster)}
}

// fleetInit is init of a runner deployed to clusters: the plan and the
// checks are done (runInit), the runner is runners[idx] of cfg (parsed)
// and raw (as written, for Update), and cluster, when set, limits the run
// to that cluster's runner.
type fleetInit struct {
	f               *factory
	o               *initOptions
	raw, cfg        *config.Config
	idx             int
	cluster         string
	plan            *gitops.Plan
	newYAML, exists []byte
	asker           prompt.Asker
	// written is runnerctl.yaml as this run last wrote it (exists before).
	written []byte
}

// instanceDone is one cluster's runner that init made sure of.
type instanceDone struct {
	ID       string   `json:"id"`
	Cluster  string   `json:"cluster"`
	RunnerID int64    `json:"runnerID"`
	Created  bool     `json:"created"`
	Adopted  bool     `json:"adopted"`
	Updated  []string `json:"updated"`
	Token    string   `json:"tokenLocation"`
}

// run creates or updates one GitLab runner per cluster, one after the
// other, each through bootstrap.Run with its own token location,
// identity, lock and state files (named by its ID NAME@CLUSTER).
//
// Each cluster's runner is recorded in runnerctl.yaml
// (runners[i].clusters[j].runnerID) as soon as its token is stored,
// before the next one starts: a runner whose token is stored must be
// recorded before its recovery file goes, and the next one may fail. The
// rendered files are written once, after the last, and only when every
// cluster of the runner has its runner: the ApplicationSet deploys to
// every cluster, and a cluster without a stored token would get a runner
// pod that cannot start. So when one fails, init stops there: the ones
// before stay created, stored and recorded, the ones after are not
// started, the rendered files are not written, and running init again
// finds the recorded ones (no new runner) and goes on.
func (fi *fleetInit) run(ctx context.Context) error {
	f, o, cfg := fi.f, fi.o, fi.cfg
	g := o.globals
	def := &cfg.Runners[fi.idx]
	var todo []*config.Runner
	for _, r := range cfg.Instances() {
		if r.Index == fi.idx && (fi.cluster == "" || r.Cluster == fi.cluster) {
			todo = append(todo, r)
		}
	}
	type prepared struct {
		loc      secrets.Location
		identity string
	}
	prep := make([]prepared, len(todo))
	for i, r := range todo {
		ref, err := cfg.TokenRef(r)
		if err != nil {
			return err
		}
		prep[i].loc = secrets.Location(ref)
		if prep[i].identity, err = runnerIdentity(cfg, prep[i].loc); err != nil {
			return err
		}
	}
	state, err := openState(f, o.recoveryDir, filepath.Dir(g.configPath), o.dryRun)
	if err != nil {
		return err
	}
	if o.dryRun {
		if fi.asker != nil {
			_ = fi.asker.Close()
		}
		return fi.printPlan(todo, func(i int) secrets.Location { return prep[i].loc })
	}
	pat, err := f.gitlabToken(ctx, o.gitlab, fi.asker)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Go ahead with runner %q in %d cluster(s)?", def.Name, len(todo))
	if err := confirmChanges(ctx, fi.asker, o.yes, def.Name, title, func() string {
		return fi.summary(todo, func(i int) secrets.Location { return prep[i].loc })
	}); err != nil {
		return err
	}
	lock := &repoLock{path: g.configPath, command: "init", existing: fi.exists}
	defer lock.release()
	ctx, gl, store, steps, closeAll, err := openInit(ctx, f, o, cfg, pat)
	if err != nil {
		return err
	}
	defer closeAll()

	var done []instanceDone
	for i, r := range todo {
		steps.Step(fmt.Sprintf("cluster %q (%d of %d): runner %q", r.Cluster, i+1, len(todo), r.ID()))
		out, err := bootstrap.Run(ctx, bootstrap.Deps{
			GitLab: gl, Store: store, Steps: steps, State: state, Checkpoint: f.checkpoint, Begin: lock.take,
			// Only runnerctl.yaml: the rendered files wait for the last
			// cluster (see run).
			Files:     bootstrap.Writer(func() error { return fi.record(r) }),
			FilesStep: fmt.Sprintf("recording runner %q in %s", r.ID(), filepath.Base(g.configPath)),
		}, bootstrap.Request{GitLabURL: cfg.GitLab.URL, Runner: r, Location: prep[i].loc, Identity: prep[i].identity, Recreate: o.recreate})
		if err != nil {
			return fi.stopped(r, done, todo[i+1:], err)
		}
		// The definition's copy, for what follows (the commit message).
		def.Clusters[r.ClusterIndex].RunnerID = r.RunnerID
		done = append(done, instanceDone{ID: r.ID(), Cluster: r.Cluster, RunnerID: out.RunnerID, Created: out.Created, Adopted: out.Adopted,
			Updated: nonNil(out.Updated), Token: prep[i].loc.String()})
	}

	var missing []string
	for _, rc := range def.Clusters {
		if rc.RunnerID == 0 {
			missing = append(missing, config.InstanceID(def.Name, rc.Name))
		}
	}
	written := len(missing) == 0
	if written {
		steps.Step("writing the generated files")
		err := lock.take() // held since the first cluster's Begin
		if err == nil {
			err = fi.plan.ApplyLocked(lock.held)
		}
		if err != nil {
			return failure{fmt.Errorf("runner %q: every cluster's runner is created, its token stored and recorded in %s, but the generated files could not be written: %w; fix that and run `runnerctl render`",
				def.Name, g.configPath, err)}
		}
		f.checkpoint.Hit(custody.CheckpointFiles)
	}
	steps.Close()
	lock.release() // before the commit and push, as for one runner
	if err := fi.report(done, written, missing); err != nil {
		return err
	}
	if !written || !o.commits() {
		return nil
	}
	created := false
	for _, d := range done {
		created = created || d.Created
	}
	return commitInit(ctx, f, o, gl, cfg, def, filepath.Dir(g.configPath), fi.plan, created)
}

// record writes runnerctl.yaml with instance r's runner ID at its place,
// runners[i].clusters[j].runnerID; what other clusters recorded before
// stays, as does the text of the runners that did not change.
func (fi *fleetInit) record(r *config.Runner) error {
	g := fi.o.globals
	fi.raw.Runners[r.Index].Clusters[r.ClusterIndex].RunnerID = r.RunnerID
	final, err := config.Update(fi.exists, fi.raw)
	if err != nil {
		return err
	}
	if fi.written == nil {
		fi.written = fi.exists
	}
	if err := writeConfig(g.configPath, fi.written, final); err != nil {
		return err
	}
	fi.written = final
	fi.f.checkpoint.Hit(custody.CheckpointConfig)
	return nil
}

// stopped says where a fleet init stopped: the cluster that failed, those
// done before (recorded), and those not started.
func (fi *fleetInit) stopped(r *config.Runner, done []instanceDone, rest []*config.Runner, err error) error {
	var ids, left []string
	for _, d := range done {
		ids = append(ids, fmt.Sprintf("%s (id %d)", d.ID, d.RunnerID))
	}
	for _, n := range rest {
		left = append(left, n.ID())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "runner %q failed", r.ID())
	if len(ids) > 0 {
		fmt.Fprintf(&b, "; done before it, tokens stored and recorded in %s: %s", fi.o.configPath, strings.Join(ids, ", "))
	}
	if len(left) > 0 {
		fmt.Fprintf(&b, "; not started: %s", strings.Join(left, ", "))
	}
	fmt.Fprintf(&b, "; the generated files were not written: fix what is named and run init again, which goes on from there")
	var ee *exitError
	if errors.As(err, &ee) {
		return &exitError{code: ee.code, msg: b.String() + ": " + ee.msg}
	}
	return fmt.Errorf("%s: %w", b.String(), err)
}

// report says what init did with each cluster's runner, and whether the
// files were written or which clusters still lack a runner.
func (fi *fleetInit) report(done []instanceDone, written bool, missing []string) error {
	f, g := fi.f, fi.o.globals
	def := &fi.cfg.Runners[fi.idx]
	if g.output == "json" {
		return writeJSON(f.stdout, map[string]any{"runner": def.Name, "clusters": done, "filesWritten": written, "notCreated": nonNil(missing)})
	}
	if g.quiet {
		return nil
	}
	for _, d := range done {
		what := "exists"
		switch {
		case d.Created:
			what = "created, token stored"
		case d.Adopted:
			what = "taken over (another runnerctl init made it), token stored"
		case len(d.Updated) > 0:
			what = "updated in GitLab (" + strings.Join(d.Updated, ", ") + ")"
		}
		fmt.Fprintf(f.stdout, "runner %q (id %d): %s\n", d.ID, d.RunnerID, what)
	}
	if !written {
		fmt.Fprintf(f.stdout, "%s records them; the generated files are written once every cluster has its runner: still to create: %s (runnerctl init --name %s).\n",
			g.configPath, strings.Join(missing, ", "), def.Name)
		return nil
	}
	fmt.Fprintln(f.stdout, "files written. Review with `git diff`, then commit.")
	return nil
}

// summary says what init will do, for the confirmation.
func (fi *fleetInit) summary(todo []*config.Runner, loc func(int) secrets.Location) string {
	var b strings.Builder
	def := &fi.cfg.Runners[fi.idx]
	fmt.Fprintf(&b, "runnerctl init will make sure of runner %q in GitLab %s, one runner per cluster:\n", def.Name, fi.cfg.GitLab.URL)
	for i, r := range todo {
		action := "create"
		if r.RunnerID != 0 {
			action = fmt.Sprintf("use runner %d", r.RunnerID)
		}
		fmt.Fprintf(&b, "  %-24s %s; token in %s at %q\n", r.ID(), action, fi.cfg.Secrets.Backend, loc(i).String())
	}
	return b.String()
}

// printPlan is --dry-run's output: each cluster's runner, its token
// location, and the files.
func (fi *fleetInit) printPlan(todo []*config.Runner, loc func(int) secrets.Location) error {
	f, g, cfg := fi.f, fi.o.globals, fi.cfg
	type planned struct {
		ID            string `json:"id"`
		GitLab        string `json:"gitlab"`
		TokenLocation string `json:"tokenLocation"`
	}
	var ps []planned
	for i, r := range todo {
		ps = append(ps, planned{ID: r.ID(), GitLab: planAction(cfg, r), TokenLocation: loc(i).String()})
	}
	changed := string(fi.newYAML) != string(fi.exists)
	if g.output == "json" {
		return writeJSON(f.stdout, map[string]any{"dryRun": true, "clusters": ps, "backend": cfg.Secrets.Backend, "configChanged": changed, "files": fileReports(fi.plan)})
	}
	fmt.Fprintf(f.stdout, "dry run: nothing is changed.\n\n")
	for _, p := range ps {
		fmt.Fprintf(f.stdout, "would %s\n  and store its token in %s at %q\n", p.GitLab, cfg.Secrets.Backend, p.TokenLocation)
	}
	if changed {
		fmt.Fprintf(f.stdout, "would write %s\n", g.configPath)
	}
	for _, c := range fi.plan.Pending() {
		fmt.Fprintf(f.stdout, "would %s %s (once every cluster has its runner)\n", c.Action, c.Path)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
