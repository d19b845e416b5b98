package render

import (
	"github.com/runnerctl/runnerctl/internal/profile"
)

// The generated objects as typed Go values. Their fixed parts are the base
// documents of templates/, decoded into these types (templates.go); render
// fills the rest and marshals them. Nothing is ever assembled from text
// templates: a value from runnerctl.yaml can then never break out of its
// field, whatever characters it holds (YAML and TOML injection are
// impossible by construction, and FuzzRender checks it).

type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
	Finalizers  []string          `yaml:"finalizers,omitempty"`
}

// ArgoCD Application (argoproj.io/v1alpha1), the fields runnerctl sets.
type application struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       appSpec    `yaml:"spec"`
}

type appSpec struct {
	Project     string         `yaml:"project"`
	Destination appDestination `yaml:"destination"`
	Sources     []appSource    `yaml:"sources"`
	SyncPolicy  *appSyncPolicy `yaml:"syncPolicy,omitempty"`
}

type appDestination struct {
	Server    string `yaml:"server,omitempty"`
	Name      string `yaml:"name,omitempty"`
	Namespace string `yaml:"namespace"`
}

type appSource struct {
	RepoURL        string        `yaml:"repoURL"`
	Chart          string        `yaml:"chart,omitempty"`
	TargetRevision string        `yaml:"targetRevision"`
	Path           string        `yaml:"path,omitempty"`
	Ref            string        `yaml:"ref,omitempty"`
	Helm           *appHelm      `yaml:"helm,omitempty"`
	Directory      *appDirectory `yaml:"directory,omitempty"`
}

type appHelm struct {
	ReleaseName string   `yaml:"releaseName"`
	ValueFiles  []string `yaml:"valueFiles"`
}

type appDirectory struct {
	Include string `yaml:"include"`
}

type appSyncPolicy struct {
	Automated                *appAutomated      `yaml:"automated,omitempty"`
	SyncOptions              []string           `yaml:"syncOptions,omitempty"`
	Retry                    *appRetry          `yaml:"retry,omitempty"`
	ManagedNamespaceMetadata *namespaceMetadata `yaml:"managedNamespaceMetadata,omitempty"`
}

type appAutomated struct {
	Prune    bool `yaml:"prune"`
	SelfHeal bool `yaml:"selfHeal"`
}

type appRetry struct {
	Limit   int         `yaml:"limit"`
	Backoff *appBackoff `yaml:"backoff,omitempty"`
}

type appBackoff struct {
	Duration    string `yaml:"duration,omitempty"`
	Factor      int    `yaml:"factor,omitempty"`
	MaxDuration string `yaml:"maxDuration,omitempty"`
}

type namespaceMetadata struct {
	Labels map[string]string `yaml:"labels,omitempty"`
}

// ArgoCD ApplicationSet (argoproj.io/v1alpha1), the fields runnerctl sets:
// one per runner with clusters. The CRD (ArgoCD v3.5.7) defaults none of
// them, nor anything else in spec, so the file is what the cluster stores.
type applicationSet struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       appSetSpec `yaml:"spec"`
}

// appTemplate is an Application as an ApplicationSet's template holds it:
// without apiVersion and kind.
type appTemplate struct {
	Metadata objectMeta `yaml:"metadata"`
	Spec     appSpec    `yaml:"spec"`
}

type appSetSpec struct {
	GoTemplate        bool              `yaml:"goTemplate"`
	GoTemplateOptions []string          `yaml:"goTemplateOptions"`
	Generators        []appSetGenerator `yaml:"generators"`
	// Template is the Application of every cluster: an appTemplate when
	// nothing in it needs escaping for ArgoCD's Go templates, else a
	// *yaml.Node, patched (runners[].patches.application) and its text
	// escaped before the cluster's parameters go in (fleet.go), which a
	// typed object cannot hold. nil in the base.
	Template any `yaml:"template"`
}

// appSetGenerator is one generator: list or clusters, and the selector
// ArgoCD applies to the parameters either one generates.
type appSetGenerator struct {
	List     *listGenerator    `yaml:"list,omitempty"`
	Clusters *clusterGenerator `yaml:"clusters,omitempty"`
	Selector *appSetSelector   `yaml:"selector,omitempty"`
}

type listGenerator struct {
	Elements []listElement `yaml:"elements"`
}

// listElement is one cluster's parameters. Typed rather than a map (whose
// keys yaml/v3 sorts with a costly comparison: most of a fleet's
// ApplicationSet's encoding), its fields in the order sorted keys would
// have; a destination key is either in every element of a generator or in
// none (the template's missingkey=error), so nil leaves it out and a
// pointer to "" writes it empty.
type listElement struct {
	Cluster         string  `yaml:"cluster"`
	DestinationName *string `yaml:"destinationName,omitempty"`
	Server          *string `yaml:"server,omitempty"`
}

type clusterGenerator struct {
	Selector appSetSelector `yaml:"selector"`
}

type appSetSelector struct {
	MatchLabels      map[string]string          `yaml:"matchLabels,omitempty"`
	MatchExpressions []labelSelectorRequirement `yaml:"matchExpressions,omitempty"`
}

type labelSelectorRequirement struct {
	Key      string   `yaml:"key"`
	Operator string   `yaml:"operator"`
	Values   []string `yaml:"values"`
}

// Kubernetes Secret (v1), for public data that the chart reads only from a
// Secret (GitLab's CA). stringData keeps it reviewable in a diff; ArgoCD
// does not report drift for it (gitops-engine's diff.NormalizeSecret turns
// stringData into data before comparing with the live object).
type secret struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
}

// ESO ExternalSecret (external-secrets.io/v1 or v1beta1).
type externalSecret struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       esSpec     `yaml:"spec"`
}

type esSpec struct {
	RefreshInterval string     `yaml:"refreshInterval"`
	SecretStoreRef  esStoreRef `yaml:"secretStoreRef"`
	Target          esTarget   `yaml:"target"`
	Data            []esData   `yaml:"data"`
}

type esStoreRef struct {
	Name string `yaml:"name"`
	Kind string `yaml:"kind"`
}

// The fields after the first ones of esTarget, esTemplate and esRemoteRef
// are those that the chosen ESO release's CRD would fill in with defaults
// (esoDefaults): written out, and empty (omitted) where that release
// defaults nothing.

type esTarget struct {
	Name           string      `yaml:"name"`
	CreationPolicy string      `yaml:"creationPolicy"`
	DeletionPolicy string      `yaml:"deletionPolicy,omitempty"`
	Template       *esTemplate `yaml:"template,omitempty"`
}

type esTemplate struct {
	Type          string            `yaml:"type"`
	EngineVersion string            `yaml:"engineVersion,omitempty"`
	MergePolicy   string            `yaml:"mergePolicy,omitempty"`
	Data          map[string]string `yaml:"data"`
}

type esData struct {
	SecretKey string      `yaml:"secretKey"`
	RemoteRef esRemoteRef `yaml:"remoteRef"`
}

type esRemoteRef struct {
	Key                string `yaml:"key"`
	Property           string `yaml:"property,omitempty"`
	ConversionStrategy string `yaml:"conversionStrategy,omitempty"`
	DecodingStrategy   string `yaml:"decodingStrategy,omitempty"`
	MetadataPolicy     string `yaml:"metadataPolicy,omitempty"`
}

// Helm values of the gitlab-runner chart: only keys the chart reads (checked
// against its values.yaml for the default chart version). A values file is
// the runner's part followed by its profile's part; both are top-level
// mappings, so their YAML texts concatenate into one valid mapping, and the
// profile's part, the same for every runner using it, is encoded once.
type runnerValues struct {
	GitLabURL       string              `yaml:"gitlabUrl"`
	CertsSecretName string              `yaml:"certsSecretName,omitempty"`
	Concurrent      int                 `yaml:"concurrent"`
	CheckInterval   int                 `yaml:"checkInterval"`
	Image           *imageValues        `yaml:"image,omitempty"`
	ServiceAccount  serviceAccountValue `yaml:"serviceAccount"`
	Runners         runnersValues       `yaml:"runners"`
	Resources       *resourceValues     `yaml:"resources,omitempty"`
	// NodeSelector is the runner pod's (a cluster's nodeSelector).
	NodeSelector map[string]string `yaml:"nodeSelector,omitempty"`
	HPA          *hpaValues        `yaml:"hpa,omitempty"`
	Metrics      *metricsValues    `yaml:"metrics,omitempty"`
	// DeploymentAnnotations go on the chart's Deployment object (not on its
	// pod template, which is podAnnotations): where Reloader looks first.
	DeploymentAnnotations map[string]string `yaml:"deploymentAnnotations,omitempty"`
}

// profileValues are the values a hardening profile decides.
type profileValues struct {
	UnregisterRunners  *bool                       `yaml:"unregisterRunners,omitempty"`
	RBAC               rbacValues                  `yaml:"rbac"`
	SecurityContext    *profile.SecurityContext    `yaml:"securityContext,omitempty"`
	PodSecurityContext *profile.PodSecurityContext `yaml:"podSecurityContext,omitempty"`
}

type imageValues struct {
	Registry string `yaml:"registry,omitempty"`
	Image    string `yaml:"image,omitempty"`
	Tag      string `yaml:"tag,omitempty"`
}

type rbacValues struct {
	Create bool                 `yaml:"create"`
	Rules  []profile.PolicyRule `yaml:"rules"`
}

type serviceAccountValue struct {
	Create bool   `yaml:"create"`
	Name   string `yaml:"name"`
}

type runnersValues struct {
	Secret string       `yaml:"secret"`
	Config string       `yaml:"config"`
	Cache  *cacheValues `yaml:"cache,omitempty"`
}

type cacheValues struct {
	SecretName string `yaml:"secretName"`
}

type resourceValues struct {
	Requests map[string]string `yaml:"requests,omitempty"`
	Limits   map[string]string `yaml:"limits,omitempty"`
}

type hpaValues struct {
	MinReplicas int         `yaml:"minReplicas"`
	MaxReplicas int         `yaml:"maxReplicas"`
	Metrics     []hpaMetric `yaml:"metrics"`
}

// hpaMetric is an autoscaling/v2 MetricSpec of type Pods.
type hpaMetric struct {
	Type string `yaml:"type"`
	Pods struct {
		Metric struct {
			Name string `yaml:"name"`
		} `yaml:"metric"`
		Target struct {
			Type         string `yaml:"type"`
			AverageValue string `yaml:"averageValue"`
		} `yaml:"target"`
	} `yaml:"pods"`
}

type metricsValues struct {
	Enabled bool `yaml:"enabled"`
}
