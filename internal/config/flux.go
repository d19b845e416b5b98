package config

import (
	"fmt"
	"path"
	"reflect"
	"strings"
)

// Flux holds the settings of gitops.engine flux: where each runner's Flux
// Kustomization lives and what it reads its manifests from. The defaults
// are what `flux bootstrap` sets up: the GitRepository flux-system in the
// namespace flux-system, which holds the Flux controllers.
type Flux struct {
	Namespace string        `yaml:"namespace,omitempty" doc:"Namespace of the generated Flux Kustomizations (one per runner), where kustomize-controller reconciles them." default:"flux-system"`
	SourceRef FluxSourceRef `yaml:"sourceRef,omitempty" doc:"The Flux source holding this repository, which every runner's Kustomization reads its manifests from."`
	Interval  string        `yaml:"interval,omitempty" doc:"How often Flux reconciles each runner's Kustomization, HelmRelease and chart source (a Flux duration such as 10m or 1h): drift in the cluster is undone at this pace." default:"10m"`
	DependsOn []string      `yaml:"dependsOn,omitempty" doc:"Flux Kustomizations (names in flux.namespace) that every runner's Kustomization waits for: typically the one installing External Secrets Operator and its store, whose CRDs the ExternalSecrets need."`
}

// FluxSourceRef names a Flux source object.
type FluxSourceRef struct {
	Kind      string `yaml:"kind,omitempty" doc:"GitRepository, OCIRepository or Bucket." default:"GitRepository"`
	Name      string `yaml:"name,omitempty" doc:"Name of the source." default:"flux-system"`
	Namespace string `yaml:"namespace,omitempty" doc:"Namespace of the source." default:"flux.namespace"`
}

// Flux defaults: what flux bootstrap creates.
const (
	DefaultFluxNamespace = "flux-system"
	DefaultFluxSource    = "flux-system"
	DefaultFluxInterval  = "10m"
)

// FluxSourceKinds are the sources a Flux Kustomization reads manifests from
// that can hold this repository.
var FluxSourceKinds = []string{"GitRepository", "OCIRepository", "Bucket"}

// fluxDurationRE is the pattern of every duration in the Flux CRDs
// (kustomize.toolkit.fluxcd.io/v1, helm.toolkit.fluxcd.io/v2): Go's
// time.ParseDuration would also accept units (us, ns) the API server
// refuses.
var fluxDurationRE = newLazyRE(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)

// applyFluxDefaults fills flux.* under gitops.engine flux.
func (c *Config) applyFluxDefaults() {
	f := &c.Flux
	setDefault(&f.Namespace, DefaultFluxNamespace)
	setDefault(&f.SourceRef.Kind, "GitRepository")
	setDefault(&f.SourceRef.Name, DefaultFluxSource)
	setDefault(&f.SourceRef.Namespace, f.Namespace)
	setDefault(&f.Interval, DefaultFluxInterval)
}

// validateEngine checks the settings of the engine in use and refuses
// those of the other one: argocd.* does nothing under flux and flux.*
// nothing under argocd, and a setting that silently does nothing is worse
// than an error (a user who set argocd.destination expects the runners
// there).
func (c *Config) validateEngine(v *validator) {
	if c.GitOps.Engine != EngineFlux {
		c.validateArgoCD(v)
		if !reflect.DeepEqual(c.Flux, Flux{}) {
			v.add("flux", "is used only with gitops.engine flux; remove it, or set gitops.engine: flux")
		}
		return
	}
	argo := c.ArgoCD
	if argo.ApplicationSet.Generator == GeneratorList {
		argo.ApplicationSet.Generator = "" // the default, set for every engine
	}
	a := reflect.ValueOf(argo)
	for i := range a.NumField() {
		if !a.Field(i).IsZero() {
			name := strings.Split(a.Type().Field(i).Tag.Get("yaml"), ",")[0]
			v.add("argocd."+name, "has no effect with gitops.engine flux (Flux deploys the runners, not ArgoCD); remove it, or set gitops.engine: argocd")
		}
	}
	f := c.Flux
	v.dnsLabel("flux.namespace", f.Namespace, 63)
	v.oneOf("flux.sourceRef.kind", f.SourceRef.Kind, FluxSourceKinds...)
	v.dnsSubdomain("flux.sourceRef.name", f.SourceRef.Name)
	v.dnsLabel("flux.sourceRef.namespace", f.SourceRef.Namespace, 63)
	v.match("flux.interval", f.Interval, fluxDurationRE, "a Flux duration such as 30s, 10m or 1h")
	seen := map[string]bool{}
	for i, d := range f.DependsOn {
		p := fmt.Sprintf("flux.dependsOn[%d]", i)
		v.dnsSubdomain(p, d)
		if seen[d] {
			v.add(p, "%q is listed twice", d)
		}
		seen[d] = true
	}
	g := c.GitOps.Paths
	// Flux applies every manifest below the path of a Kustomization
	// (generating a kustomization.yaml when there is none): a runner's
	// directory below the directory of the Kustomizations would be applied
	// twice, by the cluster's Kustomization and by the runner's own.
	if g.Applications != "" && g.Manifests != "" && isBelow(g.Manifests, g.Applications) {
		v.add("gitops.paths.manifests", "%q is inside gitops.paths.applications (%q), which Flux applies whole: each runner's manifests would be applied twice; put them in a directory of their own, such as runners", g.Manifests, g.Applications)
	}
	for i := range c.Runners {
		if r := &c.Runners[i]; r.Namespace == f.Namespace {
			v.add(fmt.Sprintf("runners[%d].namespace", i), "%q is Flux's own namespace (flux.namespace); job pods there could read Flux's credentials, so give the runner its own namespace", r.Namespace)
		}
	}
}

// isBelow reports whether repository path p is dir or inside it.
func isBelow(p, dir string) bool {
	p, dir = path.Clean(p), path.Clean(dir)
	return p == dir || dir == "." || strings.HasPrefix(p, dir+"/")
}

// fluxPathsRequired explains gitops.paths.applications left empty under
// flux, where it has no default: the Kustomizations must go where the
// cluster's own Flux Kustomization applies them, which only the user knows.
const fluxPathsRequired = "is required with gitops.engine flux: name a directory that your cluster's Flux Kustomization applies, such as clusters/my-cluster/runners (below the path given to flux bootstrap --path)"
