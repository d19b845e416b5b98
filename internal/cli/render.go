package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/validate"
)

type renderOptions struct {
	*globals
	check, stdout, force, dryRun, noValidate, pruneAll bool
	outDir                                             string
}

func newRenderCmd(f *factory, g *globals, runF func(context.Context, *renderOptions) error) *cobra.Command {
	o := &renderOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Generate the GitOps files (Applications or Flux objects, ExternalSecrets, Helm values) from runnerctl.yaml",
		Long: `render regenerates every file runnerctl manages from runnerctl.yaml, offline
and byte for byte deterministic: under gitops.engine argocd an Application
per runner (an ApplicationSet for a runner with clusters, with each
cluster's values and manifests), under flux a Flux Kustomization per runner
and the runner's directory (HelmRelease with the values inline, chart
source, Namespace, kustomization.yaml); for both, the ExternalSecrets and
the other manifests. Files of runners removed from the spec are
deleted, wherever they are (files left at old gitops.paths too). A render
that would delete more than half of the generated files, or all of them,
is refused unless --prune-all is given: an emptied runners list is more
often a mistake than a decision. A file that runnerctl did not generate is
never overwritten unless --force is given.

Exit codes: 0 success (with --check: up to date), 1 failure (with --check:
drift, and a unified diff is printed), 2 invalid configuration or usage,
or a prune that needs --prune-all (with --check also a generated path that
cannot be compared safely).`,
		Example: `  runnerctl render
  runnerctl render --check        # in CI: fail when committed files drifted
  runnerctl render --stdout | less
  runnerctl render --out /tmp/preview`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.check && (o.stdout || o.dryRun) {
				return usageError{errors.New("--check cannot be combined with --stdout or --dry-run")}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRender(f, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.check, "check", false, "do not write; exit 1 and print a diff when files are out of date")
	fs.BoolVar(&o.stdout, "stdout", false, "print the generated files instead of writing them")
	fs.StringVar(&o.outDir, "out", "", "write into this directory instead of the repository root")
	fs.BoolVar(&o.force, "force", false, "overwrite files that runnerctl did not generate")
	fs.BoolVar(&o.dryRun, "dry-run", false, "show what would change without writing")
	fs.BoolVar(&o.noValidate, "no-validate", false, "skip the checks of the generated files (runners.config keys, object identity)")
	fs.BoolVar(&o.pruneAll, "prune-all", false, "allow deleting more than half of the generated files, or all of them")
	return cmd
}

// checkGenerated runs the cheap checks over the files render produced from
// cfg and prints the errors. runners.config problems come from runnerctl.yaml
// (runners[].extraConfig, or a runner version that does not fit): invalid
// input, exit 2, which render --check keeps apart from drift (1). Any other
// problem is runnerctl's own bug.
func checkGenerated(f *factory, cfg *config.Config, files []render.File) error {
	rv, err := render.RunnerVersion(cfg)
	if err != nil {
		return err // render.Render reported it already
	}
	ps := validate.Generated(files, valuesPaths(cfg), rv)
	if !validate.HasErrors(ps) {
		return nil
	}
	ours := false
	for _, p := range ps {
		if p.Severity != validate.Error {
			continue
		}
		fmt.Fprintln(f.stderr, p.String())
		ours = ours || p.Field != "runners.config"
	}
	if ours {
		return &exitError{code: ExitFailure, msg: "the generated files are invalid (nothing was written); please report this as a runnerctl bug, or use --no-validate to write them anyway"}
	}
	return &exitError{code: ExitUsage, msg: fmt.Sprintf(
		"runners.config would hold what gitlab-runner %s does not understand (nothing was written): fix runners[].extraConfig, or chart.runnerVersion if the runner is another version",
		rv.Version)}
}

// valuesPaths names the Helm values files among the generated files: one
// per runner, and one per cluster of a runner with clusters.
func valuesPaths(cfg *config.Config) map[string]bool {
	values := map[string]bool{}
	for _, r := range cfg.Instances() {
		values[render.ValuesPath(cfg, r)] = true
	}
	return values
}

type renderReport struct {
	Files    []fileReport `json:"files"`
	Warnings []string     `json:"warnings"`
	Drift    bool         `json:"drift,omitempty"`
	Diff     string       `json:"diff,omitempty"`
}

type fileReport struct {
	Path   string `json:"path"`
	Action string `json:"action"`
}

func runRender(f *factory, o *renderOptions) error {
	g := o.globals
	dest := filepath.Dir(g.configPath) // the repository (load's root)
	if o.outDir != "" {
		dest = o.outDir
	}
	var lock *gitops.Lock
	if !o.check && !o.dryRun && !o.stdout {
		// One writer of a repository at a time, from before runnerctl.yaml
		// is read to the last file written: the files are made from the
		// spec as it is while no other runnerctl changes it (an init that
		// adds a runner writes both), and the plan from a tree no other
		// runnerctl is changing. A second render stops at once, naming the
		// first; --check, --dry-run and --stdout write nothing and take no
		// lock.
		var err error
		if lock, err = gitops.LockRepository(dest, "render", 0); err != nil {
			return err
		}
		defer lock.Unlock()
	}
	l, res, err := loadRendered(g)
	if err != nil {
		return err
	}
	if !o.noValidate {
		// The checks cheap enough for every render; `runnerctl validate`
		// does the rest.
		if err := checkGenerated(f, l.cfg, res.Files); err != nil {
			return err
		}
	}
	for _, w := range res.Warnings {
		if !g.quiet || o.check {
			fmt.Fprintln(f.stderr, colorize(g, "WARNING: ")+w)
		}
	}
	if o.stdout {
		if g.output == "json" {
			return writeJSON(f.stdout, jsonFiles(res.Files))
		}
		return printFiles(f.stdout, res.Files)
	}

	// --check compares regardless of who wrote a file: a hand-edited or
	// foreign file is drift too.
	plan, complete, err := l.plan(res.Files, dest, o.force || o.check)
	if !complete && !g.quiet {
		fmt.Fprintf(f.stderr, "%sthe repository has more than %d entries; generated files outside gitops.paths were not all looked for\n",
			colorize(g, "WARNING: "), gitops.MaxScanEntries)
	}
	if err != nil {
		return fsRefusal(o, err)
	}
	pending := plan.Pending()
	lost, existing := prunes(plan)
	massPrune := 2*lost > existing
	if massPrune && !o.pruneAll && !o.check {
		msg := fmt.Sprintf("this render would delete %d of the %d generated files (%s); check %s, and run again with --prune-all if that is what you want",
			lost, existing, lostRunners(plan), g.configPath)
		if !o.dryRun {
			return &exitError{code: ExitUsage, msg: msg + "; nothing was written"}
		}
		defer fmt.Fprintln(f.stderr, colorize(g, "WARNING: ")+msg)
	}
	rep := renderReport{Warnings: res.Warnings}
	if rep.Warnings == nil {
		rep.Warnings = []string{}
	}
	for _, c := range plan.Changes {
		rep.Files = append(rep.Files, fileReport{Path: c.Path, Action: string(c.Action)})
	}

	switch {
	case o.check:
		rep.Drift = len(pending) > 0
		if rep.Drift {
			rep.Diff = string(plan.Diff())
		}
		if g.output == "json" {
			if err := writeJSON(f.stdout, rep); err != nil {
				return err
			}
		} else if rep.Drift {
			io.WriteString(f.stdout, rep.Diff)
		}
		if rep.Drift {
			return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d generated file(s) out of date with %s; run `runnerctl render` and commit the result", len(pending), g.configPath)}
		}
		if !g.quiet && g.output == "text" {
			fmt.Fprintf(f.stderr, "up to date: %d file(s) match %s\n", len(plan.Changes), g.configPath)
		}
		return nil
	case o.dryRun:
		if g.output == "json" {
			return writeJSON(f.stdout, rep)
		}
		io.WriteString(f.stdout, string(plan.Diff()))
		printSummary(f.stderr, g, plan, "would ")
		return nil
	}
	if err := plan.ApplyLocked(lock); err != nil {
		return err
	}
	if g.output == "json" {
		return writeJSON(f.stdout, rep)
	}
	printSummary(f.stdout, g, plan, "")
	return nil
}

// fsRefusal is a plan that cannot be made: a path that leads outside the
// repository, a file that is not a regular one. With --check it must not
// look like drift (exit 1): it is an error (exit 2).
func fsRefusal(o *renderOptions, err error) error {
	var conflict *gitops.ConflictError
	if o.check && !errors.As(err, &conflict) {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	return err
}

// prunes counts the generated files plan deletes for good, and the
// generated files there are. A file deleted at one path and written at
// another (gitops.paths changed) moves: it is not lost.
func prunes(plan *gitops.Plan) (lost, existing int) {
	written := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Action != gitops.Delete {
			written[path.Base(c.Path)] = true
		}
	}
	for _, c := range plan.Changes {
		if c.Old != nil && gitops.Generated(c.Old) {
			existing++
			if c.Action == gitops.Delete && !written[path.Base(c.Path)] {
				lost++
			}
		}
	}
	return lost, existing
}

// lostRunners names the runners whose files plan deletes for good, from
// the names of the files, at most five of them.
func lostRunners(plan *gitops.Plan) string {
	var names []string
	for _, c := range plan.Changes {
		if c.Action != gitops.Delete {
			continue
		}
		if n, ok := runnerOfFile(c.Old); ok && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	switch {
	case len(names) == 0:
		return "no runner named"
	case len(names) == 1:
		return "runner " + names[0]
	case len(names) > 5:
		return fmt.Sprintf("runners %s and %d more", strings.Join(names[:5], ", "), len(names)-5)
	}
	return "runners " + strings.Join(names, ", ")
}

// runnerOfFile reads the runner's name from a generated file's second
// header line: # Runner "NAME", profile "PROFILE". ...
func runnerOfFile(content []byte) (string, bool) {
	rest, ok := bytes.CutPrefix(content, []byte(render.Header+"# Runner "))
	if !ok {
		return "", false
	}
	line, _, _ := bytes.Cut(rest, []byte(","))
	name, err := strconv.Unquote(string(line))
	return name, err == nil
}

func printSummary(w io.Writer, g *globals, plan *gitops.Plan, prefix string) {
	if g.quiet {
		return
	}
	// One write a line would be 40,000 system calls for 10,000 runners.
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	pending := plan.Pending()
	for _, c := range pending {
		fmt.Fprintf(bw, "%s%s %s\n", prefix, c.Action, c.Path)
	}
	if len(pending) == 0 {
		fmt.Fprintf(bw, "up to date: %d file(s)\n", len(plan.Changes))
	}
}

// jsonFiles is render --stdout -o json: the files with their content as
// text.
func jsonFiles(files []render.File) []renderedFile {
	out := make([]renderedFile, len(files))
	for i, f := range files {
		out[i] = renderedFile{Path: f.Path, Content: string(f.Content)}
	}
	return out
}

type renderedFile struct {
	Path    string `json:"path"`
	Content string `json:"content"`
}

func printFiles(w io.Writer, files []render.File) error {
	// Buffered: two writes a file would be 80,000 system calls for 10,000
	// runners.
	bw := bufio.NewWriterSize(w, 64<<10)
	for i, f := range files {
		if i > 0 {
			bw.WriteString("---\n")
		}
		bw.WriteString("# Source: ")
		bw.WriteString(f.Path)
		bw.WriteByte('\n')
		if _, err := bw.Write(f.Content); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
