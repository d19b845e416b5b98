package render

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

// gitops.engine flux: per runner, one Flux Kustomization in
// gitops.paths.applications (a directory the cluster's own Flux
// Kustomization applies, as `flux bootstrap` lays a repository out), which
// applies the runner's directory gitops.paths.manifests/gitlab-runner-NAME:
// a kustomization.yaml listing the runner's files, the chart's source
// (HelmRepository or OCIRepository), the HelmRelease with the values
// inline, the ExternalSecrets, GitLab's CA and the egress policy as under
// ArgoCD, and the Namespace with the profile's Pod Security labels (in the
// directory of the first runner deployed to it). docs/flux.md says why.

// The Flux kinds' API versions are those the pinned controllers serve
// (helm-controller v1.6.0, source-controller and kustomize-controller
// v1.9.0): each CRD serves only these. They come from templates/; render
// never sets them.

// Flux Kustomization (kustomize.toolkit.fluxcd.io/v1), the fields
// runnerctl sets.
type fluxKustomization struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Metadata   objectMeta     `yaml:"metadata"`
	Spec       fluxKustomSpec `yaml:"spec"`
}

type fluxKustomSpec struct {
	Interval      string          `yaml:"interval"`
	RetryInterval string          `yaml:"retryInterval"`
	Timeout       string          `yaml:"timeout"`
	DependsOn     []fluxReference `yaml:"dependsOn,omitempty"`
	SourceRef     fluxReference   `yaml:"sourceRef"`
	Path          string          `yaml:"path"`
	Prune         bool            `yaml:"prune"`
	Wait          bool            `yaml:"wait"`
	Force         bool            `yaml:"force"`
}

// fluxReference names a Flux object: a source (with its kind) or a
// Kustomization depended on (without). An empty namespace is the
// referring object's own.
type fluxReference struct {
	Kind      string `yaml:"kind,omitempty"`
	Name      string `yaml:"name"`
	Namespace string `yaml:"namespace,omitempty"`
}

// HelmRelease (helm.toolkit.fluxcd.io/v2).
type helmRelease struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Metadata   objectMeta      `yaml:"metadata"`
	Spec       helmReleaseSpec `yaml:"spec"`
}

// helmReleaseSpec has no values: they follow the encoded HelmRelease as
// text (inlineValues), the last key of spec, which is its last key.
type helmReleaseSpec struct {
	Interval       string           `yaml:"interval"`
	ReleaseName    string           `yaml:"releaseName"`
	Chart          *hrChart         `yaml:"chart,omitempty"`
	ChartRef       *fluxReference   `yaml:"chartRef,omitempty"`
	Install        hrInstall        `yaml:"install"`
	Upgrade        hrUpgrade        `yaml:"upgrade"`
	DriftDetection hrDriftDetection `yaml:"driftDetection"`
}

type hrChart struct {
	Spec hrChartSpec `yaml:"spec"`
}

type hrChartSpec struct {
	Chart     string        `yaml:"chart"`
	Version   string        `yaml:"version"`
	SourceRef fluxReference `yaml:"sourceRef"`
	// ReconcileStrategy is the CRD's default (ChartVersion), written so
	// that the file equals the stored object.
	ReconcileStrategy string `yaml:"reconcileStrategy"`
}

type hrInstall struct {
	Remediation hrRemediation `yaml:"remediation"`
}

type hrUpgrade struct {
	CleanupOnFail bool          `yaml:"cleanupOnFail"`
	Remediation   hrRemediation `yaml:"remediation"`
}

type hrRemediation struct {
	Retries              int    `yaml:"retries"`
	RemediateLastFailure *bool  `yaml:"remediateLastFailure,omitempty"`
	Strategy             string `yaml:"strategy,omitempty"`
}

type hrDriftDetection struct {
	Mode   string         `yaml:"mode"`
	Ignore []hrIgnoreRule `yaml:"ignore,omitempty"`
}

type hrIgnoreRule struct {
	Paths  []string        `yaml:"paths"`
	Target *hrIgnoreTarget `yaml:"target,omitempty"`
}

type hrIgnoreTarget struct {
	Kind string `yaml:"kind"`
	Name string `yaml:"name"`
}

// HelmRepository (source.toolkit.fluxcd.io/v1), for https chart
// repositories.
type helmRepository struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		URL      string `yaml:"url"`
		Interval string `yaml:"interval"`
		Provider string `yaml:"provider"`
	} `yaml:"spec"`
}

// OCIRepository (source.toolkit.fluxcd.io/v1), for oci:// chart
// repositories: the chart is an OCI artifact at REPO/CHART:VERSION.
type ociRepository struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		URL string `yaml:"url"`
		Ref struct {
			Tag string `yaml:"tag"`
		} `yaml:"ref"`
		Interval      string `yaml:"interval"`
		LayerSelector struct {
			MediaType string `yaml:"mediaType"`
			Operation string `yaml:"operation"`
		} `yaml:"layerSelector"`
		Provider string `yaml:"provider"`
		Timeout  string `yaml:"timeout"`
	} `yaml:"spec"`
}

// namespace (v1) with its Pod Security labels.
type namespace struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
}

// kustomizeConfig is a kustomization.yaml (kustomize.config.k8s.io/v1beta1),
// which is kustomize's configuration, not a Kubernetes object.
type kustomizeConfig struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	Resources  []string `yaml:"resources"`
}

// fluxKustomizationStart begins the document of every generated Flux
// Kustomization, which Deploys recognises as applicationStart.
const fluxKustomizationStart = "\napiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"

// FluxDir names the directory of runner r's manifests under gitops.engine
// flux, which its Flux Kustomization applies.
func FluxDir(c *config.Config, r *config.Runner) string {
	return path.Join(c.GitOps.Paths.Manifests, releaseName(r))
}

// FluxKustomizationPath names the file of runner r's Flux Kustomization:
// the place of its Application under ArgoCD.
func FluxKustomizationPath(c *config.Config, r *config.Runner) string {
	return ApplicationPath(c, r)
}

// HelmReleasePath names the file of runner r's HelmRelease, which holds
// its Helm values under gitops.engine flux.
func HelmReleasePath(c *config.Config, r *config.Runner) string {
	return path.Join(FluxDir(c, r), releaseName(r)+"-helm-release.yaml")
}

// The other files of a runner's directory. Every file but
// kustomization.yaml (whose name kustomize fixes) is named after the
// release, as all generated files are: that is how runnerctl finds the
// directory of a runner gone from runnerctl.yaml, to prune it.
func fluxFile(c *config.Config, r *config.Runner, suffix string) string {
	return path.Join(FluxDir(c, r), releaseName(r)+suffix)
}

// ValuesSourcePath names the file holding runner r's Helm values: its
// values file, or under gitops.engine flux its HelmRelease (spec.values;
// validate.ChartValues reads them from either).
func ValuesSourcePath(c *config.Config, r *config.Runner) string {
	if c.GitOps.Engine == config.EngineFlux {
		return HelmReleasePath(c, r)
	}
	return ValuesPath(c, r)
}

// FilesOf lists every file render may write for runner r (some only with
// the settings that need them), for the engine in use.
func FilesOf(c *config.Config, r *config.Runner) []string {
	if c.GitOps.Engine != config.EngineFlux {
		return []string{ApplicationPath(c, r), ExternalSecretPath(c, r), GitLabCAPath(c, r), NetworkPolicyPath(c, r), ValuesPath(c, r)}
	}
	return []string{
		FluxKustomizationPath(c, r), path.Join(FluxDir(c, r), kustomizeFile), fluxFile(c, r, "-namespace.yaml"),
		fluxFile(c, r, "-chart-source.yaml"), fluxFile(c, r, externalSecretSuffix), fluxFile(c, r, gitlabCASuffix),
		fluxFile(c, r, networkPolicySuffix), HelmReleasePath(c, r),
	}
}

// kustomizeFile is the name kustomize reads in a directory.
const kustomizeFile = "kustomization.yaml"

// renderFluxRunner renders runners[index], r, for gitops.engine flux;
// ownsNamespace says whether its directory holds its Namespace
// (namespaceOwners).
func renderFluxRunner(cfg *config.Config, b *bases, eso *esoDefaults, r *config.Runner, index int, p *profile.Profile, profileYAML []byte, ownsNamespace bool) (runnerOutput, error) {
	dir := FluxDir(cfg, r)
	var pending []pendingFile
	if ownsNamespace {
		pending = append(pending, pendingFile{path: fluxFile(cfg, r, "-namespace.yaml"), docs: []any{buildNamespace(b, r, p)}})
	}
	src := pendingFile{path: fluxFile(cfg, r, "-chart-source.yaml")}
	if isOCI(cfg.Chart.RepoURL) {
		src.docs = []any{buildOCIRepository(cfg, b, r)}
	} else {
		src.docs = []any{buildHelmRepository(cfg, b, r)}
	}
	pending = append(pending, src)
	manifests, err := manifestFiles(cfg, b, eso, r, dir)
	if err != nil {
		return runnerOutput{}, err
	}
	pending = append(pending, manifests...)

	toml, err := runnerTOML(cfg, r, p)
	if err != nil {
		return runnerOutput{}, err
	}
	v := buildValues(cfg, b, r, p, toml)
	// The values are patched as under ArgoCD (patches.values, with the
	// same owned fields and hardening checks), then put inline into the
	// HelmRelease, which patches.application patches.
	pt := &patcher{cfg: cfg, r: r, index: index, profile: p.Name, flux: true}
	var values any = v
	tail := profileYAML
	if values, tail, err = pt.apply(patchValues, values, tail); err != nil {
		return runnerOutput{}, fmt.Errorf("%s: %w", HelmReleasePath(cfg, r), err)
	}
	inline, err := inlineValues(values, tail)
	if err != nil {
		return runnerOutput{}, fmt.Errorf("%s: %w", HelmReleasePath(cfg, r), err)
	}
	pending = append(pending, pendingFile{path: HelmReleasePath(cfg, r), comment: helmReleaseComment, kinds: []string{patchApplication},
		docs: []any{buildHelmRelease(cfg, b, r)}, tail: inline})

	resources := make([]string, len(pending))
	for i, f := range pending {
		resources[i] = path.Base(f.path)
	}
	kc := b.Kustomize
	kc.Resources = resources
	pending = append(pending, pendingFile{path: path.Join(dir, kustomizeFile), docs: []any{kc}})
	pending = append(pending, pendingFile{path: FluxKustomizationPath(cfg, r), docs: []any{buildFluxKustomization(cfg, b, r)}})

	// patches.values was applied above.
	return finishRunner(pt, p, pending, patchValues)
}

// helmReleaseComment follows the header of the HelmRelease's file.
const helmReleaseComment = `#
# The values are inline (spec.values): one object, which Flux upgrades the
# release from whenever it changes, and which validate checks whole.
`

// namespaceOwners maps each namespace of cfg's runners to the first
// runner deployed to it, whose directory holds the Namespace. Only one
// Kustomization may apply an object, or each would overwrite the labels
// Flux puts on it (kustomize.toolkit.fluxcd.io/name) on every reconcile.
// Worked out once for all runners: asking per runner would cost a pass
// over the runners before it, each.
func namespaceOwners(cfg *config.Config) map[string]int {
	owners := map[string]int{}
	for i := range cfg.Runners {
		if _, ok := owners[cfg.Runners[i].Namespace]; !ok {
			owners[cfg.Runners[i].Namespace] = i
		}
	}
	return owners
}

// isOCI reports whether a chart repository is an OCI registry.
func isOCI(repoURL string) bool { return strings.HasPrefix(repoURL, "oci://") }

// buildNamespace fills templates/namespace.yaml for runner r's namespace,
// labelled as r's profile says (config.Check has made sure every runner
// sharing it has a profile with the same labels). It has no runner label:
// several runners may live there.
func buildNamespace(b *bases, r *config.Runner, p *profile.Profile) namespace {
	n := b.Namespace
	n.Metadata.Name = r.Namespace
	n.Metadata.Labels = make(map[string]string, len(b.Namespace.Metadata.Labels)+len(p.Namespace.Labels))
	maps.Copy(n.Metadata.Labels, b.Namespace.Metadata.Labels)
	maps.Copy(n.Metadata.Labels, p.Namespace.Labels)
	return n
}

func buildHelmRepository(cfg *config.Config, b *bases, r *config.Runner) helmRepository {
	h := b.HelmRepository
	h.Metadata = metaOf(h.Metadata, releaseName(r), r.Namespace, r)
	h.Spec.URL, h.Spec.Interval = cfg.Chart.RepoURL, cfg.Flux.Interval
	return h
}

func buildOCIRepository(cfg *config.Config, b *bases, r *config.Runner) ociRepository {
	o := b.OCIRepository
	o.Metadata = metaOf(o.Metadata, releaseName(r), r.Namespace, r)
	o.Spec.URL = strings.TrimSuffix(cfg.Chart.RepoURL, "/") + "/" + cfg.Chart.Name
	o.Spec.Ref.Tag = cfg.Chart.Version
	o.Spec.Interval = cfg.Flux.Interval
	return o
}

// buildHelmRelease fills templates/flux-helmrelease.yaml for runner r,
// with values, the runner's values already patched.
func buildHelmRelease(cfg *config.Config, b *bases, r *config.Runner) helmRelease {
	h := b.HelmRelease
	h.Metadata = metaOf(h.Metadata, releaseName(r), r.Namespace, r)
	s := &h.Spec
	s.Interval = cfg.Flux.Interval
	// The release name makes the chart's Deployment gitlab-runner-NAME,
	// which rotate-token and validate's chart check find by NamesOf; Flux
	// would otherwise name the release after the HelmRelease's namespace
	// and name.
	s.ReleaseName = releaseName(r)
	if isOCI(cfg.Chart.RepoURL) {
		s.ChartRef = &fluxReference{Kind: "OCIRepository", Name: releaseName(r)}
	} else {
		s.Chart = &hrChart{Spec: hrChartSpec{
			Chart: cfg.Chart.Name, Version: cfg.Chart.Version,
			SourceRef:         fluxReference{Kind: "HelmRepository", Name: releaseName(r)},
			ReconcileStrategy: "ChartVersion",
		}}
	}
	if r.Autoscaling != nil {
		// The HorizontalPodAutoscaler sets the Deployment's replicas; drift
		// correction would set them back to the chart's.
		s.DriftDetection.Ignore = []hrIgnoreRule{{Paths: []string{"/spec/replicas"}, Target: &hrIgnoreTarget{Kind: "Deployment", Name: releaseName(r)}}}
	}
	return h
}

// inlineValues is the HelmRelease's spec.values as text, to follow the
// encoded HelmRelease as the profile's part follows a values file's
// document (pendingFile.tail): the runner's values (a typed object, or a
// patched *yaml.Node) followed by tail, encoded as the values file is,
// with every line indented under "  values:". spec is helmRelease's last
// field, and values goes last in it, so the text goes at the end of the
// document; block indentation is relative, so the shifted
// lines say what they said at the top, and empty lines (in a literal
// block) stay empty, as the encoder writes them. It is the bytes encoding
// the values as a node inside the HelmRelease gave (the Flux golden files
// and TestInlineValuesIsTheNestedEncoding), without parsing them back: a
// third of a Flux render went into that round trip. A patched
// HelmRelease is parsed with its tail (patcher.apply), values included.
func inlineValues(values any, tail []byte) ([]byte, error) {
	if n, ok := values.(*yaml.Node); ok && n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the values are not one mapping")
	}
	raw, err := marshalDocsTail("", tail, values)
	if err != nil {
		return nil, err
	}
	const key, indent = "  values:\n", "    "
	out := make([]byte, 0, len(key)+len(raw)+len(indent)*bytes.Count(raw, []byte("\n")))
	out = append(out, key...)
	for line := range bytes.Lines(raw) {
		if line[0] != '\n' {
			out = append(out, indent...)
		}
		out = append(out, line...)
	}
	return out, nil
}

// buildFluxKustomization fills templates/flux-kustomization.yaml for
// runner r: it applies the runner's directory from flux.sourceRef.
func buildFluxKustomization(cfg *config.Config, b *bases, r *config.Runner) fluxKustomization {
	f := cfg.Flux
	k := b.FluxKustomization
	k.Metadata = metaOf(k.Metadata, releaseName(r), f.Namespace, r)
	k.Spec.Interval = f.Interval
	for _, d := range f.DependsOn {
		k.Spec.DependsOn = append(k.Spec.DependsOn, fluxReference{Name: d})
	}
	k.Spec.SourceRef = fluxReference{Kind: f.SourceRef.Kind, Name: f.SourceRef.Name}
	if f.SourceRef.Namespace != f.Namespace {
		k.Spec.SourceRef.Namespace = f.SourceRef.Namespace
	}
	// Relative to the root of the source's artifact, as Flux writes it.
	k.Spec.Path = "./" + FluxDir(cfg, r)
	return k
}
