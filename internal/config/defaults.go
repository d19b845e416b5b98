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
	setDefault(&c.GitOps.Paths.Applications, "argocd-apps")
	setDefault(&c.GitOps.Paths.Manifests, "manifests")
	setDefault(&c.GitOps.Paths.Values, "values")

	setDefault(&c.ArgoCD.Namespace, "argocd")
	setDefault(&c.ArgoCD.Project, "default")
	if c.ArgoCD.Destination.Name == "" {
		setDefault(&c.ArgoCD.Destination.Server, "https://kubernetes.default.svc")
	}
	if c.ArgoCD.SyncPolicy == nil {
		c.ArgoCD.SyncPolicy = DefaultSyncPolicy()
	}

	setDefault(&c.Chart.RepoURL, DefaultChartRepo)
	setDefault(&c.Chart.Name, DefaultChartName)
	setDefault(&c.Chart.Version, DefaultChartVersion)

	s := &c.Secrets
	setDefault(&s.Store.Kind, "ClusterSecretStore")
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
	setDefault(&r.ServiceAccount, "gitlab-runner-"+r.Name)
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
		if reg.RunUntagged == nil {
			untagged := len(reg.Tags) == 0
			reg.RunUntagged = &untagged
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
