package adopt

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

// Profiles are the hardening profiles import may pick from: it renders the
// runner with each and keeps the one closest to what the files say.
type Profiles interface {
	render.Profiles
	Names() []string
	// With adds a proposed profile, as profilesDir would hold it.
	With(file string, data []byte) (*profile.Set, error)
}

// Options are what the caller knows beyond the files.
type Options struct {
	// Name is the runner's name when the objects do not give one (an
	// Application named plain gitlab-runner, as in the article).
	Name string
	// Base is the existing runnerctl.yaml, as written (config.Decode), or
	// nil. Its config-level settings win over the files': the runner is
	// added to it, and whatever the files say differently shows in the
	// report as a difference.
	Base *config.Config
	// Profiles are the profiles to choose from.
	Profiles Profiles
	// RunnerID and Registration are the runner's GitLab ID and the
	// settings GitLab keeps for it, when the caller read them (they are in
	// no file). Registration is nil when they were not read.
	RunnerID     int64
	Registration *config.Registration
}

// Result is an import: the whole runnerctl.yaml with the runner in it, as
// written (no defaults filled in), the runner's name, the files render
// makes of it, and the report.
type Result struct {
	Config   *config.Config
	Runner   string
	Profile  string
	Rendered []render.File
	Report   Report
	// ProfileFile is the profile import proposes when no existing one
	// reproduces the files' hardening; the caller writes it into
	// profilesDir. nil when an existing profile is used.
	ProfileFile *ProfileFile
	// Sources are the input files that held only the runner's objects:
	// those the generated files replace. A file that also holds other
	// objects is not among them.
	Sources []string
}

// inputs are the documents that make up one runner.
type inputs struct {
	app, es, secret *doc
	values          map[string]any
	valuesFile      string // where values came from: a file, or the Application's
	valuesObject    string
	toml            map[string]any // runners.config decoded, nil when absent
	ignored         []doc
}

// Import reads the runner that files describe. It fails with an InputError
// when the files do not describe exactly one runner.
func Import(files []File, opts Options) (*Result, error) {
	docs, skipped, err := parseFiles(files)
	if err != nil {
		return nil, err
	}
	in, err := classify(docs)
	if err != nil {
		return nil, err
	}
	rep := Report{Lines: skipped}
	leaks := findLeaks(docs, in)
	rep.Lines = append(rep.Lines, leaks.lines()...)
	for _, d := range in.ignored {
		rep.add(Line{File: d.file, Object: d.object(), Class: Ignored,
			Detail: "not part of a gitlab-runner deployment; import leaves it alone"})
	}

	b := &builder{in: in, opts: opts, leaks: leaks}
	cfg, r, err := b.build()
	if err != nil {
		return nil, err
	}
	rep.Lines = append(rep.Lines, b.lines...)
	b.dropUnknownKeys(cfg)

	// Render with every profile and keep the one whose files differ least
	// from the user's, hardening first: its differences are the smallest
	// change to their hardening that an existing profile makes.
	var best *Result
	bestDiffs := -1
	for _, p := range opts.Profiles.Names() {
		cand := withProfile(cfg, r.Name, p)
		if err := placeExtra(cand, r.Name, b.extra, opts.Profiles); err != nil {
			continue
		}
		files, lines, err := renderAndCompare(cand, opts.Profiles, in, r.Name, leaks)
		if err != nil {
			continue // a profile this runner cannot use (a runner version it does not support)
		}
		n := hardeningDiffs(lines)*len(lines) + countDiffs(lines)
		if bestDiffs < 0 || n < bestDiffs {
			best = &Result{Config: cand, Runner: r.Name, Profile: p, Rendered: files, Report: Report{Lines: lines}}
			bestDiffs = n
		}
	}
	if best == nil {
		// Say why with the default profile's error.
		_, _, err := renderAndCompare(withProfile(cfg, r.Name, ""), opts.Profiles, in, r.Name, leaks)
		return nil, fmt.Errorf("runner %q: the imported settings do not render: %w", r.Name, err)
	}
	rep.Lines = append(rep.Lines, chooseProfile(best, cfg, b, opts.Profiles)...)
	rep.Lines = append(rep.Lines, best.Report.Lines...)
	rep.Lines = replaceLines(rep.Lines, b.regLines)
	rep.sort()
	best.Report = rep
	best.Sources = in.sources()
	return best, nil
}

// chooseProfile keeps best's profile when it reproduces the files'
// hardening, and otherwise proposes one that does (never settling for a
// profile that would change what the user had when one can be written).
// It returns the report lines that say which, with the proposed profile's
// warnings.
func chooseProfile(best *Result, cfg *config.Config, b *builder, profiles Profiles) []Line {
	at := Line{Object: "runner " + best.Runner, Field: "profile"}
	hd := hardeningDiffs(best.Report.Lines)
	if hd == 0 {
		at.Class, at.Detail = Identical, fmt.Sprintf("the hardening in the files is profile %q's", best.Profile)
		return []Line{at}
	}
	closest, err := profiles.Get(best.Profile)
	if err != nil {
		return nil
	}
	if pf := proposeProfile(b.in, best.Runner, closest); pf != nil {
		if set, err := profiles.With(pf.Name+".yaml", pf.Data); err == nil {
			cand := withProfile(cfg, best.Runner, pf.Name)
			if placeExtra(cand, best.Runner, b.extra, set) == nil {
				files, lines, err := renderAndCompare(cand, set, b.in, best.Runner, b.leaks)
				if err == nil && hardeningDiffs(lines) < hd {
					closestName := best.Profile
					*best = Result{Config: cand, Runner: best.Runner, Profile: pf.Name, Rendered: files, Report: Report{Lines: lines}, ProfileFile: pf}
					at.Class, at.Detail = Differs, fmt.Sprintf(
						"no profile reproduces the hardening in the files (the closest, %q, changes %d setting(s)); import proposes profile %q, written to profilesDir, which does",
						closestName, hd, pf.Name)
					out := []Line{at}
					if p, err := set.Get(pf.Name); err == nil {
						for _, w := range p.Warnings() {
							out = append(out, Line{Object: "profile " + pf.Name, Class: Warning, Detail: w})
						}
					}
					return out
				}
			}
		}
	}
	at.Class, at.Detail = Differs, fmt.Sprintf("the hardening in the files is closest to profile %q, which changes %d setting(s) (listed below): review them", best.Profile, hd)
	return []Line{at}
}

// replaceLines replaces each line of lines that is about the same field
// as a line of with by that line, and adds the lines of with that replace
// none.
func replaceLines(lines, with []Line) []Line {
	for _, w := range with {
		i := slices.IndexFunc(lines, func(l Line) bool { return l.File == w.File && l.Object == w.Object && l.Field == w.Field })
		if i < 0 {
			lines = append(lines, w)
			continue
		}
		lines[i] = w
	}
	return lines
}

// withProfile is cfg with runner name's profile set to p.
func withProfile(cfg *config.Config, name, p string) *config.Config {
	c := *cfg
	c.Runners = slices.Clone(cfg.Runners)
	for i := range c.Runners {
		if c.Runners[i].Name == name {
			c.Runners[i].Profile = p
		}
	}
	return &c
}

// renderAndCompare renders cfg as runnerctl would (defaults and validation
// through config.Parse, then render.Render) and compares the runner's files
// with the input.
func renderAndCompare(cfg *config.Config, profiles render.Profiles, in *inputs, name string, leaks leakSet) ([]render.File, []Line, error) {
	files, err := renderConfig(cfg, profiles)
	if err != nil {
		return nil, nil, err
	}
	var mine []render.File
	for _, f := range files {
		if strings.HasPrefix(path.Base(f.Path), render.FilePrefix+name) {
			mine = append(mine, f)
		}
	}
	lines, err := compare(in, mine, leaks)
	return mine, lines, err
}

// renderConfig is what `runnerctl render` does with runnerctl.yaml: the
// written form, defaulted and validated by Parse, rendered.
func renderConfig(cfg *config.Config, profiles render.Profiles) ([]render.File, error) {
	data, err := config.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	parsed, err := config.Parse(config.DefaultFile, data)
	if err != nil {
		return nil, err
	}
	res, err := render.Render(parsed, profiles)
	if err != nil {
		return nil, err
	}
	return res.Files, nil
}

// classify finds the runner's documents among docs.
func classify(docs []doc) (*inputs, error) {
	in := &inputs{}
	var valuesDocs []doc
	for i := range docs {
		d := &docs[i]
		switch {
		case d.kind() == "Application" && strings.HasPrefix(d.apiVersion(), "argoproj.io/"):
			if chartSource(d.obj) == nil {
				in.ignored = append(in.ignored, *d) // an app of apps, or another chart
				continue
			}
			if in.app != nil {
				return nil, &InputError{File: d.file, Msg: fmt.Sprintf("a second gitlab-runner Application %q (the first is %q in %s); import one runner at a time: give only its files", d.name(), in.app.name(), in.app.file)}
			}
			in.app = d
		case d.kind() == "ExternalSecret" && strings.HasPrefix(d.apiVersion(), "external-secrets.io/"):
			if in.es != nil {
				return nil, &InputError{File: d.file, Msg: fmt.Sprintf("a second ExternalSecret %q (the first is %q in %s); import one runner at a time: give only its files", d.name(), in.es.name(), in.es.file)}
			}
			in.es = d
		case d.kind() == "Secret" && d.apiVersion() == "v1":
			in.secret = d
		case isValues(d.obj):
			valuesDocs = append(valuesDocs, *d)
		default:
			in.ignored = append(in.ignored, *d)
		}
	}
	if in.app == nil && len(valuesDocs) == 0 {
		return nil, &InputError{Msg: "no gitlab-runner Application and no chart values file among the files; point import at the runner's Application, ExternalSecret and values"}
	}
	if in.app != nil {
		src := chartSource(in.app.obj)
		if v := getString(src, "helm", "values"); v != "" {
			m, err := decodeValues(v)
			if err != nil {
				return nil, &InputError{File: in.app.file, Msg: fmt.Sprintf("Application %q: helm.values is not a YAML mapping (%v)", in.app.name(), err)}
			}
			in.values, in.valuesFile, in.valuesObject = m, in.app.file, in.app.object()+" helm.values"
		} else if m := getMap(src, "helm", "valuesObject"); m != nil {
			in.values, in.valuesFile, in.valuesObject = m, in.app.file, in.app.object()+" helm.valuesObject"
		}
	}
	for _, d := range valuesDocs {
		if in.values != nil {
			return nil, &InputError{File: d.file, Msg: fmt.Sprintf("more than one set of chart values (the other is %s in %s); import one runner at a time, or merge the values into one file", in.valuesObject, in.valuesFile)}
		}
		in.values, in.valuesFile, in.valuesObject = d.obj, d.file, "values"
	}
	if in.values == nil && in.app != nil {
		if files := stringList(get(chartSource(in.app.obj), "helm", "valueFiles")); len(files) > 0 {
			return nil, &InputError{File: in.app.file, Msg: fmt.Sprintf("Application %q reads its values from %s, which is not among the files; give it too", in.app.name(), strings.Join(files, ", "))}
		}
	}
	if in.values == nil {
		in.values = map[string]any{}
		in.valuesFile, in.valuesObject = "", "values"
	}
	if text, ok := get(in.values, "runners", "config").(string); ok {
		var t map[string]any
		if err := toml.Unmarshal([]byte(text), &t); err != nil {
			return nil, &InputError{File: in.valuesFile, Msg: fmt.Sprintf("%s: runners.config is not valid TOML (%v)", in.valuesObject, err)}
		}
		if rs, _ := t["runners"].([]any); len(rs) > 1 {
			return nil, &InputError{File: in.valuesFile, Msg: fmt.Sprintf("%s: runners.config has %d [[runners]] entries; runnerctl deploys one runner per chart release: split them into one release each", in.valuesObject, len(rs))}
		}
		in.toml = t
	}
	return in, nil
}

// sources lists the files that hold only the runner's objects.
func (in *inputs) sources() []string {
	mixed := map[string]bool{}
	for _, d := range in.ignored {
		mixed[d.file] = true
	}
	set := map[string]bool{}
	for _, d := range []*doc{in.app, in.es, in.secret} {
		if d != nil && !mixed[d.file] {
			set[d.file] = true
		}
	}
	if in.valuesFile != "" && !mixed[in.valuesFile] {
		set[in.valuesFile] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func decodeValues(text string) (map[string]any, error) {
	d, perr := parseFile(File{Data: []byte(text)})
	if perr != nil {
		return nil, perr
	}
	if len(d) != 1 {
		return nil, fmt.Errorf("%d documents", len(d))
	}
	return d[0].obj, nil
}

// sources lists an Application's sources, single-source or multi-source.
func sources(app map[string]any) []map[string]any {
	var out []map[string]any
	if s := getMap(app, "spec", "source"); s != nil {
		out = append(out, s)
	}
	list, _ := get(app, "spec", "sources").([]any)
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// chartSource is the source that deploys the gitlab-runner chart.
func chartSource(app map[string]any) map[string]any {
	for _, s := range sources(app) {
		if getString(s, "chart") == "gitlab-runner" {
			return s
		}
	}
	return nil
}

// pathSource is the first source that deploys a directory of manifests.
func pathSource(app map[string]any) map[string]any {
	for _, s := range sources(app) {
		if _, ok := s["path"]; ok && s["chart"] == nil {
			return s
		}
	}
	return nil
}

// builder fills a Config from the inputs and says what it did with the
// settings it could not place.
type builder struct {
	in    *inputs
	opts  Options
	leaks leakSet
	lines []Line
	// extra is what runners.config sets beyond the runner's fields: the
	// chosen profile's keys, and the rest, which becomes extraConfig.
	extra map[string]any
	// regLines say what became of the values' registration settings; each
	// replaces the comparison's line for its field, which can only say
	// that render leaves the value out.
	regLines []Line
}

func (b *builder) build() (*config.Config, *config.Runner, error) {
	in := b.in
	r := config.Runner{Name: b.opts.Name}
	if r.Name == "" && in.app != nil {
		if n, ok := strings.CutPrefix(in.app.name(), render.FilePrefix); ok {
			r.Name = n
		}
	}
	if r.Name == "" && in.app == nil {
		// Without an Application, a values file named as runnerctl names
		// them (gitlab-runner-NAME.yaml) says it.
		base := strings.TrimSuffix(strings.TrimSuffix(path.Base(in.valuesFile), ".yaml"), ".yml")
		if n, ok := strings.CutPrefix(base, render.FilePrefix); ok {
			r.Name = n
		}
	}
	if r.Name == "" {
		what := "the files do not"
		if in.app != nil {
			what = fmt.Sprintf("Application %q does not", in.app.name())
		}
		return nil, nil, &InputError{Msg: fmt.Sprintf("%s say the runner's name (runnerctl names its Application gitlab-runner-NAME); give one with --name", what)}
	}

	cfg := &config.Config{APIVersion: config.APIVersion, Kind: config.Kind}
	if b.opts.Base != nil {
		cfg = cloneConfig(b.opts.Base)
		cfg.Runners = slices.DeleteFunc(cfg.Runners, func(x config.Runner) bool { return x.Name == r.Name })
	} else {
		b.configFromFiles(cfg, r.Name)
	}
	b.runnerFromFiles(cfg, &r)
	b.regLines = b.registration(&r)
	if r.RunnerID != 0 {
		b.lines = append(b.lines, Line{Object: "runner " + r.Name, Field: "runnerID", Class: Equivalent,
			Detail: fmt.Sprintf("GitLab runner %d, with the settings GitLab keeps for it (registration): init keeps them in step with runnerctl.yaml from now on", r.RunnerID)})
	}
	cfg.Runners = append(cfg.Runners, r)
	return cfg, &cfg.Runners[len(cfg.Runners)-1], nil
}

func cloneConfig(c *config.Config) *config.Config {
	out := *c
	out.Runners = slices.Clone(c.Runners)
	return &out
}

// configFromFiles fills the config-level settings the files imply, for a
// repository that has no runnerctl.yaml yet.
func (b *builder) configFromFiles(cfg *config.Config, name string) {
	in := b.in
	cfg.GitLab.URL = getString(in.values, "gitlabUrl")
	if s := getString(in.values, "certsSecretName"); s != "" {
		cfg.GitLab.TLS = &config.GitLabTLS{SecretName: s}
	}
	if in.app != nil {
		app := in.app.obj
		cfg.ArgoCD.Namespace = getString(app, "metadata", "namespace")
		cfg.ArgoCD.Project = getString(app, "spec", "project")
		cfg.ArgoCD.Destination.Server = getString(app, "spec", "destination", "server")
		cfg.ArgoCD.Destination.Name = getString(app, "spec", "destination", "name")
		// No syncPolicy is manual sync; runnerctl.yaml's omitted one would
		// be the seed's automated policy, so say it explicitly.
		cfg.ArgoCD.SyncPolicy = syncPolicy(getMap(app, "spec", "syncPolicy"))
		src := chartSource(app)
		cfg.Chart.RepoURL = getString(src, "repoURL")
		cfg.Chart.Version = getString(src, "targetRevision")
		if _, known := runnerkeys.RunnerOfChart(cfg.Chart.Version); !known {
			// render refuses a chart whose runner version it does not know;
			// the nearest honest spec pins the verified default, and the
			// report shows the version change for the user to decide.
			cfg.Chart.Version = ""
		}
		if ps := pathSource(app); ps != nil {
			cfg.GitOps.RepoURL = getString(ps, "repoURL")
			if rev := getString(ps, "targetRevision"); rev != "" {
				cfg.GitOps.Revision = rev
			}
			cfg.GitOps.Paths.Manifests = getString(ps, "path")
		}
		cfg.GitOps.Paths.Applications = dir(in.app.file)
	}
	if in.valuesFile != "" && (in.app == nil || in.valuesFile != in.app.file) {
		cfg.GitOps.Paths.Values = dir(in.valuesFile)
	}
	if in.es != nil {
		es := in.es.obj
		cfg.Secrets.Store.Name = getString(es, "spec", "secretStoreRef", "name")
		cfg.Secrets.Store.Kind = getString(es, "spec", "secretStoreRef", "kind")
		cfg.Secrets.RefreshInterval = getString(es, "spec", "refreshInterval")
		if v := strings.TrimPrefix(in.es.apiVersion(), "external-secrets.io/"); v == "v1beta1" {
			cfg.Secrets.ESOAPIVersion = v
		}
		cfg.Secrets.Backend = guessBackend(cfg.Secrets.Store.Name)
		if cfg.Secrets.Backend == "" {
			cfg.Secrets.Backend = config.BackendVault
			b.lines = append(b.lines, Line{File: in.es.file, Object: in.es.object(), Field: "spec.secretStoreRef.name", Class: Differs,
				Detail: "the store's name does not say which secrets manager it reads; runnerctl.yaml says vault: set secrets.backend to yours (only init and rotate-token use it)"})
		}
	} else {
		cfg.Secrets.Backend = config.BackendVault
		b.lines = append(b.lines, Line{Object: "runner " + name, Field: "secrets", Class: Differs,
			Detail: "no ExternalSecret among the files: runnerctl.yaml gets a vault backend and store to fill in; render adds an ExternalSecret"})
		cfg.Secrets.Store.Name = "fill-in"
	}
	if cfg.GitOps.RepoURL == "" {
		cfg.GitOps.RepoURL = "https://example.invalid/FILL-IN.git"
		b.lines = append(b.lines, Line{Object: "runnerctl.yaml", Field: "gitops.repoURL", Class: Differs,
			Detail: "no Application source names this repository; set gitops.repoURL"})
	}
}

// guessBackend reads the backend from a store named after it, as stores
// usually are; anything else is the user's to say.
func guessBackend(store string) string {
	s := strings.ToLower(store)
	for _, b := range []struct{ word, backend string }{
		{"infisical", config.BackendInfisical}, {"vault", config.BackendVault}, {"openbao", config.BackendVault},
		{"aws", config.BackendAWS}, {"secretsmanager", config.BackendAWS}, {"gcp", config.BackendGCP}, {"google", config.BackendGCP},
	} {
		if strings.Contains(s, b.word) {
			return b.backend
		}
	}
	return ""
}

func syncPolicy(sp map[string]any) *config.SyncPolicy {
	out := &config.SyncPolicy{}
	if a := getMap(sp, "automated"); a != nil {
		p, _ := a["prune"].(bool)
		h, _ := a["selfHeal"].(bool)
		out.Automated = &config.Automated{Prune: p, SelfHeal: h}
	}
	out.SyncOptions = stringList(sp["syncOptions"])
	if r := getMap(sp, "retry"); r != nil {
		n, _ := toInt(r["limit"])
		out.Retry = &config.Retry{Limit: n}
		if bo := getMap(r, "backoff"); bo != nil {
			f, _ := toInt(bo["factor"])
			out.Retry.Backoff = &config.Backoff{Duration: getString(bo, "duration"), Factor: f, MaxDuration: getString(bo, "maxDuration")}
		}
	}
	return out
}

// runnerFromFiles fills the runner's fields. Settings it has no field for
// go into extraConfig (runners.config keys) or are reported.
func (b *builder) runnerFromFiles(cfg *config.Config, r *config.Runner) {
	in := b.in
	v := in.values
	if in.app != nil {
		r.Namespace = getString(in.app.obj, "spec", "destination", "namespace")
	}
	if n, ok := toInt(v["concurrent"]); ok {
		r.Concurrent = n
	}
	if n, ok := toInt(v["checkInterval"]); ok {
		r.CheckInterval = n
	}
	r.ServiceAccount = getString(v, "serviceAccount", "name")
	if img := getMap(v, "image"); img != nil {
		r.RunnerImage = &config.ImageRef{Registry: getString(img, "registry"), Image: getString(img, "image"), Tag: getString(img, "tag")}
	}
	r.Resources = resources(getMap(v, "resources"))
	if e, _ := get(v, "metrics", "enabled").(bool); e {
		r.Metrics = true
	}
	if in.es != nil {
		if data, _ := get(in.es.obj, "spec", "data").([]any); len(data) > 0 {
			ref := getMap(data[0], "remoteRef")
			r.TokenSecret = &config.RemoteRef{Key: getString(ref, "key"), Property: getString(ref, "property")}
			if cfg.Secrets.Backend == config.BackendInfisical && strings.HasSuffix(r.TokenSecret.Key, "/RUNNER_TOKEN") {
				// The layout the backend would give anyway needs no override.
				cfg.Secrets.Infisical = &config.Infisical{Path: strings.TrimSuffix(r.TokenSecret.Key, "/RUNNER_TOKEN"), SecretName: "RUNNER_TOKEN"}
				if strings.Contains(cfg.Secrets.Infisical.Path, "/"+r.Name) {
					cfg.Secrets.Infisical.Path = strings.Replace(cfg.Secrets.Infisical.Path, "/"+r.Name, "/"+config.RunnerPlaceholder, 1)
				}
				r.TokenSecret = nil
			}
		}
		if r.Namespace == "" {
			r.Namespace = getString(in.es.obj, "metadata", "namespace")
		}
	}
	b.fromTOML(r)
}

func resources(m map[string]any) *config.Resources {
	if m == nil {
		return nil
	}
	list := func(x map[string]any) config.ResourceList {
		return config.ResourceList{CPU: quantity(x["cpu"]), Memory: quantity(x["memory"]), EphemeralStorage: quantity(x["ephemeral-storage"])}
	}
	return &config.Resources{Requests: list(getMap(m, "requests")), Limits: list(getMap(m, "limits"))}
}

func quantity(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// kubeKeys are the [runners.kubernetes] keys that runner fields hold; the
// profile's keys are found by rendering (see placeExtra).
var kubeKeys = []string{"namespace", "image", "helper_image", "service_account", "pull_policy",
	"cpu_limit", "memory_limit", "ephemeral_storage_limit", "cpu_request", "memory_request", "ephemeral_storage_request"}

// chartFilled are [[runners]] keys the chart writes itself at registration.
var chartFilled = []string{"url", "executor", "token", "name"}

func (b *builder) fromTOML(r *config.Runner) {
	rs, _ := b.in.toml["runners"].([]any)
	if len(rs) == 0 {
		return
	}
	sec, _ := rs[0].(map[string]any)
	k := getMap(sec, "kubernetes")
	r.Namespace = cmp.Or(r.Namespace, getString(k, "namespace"))
	r.Image = getString(k, "image")
	r.HelperImage = getString(k, "helper_image")
	r.JobServiceAccount = getString(k, "service_account")
	r.PullPolicy = stringList(k["pull_policy"])
	lim := config.ResourceList{CPU: quantity(k["cpu_limit"]), Memory: quantity(k["memory_limit"]), EphemeralStorage: quantity(k["ephemeral_storage_limit"])}
	req := config.ResourceList{CPU: quantity(k["cpu_request"]), Memory: quantity(k["memory_request"]), EphemeralStorage: quantity(k["ephemeral_storage_request"])}
	if lim != (config.ResourceList{}) || req != (config.ResourceList{}) {
		r.JobResources = &config.Resources{Requests: req, Limits: lim}
	}
	// What is left is the profile's or extraConfig's: the profile's keys
	// are known only once one is chosen, so keep the rest for placeExtra.
	rest := maps.Clone(sec)
	for _, key := range chartFilled {
		delete(rest, key)
	}
	if kk := maps.Clone(k); kk != nil {
		for _, key := range kubeKeys {
			delete(kk, key)
		}
		rest["kubernetes"] = kk
	}
	b.extra = withoutTokens(rest)
}

// withoutTokens drops every value findLeaks reports from a runners.config
// table, so that a pasted token never reaches extraConfig.
func withoutTokens(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			if tokenRE.MatchString(x) || (x != "" && slices.Contains(tokenKeys, strings.ToLower(k))) {
				continue
			}
		case map[string]any:
			v = withoutTokens(x)
		case []any:
			l := make([]any, 0, len(x))
			for _, e := range x {
				if em, ok := e.(map[string]any); ok {
					e = withoutTokens(em)
				} else if es, ok := e.(string); ok && tokenRE.MatchString(es) {
					continue
				}
				l = append(l, e)
			}
			v = l
		}
		out[k] = v
	}
	return out
}

// placeExtra sets runner name's extraConfig to the runners.config settings
// that neither its fields nor its profile produce. A key the profile sets
// stays out (extraConfig may not override the profile, and the report
// shows any difference in its value); everything else is kept, so nothing
// the user had in runners.config is dropped.
func placeExtra(cfg *config.Config, name string, extra map[string]any, profiles render.Profiles) error {
	if len(extra) == 0 {
		return nil
	}
	files, err := renderConfig(cfg, profiles)
	if err != nil {
		return err
	}
	var rendered map[string]any
	for _, f := range files {
		if path.Base(f.Path) == render.FilePrefix+name+".yaml" && !strings.Contains(string(f.Content), "\nkind: ") {
			vals, err := decodeValues(string(f.Content))
			if err != nil {
				return err
			}
			text, _ := get(vals, "runners", "config").(string)
			var t map[string]any
			if err := toml.Unmarshal([]byte(text), &t); err != nil {
				return err
			}
			if rs, _ := t["runners"].([]any); len(rs) > 0 {
				rendered, _ = rs[0].(map[string]any)
			}
		}
	}
	rest := subtract(extra, rendered)
	if len(rest) == 0 {
		return nil
	}
	text, err := toml.Marshal(map[string]any{"runners": []any{rest}})
	if err != nil {
		return fmt.Errorf("runner %q: encode extraConfig: %w", name, err)
	}
	for i := range cfg.Runners {
		if cfg.Runners[i].Name == name {
			cfg.Runners[i].ExtraConfig = string(text)
		}
	}
	return nil
}

// dropUnknownKeys removes from b.extra what the runner version of cfg
// rejects (an unknown key, a value of the wrong type): gitlab-runner
// ignores such a key, so it never took effect, and render and validate
// refuse it in extraConfig. The comparison then reports it as left out.
func (b *builder) dropUnknownKeys(cfg *config.Config) {
	if len(b.extra) == 0 {
		return
	}
	data, err := config.Marshal(cfg)
	if err != nil {
		return
	}
	parsed, err := config.Parse(config.DefaultFile, data)
	if err != nil {
		return // reported when rendering
	}
	rv, err := render.RunnerVersion(parsed)
	if err != nil {
		return
	}
	text, err := toml.Marshal(map[string]any{"runners": []any{b.extra}})
	if err != nil {
		return
	}
	for _, is := range rv.Check(string(text)) {
		if is.Warning {
			continue
		}
		keys := strings.Split(strings.TrimPrefix(is.Key, "runners."), ".")
		m := b.extra
		for len(keys) > 1 {
			next, ok := m[keys[0]].(map[string]any)
			if !ok {
				break
			}
			m, keys = next, keys[1:]
		}
		delete(m, keys[0])
	}
}

// subtract is a without the keys b has, recursing into tables both have.
func subtract(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		bv, ok := b[k]
		if !ok {
			out[k] = v
			continue
		}
		am, aok := v.(map[string]any)
		bm, bok := bv.(map[string]any)
		if aok && bok {
			if sub := subtract(am, bm); len(sub) > 0 {
				out[k] = sub
			}
		}
	}
	return out
}
