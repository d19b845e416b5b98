package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/repofile"
	"github.com/runnerctl/runnerctl/internal/safetext"
	"github.com/runnerctl/runnerctl/internal/validate"
)

type validateOptions struct {
	*globals
	files         []string
	crds          []string
	chart         string
	ignoreMissing bool
	allowDrift    bool
}

func newValidateCmd(f *factory, g *globals, runF func(context.Context, *validateOptions) error) *cobra.Command {
	o := &validateOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "validate [FILE|DIR...]",
		Short: "Check the generated files against the schemas of the systems that will read them",
		Long: `validate renders runnerctl.yaml in memory and checks every generated object the
way the systems that read it would:

  - ArgoCD's Applications and ApplicationSets (or, under flux, the
    HelmRelease, chart source and Kustomization), ESO's ExternalSecret and
    any other custom resource against their CRDs' structural schemas, as
    the API server validates them: unknown fields it would prune, types,
    enums, required fields, list invariants and CEL rules. CRDs come from
    --crds: files or directories, for example saved with
    kubectl get crd applications.argoproj.io externalsecrets.external-secrets.io -o yaml
  - Drift: every field of a custom resource that the API server would fill
    in with a CRD default on create. The live object then differs from the
    file for ever: ArgoCD shows the Application OutOfSync (and, with
    selfHeal, re-applies it in a loop); under flux the file no longer says
    what the cluster holds. Each such field is an error, or a warning with
    --allow-drift. The files runnerctl renders have none when
    secrets.esoVersion names the ESO release whose CRDs --crds gives.
  - Namespace, Secret, NetworkPolicy and other built-in objects by strict
    decoding into Kubernetes' types.
  - runners.config against the TOML keys, value types and feature flags of
    the gitlab-runner version deployed (chart.runnerVersion, else the
    appVersion of chart.version): gitlab-runner silently ignores a key it
    does not know, so a misspelt hardening setting would do nothing, and it
    fails to start on a value of the wrong type. Both are errors.
  - With --chart, the gitlab-runner chart rendered with each runner's values
    (as helm template does), checked against the profile's claims: non-root,
    capabilities dropped, not privileged, no wildcard RBAC, the token
    Secret's keys mounted. Values keys no template reads are warnings.

FILE and DIR arguments add other manifests, such as your SecretStore:
they get the same checks, drift included. They may also be Helm values
files of the gitlab-runner chart (a document without apiVersion and kind
that has runners.config), whose runners.config is checked as above: the
committed ones, for example.

--chart takes a local chart directory or .tgz (air-gapped), an
oci://REGISTRY/PATH/CHART[:VERSION] reference, or an https:// chart
repository URL; the chart name and version not in the reference come from
runnerctl.yaml.

Each problem is printed as FILE: OBJECT: FIELD: message. Exit codes: 0
valid (warnings allowed), 1 invalid, 2 bad configuration or usage.`,
		Example: `  runnerctl validate --crds crds/
  runnerctl validate --crds crds/ clusters/prod/secret-store.yaml
  runnerctl validate --crds crds/ --allow-drift platform/
  runnerctl validate --crds crds/ --chart ./mirror/gitlab-runner-0.86.0.tgz
  runnerctl validate --crds crds/ --chart https://charts.gitlab.io -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.files = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runValidate(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&o.crds, "crds", nil, "CRD file or directory (repeatable, or comma-separated)")
	fs.StringVar(&o.chart, "chart", "", "also render this chart with the generated values: a directory, a .tgz, oci://... or an https:// chart repository")
	fs.BoolVar(&o.ignoreMissing, "ignore-missing-schemas", false, "an object whose CRD is not given is a warning, not an error")
	fs.BoolVar(&o.allowDrift, "allow-drift", false, "a field that the API server would fill in with a default is a warning, not an error")
	return cmd
}

type validateReport struct {
	Valid    bool               `json:"valid"`
	Files    []string           `json:"files"`
	CRDs     []string           `json:"crds"`
	Chart    string             `json:"chart,omitempty"`
	Problems []validate.Problem `json:"problems"`
}

func runValidate(ctx context.Context, f *factory, o *validateOptions) error {
	g := o.globals
	l, res, err := loadRendered(g)
	if err != nil {
		return err
	}
	rv, err := render.RunnerVersion(l.cfg)
	if err != nil {
		return err // render.Render reported it already
	}
	req := validate.Request{IgnoreMissingSchemas: o.ignoreMissing, AllowDrift: o.allowDrift}
	values := valuesPaths(l.cfg)
	rep := validateReport{Files: []string{}, CRDs: []string{}, Chart: o.chart}
	rep.Problems = validate.Generated(res.Files, values, rv)
	for _, file := range res.Files {
		rep.Files = append(rep.Files, file.Path)
		if !values[file.Path] {
			req.Files = append(req.Files, validate.File{Path: file.Path, Content: file.Content})
		}
	}
	extra, err := readYAMLFiles(l.root, o.files, "FILE")
	if err != nil {
		return err
	}
	for _, file := range extra {
		rep.Files = append(rep.Files, file.Path)
		if validate.IsValues(file.Content) {
			// A committed or hand-written values file: its runners.config
			// is what the runner reads, whatever runnerctl.yaml says.
			rep.Problems = append(rep.Problems, validate.Values(file.Path, file.Content, rv)...)
			continue
		}
		rep.Problems = append(rep.Problems, validate.Manifest(file.Path, file.Content)...)
		req.Files = append(req.Files, file)
	}
	if req.CRDs, err = readYAMLFiles(l.root, o.crds, "--crds"); err != nil {
		return err
	}
	for _, file := range req.CRDs {
		rep.CRDs = append(rep.CRDs, file.Path)
	}
	if o.chart != "" {
		src, err := chartSource(o.chart, l.cfg.Chart.Name, l.cfg.Chart.Version)
		if err != nil {
			return err
		}
		// Each cluster of a runner has its own values.
		for _, r := range l.cfg.Instances() {
			p, err := l.profiles.Get(r.Profile)
			if err != nil {
				return err
			}
			// Under gitops.engine flux, the HelmRelease's inline values.
			path := render.ValuesSourcePath(l.cfg, r)
			values, err := validate.ChartValues(fileContent(res.Files, path))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			req.Charts = append(req.Charts, validate.ChartRequest{Source: src, Input: validate.ChartInput{
				ValuesPath: path, Values: values,
				ReleaseName: render.NamesOf(r).Release, Namespace: r.Namespace, Claims: validate.ClaimsOf(p),
			}})
		}
	}

	ps, err := f.checkManifests(ctx, req, f.stderr)
	if err != nil {
		return err
	}
	rep.Problems = append(rep.Problems, ps...)
	// Messages may quote what they found in the files; none is printed
	// longer than maxProblem, or with characters that act on a terminal.
	for i := range rep.Problems {
		rep.Problems[i].Message = safetext.Clip(rep.Problems[i].Message, maxProblem)
	}
	validate.Sort(rep.Problems)
	if rep.Problems == nil {
		rep.Problems = []validate.Problem{}
	}
	rep.Valid = !validate.HasErrors(rep.Problems)

	if g.output == "json" {
		if err := writeJSON(f.stdout, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			if p.Severity == validate.Warning && g.quiet {
				continue
			}
			fmt.Fprintln(f.stdout, p.String())
		}
	}
	errs, drift := 0, 0
	for _, p := range rep.Problems {
		if p.Severity == validate.Error {
			errs++
		}
		if p.IsDrift() {
			drift++
		}
	}
	if errs > 0 {
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("invalid: %d error(s) in the files %s renders%s%s", errs, g.configPath, extraNote(o.files), driftNote(drift, o.allowDrift, l.cfg.GitOps.Engine))}
	}
	if !g.quiet && g.output == "text" {
		fmt.Fprintf(f.stderr, "valid: %d file(s) checked against %d CRD file(s)%s, %d warning(s)\n",
			len(rep.Files), len(rep.CRDs), chartNote(o.chart), len(rep.Problems))
	}
	return nil
}

// driftNote says what the fields the API server would fill in do under the
// engine in use, and what to do about them. Under ArgoCD the object is
// OutOfSync for ever (and re-applied in a loop with selfHeal); Flux's
// server-side apply dry-runs with the defaults too, so it reports nothing,
// and the file just no longer says what the cluster holds.
func driftNote(drift int, allowed bool, engine string) string {
	if drift == 0 || allowed {
		return ""
	}
	effect := "ArgoCD would show their objects OutOfSync for ever"
	if engine == config.EngineFlux {
		effect = "Flux applies them, but the files would not say what the cluster holds"
	}
	return fmt.Sprintf("; %d of them are fields the API server would fill in (%s): write them into the file (for the files runnerctl renders, set secrets.esoVersion to the ESO release of the CRDs), or pass --allow-drift", drift, effect)
}

func extraNote(files []string) string {
	if len(files) == 0 {
		return ""
	}
	return " and the files given"
}

func chartNote(chart string) string {
	if chart == "" {
		return ""
	}
	return " and chart " + chart
}

func fileContent(files []render.File, path string) []byte {
	for _, f := range files {
		if f.Path == path {
			return f.Content
		}
	}
	return nil
}

// chartSource reads --chart: a local directory or .tgz, oci://...[:VERSION]
// or an http(s) chart repository; what the reference leaves out comes from
// runnerctl.yaml.
func chartSource(ref, name, version string) (validate.ChartSource, error) {
	bad := func(format string, args ...any) (validate.ChartSource, error) {
		return validate.ChartSource{}, usageError{fmt.Errorf("--chart %q: "+format, append([]any{ref}, args...)...)}
	}
	switch {
	case strings.HasPrefix(ref, "oci://"):
		rest := strings.TrimSuffix(strings.TrimPrefix(ref, "oci://"), "/")
		i := strings.LastIndex(rest, "/")
		if i <= 0 {
			return bad("want oci://REGISTRY/PATH/CHART[:VERSION]")
		}
		repo, chart := rest[:i], rest[i+1:]
		if c, v, ok := strings.Cut(chart, ":"); ok {
			chart, version = c, v
		}
		if chart == "" || version == "" {
			return bad("want oci://REGISTRY/PATH/CHART[:VERSION]")
		}
		return validate.ChartSource{RepoURL: "oci://" + repo, Chart: chart, Version: version}, nil
	case strings.HasPrefix(ref, "https://"), strings.HasPrefix(ref, "http://"):
		return validate.ChartSource{RepoURL: ref, Chart: name, Version: version}, nil
	}
	abs, err := filepath.Abs(ref)
	if err != nil {
		return bad("%v", err)
	}
	if _, err := os.Stat(abs); err != nil {
		return bad("no such chart directory or archive (want a directory, a .tgz, oci://... or https://...)")
	}
	return validate.ChartSource{Path: abs}, nil
}

// maxProblem bounds one problem's message.
const maxProblem = 1000

// Limits on the manifests and CRDs validate reads: ESO's CRD bundle, the
// largest file users pass, is under 2 MiB.
const (
	maxManifestSize  = 8 << 20
	maxManifestTotal = 32 << 20
	maxManifestFiles = 10_000
)

// readYAMLFiles reads files, and the *.yaml, *.yml and *.json files under
// directories, in a stable order. what names the argument in errors.
//
// Only regular files are read (a FIFO would hang validate), each up to
// maxManifestSize. A path inside the repository is read through an
// os.Root of the repository, so a committed symlink cannot lead validate to
// a file outside it (whose content would then appear in its messages); a
// directory named outside the repository confines the links under it the
// same way, and a file named outside it is read in its own directory.
func readYAMLFiles(repo string, paths []string, what string) ([]validate.File, error) {
	var out []validate.File
	total := 0
	for _, p := range paths {
		dir, rel, err := rootOf(repo, p)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s %q: %w", what, p, err)}
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s %q: %w", what, p, err)}
		}
		files, err := readUnder(root, rel, p)
		root.Close()
		if err != nil {
			return nil, usageError{fmt.Errorf("%s %q: %w", what, p, err)}
		}
		for _, f := range files {
			if total += len(f.Content); total > maxManifestTotal || len(out) >= maxManifestFiles {
				return nil, usageError{fmt.Errorf("%s: more than %d files or %s in all; validate fewer at once", what, maxManifestFiles, repofile.Size(maxManifestTotal))}
			}
			out = append(out, f)
		}
	}
	return out, nil
}

// rootOf says which directory p is read in, and p relative to it: the
// repository when p is inside it, else p itself (a directory) or p's
// directory (a file).
func rootOf(repo, p string) (dir, rel string, err error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", "", err
	}
	if repoAbs, err := filepath.Abs(repo); err == nil {
		if r, err := filepath.Rel(repoAbs, abs); err == nil && filepath.IsLocal(r) {
			return repoAbs, r, nil
		}
		if abs == repoAbs {
			return repoAbs, ".", nil
		}
	}
	info, err := os.Stat(abs)
	if err != nil {
		return "", "", unwrapPathErr(err)
	}
	if info.IsDir() {
		return abs, ".", nil
	}
	return filepath.Dir(abs), filepath.Base(abs), nil
}

// readUnder reads rel inside root: the file, or the YAML and JSON files
// under the directory, sorted. name is p as the user gave it, for paths in
// reports.
func readUnder(root *os.Root, rel, name string) ([]validate.File, error) {
	info, err := root.Stat(rel)
	if err != nil {
		return nil, repofile.Explain(unwrapPathErr(err))
	}
	if !info.IsDir() {
		b, err := repofile.Read(root, filepath.ToSlash(rel), maxManifestSize)
		if err != nil {
			return nil, err
		}
		return []validate.File{{Path: filepath.ToSlash(name), Content: b}}, nil
	}
	var found []string
	fsys := root.FS()
	err = fs.WalkDir(fsys, filepath.ToSlash(rel), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && slices.Contains([]string{".yaml", ".yml", ".json"}, path.Ext(p)) {
			found = append(found, p)
		}
		return nil
	})
	if err != nil {
		return nil, repofile.Explain(unwrapPathErr(err))
	}
	if len(found) == 0 {
		return nil, errors.New("no .yaml, .yml or .json file in it")
	}
	slices.Sort(found)
	var out []validate.File
	for _, f := range found {
		b, err := repofile.Read(root, f, maxManifestSize)
		if err != nil {
			return nil, err
		}
		shown, _ := filepath.Rel(rel, filepath.FromSlash(f))
		out = append(out, validate.File{Path: filepath.ToSlash(filepath.Join(name, shown)), Content: b})
	}
	return out, nil
}

// unwrapPathErr drops the "stat PATH:" of a *PathError: messages name the
// path once, as the user wrote it.
func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
