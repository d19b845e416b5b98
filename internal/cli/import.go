package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/adopt"
	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/repofile"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

type importOptions struct {
	*globals
	paths           []string
	name            string
	dryRun, replace bool
	runnerID        int64
	findRunner      bool
	scopePath       string
	gitlab          gitlabFlags
}

func newImportCmd(f *factory, g *globals, runF func(context.Context, *importOptions) error) *cobra.Command {
	o := &importOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "import [PATH...]",
		Short: "Adopt a runner set up by hand: write its runnerctl.yaml entry and report what render would change",
		Long: `import reads a runner's hand-written files (an ArgoCD Application of the
gitlab-runner chart, multi-source or single-source with helm.values,
helm.valuesObject or value files; an ExternalSecret, v1 or v1beta1, or a
plain Secret; the chart's values with runners.config) and writes the
runnerctl.yaml entry that renders to the same objects: a new runnerctl.yaml,
or the runner added to the existing one, whose settings then win.

It renders that entry and compares the result with the files, field by
field, and prints a report: identical, equivalent (runnerctl's form of the
same thing, with why), differs (render would change it: yours to decide),
unsupported (runnerctl.yaml has no place for it) and leak (a token written
in a file: remove it and rotate the token; import never takes, prints or
resets it). It also names the hardening profile closest to the files.

PATH is a file or directory (default: the repository, the directory of
--config); files runnerctl generated are skipped. --dry-run prints the
runnerctl.yaml and the report and changes nothing. Without it, import
writes runnerctl.yaml; the hand-written files stay until --replace, which
renders and lets the generated files replace them (render alone refuses to
overwrite files it did not generate, and would add a second Application
next to yours).

The chart's registration values (runners.name, tags, runUntagged, locked,
protected), which it ignores with a glrt- token, become the runner's
registration, which init sets in GitLab. --runner-id records the runner's
GitLab ID and reads its live settings, which then win; --find-runner finds
that ID by the description or tags the files give, and lists the runners
when none or several match (a token with read_api for both).

Exit codes: 0 done, 1 failure, 2 bad input (a file that does not parse,
several runners at once, no runner name; --find-runner finding none or
several): nothing is changed.`,
		Example: `  runnerctl import --dry-run
  runnerctl import --name homelab argocd-apps/gitlab-runner.yaml manifests/
  runnerctl import --replace
  GITLAB_TOKEN=... runnerctl import --dry-run --find-runner
  runnerctl import --dry-run -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.paths = args
			if o.dryRun && o.replace {
				return usageError{errors.New("--dry-run and --replace contradict each other: --dry-run changes nothing")}
			}
			if o.runnerID < 0 || (o.scopePath != "" && o.runnerID == 0 && !o.findRunner) {
				return usageError{errors.New("--runner-id must be a GitLab runner ID, which --scope-path needs (or --find-runner)")}
			}
			if o.findRunner && o.runnerID != 0 {
				return usageError{errors.New("--find-runner and --runner-id contradict each other: --find-runner looks for the ID that --runner-id gives")}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runImport(cmd.Context(), f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.name, "name", "", "runner name, when the Application is not named gitlab-runner-NAME")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print the runnerctl.yaml and the report; change nothing")
	fl.BoolVar(&o.replace, "replace", false, "also render, replacing the hand-written files with the generated ones")
	fl.Int64Var(&o.runnerID, "runner-id", 0, "GitLab ID of the runner: record it and read its settings (needs a token with read_api)")
	fl.BoolVar(&o.findRunner, "find-runner", false, "find the runner's GitLab ID by the description (runners.name) or tags the files give it, then as --runner-id (needs a token with read_api)")
	fl.StringVar(&o.scopePath, "scope-path", "", "with --runner-id or --find-runner: full path of a project runner's project (GitLab does not say it with the runner), or of a group runner's group to check")
	addGitLabFlags(fl, &o.gitlab)
	return cmd
}

// importReport is import's JSON output; its names are a contract.
type importReport struct {
	Runner  string       `json:"runner"`
	Profile string       `json:"profile"`
	Config  string       `json:"config"`
	Written bool         `json:"written"`
	Lines   []adopt.Line `json:"report"`
	// ProfileFile and ProfileData are the proposed profile, when no
	// existing one reproduces the files' hardening.
	ProfileFile string `json:"profileFile,omitempty"`
	ProfileData string `json:"profileData,omitempty"`
}

// maxImportFile bounds each input file: a runner's objects are a few KiB,
// and anything much larger is not one of them.
const maxImportFile = 1 << 20

func runImport(ctx context.Context, f *factory, o *importOptions) error {
	g := o.globals
	root := filepath.Dir(g.configPath)
	existing, base, err := readExisting(g.configPath)
	if err != nil {
		return err
	}
	if base != nil && base.GitOps.Engine == config.EngineFlux {
		// import reads what ArgoCD deploys (an Application, its values
		// and ExternalSecret) and proves the render reproduces it; a Flux
		// render is other objects, so that proof cannot be made.
		return usageError{fmt.Errorf("%s: gitops.engine is flux, and import adopts runners deployed by ArgoCD only: import into a runnerctl.yaml for ArgoCD (another file, with --config), then set gitops.engine: flux there and run `runnerctl render`", g.configPath)}
	}
	profilesDir := config.DefaultProfilesDir
	if base != nil && base.ProfilesDir != "" {
		profilesDir = base.ProfilesDir
	}
	profiles, err := profile.LoadIn(root, filepath.ToSlash(profilesDir))
	if err != nil {
		return usageError{fmt.Errorf("profiles in %q: %w", profilesDir, err)}
	}
	files, err := importFiles(root, g.configPath, filepath.Join(root, profilesDir), o.paths)
	if err != nil {
		return err
	}
	opts := adopt.Options{Name: o.name, Base: base, Profiles: profiles}
	res, err := adopt.Import(files, opts)
	if err == nil && (o.runnerID != 0 || o.findRunner) {
		// The GitLab URL, and the description and tags to look for, are
		// known only now; import again with what GitLab keeps for the
		// runner, so that it is validated like the rest.
		url := res.Config.GitLab.URL
		gl, gerr := importClient(ctx, f, o, url)
		if gerr != nil {
			return gerr
		}
		id := o.runnerID
		if o.findRunner {
			found, ferr := findRunner(ctx, gl, url, res)
			if ferr != nil {
				return ferr
			}
			id = found.ID
			if !g.quiet {
				fmt.Fprintf(f.stderr, "--find-runner: GitLab runner %d (description %s, tags %s)\n", id, safetext.Quote(found.Description), showTags(found.TagList))
			}
		}
		if opts.Registration, gerr = readRegistration(ctx, gl, o, id, url); gerr != nil {
			return gerr
		}
		opts.RunnerID = id
		res, err = adopt.Import(files, opts)
	}
	if err != nil {
		// An InputError, or files that import cannot turn into a valid
		// runnerctl.yaml entry: both are the user's to fix, before anything
		// is written.
		return &exitError{code: ExitUsage, msg: err.Error() + "; nothing was changed"}
	}
	content, err := config.Update(existing, res.Config)
	if err != nil {
		return fmt.Errorf("runner %q: %w", res.Runner, err)
	}
	profileRel := ""
	if pf := res.ProfileFile; pf != nil {
		profileRel = filepath.ToSlash(filepath.Join(profilesDir, pf.Name+".yaml"))
	}
	if !o.dryRun {
		// One writer of the repository at a time, on the runnerctl.yaml
		// import read (see lockForChanges).
		lock, err := lockForChanges(g.configPath, "import", existing)
		if err != nil {
			return err
		}
		defer lock.Unlock()
		// The profile first: runnerctl.yaml names it, and a runnerctl.yaml
		// naming a profile that is not there yet would not load.
		if pf := res.ProfileFile; pf != nil {
			if err := gitops.WriteFile(root, profileRel, pf.Data); err != nil {
				return fmt.Errorf("write profile %q: %w", pf.Name, err)
			}
		}
		if err := writeConfig(g.configPath, existing, content); err != nil {
			return fmt.Errorf("write %s: %w", g.configPath, err)
		}
		if o.replace {
			if err := replaceFiles(f, g, root, res, lock); err != nil {
				return err
			}
		}
	}
	if g.output == "json" {
		rep := importReport{Runner: res.Runner, Profile: res.Profile, Config: string(content), Written: !o.dryRun, Lines: res.Report.Lines}
		if pf := res.ProfileFile; pf != nil {
			rep.ProfileFile, rep.ProfileData = profileRel, string(pf.Data)
		}
		return writeJSON(f.stdout, rep)
	}
	w := f.stdout
	if o.dryRun {
		fmt.Fprintf(w, "# %s (not written: --dry-run)\n%s\n", g.configPath, content)
		if pf := res.ProfileFile; pf != nil {
			fmt.Fprintf(w, "# %s (not written: --dry-run)\n%s\n", profileRel, pf.Data)
		}
	}
	if !g.quiet || o.dryRun {
		fmt.Fprint(w, res.Report.Text())
	}
	switch {
	case o.dryRun:
	case o.replace:
		fmt.Fprintf(f.stderr, "runner %q imported into %s; the generated files replace the hand-written ones: review git diff, then commit\n", res.Runner, g.configPath)
	default:
		fmt.Fprintf(f.stderr, "runner %q imported into %s; the hand-written files are unchanged: run runnerctl import --replace to replace them with the generated ones (runnerctl render alone would add a second Application next to them)\n", res.Runner, g.configPath)
	}
	return nil
}

// readExisting reads runnerctl.yaml as written, when there is one.
func readExisting(path string) ([]byte, *config.Config, error) {
	data, err := repofile.ReadFile(path, maxImportFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("read %s: %w", path, err)}
	}
	cfg, err := config.Decode(data)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("%s: %w; fix it before importing into it", path, err)}
	}
	return data, cfg, nil
}

// importFiles reads the YAML files of paths (the repository when none is
// given), skipping runnerctl.yaml, files runnerctl generated, .git and the
// profiles directory (profiles are not a runner's objects). Paths in the
// report are relative to the repository when inside it.
func importFiles(root, configPath, profilesDir string, paths []string) ([]adopt.File, error) {
	if len(paths) == 0 {
		paths = []string{root}
	}
	var out []adopt.File
	seen := map[string]bool{}
	add := func(p string, explicit bool) error {
		if seen[p] || samePath(p, configPath) {
			return nil
		}
		seen[p] = true
		data, err := repofile.ReadFile(p, maxImportFile)
		if err != nil {
			return usageError{fmt.Errorf("read %s: %w", p, err)}
		}
		if gitops.Generated(data) {
			if explicit {
				return usageError{fmt.Errorf("%s was generated by runnerctl: there is nothing to import from it", p)}
			}
			return nil
		}
		out = append(out, adopt.File{Path: reportPath(root, p), Data: data, Found: !explicit})
		return nil
	}
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, usageError{fmt.Errorf("import %s: %w", p, err)}
		}
		if !info.IsDir() {
			if err := add(p, true); err != nil {
				return nil, err
			}
			continue
		}
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == ".git" || (q != p && strings.HasPrefix(d.Name(), ".")) || (q != p && samePath(q, profilesDir)) {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !(strings.HasSuffix(q, ".yaml") || strings.HasSuffix(q, ".yml")) {
				return nil
			}
			return add(q, false)
		})
		if err != nil {
			var u usageError
			if errors.As(err, &u) {
				return nil, err
			}
			return nil, usageError{fmt.Errorf("import %s: %w", p, err)}
		}
	}
	slices.SortFunc(out, func(a, b adopt.File) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// reportPath is p relative to the repository root, with forward slashes,
// or p itself when it lies outside.
func reportPath(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil || !filepath.IsLocal(rel) {
		return filepath.ToSlash(p)
	}
	return filepath.ToSlash(rel)
}

// replaceFiles renders the new runnerctl.yaml and writes the files, over
// whatever is at their paths (force: the foreign-file rule is what --replace
// lifts), then removes the hand-written files that held only the runner.
func replaceFiles(f *factory, g *globals, root string, res *adopt.Result, lock *gitops.Lock) error {
	l, out, err := loadRendered(g)
	if err != nil {
		return err
	}
	if err := checkGenerated(f, l.cfg, out.Files); err != nil {
		return err
	}
	plan, _, err := l.plan(out.Files, root, true)
	if err != nil {
		return err
	}
	if err := plan.ApplyLocked(lock); err != nil {
		return fmt.Errorf("write the generated files: %w", err)
	}
	generated := map[string]bool{}
	for _, gf := range out.Files {
		generated[gf.Path] = true
	}
	for _, p := range res.Sources {
		if generated[p] || !filepath.IsLocal(filepath.FromSlash(p)) {
			continue // overwritten above, or outside the repository
		}
		if err := os.Remove(filepath.Join(root, filepath.FromSlash(p))); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the hand-written %s: %w", p, err)
		}
		fmt.Fprintf(f.stderr, "removed %s (replaced by the generated files)\n", p)
	}
	return nil
}

// importReader is what import reads from GitLab (a *gitlab.Client).
type importReader interface {
	GetRunner(ctx context.Context, id int64) (*gitlab.RunnerInfo, error)
	GroupPath(ctx context.Context, id int64) (string, error)
	Resolve(ctx context.Context, s config.Scope) (gitlab.Target, error)
	HasProjectRunner(ctx context.Context, projectID, id int64) (bool, error)
	FindRunners(ctx context.Context, description string, tags []string) (*gitlab.RunnerSearch, error)
}

// importClient is the GitLab client of --runner-id and --find-runner,
// with the read_api token of GITLAB_TOKEN or --gitlab-token-file.
func importClient(ctx context.Context, f *factory, o *importOptions, url string) (importReader, error) {
	pat, err := f.gitlabToken(ctx, o.gitlab, nil)
	if err != nil {
		return nil, err
	}
	gl, err := f.gitlabClient(url, o.gitlab, pat)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return gl, nil
}

// findRunner finds the runner's GitLab ID for --find-runner: the one
// runner the token can see whose description is the one the files give
// (runners.name, else the runner's name) or whose tags are theirs
// (runners.tags). A guess between several, or a runner with neither, could
// tie runnerctl.yaml to another team's runner, whose settings init would
// then overwrite: so none or several is the user's to settle with
// --runner-id, and they are listed (ID, description, tags: never a token).
func findRunner(ctx context.Context, gl importReader, url string, res *adopt.Result) (*gitlab.RunnerInfo, error) {
	description := res.Runner
	var tags []string
	for _, r := range res.Config.Runners {
		if r.Name == res.Runner && r.Registration != nil {
			if r.Registration.Description != "" {
				description = r.Registration.Description
			}
			tags = r.Registration.Tags
		}
	}
	found, err := gl.FindRunners(ctx, description, tags)
	if errors.Is(err, gitlab.ErrInsufficientScope) {
		return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("--find-runner: %v; nothing was changed", err)}
	}
	if err != nil {
		return nil, fmt.Errorf("--find-runner: %w", err)
	}
	if len(found.Matches) == 1 {
		return found.Matches[0], nil
	}
	what := "description " + safetext.Quote(description)
	if len(tags) > 0 {
		what += " or tags " + showTags(tags)
	}
	var b strings.Builder
	list := found.Matches
	switch {
	case len(list) > 1:
		fmt.Fprintf(&b, "--find-runner: %d runners in GitLab %s have %s", len(list), url, what)
	case found.Visible == 0:
		fmt.Fprintf(&b, "--find-runner: the token sees no runner in GitLab %s (a token that is not an administrator's sees no instance runner)", url)
	default:
		list = found.Shown
		fmt.Fprintf(&b, "--find-runner: none of the %d runners the token sees in GitLab %s has %s", found.Visible, url, what)
		if found.Visible > len(list) {
			fmt.Fprintf(&b, " (the first %d are listed)", len(list))
		}
	}
	b.WriteString("; pass the runner's ID with --runner-id")
	if len(list) > 0 {
		b.WriteString(":")
	}
	for _, r := range list {
		fmt.Fprintf(&b, "\n  %d  %s  tags %s", r.ID, safetext.Quote(r.Description), showTags(r.TagList))
	}
	b.WriteString("\nnothing was changed")
	return nil, &exitError{code: ExitUsage, msg: b.String()}
}

func showTags(tags []string) string {
	q := make([]string, len(tags))
	for i, t := range tags {
		q[i] = safetext.Quote(t)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// readRegistration reads runner id's settings from GitLab with a read_api
// token: without them, a later init would reset the runner's tags and
// settings to runnerctl.yaml's defaults. It reads the runner, never its
// token.
func readRegistration(ctx context.Context, gl importReader, o *importOptions, id int64, url string) (*config.Registration, error) {
	info, err := gl.GetRunner(ctx, id)
	if errors.Is(err, gitlab.ErrNotFound) {
		return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("--runner-id %d: GitLab %s has no such runner (or the token may not see it); nothing was changed", id, url)}
	}
	if err != nil {
		return nil, fmt.Errorf("runner %d: %w", id, err)
	}
	scope, err := runnerScope(ctx, gl, o, info)
	if err != nil {
		return nil, err
	}
	runUntagged := info.RunUntagged
	reg := &config.Registration{
		Scope: scope, Description: info.Description, Tags: info.TagList, RunUntagged: &runUntagged,
		Locked: info.Locked, AccessLevel: info.AccessLevel, MaximumTimeout: info.MaximumTimeout, Paused: info.Paused,
		MaintenanceNote: withoutMarker(info.MaintenanceNote),
	}
	return reg, nil
}

// runnerScope is the scope of runner info as runnerctl.yaml writes it:
// instance, or a group or project with its full path. GitLab names a
// group runner's groups but not a project runner's project, so that path
// comes from --scope-path, checked against GitLab.
func runnerScope(ctx context.Context, gl importReader, o *importOptions, info *gitlab.RunnerInfo) (config.Scope, error) {
	switch info.Type {
	case "instance_type":
		if o.scopePath != "" {
			return config.Scope{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--scope-path: runner %d is an instance runner, which has none", info.ID)}
		}
		return config.Scope{Type: config.ScopeInstance}, nil
	case "group_type":
		if len(info.GroupIDs) == 0 {
			return config.Scope{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("runner %d is a group runner whose group the token may not read", info.ID)}
		}
		path, err := gl.GroupPath(ctx, info.GroupIDs[0])
		if err != nil {
			return config.Scope{}, fmt.Errorf("runner %d: %w", info.ID, err)
		}
		if o.scopePath != "" && o.scopePath != path {
			return config.Scope{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--scope-path %q: runner %d belongs to group %q", o.scopePath, info.ID, path)}
		}
		return config.Scope{Type: config.ScopeGroup, Path: path}, nil
	case "project_type":
		if o.scopePath == "" {
			return config.Scope{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("runner %d is a project runner, and GitLab does not name its project with the runner: give it with --scope-path GROUP/PROJECT", info.ID)}
		}
		t, err := gl.Resolve(ctx, config.Scope{Type: config.ScopeProject, Path: o.scopePath})
		if err != nil {
			return config.Scope{}, fmt.Errorf("--scope-path %q: %w", o.scopePath, err)
		}
		ok, err := gl.HasProjectRunner(ctx, t.ProjectID, info.ID)
		if err != nil {
			return config.Scope{}, fmt.Errorf("--scope-path %q: %w", o.scopePath, err)
		}
		if !ok {
			return config.Scope{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--scope-path %q: runner %d is not a runner of that project", o.scopePath, info.ID)}
		}
		return config.Scope{Type: config.ScopeProject, Path: o.scopePath}, nil
	}
	return config.Scope{}, fmt.Errorf("runner %d has runner type %q, which runnerctl does not know", info.ID, info.Type)
}

// withoutMarker drops the marker line init writes into a runner's
// maintenance note at creation: it identifies one create, not a setting.
func withoutMarker(note string) string {
	lines := strings.Split(note, "\n")
	lines = slices.DeleteFunc(lines, func(l string) bool { return gitlab.MarkerIdentity(strings.TrimSpace(l)) != "" })
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
