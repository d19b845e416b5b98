package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/runnerctl/runnerctl/internal/bootstrap"
	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/prompt"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// runInit is init's orchestration: read runnerctl.yaml, ask, check the
// whole result, then create the runner, store its token and write the
// files (package bootstrap), and commit when asked.
func runInit(ctx context.Context, f *factory, o *initOptions) error {
	g, qs := o.globals, o.qs
	root := filepath.Dir(g.configPath)
	existing, err := readConfigFile(g.configPath)
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	raw, err := config.Decode(existing)
	if err != nil {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("%s: %v; fix it or start from a new file", g.configPath, err)}
	}
	if raw.APIVersion == "" {
		raw.APIVersion, raw.Kind = config.APIVersion, config.Kind
	}
	pdir := config.DefaultProfilesDir
	if raw.ProfilesDir != "" {
		pdir = raw.ProfilesDir
	}
	profiles, err := profile.Load(filepath.Join(root, filepath.FromSlash(pdir)))
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}

	// Which runner: --name, else the only one in the file. NAME@CLUSTER
	// names one cluster's runner of a runner with clusters; the questions
	// see the runner's name.
	name, cluster, err := splitInstance(raw, o.answers.value("name"))
	if err != nil {
		return err
	}
	if cluster != "" {
		*o.answers.values["name"] = name
	}
	if name == "" && len(raw.Runners) == 1 {
		name = raw.Runners[0].Name
	}
	idx := slices.IndexFunc(raw.Runners, func(r config.Runner) bool { return r.Name == name && name != "" })
	if idx < 0 {
		raw.Runners = append(raw.Runners, config.Runner{Name: name})
		idx = len(raw.Runners) - 1
	}
	clustersBefore := len(raw.Clusters)
	st := &initState{raw: raw, runner: &raw.Runners[idx], idx: idx, profiles: profiles,
		existing: existing, configPath: g.configPath, getenv: f.getenv}
	originDefault(ctx, st, qs, o.answers, root, o.remote)

	interactive := !o.nonInteractive && (o.accessible || isTerminal(f.stdin))
	var asker prompt.Asker
	if interactive {
		h := prompt.New(f.stdin, f.stderr, o.accessible)
		// In a terminal, one program owns the screen from the first
		// question to the confirmation; whatever runnerctl prints in
		// between goes through it (say), and it ends before anything else
		// is printed or changed.
		defer h.Close()
		asker = h
	}
	say := func(msg string) {
		if asker != nil {
			asker.Say(msg)
			return
		}
		fmt.Fprintln(f.stderr, msg)
	}
	if err := ask(ctx, st, qs, o.answers, asker); err != nil {
		return err
	}
	if st.origin != "" && asker == nil && raw.GitOps.RepoURL == st.origin {
		logf(f, g, "gitops.repoURL: %s (git remote %s)", st.origin, st.originRemote)
	}

	// Validate the whole result, with profiles, before touching anything.
	newYAML, err := st.candidate()
	if err != nil {
		return err
	}
	var checkErrs []config.FieldError
	cfg, err := config.Parse(g.configPath, newYAML, func(c *config.Config) []config.FieldError {
		checkErrs = render.Check(c, profiles)
		return checkErrs
	})
	var inv *config.InvalidError
	if errors.As(err, &inv) {
		// A value given as a flag or RUNNERCTL_* is named as such, not by
		// a line of a file it never was in.
		sources := answerSources(qs, o.answers, f.getenv, idx)
		// So are the entries of clusters[] that --clusters added.
		if src, ok := sources[questionFields["clusters"](idx)[0]]; ok {
			for k := clustersBefore; k < len(raw.Clusters); k++ {
				sources[fmt.Sprintf("clusters[%d]", k)] = src
			}
		}
		inv.Attribute(sources)
	}
	if err != nil {
		return err
	}
	res, err := render.Render(cfg, profiles)
	if err != nil {
		return err
	}
	// render's own check, before a runner is created that files the runner
	// cannot read would leave behind.
	if err := checkGenerated(f, cfg, res.Files); err != nil {
		return err
	}
	p := cfg.GitOps.Paths
	plan, err := gitops.NewPlan(root, res.Files, []string{p.Applications, p.Manifests, p.Values}, false)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		say(colorize(g, "WARNING: ") + w)
	}
	if o.gitlab.caFile != "" && cfg.GitLab.TLS == nil {
		// --ca-file is for runnerctl's own connection; the deployed runner
		// would fail TLS against the same GitLab.
		say(colorize(g, "WARNING: ") + "--ca-file makes runnerctl trust GitLab, but the runner pods need the CA too: " +
			"commit it and set gitlab.tls.caFile in runnerctl.yaml (or gitlab.tls.secretName), then run `runnerctl render`")
	}

	if len(cfg.Runners[idx].Clusters) > 0 {
		fi := &fleetInit{f: f, o: o, raw: raw, cfg: cfg, idx: idx, cluster: cluster, plan: plan, newYAML: newYAML, exists: existing, asker: asker}
		return fi.run(ctx)
	}
	runner := &cfg.Runners[idx]
	loc, err := cfg.TokenRef(runner)
	if err != nil {
		return err
	}

	// Where a token may rest is checked before anything else, dry run
	// included: a run that creates a runner must have its write-ahead copy.
	state, err := openState(f, o.recoveryDir, root, o.dryRun)
	if err != nil {
		return err
	}
	identity, err := runnerIdentity(cfg, secrets.Location(loc))
	if err != nil {
		return err
	}

	if o.dryRun {
		if asker != nil {
			_ = asker.Close()
		}
		return printInitPlan(f, g, cfg, runner, loc, plan, newYAML, existing)
	}

	pat, err := f.gitlabToken(ctx, o.gitlab, asker)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("Create runner %q?", runner.Name)
	if runner.RunnerID != 0 {
		title = fmt.Sprintf("Go ahead with runner %q?", runner.Name)
	}
	if err := confirmChanges(ctx, asker, o.yes, runner.Name, title, func() string {
		return initSummary(f, cfg, runner, loc, plan, g.configPath, string(newYAML) != string(existing))
	}); err != nil {
		return err
	}
	lock := &repoLock{path: g.configPath, command: "init", existing: existing}
	defer lock.release()
	ctx, gl, store, steps, closeAll, err := openInit(ctx, f, o, cfg, pat)
	if err != nil {
		return err
	}
	defer closeAll()
	out, err := bootstrap.Run(ctx, bootstrap.Deps{
		GitLab: gl, Store: store, Steps: steps, State: state, Checkpoint: f.checkpoint, Begin: lock.take,
		Files: bootstrap.Writer(func() error {
			// The runner ID is known now: record it, then write.
			raw.Runners[idx].RunnerID = runner.RunnerID
			final, err := config.Update(existing, raw)
			if err != nil {
				return err
			}
			if err := writeConfig(g.configPath, existing, final); err != nil {
				return err
			}
			f.checkpoint.Hit(custody.CheckpointConfig)
			return plan.ApplyLocked(lock.held)
		}),
	}, bootstrap.Request{GitLabURL: cfg.GitLab.URL, Runner: runner, Location: secrets.Location(loc), Identity: identity, Recreate: o.recreate})
	if err != nil {
		return err
	}
	// Written: a commit and a push, which may wait on the network, do
	// not keep other runnerctl processes out of the repository.
	lock.release()
	if err := reportInit(f, g, runner, out, plan, existing, raw); err != nil {
		return err
	}
	if !o.commits() {
		return nil
	}
	return commitInit(ctx, f, o, gl, cfg, runner, root, plan, out.Created)
}

// openInit opens what init changes things through, once everything is
// checked and confirmed: GitLab with the token pat, the secrets store, the
// progress lines, and a context that SIGINT and SIGTERM cancel (bootstrap
// then rolls back or keeps the token). closeAll releases them.
func openInit(ctx context.Context, f *factory, o *initOptions, cfg *config.Config, pat secrets.Token) (_ context.Context, _ *gitlab.Client, _ store, _ stepper, closeAll func(), err error) {
	gl, err := f.gitlabClient(cfg.GitLab.URL, o.gitlab, pat)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	st, err := f.store(ctx, cfg, f.stderr)
	if err != nil {
		return nil, nil, nil, nil, nil, err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	steps := progress(f, o.globals)
	return ctx, gl, st, steps, func() { steps.Close(); stop(); st.Close() }, nil
}

func printInitPlan(f *factory, g *globals, cfg *config.Config, r *config.Runner, loc config.RemoteRef, plan *gitops.Plan, newYAML, existing []byte) error {
	w := f.stdout
	action := planAction(cfg, r)
	if g.output == "json" {
		return writeJSON(w, map[string]any{"dryRun": true, "gitlab": action, "tokenLocation": secrets.Location(loc).String(),
			"backend": cfg.Secrets.Backend, "configChanged": string(newYAML) != string(existing), "files": fileReports(plan)})
	}
	fmt.Fprintf(w, "dry run: nothing is changed.\n\nwould %s\nwould store its token in %s at %q\n", action, cfg.Secrets.Backend, secrets.Location(loc).String())
	if string(newYAML) != string(existing) {
		fmt.Fprintf(w, "would write %s\n", g.configPath)
	}
	for _, c := range plan.Pending() {
		fmt.Fprintf(w, "would %s %s\n", c.Action, c.Path)
	}
	return nil
}

// planAction says what init --dry-run would do in GitLab for runner r (a
// cluster's instance of a runner, too).
func planAction(cfg *config.Config, r *config.Runner) string {
	if r.RunnerID != 0 {
		return fmt.Sprintf("use runner %q (id %d) if it still exists in GitLab, and update its settings there where they differ", r.ID(), r.RunnerID)
	}
	return fmt.Sprintf("create runner %q in GitLab %s", r.ID(), cfg.GitLab.URL)
}

// fileReports lists the files of plan for JSON output ([] for none).
func fileReports(plan *gitops.Plan) []fileReport {
	files := []fileReport{}
	for _, c := range plan.Changes {
		files = append(files, fileReport{Path: c.Path, Action: string(c.Action)})
	}
	return files
}

// initChanged reports whether init wrote anything: a generated file, or
// runnerctl.yaml.
func initChanged(plan *gitops.Plan, existing []byte, raw *config.Config) bool {
	final, _ := config.Update(existing, raw)
	return len(plan.Pending()) > 0 || string(final) != string(existing)
}

func reportInit(f *factory, g *globals, r *config.Runner, out bootstrap.Outcome, plan *gitops.Plan, existing []byte, raw *config.Config) error {
	changed := initChanged(plan, existing, raw)
	if g.output == "json" {
		updated := out.Updated
		if updated == nil {
			updated = []string{}
		}
		return writeJSON(f.stdout, map[string]any{"runner": r.Name, "runnerID": out.RunnerID, "created": out.Created,
			"adopted": out.Adopted, "updated": updated, "changed": changed})
	}
	if g.quiet {
		return nil
	}
	switch {
	case out.Created:
		fmt.Fprintf(f.stdout, "runner %q created (id %d), token stored; files written. Review with `git diff`, then commit.\n", r.Name, out.RunnerID)
	case out.Adopted:
		fmt.Fprintf(f.stdout, "runner %q (id %d) taken over (another runnerctl init made it), token stored; files written. Review with `git diff`, then commit.\n", r.Name, out.RunnerID)
	case len(out.Updated) > 0 && changed:
		fmt.Fprintf(f.stdout, "runner %q (id %d) updated in GitLab (%s); files written. Review with `git diff`, then commit.\n",
			r.Name, out.RunnerID, strings.Join(out.Updated, ", "))
	case len(out.Updated) > 0:
		fmt.Fprintf(f.stdout, "runner %q (id %d) updated in GitLab (%s) to match runnerctl.yaml; no file changed.\n",
			r.Name, out.RunnerID, strings.Join(out.Updated, ", "))
	case changed:
		fmt.Fprintf(f.stdout, "runner %q (id %d) exists; files updated.\n", r.Name, out.RunnerID)
	default:
		fmt.Fprintf(f.stdout, "up to date: runner %q (id %d) exists and no file changed.\n", r.Name, out.RunnerID)
	}
	return nil
}

func logf(f *factory, g *globals, format string, args ...any) {
	if !g.quiet && g.output != "json" {
		fmt.Fprintf(f.stderr, format+"\n", args...)
	}
}
