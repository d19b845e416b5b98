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
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/repofile"
)

type importOptions struct {
	*globals
	paths           []string
	name            string
	dryRun, replace bool
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

Exit codes: 0 done, 1 failure, 2 bad input (a file that does not parse,
several runners at once, no runner name): nothing is changed.`,
		Example: `  runnerctl import --dry-run
  runnerctl import --name homelab argocd-apps/gitlab-runner.yaml manifests/
  runnerctl import --replace
  runnerctl import --dry-run -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.paths = args
			if o.dryRun && o.replace {
				return usageError{errors.New("--dry-run and --replace contradict each other: --dry-run changes nothing")}
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runImport(f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.name, "name", "", "runner name, when the Application is not named gitlab-runner-NAME")
	fl.BoolVar(&o.dryRun, "dry-run", false, "print the runnerctl.yaml and the report; change nothing")
	fl.BoolVar(&o.replace, "replace", false, "also render, replacing the hand-written files with the generated ones")
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

func runImport(f *factory, o *importOptions) error {
	g := o.globals
	root := filepath.Dir(g.configPath)
	existing, base, err := readExisting(g.configPath)
	if err != nil {
		return err
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
	res, err := adopt.Import(files, adopt.Options{Name: o.name, Base: base, Profiles: profiles})
	var bad *adopt.InputError
	if errors.As(err, &bad) {
		return &exitError{code: ExitUsage, msg: bad.Error() + "; nothing was changed"}
	}
	if err != nil {
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
			if err := replaceFiles(f, g, root, res); err != nil {
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
func replaceFiles(f *factory, g *globals, root string, res *adopt.Result) error {
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
	if err := plan.Apply(); err != nil {
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
