// Package config defines runnerctl.yaml: its types, defaults, strict loading
// and validation. The file is the single source of truth for rendering; it
// records each runner's GitLab ID once created, never a token.
package config

import "encoding/json"

// APIVersion and Kind identify a runnerctl.yaml document.
const (
	APIVersion = "runnerctl.dev/v1alpha1"
	Kind       = "Config"
)

// Config is the whole of runnerctl.yaml.
type Config struct {
	// APIVersion must be runnerctl.dev/v1alpha1.
	APIVersion string `yaml:"apiVersion" doc:"Schema version of this file. Must be runnerctl.dev/v1alpha1."`
	// Kind must be Config.
	Kind string `yaml:"kind" doc:"Must be Config."`
	// GitLab is the GitLab instance the runners register with.
	GitLab GitLab `yaml:"gitlab" doc:"The GitLab instance the runners belong to."`
	// GitOps describes the repository the GitOps engine reads and where
	// files go in it.
	GitOps GitOps `yaml:"gitops" doc:"The GitOps repository that ArgoCD (or Flux) syncs, the engine, and where generated files are written inside it."`
	// ArgoCD holds the Application settings shared by every runner.
	ArgoCD ArgoCD `yaml:"argocd,omitempty" doc:"Settings of the generated ArgoCD Applications (gitops.engine argocd only)."`
	// Flux holds the Kustomization settings under gitops.engine flux.
	Flux Flux `yaml:"flux,omitempty" doc:"Settings of the generated Flux Kustomizations (gitops.engine flux only; see docs/flux.md)."`
	// Chart pins the gitlab-runner Helm chart.
	Chart Chart `yaml:"chart,omitempty" doc:"The gitlab-runner Helm chart that every Application deploys."`
	// Secrets says where runner tokens live and how ESO reads them.
	Secrets Secrets `yaml:"secrets" doc:"Where runner tokens are stored and how External Secrets Operator reads them back."`
	// ProfilesDir holds the repository's own hardening profiles.
	ProfilesDir string `yaml:"profilesDir,omitempty" doc:"Directory (relative to this file, inside the repository, not the repository root itself) with the repository's own hardening profiles; each *.yaml there may extend a built-in one. At most 256 profile files of at most 64 KiB each, 1 MiB in all; symlinks are followed only inside the repository." default:"runnerctl-profiles"`
	// Patches is the fleet-wide overlay, applied to every runner's objects
	// before the runner's own.
	Patches *Patches `yaml:"patches,omitempty" doc:"JSON merge patches (RFC 7386) applied to every runner's generated objects, before the runner's own patches (see docs/configuring.md, Overlays)."`
	// Clusters are the clusters runners can be deployed to (runners[].clusters).
	Clusters []Cluster `yaml:"clusters,omitempty" doc:"The clusters that runners with a clusters list are deployed to, through one ArgoCD ApplicationSet per runner (at most 1,000). Each runner × cluster is its own GitLab runner with its own token (see docs/fleets.md)."`
	// Runners is the fleet; one set of generated files per entry.
	Runners []Runner `yaml:"runners" doc:"The runners (at most 10,000). Each one gets its own Application, ExternalSecret and Helm values file."`
}

// GitLab identifies the GitLab instance.
type GitLab struct {
	URL string     `yaml:"url" doc:"Base URL of GitLab, with scheme; a path prefix is kept (https://host/gitlab/). Becomes the chart's gitlabUrl."`
	TLS *GitLabTLS `yaml:"tls,omitempty" doc:"The CA that runner pods trust for GitLab, when its certificate is not publicly trusted (a self-managed GitLab with a private or self-signed CA). Set exactly one of caFile and secretName; it becomes the chart's certsSecretName, mounted into the runner's certs directory. The runner then hands the CA to every job as CI_SERVER_TLS_CA_FILE, which the helper uses to clone and to transfer artifacts; other tools in your job images must be pointed at that file (or have the CA installed) themselves."`
}

// GitLabTLS gives the runner pods the CA of a self-managed GitLab, as the
// file gitlab-runner looks for in its certs directory: HOST.crt, HOST being
// the gitlab.url host without its port (see CertKey).
type GitLabTLS struct {
	CAFile     string `yaml:"caFile,omitempty" doc:"PEM file with the certificate of the CA that issued GitLab's certificate (and any intermediates GitLab does not send), relative to this file and inside the repository. render copies it, per runner, into a plain Secret gitlab-runner-NAME-gitlab-ca.yaml in gitops.paths.manifests, under the key HOST.crt (the gitlab.url host without port: https://gitlab.example.com:8443/ gives gitlab.example.com.crt) and lists it in the Application. Only CERTIFICATE blocks are accepted, re-encoded without comments: a CA certificate is public, a private key is refused."`
	SecretName string `yaml:"secretName,omitempty" doc:"Instead of caFile: a Secret you manage yourself (trust-manager, Sealed Secrets, by hand), present in every runner's namespace, whose key HOST.crt holds the CA in PEM (HOST as for caFile). runnerctl renders nothing for it."`

	// caPEM holds the certificates of CAFile, read and checked by Parse.
	caPEM []byte
}

// CAPEM returns the certificates of CAFile as Parse read and checked them:
// only CERTIFICATE blocks, PEM-encoded in file order, whatever comments or
// line endings the file had. It is nil when CAFile is empty, or when the
// Config did not come from Load or Parse.
func (t *GitLabTLS) CAPEM() []byte {
	if t == nil {
		return nil
	}
	return t.caPEM
}

// GitOps is the repository the GitOps engine reads.
type GitOps struct {
	RepoURL  string `yaml:"repoURL" doc:"Clone URL of this repository as ArgoCD knows it."`
	Revision string `yaml:"revision,omitempty" doc:"Branch, tag or commit ArgoCD tracks." default:"HEAD"`
	Paths    Paths  `yaml:"paths,omitempty" doc:"Where the generated files go, relative to the repository root: three different directories, none of them profilesDir or inside .git."`
	// Engine is the GitOps tool that deploys the generated files.
	Engine string `yaml:"engine,omitempty" doc:"The GitOps tool that deploys the runners: argocd (Applications, or ApplicationSets for runners with clusters) or flux (HelmRelease, its chart source and a Flux Kustomization per runner; see docs/flux.md)." default:"argocd"`
}

// Engines runnerctl renders for (gitops.engine).
const (
	EngineArgoCD = "argocd"
	EngineFlux   = "flux"
)

// Paths are the output directories, relative to the repository root.
type Paths struct {
	Applications string `yaml:"applications,omitempty" doc:"Directory for ArgoCD Applications; with gitops.engine flux, for the runners' Flux Kustomizations, and then required: a directory that your cluster's Flux Kustomization applies (below the flux bootstrap --path)." default:"argocd-apps (none with flux)"`
	Manifests    string `yaml:"manifests,omitempty" doc:"Directory for ExternalSecrets and other plain manifests; with gitops.engine flux, one directory per runner inside it holds all of the runner's objects." default:"manifests"`
	Values       string `yaml:"values,omitempty" doc:"Directory for Helm values files (unused with gitops.engine flux: the values are inline in the HelmRelease)." default:"values"`
}

// ArgoCD holds Application-wide settings.
type ArgoCD struct {
	Namespace   string      `yaml:"namespace,omitempty" doc:"Namespace the Application objects live in." default:"argocd"`
	Project     string      `yaml:"project,omitempty" doc:"ArgoCD project of the Applications." default:"default"`
	Destination Destination `yaml:"destination,omitempty" doc:"Cluster the runners are deployed to."`
	SyncPolicy  *SyncPolicy `yaml:"syncPolicy,omitempty" doc:"Sync policy of the Applications. When omitted, the seed's policy is used: automated prune and selfHeal, CreateNamespace, PrunePropagationPolicy=foreground, PruneLast, retry 5 times from 5s doubling up to 3m."`
	// ApplicationSet shapes the ApplicationSets of runners with clusters.
	ApplicationSet ApplicationSet `yaml:"applicationSet,omitempty" doc:"How the ApplicationSet of a runner with clusters finds its clusters."`
}

// ApplicationSet chooses the generator of the ApplicationSets.
type ApplicationSet struct {
	Generator string            `yaml:"generator,omitempty" doc:"list: the clusters are listed in the ApplicationSet, with the destinations of clusters[]. clusters: ArgoCD's cluster generator picks the clusters registered in ArgoCD whose cluster Secret carries the selector's labels; each clusters[].name must then be the cluster's name in ArgoCD, and a labelled cluster runnerctl.yaml does not list gets no Application (the generator is also restricted to the listed names)." default:"list"`
	Selector  map[string]string `yaml:"selector,omitempty" doc:"Labels of the ArgoCD cluster Secrets to deploy to (generator clusters only; required there)."`
}

// ApplicationSet generators (argocd.applicationSet.generator).
const (
	GeneratorList     = "list"
	GeneratorClusters = "clusters"
)

// Cluster is one cluster runners can be deployed to.
type Cluster struct {
	Name        string      `yaml:"name" doc:"Cluster name: a DNS label; with the clusters generator, the cluster's name in ArgoCD. Part of each generated Application's name (gitlab-runner-RUNNER-CLUSTER, at most 63 characters) and of the default token location."`
	Destination Destination `yaml:"destination,omitempty" doc:"Where ArgoCD deploys to in this cluster (generator list only): server URL or the cluster's name in ArgoCD. Each cluster needs its own destination."`
	KubeContext string      `yaml:"kubeContext,omitempty" doc:"The kubeconfig context through which rotate-token reaches this cluster (to sync its ExternalSecret and restart its runner; status and doctor do not contact clusters)." default:"the cluster's name"`
}

// Destination is an ArgoCD destination cluster: server URL or name, not both.
type Destination struct {
	Server string `yaml:"server,omitempty" doc:"API server URL of the destination cluster. Defaults to https://kubernetes.default.svc unless name is set."`
	Name   string `yaml:"name,omitempty" doc:"Name of the destination cluster as registered in ArgoCD (instead of server), exactly: for an EKS cluster added with argocd cluster add, its ARN."`
}

// SyncPolicy mirrors the ArgoCD Application syncPolicy fields runnerctl sets.
type SyncPolicy struct {
	Automated   *Automated `yaml:"automated,omitempty" doc:"Automated sync; omit for manual sync."`
	SyncOptions []string   `yaml:"syncOptions,omitempty" doc:"ArgoCD sync options, such as CreateNamespace=true."`
	Retry       *Retry     `yaml:"retry,omitempty" doc:"Retry of failed syncs."`
}

// Automated is ArgoCD's automated sync.
type Automated struct {
	Prune    bool `yaml:"prune" doc:"Delete resources that are no longer in Git."`
	SelfHeal bool `yaml:"selfHeal" doc:"Revert changes made in the cluster."`
}

// Retry is ArgoCD's sync retry policy.
type Retry struct {
	Limit   int      `yaml:"limit" doc:"Maximum number of attempts."`
	Backoff *Backoff `yaml:"backoff,omitempty" doc:"Backoff between attempts."`
}

// Backoff is ArgoCD's retry backoff.
type Backoff struct {
	Duration    string `yaml:"duration,omitempty" doc:"First wait, a Go duration such as 5s."`
	Factor      int    `yaml:"factor,omitempty" doc:"Multiplier applied after each attempt."`
	MaxDuration string `yaml:"maxDuration,omitempty" doc:"Longest wait, a Go duration such as 3m."`
}

// Chart pins the Helm chart.
type Chart struct {
	RepoURL string `yaml:"repoURL,omitempty" doc:"Helm repository of the chart (https:// or oci://)." default:"https://charts.gitlab.io"`
	Name    string `yaml:"name,omitempty" doc:"Chart name." default:"gitlab-runner"`
	Version string `yaml:"version,omitempty" doc:"Exact chart version. The default is the newest version runnerctl was verified against." default:"0.86.0"`
	// RunnerVersion overrides the runner version that Version maps to.
	RunnerVersion string `yaml:"runnerVersion,omitempty" doc:"The gitlab-runner version that chart.version deploys (the chart's appVersion), such as 19.3.0. Leave it empty for the charts runnerctl knows (0.86.0 runs 18.9.0); any other chart.version needs it, or runnerctl refuses to guess. It decides which runners.config keys and feature flags validate and render accept (runnerctl knows those of 18.9.x and 19.3.x), and how job pods get their seccomp profile: the runner's seccomp_profile keys from 18.11, a pod_spec patch before." default:"the appVersion of chart.version"`
}

// Secrets configures the token store and the ESO objects that read it.
type Secrets struct {
	Backend         string     `yaml:"backend" doc:"Secrets manager holding the runner tokens: infisical, vault, aws or gcp."`
	Store           StoreRef   `yaml:"store" doc:"The ESO SecretStore or ClusterSecretStore that reads this backend."`
	ESOVersion      string     `yaml:"esoVersion,omitempty" doc:"External Secrets Operator release line that your cluster runs, as MAJOR.MINOR: 2.9 (the newest verified release), 1.3, or 0.16 for any ESO before 0.17 (which serves only external-secrets.io/v1beta1). The generated ExternalSecrets spell out every field that this release's CRD would fill in with a default, so that the live objects equal the files and ArgoCD shows them Synced. For another release, pick the nearest and run runnerctl validate --crds with your cluster's CRDs: it names every field the API server would still add. When omitted with esoAPIVersion v1beta1, 0.16." default:"2.9"`
	ESOAPIVersion   string     `yaml:"esoAPIVersion,omitempty" doc:"API version of the generated ExternalSecrets: v1 (ESO 0.17 and later) or v1beta1 (older ESO). Follows esoVersion when omitted; it must be the one that release serves." default:"v1"`
	RefreshInterval string     `yaml:"refreshInterval,omitempty" doc:"How often ESO re-reads the token, a Go duration." default:"15m"`
	Infisical       *Infisical `yaml:"infisical,omitempty" doc:"Layout in Infisical (backend: infisical)."`
	Vault           *Vault     `yaml:"vault,omitempty" doc:"Layout in Vault KV version 2 (backend: vault)."`
	AWS             *AWS       `yaml:"aws,omitempty" doc:"Layout in AWS Secrets Manager (backend: aws)."`
	GCP             *GCP       `yaml:"gcp,omitempty" doc:"Layout in GCP Secret Manager (backend: gcp)."`
}

// StoreRef names an ESO store.
type StoreRef struct {
	Kind string `yaml:"kind,omitempty" doc:"ClusterSecretStore or SecretStore." default:"ClusterSecretStore"`
	Name string `yaml:"name" doc:"Name of the store."`
}

// Infisical lays tokens out as secrets in folders. {runner} in a value is
// replaced by the runner's name.
type Infisical struct {
	ProjectSlug string `yaml:"projectSlug,omitempty" doc:"Infisical project slug (needed by init and rotate-token to write the token)."`
	Environment string `yaml:"environment,omitempty" doc:"Infisical environment slug, such as prod." default:"prod"`
	Path        string `yaml:"path,omitempty" doc:"Folder of each runner's token; {runner} is replaced by the runner name." default:"/gitlab/runners/{runner}"`
	SecretName  string `yaml:"secretName,omitempty" doc:"Secret name inside the folder." default:"RUNNER_TOKEN"`
}

// Vault lays tokens out in a KV v2 engine.
type Vault struct {
	Mount    string `yaml:"mount,omitempty" doc:"Mount path of the KV v2 engine; it must match the store's spec.provider.vault.path." default:"secret"`
	Path     string `yaml:"path,omitempty" doc:"Secret path inside the mount, without . or .. segments; {runner} is replaced by the runner name." default:"gitlab/runners/{runner}"`
	Property string `yaml:"property,omitempty" doc:"Key inside the secret's data holding the token." default:"runner-token"`
}

// AWS lays tokens out in Secrets Manager.
type AWS struct {
	Region   string `yaml:"region,omitempty" doc:"AWS region (used by init; ESO takes it from the store)."`
	Name     string `yaml:"name,omitempty" doc:"Secret name; {runner} is replaced by the runner name." default:"gitlab/runners/{runner}"`
	Property string `yaml:"property,omitempty" doc:"JSON key inside the secret value holding the token; empty (the default) stores the token as the plain secret value."`
}

// GCP lays tokens out in Secret Manager.
type GCP struct {
	Project string `yaml:"project,omitempty" doc:"GCP project ID (used by init; ESO takes it from the store)."`
	Name    string `yaml:"name,omitempty" doc:"Secret ID; {runner} is replaced by the runner name." default:"gitlab-runner-{runner}-token"`
}

// Runner is one gitlab-runner deployment.
type Runner struct {
	Name              string          `yaml:"name" doc:"Runner name: a DNS label of at most 39 characters. Names the Application (gitlab-runner-NAME), the Helm release and the generated files."`
	Namespace         string          `yaml:"namespace,omitempty" doc:"Namespace of the runner and of its job pods; not kube-system, kube-public, kube-node-lease, nor the GitOps engine's own (argocd.namespace, or flux.namespace under flux)." default:"gitlab-runner"`
	Profile           string          `yaml:"profile,omitempty" doc:"Hardening profile (runnerctl profiles list)." default:"restricted"`
	RunnerID          int64           `yaml:"runnerID,omitempty" doc:"GitLab's ID of the runner, written by runnerctl init. Never a token."`
	Concurrent        int             `yaml:"concurrent,omitempty" doc:"Jobs this runner runs at once (the chart's concurrent)." default:"2"`
	CheckInterval     int             `yaml:"checkInterval,omitempty" doc:"Seconds between polls for new jobs (the chart's checkInterval)." default:"30"`
	Image             string          `yaml:"image,omitempty" doc:"Default job image, used when a job names none (at most 456 bytes, the longest valid reference)." default:"ubuntu:22.04"`
	HelperImage       string          `yaml:"helperImage,omitempty" doc:"Helper image of job pods; empty lets the runner pick the one matching its version (recommended)."`
	PullPolicy        []string        `yaml:"pullPolicy,omitempty" doc:"Job image pull policies in order of preference: always, if-not-present, never." default:"[if-not-present]"`
	ServiceAccount    string          `yaml:"serviceAccount,omitempty" doc:"Service account of the runner pod, created by the chart and bound to the profile's RBAC rules." default:"gitlab-runner-NAME"`
	JobServiceAccount string          `yaml:"jobServiceAccount,omitempty" doc:"Service account of job pods; empty uses the namespace's default. Giving jobs the runner's own account hands them its RBAC rights."`
	RunnerImage       *ImageRef       `yaml:"runnerImage,omitempty" doc:"Override of the runner image (the chart's image); empty uses the chart's default."`
	Resources         *Resources      `yaml:"resources,omitempty" doc:"CPU and memory of the runner pod." default:"requests 100m/128Mi, limits 200m/256Mi"`
	JobResources      *Resources      `yaml:"jobResources,omitempty" doc:"CPU and memory of each job's build container." default:"requests 100m/128Mi, limits 1000m/2Gi"`
	Registration      *Registration   `yaml:"registration,omitempty" doc:"Runner settings kept on the GitLab server (used by init; the chart ignores them for glrt- tokens)."`
	TokenSecret       *RemoteRef      `yaml:"tokenSecret,omitempty" doc:"Override of where this runner's token is read from; defaults to the backend layout."`
	Cache             *Cache          `yaml:"cache,omitempty" doc:"Distributed cache in S3-compatible storage (MinIO, AWS S3)."`
	Autoscaling       *Autoscaling    `yaml:"autoscaling,omitempty" doc:"Horizontal scaling of runner pods (the chart's hpa)."`
	NetworkPolicy     *NetworkPolicy  `yaml:"networkPolicy,omitempty" doc:"Egress restriction of runner and job pods, rendered as an extra manifest."`
	Metrics           bool            `yaml:"metrics,omitempty" doc:"Expose the runner's Prometheus metrics (the chart's metrics.enabled)."`
	Patches           *Patches        `yaml:"patches,omitempty" doc:"JSON merge patches (RFC 7386) applied to this runner's generated objects after the top-level patches, for what runnerctl has no field for (annotations, sync waves, ignoreDifferences, labels, a node selector). A patch may not change what runnerctl owns (names, namespaces, sources, the token's Secret and keys); one that loosens the profile's hardening gets its warning."`
	Clusters          []RunnerCluster `yaml:"clusters,omitempty" doc:"Deploy this runner to these clusters (names from clusters[]) instead of argocd.destination: one ApplicationSet, and one GitLab runner with its own token per cluster. Each entry may override a few settings for its cluster. Not with gitops.engine flux."`
	ExtraConfig       string          `yaml:"extraConfig,omitempty" doc:"More of the runner's config.toml, for the settings runnerctl has no field for (node_selector, node_tolerations, volumes, ...), written as in config.toml: [runners.kubernetes.node_selector] and so on; a [[runners]] line is optional. It is merged into the generated [[runners]] entry: tables merge, arrays of tables are appended to runnerctl's; a key runnerctl already sets (from the profile or another field) is refused, so the profile's hardening cannot be undone here. validate and render check every key, value type and feature flag against the runner version (chart.runnerVersion): gitlab-runner itself silently ignores a key it does not know."`

	// The fields below are set only on the copies Instances makes for a
	// runner's clusters, never read from or written to the file.

	// Cluster is the instance's cluster (a clusters[].name); empty for a
	// runner without clusters.
	Cluster string `yaml:"-"`
	// Destination is the instance's ArgoCD destination (generator list).
	Destination Destination `yaml:"-"`
	// NodeSelector is the instance's clusters[].nodeSelector.
	NodeSelector map[string]string `yaml:"-"`
	// ClusterPatches are the instance's clusters[].patches.
	ClusterPatches *Patches `yaml:"-"`
	// Index and ClusterIndex locate the instance in the file:
	// runners[Index].clusters[ClusterIndex] (ClusterIndex -1 without one).
	Index, ClusterIndex int `yaml:"-"`
}

// RunnerCluster is one cluster of a runner: its own GitLab runner, and
// what differs there from the runner's definition.
type RunnerCluster struct {
	Name         string            `yaml:"name" doc:"A clusters[].name."`
	RunnerID     int64             `yaml:"runnerID,omitempty" doc:"GitLab's ID of this cluster's runner, written by runnerctl init. Never a token."`
	Concurrent   int               `yaml:"concurrent,omitempty" doc:"Override of concurrent in this cluster."`
	Resources    *Resources        `yaml:"resources,omitempty" doc:"Override of resources (the runner pod's) in this cluster."`
	Tags         []string          `yaml:"tags,omitempty" doc:"Override of registration.tags for this cluster's runner (at most 50)."`
	NodeSelector map[string]string `yaml:"nodeSelector,omitempty" doc:"Node labels that the runner pod and its job pods must match in this cluster (the chart's nodeSelector and the runner's [runners.kubernetes.node_selector])."`
	Patches      *Patches          `yaml:"patches,omitempty" doc:"JSON merge patches for this cluster's objects, applied after the runner's (values, externalSecret, ...; application patches the ApplicationSet's template for every cluster and is refused here)."`
}

// ImageRef overrides the chart's runner image.
type ImageRef struct {
	Registry string `yaml:"registry,omitempty" doc:"Registry host, such as registry.gitlab.com."`
	Image    string `yaml:"image,omitempty" doc:"Repository, such as gitlab-org/gitlab-runner."`
	Tag      string `yaml:"tag,omitempty" doc:"Tag, such as ubuntu-v18.9.0."`
}

// Resources are Kubernetes requests and limits.
type Resources struct {
	Requests ResourceList `yaml:"requests,omitempty" doc:"Guaranteed amounts."`
	Limits   ResourceList `yaml:"limits,omitempty" doc:"Maximum amounts."`
}

// ResourceList holds Kubernetes quantities.
type ResourceList struct {
	CPU              string `yaml:"cpu,omitempty" doc:"CPU quantity, such as 100m."`
	Memory           string `yaml:"memory,omitempty" doc:"Memory quantity, such as 128Mi."`
	EphemeralStorage string `yaml:"ephemeralStorage,omitempty" doc:"Ephemeral storage quantity, such as 1Gi."`
}

// Registration holds the settings GitLab stores for the runner.
type Registration struct {
	Scope           Scope    `yaml:"scope,omitempty" doc:"Who may use the runner."`
	Description     string   `yaml:"description,omitempty" doc:"Description shown in GitLab (at most 1024 characters)."`
	Tags            []string `yaml:"tags,omitempty" doc:"Job tags the runner picks up (at most 50, each at most 255 characters)."`
	RunUntagged     *bool    `yaml:"runUntagged,omitempty" doc:"Also run jobs without tags." default:"true when no tags are set"`
	Locked          bool     `yaml:"locked,omitempty" doc:"Project runners only: lock to the current projects."`
	AccessLevel     string   `yaml:"accessLevel,omitempty" doc:"not_protected or ref_protected (protected branches and tags only)." default:"not_protected"`
	MaximumTimeout  int      `yaml:"maximumTimeout,omitempty" doc:"Maximum job timeout in seconds (at least 600); 0 means none."`
	Paused          bool     `yaml:"paused,omitempty" doc:"Pause the runner: it takes no jobs. Applied at creation and by every init run (runnerctl.yaml wins over a change made in GitLab)."`
	MaintenanceNote string   `yaml:"maintenanceNote,omitempty" doc:"Free-form maintenance note for administrators (at most 990 characters: runnerctl adds a marker line at creation)."`

	// untaggedByDefault records that RunUntagged was not written but
	// follows the tags, so that a cluster's own tags move it too.
	untaggedByDefault bool
}

// Scope is the runner type and, for group and project runners, the path.
type Scope struct {
	Type string `yaml:"type,omitempty" doc:"instance, group or project." default:"instance"`
	Path string `yaml:"path,omitempty" doc:"Full path of the group or project, such as my-org/my-app."`
}

// RemoteRef points at one value in the secrets backend.
type RemoteRef struct {
	Key      string `yaml:"key" doc:"Remote key as ESO's remoteRef.key understands it for the backend, without . or .. segments. No two runners may share a token location."`
	Property string `yaml:"property,omitempty" doc:"Property inside the remote secret, where the backend has them."`
}

// Cache configures the runner's distributed cache.
type Cache struct {
	Type   string   `yaml:"type,omitempty" doc:"Cache type; only s3 (any S3-compatible service) is supported." default:"s3"`
	Shared bool     `yaml:"shared,omitempty" doc:"Share the cache between runners."`
	S3     *S3Cache `yaml:"s3" doc:"The S3 bucket."`
}

// S3Cache is the bucket and the credentials' location.
type S3Cache struct {
	ServerAddress      string         `yaml:"serverAddress" doc:"host[:port] of the S3 endpoint, such as minio.minio.svc:9000 or s3.amazonaws.com."`
	BucketName         string         `yaml:"bucketName" doc:"Bucket name."`
	BucketLocation     string         `yaml:"bucketLocation,omitempty" doc:"Bucket region."`
	Insecure           bool           `yaml:"insecure,omitempty" doc:"Use plain HTTP (in-cluster MinIO without TLS)."`
	AuthenticationType string         `yaml:"authenticationType,omitempty" doc:"access-key (credentials from the secrets backend) or iam (the pod's role)." default:"access-key"`
	Credentials        *S3Credentials `yaml:"credentials,omitempty" doc:"Where the access key pair lives in the secrets backend (authenticationType access-key)."`
}

// S3Credentials locate the access key pair in the secrets backend.
type S3Credentials struct {
	AccessKey RemoteRef `yaml:"accessKey" doc:"The access key ID."`
	SecretKey RemoteRef `yaml:"secretKey" doc:"The secret access key."`
}

// Autoscaling maps to the chart's hpa values.
type Autoscaling struct {
	MinReplicas       int    `yaml:"minReplicas,omitempty" doc:"Fewest runner pods." default:"1"`
	MaxReplicas       int    `yaml:"maxReplicas" doc:"Most runner pods."`
	TargetAverageJobs string `yaml:"targetAverageJobs,omitempty" doc:"Target average of the gitlab_runner_jobs metric per pod, a quantity (needs a custom metrics adapter)." default:"400m"`
}

// NetworkPolicy restricts egress of the runner namespace's pods.
type NetworkPolicy struct {
	Flavor         string   `yaml:"flavor,omitempty" doc:"kubernetes (NetworkPolicy, CIDRs only) or cilium (CiliumNetworkPolicy, CIDRs and DNS names)." default:"kubernetes"`
	GitLabCIDRs    []string `yaml:"gitlabCIDRs,omitempty" doc:"Address ranges of GitLab (HTTPS and SSH)."`
	RegistryCIDRs  []string `yaml:"registryCIDRs,omitempty" doc:"Address ranges of container registries and other HTTPS endpoints jobs need."`
	FQDNs          []string `yaml:"fqdns,omitempty" doc:"DNS names allowed on HTTPS (cilium only); the GitLab host is added automatically."`
	APIServerCIDRs []string `yaml:"apiServerCIDRs,omitempty" doc:"Address ranges of the Kubernetes API server, which the runner calls to start job pods (kubernetes flavor; cilium uses the kube-apiserver entity)."`
	ExtraPorts     []int    `yaml:"extraPorts,omitempty" doc:"More TCP ports allowed to the listed ranges besides 443 (and 22 to GitLab)."`
}

// Patches are JSON merge patches (RFC 7386), one per kind of generated
// object. They are applied after the profile, top-level patches first,
// then the runner's (and, once runners can be deployed to several
// clusters, a cluster's after those: the same type, one level further
// down). A null removes a field.
type Patches struct {
	Application         Patch `yaml:"application,omitempty" doc:"Patch of the ArgoCD Application (annotations, sync waves, ignoreDifferences, info)."`
	ExternalSecret      Patch `yaml:"externalSecret,omitempty" doc:"Patch of the token's ExternalSecret."`
	CacheExternalSecret Patch `yaml:"cacheExternalSecret,omitempty" doc:"Patch of the S3 cache credentials' ExternalSecret (with cache.s3.credentials only)."`
	GitLabCASecret      Patch `yaml:"gitlabCASecret,omitempty" doc:"Patch of the Secret holding GitLab's CA (with gitlab.tls.caFile only)."`
	NetworkPolicy       Patch `yaml:"networkPolicy,omitempty" doc:"Patch of the egress NetworkPolicy or CiliumNetworkPolicy (with networkPolicy only)."`
	Values              Patch `yaml:"values,omitempty" doc:"Patch of the Helm values (nodeSelector, tolerations, podLabels, ...)."`
}

// Patch is one JSON merge patch, as decoded from YAML.
type Patch map[string]any

// KindPatch is one patch of a Patches, with the name of its field.
type KindPatch struct {
	Name  string
	Patch Patch
}

// Kinds lists the patches of ps by field name, in the order of the fields
// (nil ps: none set).
func (ps *Patches) Kinds() []KindPatch {
	if ps == nil {
		return []KindPatch{{Name: "application"}, {Name: "externalSecret"}, {Name: "cacheExternalSecret"}, {Name: "gitlabCASecret"}, {Name: "networkPolicy"}, {Name: "values"}}
	}
	return []KindPatch{
		{"application", ps.Application},
		{"externalSecret", ps.ExternalSecret},
		{"cacheExternalSecret", ps.CacheExternalSecret},
		{"gitlabCASecret", ps.GitLabCASecret},
		{"networkPolicy", ps.NetworkPolicy},
		{"values", ps.Values},
	}
}

// Get is the patch of ps named name (a field name of Patches), nil when
// unset.
func (ps *Patches) Get(name string) Patch {
	for _, k := range ps.Kinds() {
		if k.Name == name {
			return k.Patch
		}
	}
	return nil
}

// JSON is the patch in the form RFC 7386 merges. encoding/json sorts map
// keys, so the same patch always gives the same bytes.
func (p Patch) JSON() ([]byte, error) {
	return json.Marshal(map[string]any(p))
}
