package render

import "github.com/runnerctl/runnerctl/internal/profile"

// The generated objects as typed Go values. They are marshalled, never
// assembled from text templates: a value from runnerctl.yaml can then never
// break out of its field, whatever characters it holds (YAML and TOML
// injection are impossible by construction, and FuzzRender checks it).

type objectMeta struct {
	Name       string            `json:"name"`
	Namespace  string            `json:"namespace,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	Finalizers []string          `json:"finalizers,omitempty"`
}

// ArgoCD Application (argoproj.io/v1alpha1), the fields runnerctl sets.
type application struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       appSpec    `json:"spec"`
}

type appSpec struct {
	Project     string         `json:"project"`
	Destination appDestination `json:"destination"`
	Sources     []appSource    `json:"sources"`
	SyncPolicy  *appSyncPolicy `json:"syncPolicy,omitempty"`
}

type appDestination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace"`
}

type appSource struct {
	RepoURL        string        `json:"repoURL"`
	Chart          string        `json:"chart,omitempty"`
	TargetRevision string        `json:"targetRevision"`
	Path           string        `json:"path,omitempty"`
	Ref            string        `json:"ref,omitempty"`
	Helm           *appHelm      `json:"helm,omitempty"`
	Directory      *appDirectory `json:"directory,omitempty"`
}

type appHelm struct {
	ReleaseName string   `json:"releaseName"`
	ValueFiles  []string `json:"valueFiles"`
}

type appDirectory struct {
	Include string `json:"include"`
}

type appSyncPolicy struct {
	Automated                *appAutomated      `json:"automated,omitempty"`
	SyncOptions              []string           `json:"syncOptions,omitempty"`
	Retry                    *appRetry          `json:"retry,omitempty"`
	ManagedNamespaceMetadata *namespaceMetadata `json:"managedNamespaceMetadata,omitempty"`
}

type appAutomated struct {
	Prune    bool `json:"prune"`
	SelfHeal bool `json:"selfHeal"`
}

type appRetry struct {
	Limit   int         `json:"limit"`
	Backoff *appBackoff `json:"backoff,omitempty"`
}

type appBackoff struct {
	Duration    string `json:"duration,omitempty"`
	Factor      int    `json:"factor,omitempty"`
	MaxDuration string `json:"maxDuration,omitempty"`
}

type namespaceMetadata struct {
	Labels map[string]string `json:"labels,omitempty"`
}

// ESO ExternalSecret (external-secrets.io/v1 or v1beta1).
type externalSecret struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   objectMeta `json:"metadata"`
	Spec       esSpec     `json:"spec"`
}

type esSpec struct {
	RefreshInterval string     `json:"refreshInterval"`
	SecretStoreRef  esStoreRef `json:"secretStoreRef"`
	Target          esTarget   `json:"target"`
	Data            []esData   `json:"data"`
}

type esStoreRef struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type esTarget struct {
	Name           string      `json:"name"`
	CreationPolicy string      `json:"creationPolicy"`
	Template       *esTemplate `json:"template,omitempty"`
}

type esTemplate struct {
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

type esData struct {
	SecretKey string      `json:"secretKey"`
	RemoteRef esRemoteRef `json:"remoteRef"`
}

type esRemoteRef struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}

// Helm values of the gitlab-runner chart: only keys the chart reads (checked
// against its values.yaml for the default chart version).
type values struct {
	GitLabURL          string              `json:"gitlabUrl"`
	Concurrent         int                 `json:"concurrent"`
	CheckInterval      int                 `json:"checkInterval"`
	UnregisterRunners  *bool               `json:"unregisterRunners,omitempty"`
	Image              *imageValues        `json:"image,omitempty"`
	RBAC               rbacValues          `json:"rbac"`
	ServiceAccount     serviceAccountValue `json:"serviceAccount"`
	Runners            runnersValues       `json:"runners"`
	SecurityContext    any                 `json:"securityContext,omitempty"`
	PodSecurityContext any                 `json:"podSecurityContext,omitempty"`
	Resources          *resourceValues     `json:"resources,omitempty"`
	HPA                *hpaValues          `json:"hpa,omitempty"`
	Metrics            *metricsValues      `json:"metrics,omitempty"`
}

type imageValues struct {
	Registry string `json:"registry,omitempty"`
	Image    string `json:"image,omitempty"`
	Tag      string `json:"tag,omitempty"`
}

type rbacValues struct {
	Create bool                 `json:"create"`
	Rules  []profile.PolicyRule `json:"rules"`
}

type serviceAccountValue struct {
	Create bool   `json:"create"`
	Name   string `json:"name"`
}

type runnersValues struct {
	Secret string       `json:"secret"`
	Config string       `json:"config"`
	Cache  *cacheValues `json:"cache,omitempty"`
}

type cacheValues struct {
	SecretName string `json:"secretName"`
}

type resourceValues struct {
	Requests map[string]string `json:"requests,omitempty"`
	Limits   map[string]string `json:"limits,omitempty"`
}

type hpaValues struct {
	MinReplicas int         `json:"minReplicas"`
	MaxReplicas int         `json:"maxReplicas"`
	Metrics     []hpaMetric `json:"metrics"`
}

// hpaMetric is an autoscaling/v2 MetricSpec of type Pods.
type hpaMetric struct {
	Type string `json:"type"`
	Pods struct {
		Metric struct {
			Name string `json:"name"`
		} `json:"metric"`
		Target struct {
			Type         string `json:"type"`
			AverageValue string `json:"averageValue"`
		} `json:"target"`
	} `json:"pods"`
}

type metricsValues struct {
	Enabled bool `json:"enabled"`
}
