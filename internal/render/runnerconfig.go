package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

// RunnerConfig is runnerctl's typed model of the part of gitlab-runner's
// config.toml that it generates. Key names are exactly the runner's (its
// common/config.go, checked for the runner version of the default chart):
// the runner silently ignores a key it does not know, which would turn a
// hardening setting into a no-op, so these names must not be guessed.
type RunnerConfig struct {
	Runners []RunnerSection `toml:"runners"`
}

// RunnerSection is one [[runners]] entry. url, token and executor are
// filled in by the chart when it registers the runner.
type RunnerSection struct {
	FeatureFlags map[string]bool   `toml:"feature_flags,omitempty"`
	Cache        *CacheSection     `toml:"cache,omitempty"`
	Kubernetes   KubernetesSection `toml:"kubernetes"`
}

// CacheSection is [runners.cache] (capitalized keys, as the runner has them).
type CacheSection struct {
	Type   string     `toml:"Type"`
	Shared bool       `toml:"Shared"`
	S3     *S3Section `toml:"s3,omitempty"`
}

// S3Section is [runners.cache.s3]. The access key pair is not here: the
// chart injects it from runners.cache.secretName as environment variables.
type S3Section struct {
	ServerAddress      string `toml:"ServerAddress"`
	BucketName         string `toml:"BucketName"`
	BucketLocation     string `toml:"BucketLocation,omitempty"`
	Insecure           bool   `toml:"Insecure"`
	AuthenticationType string `toml:"AuthenticationType"`
}

// KubernetesSection is [runners.kubernetes].
type KubernetesSection struct {
	Namespace                    string `toml:"namespace"`
	Image                        string `toml:"image"`
	HelperImage                  string `toml:"helper_image,omitempty"`
	ServiceAccount               string `toml:"service_account,omitempty"`
	Privileged                   *bool  `toml:"privileged,omitempty"`
	AllowPrivilegeEscalation     *bool  `toml:"allow_privilege_escalation,omitempty"`
	AutomountServiceAccountToken *bool  `toml:"automount_service_account_token,omitempty"`

	CPULimit                string   `toml:"cpu_limit,omitempty"`
	MemoryLimit             string   `toml:"memory_limit,omitempty"`
	EphemeralStorageLimit   string   `toml:"ephemeral_storage_limit,omitempty"`
	CPURequest              string   `toml:"cpu_request,omitempty"`
	MemoryRequest           string   `toml:"memory_request,omitempty"`
	EphemeralStorageRequest string   `toml:"ephemeral_storage_request,omitempty"`
	PullPolicy              []string `toml:"pull_policy,omitempty"`
	// NodeSelector places job pods (a cluster's nodeSelector, as the
	// runner pod's): the runner and its jobs run on the same nodes.
	NodeSelector map[string]string `toml:"node_selector,omitempty"`

	PodSecurityContext                      *PodSecurityContext       `toml:"pod_security_context,omitempty"`
	BuildContainerSecurityContext           *ContainerSecurityContext `toml:"build_container_security_context,omitempty"`
	HelperContainerSecurityContext          *ContainerSecurityContext `toml:"helper_container_security_context,omitempty"`
	ServiceContainerSecurityContext         *ContainerSecurityContext `toml:"service_container_security_context,omitempty"`
	InitPermissionsContainerSecurityContext *ContainerSecurityContext `toml:"init_permissions_container_security_context,omitempty"`
	Volumes                                 *Volumes                  `toml:"volumes,omitempty"`
	PodSpec                                 []PodSpecPatch            `toml:"pod_spec,omitempty"`
}

// PodSecurityContext is [runners.kubernetes.pod_security_context].
type PodSecurityContext struct {
	FSGroup      *int64 `toml:"fs_group,omitempty"`
	RunAsGroup   *int64 `toml:"run_as_group,omitempty"`
	RunAsNonRoot *bool  `toml:"run_as_non_root,omitempty"`
	RunAsUser    *int64 `toml:"run_as_user,omitempty"`
	// SeccompProfile exists from gitlab-runner 18.11 (see
	// runnerkeys.Runner.NativeSeccomp); older runners get a pod_spec patch.
	SeccompProfile *SeccompProfile `toml:"seccomp_profile,omitempty"`
}

// SeccompProfile is the seccomp_profile table of a security context.
type SeccompProfile struct {
	Type string `toml:"type"`
}

// ContainerSecurityContext is one of the *_container_security_context tables.
type ContainerSecurityContext struct {
	Privileged               *bool         `toml:"privileged,omitempty"`
	AllowPrivilegeEscalation *bool         `toml:"allow_privilege_escalation,omitempty"`
	RunAsNonRoot             *bool         `toml:"run_as_non_root,omitempty"`
	Capabilities             *Capabilities `toml:"capabilities,omitempty"`
}

// Capabilities is the capabilities sub-table of a container security context.
type Capabilities struct {
	Add  []string `toml:"add,omitempty"`
	Drop []string `toml:"drop,omitempty"`
}

// Volumes is [runners.kubernetes.volumes].
type Volumes struct {
	EmptyDir []EmptyDir `toml:"empty_dir,omitempty"`
}

// EmptyDir is [[runners.kubernetes.volumes.empty_dir]].
type EmptyDir struct {
	Name      string `toml:"name"`
	MountPath string `toml:"mount_path"`
	Medium    string `toml:"medium,omitempty"`
}

// PodSpecPatch is [[runners.kubernetes.pod_spec]]; it takes effect only
// with the FF_USE_ADVANCED_POD_SPEC_CONFIGURATION feature flag. runnerctl
// uses one only where the runner has no key of its own for a setting.
type PodSpecPatch struct {
	Name      string `toml:"name"`
	PatchType string `toml:"patch_type"`
	Patch     string `toml:"patch"`
}

// Feature flags that render sets in [runners.feature_flags], as spelled in
// gitlab-runner's helpers/featureflags/flags.go (both exist in every runner
// version runnerkeys knows, which its tests check). The encoder sorts the
// table's keys, so the flags come out in the same order whatever map order
// is.
const (
	// FlagDisableAutomaticTokenRotation true stops gitlab-runner from
	// resetting its own token at 75% of the token's lifetime (it only logs a
	// warning): rotate-token owns rotation, and a token the runner rotated
	// itself would live only in its pod, leaving a dead one in the secrets
	// manager. See profile.RunnerToken.
	FlagDisableAutomaticTokenRotation = "FF_DISABLE_AUTOMATIC_TOKEN_ROTATION"
	// FlagUseAdvancedPodSpec makes [[runners.kubernetes.pod_spec]] patches
	// take effect.
	FlagUseAdvancedPodSpec = "FF_USE_ADVANCED_POD_SPEC_CONFIGURATION"
)

// runnerConfig builds the typed runner configuration of r under profile p,
// for runner version rv.
//
// helper_image is set only when runnerctl.yaml names one (helperImage): left
// out, the runner picks the helper of its own version, and its
// architecture from the job pod's kubernetes.io/arch node selector. No
// profile sets one: a fixed tag such as x86_64-latest follows another
// release than the runner's and does not start on arm64 nodes.
func runnerConfig(r *config.Runner, p *profile.Profile, rv *runnerkeys.Runner) RunnerConfig {
	j := p.Jobs
	k := KubernetesSection{
		Namespace:                    r.Namespace,
		Image:                        r.Image,
		HelperImage:                  r.HelperImage,
		ServiceAccount:               r.JobServiceAccount,
		Privileged:                   j.Privileged,
		AllowPrivilegeEscalation:     j.AllowPrivilegeEscalation,
		AutomountServiceAccountToken: j.AutomountServiceAccountToken,
		CPULimit:                     r.JobResources.Limits.CPU,
		MemoryLimit:                  r.JobResources.Limits.Memory,
		EphemeralStorageLimit:        r.JobResources.Limits.EphemeralStorage,
		CPURequest:                   r.JobResources.Requests.CPU,
		MemoryRequest:                r.JobResources.Requests.Memory,
		EphemeralStorageRequest:      r.JobResources.Requests.EphemeralStorage,
		PullPolicy:                   r.PullPolicy,
		NodeSelector:                 r.NodeSelector,
	}
	if ps := j.PodSecurityContext; ps != nil {
		k.PodSecurityContext = &PodSecurityContext{
			FSGroup: ps.FSGroup, RunAsGroup: ps.RunAsGroup,
			RunAsNonRoot: ps.RunAsNonRoot, RunAsUser: ps.RunAsUser,
		}
	}
	if cs := j.ContainerSecurityContext; cs != nil {
		// The same context for every container of the job pod: PSA judges
		// the pod by its weakest container.
		mk := func() *ContainerSecurityContext {
			c := &ContainerSecurityContext{
				Privileged:               j.Privileged,
				AllowPrivilegeEscalation: j.AllowPrivilegeEscalation,
				RunAsNonRoot:             cs.RunAsNonRoot,
			}
			if len(cs.AddCapabilities)+len(cs.DropCapabilities) > 0 {
				c.Capabilities = &Capabilities{Add: cs.AddCapabilities, Drop: cs.DropCapabilities}
			}
			return c
		}
		k.BuildContainerSecurityContext = mk()
		k.HelperContainerSecurityContext = mk()
		k.ServiceContainerSecurityContext = mk()
		k.InitPermissionsContainerSecurityContext = mk()
	}
	if len(j.EmptyDirs) > 0 {
		k.Volumes = &Volumes{}
		for _, d := range j.EmptyDirs {
			k.Volumes.EmptyDir = append(k.Volumes.EmptyDir, EmptyDir{Name: d.Name, MountPath: d.MountPath, Medium: d.Medium})
		}
	}
	// Every runner says whether it may rotate its own token, even when the
	// profile lets it (false then): the setting is visible in every diff.
	sec := RunnerSection{Kubernetes: k, FeatureFlags: map[string]bool{
		FlagDisableAutomaticTokenRotation: !p.AutomaticTokenRotation(),
	}}
	switch sp := j.SeccompProfile; {
	case sp == "":
	case rv.NativeSeccomp():
		// The pod's profile applies to every container that sets none of
		// its own, and the runner sets none: the same effect as the patch
		// below, and what PSA "restricted" checks, without the feature flag
		// that lets any pod_spec patch through.
		if sec.Kubernetes.PodSecurityContext == nil {
			sec.Kubernetes.PodSecurityContext = &PodSecurityContext{}
		}
		sec.Kubernetes.PodSecurityContext.SeccompProfile = &SeccompProfile{Type: sp}
	default:
		sec.FeatureFlags[FlagUseAdvancedPodSpec] = true
		sec.Kubernetes.PodSpec = []PodSpecPatch{{
			Name:      "seccomp",
			PatchType: "strategic",
			Patch:     fmt.Sprintf("securityContext:\n  seccompProfile:\n    type: %s\n", sp),
		}}
	}
	if c := r.Cache; c != nil {
		sec.Cache = &CacheSection{Type: c.Type, Shared: c.Shared, S3: &S3Section{
			ServerAddress:      c.S3.ServerAddress,
			BucketName:         c.S3.BucketName,
			BucketLocation:     c.S3.BucketLocation,
			Insecure:           c.S3.Insecure,
			AuthenticationType: c.S3.AuthenticationType,
		}}
	}
	return RunnerConfig{Runners: []RunnerSection{sec}}
}

// marshalTOML encodes the runner configuration with indented tables, as
// config.toml is usually written.
func marshalTOML(rc RunnerConfig) (string, error) {
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(true)
	if err := enc.Encode(rc); err != nil {
		return "", fmt.Errorf("encode runner config: %w", err)
	}
	return b.String(), nil
}

// escapeTpl protects text from the chart, which passes runners.config
// through Helm's tpl: every "{{" becomes an action printing "{{" itself, so
// nothing in the generated TOML can ever run as a template.
func escapeTpl(s string) string {
	return strings.ReplaceAll(s, "{{", tplEscape)
}

const tplEscape = "{{`{{`}}"

// UnescapeTpl undoes escapeTpl: it gives the runners.config text that the
// chart's tpl produces from the generated values.
func UnescapeTpl(s string) string {
	return strings.ReplaceAll(s, tplEscape, "{{")
}

// DecodeRunnerConfig strictly decodes a runners.config TOML document into
// the typed model: a key the model does not know is an error that names it.
func DecodeRunnerConfig(data string) (RunnerConfig, error) {
	var rc RunnerConfig
	dec := toml.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rc); err != nil {
		return rc, fmt.Errorf("runner config: %w", err)
	}
	return rc, nil
}
