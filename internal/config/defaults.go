package config

// Default values. The chart version is the newest one runnerctl was verified
// against (values keys checked against its values.yaml, TOML keys against
// the gitlab-runner release its appVersion names).
const (
	DefaultChartRepo       = "https://charts.gitlab.io"
	DefaultChartName       = "gitlab-runner"
	DefaultChartVersion    = "0.86.0"
	DefaultChartAppVersion = "18.9.0"

	DefaultProfile     = "restricted"
	DefaultNamespace   = "gitlab-runner"
	DefaultProfilesDir = "runnerctl-profiles"
)

// ESORelease is an External Secrets Operator release line that runnerctl
// renders ExternalSecrets for (secrets.esoVersion).
type ESORelease struct {
	// Version is MAJOR.MINOR, as secrets.esoVersion names it.
	Version string
	// APIVersion is the ExternalSecret API version runnerctl writes for
	// the release, the only one its CRD serves: ESO 0.17 added v1, and the
	// CRDs of 1.3.2 and 2.9.0 define v1beta1 without serving it.
	APIVersion string
}

// ESOReleases are the release lines whose CRD defaults runnerctl knows,
// newest first. Each one's defaults come from its CRDs (see
// internal/render/esodefaults.yaml); LegacyESOVersion stands for every ESO
// before 0.17.
var ESOReleases = []ESORelease{
	{Version: DefaultESOVersion, APIVersion: "v1"},
	{Version: "1.3", APIVersion: "v1"},
	{Version: LegacyESOVersion, APIVersion: "v1beta1"},
}

// DefaultESOVersion is the newest ESO release runnerctl was verified
// against; LegacyESOVersion is the one for clusters whose ESO serves only
// external-secrets.io/v1beta1.
const (
	DefaultESOVersion = "2.9"
	LegacyESOVersion  = "0.16"
)

// ESOReleaseOf returns the release line named version.
func ESOReleaseOf(version string) (ESORelease, bool) {
	for _, r := range ESOReleases {
		if r.Version == version {
			return r, true
		}
	}
	return ESORelease{}, false
}

// RunnerPlaceholder in a backend layout is replaced by the runner's name.
const RunnerPlaceholder = "{runner}"

// DefaultSyncPolicy is the seed article's sync policy.
func DefaultSyncPolicy() *SyncPolicy {
	return &SyncPolicy{
		Automated:   &Automated{Prune: true, SelfHeal: true},
		SyncOptions: []string{"CreateNamespace=true", "PrunePropagationPolicy=foreground", "PruneLast=true"},
		Retry: &Retry{Limit: 5, Backoff: &Backoff{
			Duration: "5s", Factor: 2, MaxDuration: "3m",
		}},
	}
}

// ApplyDefaults fills every unset field with its documented default. It is
// applied after loading and before validation, so validation and rendering
// see a complete Config; it never overrides a value the user set.
func (c *Config) ApplyDefaults() {
	setDefault(&c.ProfilesDir, DefaultProfilesDir)
	setDefault(&c.GitOps.Revision, "HEAD")
	setDefault(&c.GitOps.Engine, EngineArgoCD)
	setDefault(&c.GitOps.Paths.Manifests, "manifests")
	setDefault(&c.GitOps.Paths.Values, "values")
	// For every engine: validateClusters reads it.
	setDefault(&c.ArgoCD.ApplicationSet.Generator, GeneratorList)
	if c.GitOps.Engine == EngineFlux {
		// No ArgoCD defaults: validation refuses argocd.* under flux,
		// and must see only what the user wrote.
		c.applyFluxDefaults()
	} else {
		setDefault(&c.GitOps.Paths.Applications, "argocd-apps")
		setDefault(&c.ArgoCD.Namespace, "argocd")
		setDefault(&c.ArgoCD.Project, "default")
		if c.ArgoCD.Destination.Name == "" {
			setDefault(&c.ArgoCD.Destination.Server, "https://kubernetes.default.svc")
		}
		if c.ArgoCD.SyncPolicy == nil {
			c.ArgoCD.SyncPolicy = DefaultSyncPolicy()
		}
	}

	setDefault(&c.Chart.RepoURL, DefaultChartRepo)
	setDefault(&c.Chart.Name, DefaultChartName)
	setDefault(&c.Chart.Version, DefaultChartVersion)

	s := &c.Secrets
	setDefault(&s.Store.Kind, "ClusterSecretStore")
	if s.ESOVersion == "" {
		s.ESOVersion = DefaultESOVersion
		if s.ESOAPIVersion == "v1beta1" {
			// Files written before esoVersion existed said "old ESO" this way.
			s.ESOVersion = LegacyESOVersion
		}
	}
	if rel, ok := ESOReleaseOf(s.ESOVersion); ok {
		setDefault(&s.ESOAPIVersion, rel.APIVersion)
	}
	setDefault(&s.ESOAPIVersion, "v1")
	setDefault(&s.RefreshInterval, "15m")
	// The backend's own block may be omitted entirely when its defaults suit.
	switch s.Backend {
	case BackendInfisical:
		if s.Infisical == nil {
			s.Infisical = &Infisical{}
		}
		setDefault(&s.Infisical.Environment, "prod")
		setDefault(&s.Infisical.Path, "/gitlab/runners/"+RunnerPlaceholder)
		setDefault(&s.Infisical.SecretName, "RUNNER_TOKEN")
	case BackendVault:
		if s.Vault == nil {
			s.Vault = &Vault{}
		}
		setDefault(&s.Vault.Mount, "secret")
		setDefault(&s.Vault.Path, "gitlab/runners/"+RunnerPlaceholder)
		setDefault(&s.Vault.Property, "runner-token")
	case BackendAWS:
		if s.AWS == nil {
			s.AWS = &AWS{}
		}
		setDefault(&s.AWS.Name, "gitlab/runners/"+RunnerPlaceholder)
	case BackendGCP:
		if s.GCP == nil {
			s.GCP = &GCP{}
		}
		// Not ReleasePrefix: this names the stored token in the user's
		// secrets manager, which must not move if the objects are renamed.
		setDefault(&s.GCP.Name, "gitlab-runner-"+RunnerPlaceholder+"-token")
	}

	for i := range c.Runners {
		c.Runners[i].applyDefaults()
	}
}

func (r *Runner) applyDefaults() {
	setDefault(&r.Namespace, DefaultNamespace)
	setDefault(&r.Profile, DefaultProfile)
	if r.Concurrent == 0 {
		r.Concurrent = 2
	}
	if r.CheckInterval == 0 {
		r.CheckInterval = 30
	}
	setDefault(&r.Image, "ubuntu:22.04")
	if len(r.PullPolicy) == 0 {
		r.PullPolicy = []string{"if-not-present"}
	}
	setDefault(&r.ServiceAccount, ReleasePrefix+r.Name)
	if r.Resources == nil {
		r.Resources = &Resources{
			Requests: ResourceList{CPU: "100m", Memory: "128Mi"},
			Limits:   ResourceList{CPU: "200m", Memory: "256Mi"},
		}
	}
	if r.JobResources == nil {
		r.JobResources = &Resources{
			Requests: ResourceList{CPU: "100m", Memory: "128Mi"},
			Limits:   ResourceList{CPU: "1000m", Memory: "2Gi"},
		}
	}
	if r.Registration == nil {
		r.Registration = &Registration{}
	}
	if reg := r.Registration; reg != nil {
		setDefault(&reg.Description, "runnerctl "+r.Name)
		setDefault(&reg.Scope.Type, ScopeInstance)
		setDefault(&reg.AccessLevel, "not_protected")
		if reg.RunUntagged == nil || reg.untaggedByDefault {
			untagged := len(reg.Tags) == 0
			reg.RunUntagged, reg.untaggedByDefault = &untagged, true
		}
	}
	if c := r.Cache; c != nil {
		setDefault(&c.Type, "s3")
		if c.S3 != nil {
			setDefault(&c.S3.AuthenticationType, "access-key")
		}
	}
	if a := r.Autoscaling; a != nil {
		if a.MinReplicas == 0 {
			a.MinReplicas = 1
		}
		setDefault(&a.TargetAverageJobs, "400m")
	}
	if n := r.NetworkPolicy; n != nil {
		setDefault(&n.Flavor, "kubernetes")
	}
}

func setDefault(field *string, value string) {
	if *field == "" {
		*field = value
	}
}
