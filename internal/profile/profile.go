// Package profile loads hardening profiles: YAML data that says how the
// runner pod, its RBAC, its job pods, its namespace and its token are
// locked down. Built-in profiles are embedded; a repository may add its
// own, each extending another (built-in or its own) profile.
//
// The fields of a profile file are those of Profile and the types it
// holds, under their yaml names: runnerPod, rbac, jobs, namespace and
// runnerToken. A field left unset inherits from the profile named in
// extends.
package profile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/repofile"
	"github.com/runnerctl/runnerctl/internal/safetext"
	"github.com/runnerctl/runnerctl/profiles"
)

// Profile is one hardening profile. Pointer and slice fields left unset
// inherit from the profile named in Extends.
type Profile struct {
	Name        string    `yaml:"name"`
	Description string    `yaml:"description"`
	Extends     string    `yaml:"extends,omitempty"`
	Warning     string    `yaml:"warning,omitempty"`
	RunnerPod   RunnerPod `yaml:"runnerPod"`
	RBAC        RBAC      `yaml:"rbac"`
	Jobs        Jobs      `yaml:"jobs"`
	Namespace   Namespace `yaml:"namespace,omitempty"`
	// RunnerToken says who rotates the runner's token. Unlike the other
	// fields, its unset value is not the runner's default but runnerctl's:
	// rotation belongs to runnerctl rotate-token.
	RunnerToken RunnerToken `yaml:"runnerToken,omitempty"`

	// Source says where the profile came from, for messages.
	Source string `yaml:"-"`
	// tree is the file as written, before extends is resolved.
	tree map[string]any
	// loosened lists what the resolved profile weakens (see loosened).
	loosened []string
}

// RunnerPod hardens the runner manager's own pod (chart values).
type RunnerPod struct {
	SecurityContext    *SecurityContext    `yaml:"securityContext,omitempty"`
	PodSecurityContext *PodSecurityContext `yaml:"podSecurityContext,omitempty"`
	// UnregisterRunners false keeps the runner manager registered when a pod
	// stops; true (the chart default) deletes it.
	UnregisterRunners *bool `yaml:"unregisterRunners,omitempty"`
	// RestartOnSecretChange says what restarts the runner Deployment when a
	// Secret it reads only at start changes: the token Secret (after
	// rotate-token, once ESO refreshes it) and the S3 cache credentials
	// Secret. RestartReloader ("reloader") has the renderer annotate the
	// Deployment for Stakater Reloader, naming those Secrets; RestartNone
	// ("none", or unset) adds nothing, and rotate-token restarts the runner
	// itself when it has cluster access. A profile that extends one with
	// reloader turns it off with none.
	RestartOnSecretChange string `yaml:"restartOnSecretChange,omitempty"`
}

// Values of RunnerPod.RestartOnSecretChange.
const (
	RestartNone     = "none"
	RestartReloader = "reloader"
)

// SecurityContext is the subset of a Kubernetes container securityContext
// that profiles set, with Kubernetes' field names.
type SecurityContext struct {
	AllowPrivilegeEscalation *bool           `yaml:"allowPrivilegeEscalation,omitempty" json:"allowPrivilegeEscalation,omitempty"`
	Privileged               *bool           `yaml:"privileged,omitempty" json:"privileged,omitempty"`
	ReadOnlyRootFilesystem   *bool           `yaml:"readOnlyRootFilesystem,omitempty" json:"readOnlyRootFilesystem,omitempty"`
	RunAsNonRoot             *bool           `yaml:"runAsNonRoot,omitempty" json:"runAsNonRoot,omitempty"`
	RunAsUser                *int64          `yaml:"runAsUser,omitempty" json:"runAsUser,omitempty"`
	RunAsGroup               *int64          `yaml:"runAsGroup,omitempty" json:"runAsGroup,omitempty"`
	Capabilities             *Capabilities   `yaml:"capabilities,omitempty" json:"capabilities,omitempty"`
	SeccompProfile           *SeccompProfile `yaml:"seccompProfile,omitempty" json:"seccompProfile,omitempty"`
}

// PodSecurityContext is the subset of a Kubernetes pod securityContext
// that profiles set.
type PodSecurityContext struct {
	RunAsNonRoot   *bool           `yaml:"runAsNonRoot,omitempty" json:"runAsNonRoot,omitempty"`
	RunAsUser      *int64          `yaml:"runAsUser,omitempty" json:"runAsUser,omitempty"`
	RunAsGroup     *int64          `yaml:"runAsGroup,omitempty" json:"runAsGroup,omitempty"`
	FSGroup        *int64          `yaml:"fsGroup,omitempty" json:"fsGroup,omitempty"`
	SeccompProfile *SeccompProfile `yaml:"seccompProfile,omitempty" json:"seccompProfile,omitempty"`
}

// Capabilities adds and drops Linux capabilities.
type Capabilities struct {
	Add  []string `yaml:"add,omitempty" json:"add,omitempty"`
	Drop []string `yaml:"drop,omitempty" json:"drop,omitempty"`
}

// SeccompProfile selects a seccomp profile.
type SeccompProfile struct {
	Type string `yaml:"type" json:"type"`
}

// RBAC is the namespaced Role the chart creates for the runner.
type RBAC struct {
	Rules []PolicyRule `yaml:"rules"`
}

// PolicyRule is a Kubernetes RBAC rule.
type PolicyRule struct {
	APIGroups []string `yaml:"apiGroups" json:"apiGroups"`
	Resources []string `yaml:"resources" json:"resources"`
	Verbs     []string `yaml:"verbs" json:"verbs"`
}

// Jobs hardens the pods the Kubernetes executor starts for each job
// (runners.config TOML).
type Jobs struct {
	Privileged               *bool                        `yaml:"privileged,omitempty"`
	AllowPrivilegeEscalation *bool                        `yaml:"allowPrivilegeEscalation,omitempty"`
	PodSecurityContext       *JobPodSecurityContext       `yaml:"podSecurityContext,omitempty"`
	ContainerSecurityContext *JobContainerSecurityContext `yaml:"containerSecurityContext,omitempty"`
	// AutomountServiceAccountToken false keeps the Kubernetes API token out
	// of job pods.
	AutomountServiceAccountToken *bool `yaml:"automountServiceAccountToken,omitempty"`
	// SeccompProfile (RuntimeDefault) is applied to the whole job pod:
	// through the runner's pod_security_context.seccomp_profile where it
	// has one (gitlab-runner 18.11 and later), else through a pod_spec
	// patch with the FF_USE_ADVANCED_POD_SPEC_CONFIGURATION feature flag.
	SeccompProfile string     `yaml:"seccompProfile,omitempty"`
	EmptyDirs      []EmptyDir `yaml:"emptyDirs,omitempty"`
}

// JobPodSecurityContext becomes [runners.kubernetes.pod_security_context].
type JobPodSecurityContext struct {
	RunAsNonRoot *bool  `yaml:"runAsNonRoot,omitempty"`
	RunAsUser    *int64 `yaml:"runAsUser,omitempty"`
	RunAsGroup   *int64 `yaml:"runAsGroup,omitempty"`
	FSGroup      *int64 `yaml:"fsGroup,omitempty"`
}

// JobContainerSecurityContext is applied to every container of a job pod:
// build, helper, services and the init-permissions container.
type JobContainerSecurityContext struct {
	DropCapabilities []string `yaml:"dropCapabilities,omitempty"`
	AddCapabilities  []string `yaml:"addCapabilities,omitempty"`
	RunAsNonRoot     *bool    `yaml:"runAsNonRoot,omitempty"`
}

// EmptyDir is a [[runners.kubernetes.volumes.empty_dir]] volume.
type EmptyDir struct {
	Name      string `yaml:"name"`
	MountPath string `yaml:"mountPath"`
	Medium    string `yaml:"medium,omitempty"`
}

// Namespace holds labels ArgoCD puts on the runner namespace through
// managedNamespaceMetadata, such as Pod Security Admission levels.
type Namespace struct {
	Labels map[string]string `yaml:"labels,omitempty"`
}

// RunnerToken is the runnerToken block of a profile.
type RunnerToken struct {
	// AutomaticRotation true lets gitlab-runner reset its own token, as it
	// does by default when GitLab has runner token expiration configured:
	// at 75% of the token's lifetime it fetches a new token and keeps it
	// only in its pod's config.toml. The token in the secrets manager is
	// then dead, and the runner cannot authenticate after its next restart
	// (a node drain, an OOM kill). false, or unset, is runnerctl's default,
	// and the value of every built-in profile: render sets
	// FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = true in [runners.feature_flags],
	// the runner only logs a warning as its token nears expiry, and
	// runnerctl rotate-token (scheduled in CI) rotates it and stores the new
	// token. A profile that sets true gets a warning that it cannot switch
	// off (TokenRotationWarning): on render's stderr, in every generated
	// file's header and in profiles list and show.
	AutomaticRotation *bool `yaml:"automaticRotation,omitempty" json:"automaticRotation,omitempty"`
}

// TokenRotationReason says why runnerctl turns the runner's automatic token
// rotation off (profiles show prints it).
const TokenRotationReason = "Rotation belongs to `runnerctl rotate-token`, which stores every new token in the " +
	"secrets manager. A runner that rotates its own token (at 75% of its lifetime, when GitLab " +
	"has runner token expiration configured) keeps the new one only inside its pod and leaves a " +
	"dead token in the secrets manager: the runner then fails to authenticate at its next restart."

// Set is every profile known for one repository, resolved.
type Set struct {
	byName map[string]*Profile
}

// Limits on a repository's own profiles. A profile is a few kilobytes
// (restricted.yaml is under 3 KiB); the limits keep the memory of a load
// bounded (YAML takes up to about 100 times a file's size in memory)
// whatever a merge request commits.
const (
	MaxFileSize  = 64 << 10 // one profile file
	MaxFiles     = 256      // *.yaml files in profilesDir
	MaxTotalSize = 1 << 20  // all of them together
	// maxDescription and maxWarning bound the texts that profiles list and
	// show print, and that every generated file's header repeats.
	maxDescription = 4096
	maxWarning     = 1024
	// maxValue bounds every other string of a profile: names, labels,
	// capabilities, RBAC rules.
	maxValue = 253
)

// Load reads the built-in profiles and, when dir exists, the repository's
// own (*.yaml in dir, relative to the current directory or absolute), and
// resolves every extends chain. Files are read as LoadIn reads them, with
// dir's parent as the boundary that symlinks may not leave.
func Load(dir string) (*Set, error) {
	if dir == "" {
		return load(nil, "", "")
	}
	return LoadIn(filepath.Dir(dir), filepath.ToSlash(filepath.Base(dir)))
}

// LoadIn is Load for the profiles directory rel (forward slashes) of the
// repository repo. Every file is read through an os.Root of the
// repository: a profilesDir or a profile that is, or passes through, a
// symlink leading outside the repository is refused, as are FIFOs,
// devices and files over the limits above. A missing directory holds no
// profiles.
func LoadIn(repo, rel string) (*Set, error) {
	root, err := os.OpenRoot(repo)
	if errors.Is(err, fs.ErrNotExist) {
		return load(nil, "", "")
	}
	if err != nil {
		return nil, fmt.Errorf("read profiles %q: %w", repo, err)
	}
	defer root.Close()
	return load(root, rel, filepath.Join(repo, filepath.FromSlash(rel)))
}

func load(root *os.Root, rel, origin string) (*Set, error) {
	raw := map[string]*Profile{}
	if err := readBuiltins(raw); err != nil {
		return nil, err
	}
	if root != nil {
		if err := readRepoProfiles(root, rel, origin, raw); err != nil {
			return nil, err
		}
	}
	set := &Set{byName: map[string]*Profile{}}
	for name := range raw {
		p, err := resolve(name, raw, nil)
		if err != nil {
			return nil, err
		}
		if err := p.check(); err != nil {
			return nil, fmt.Errorf("profile %q (%s): %w", name, p.Source, err)
		}
		set.byName[name] = p
	}
	// What a profile loosens is judged against the profile it extends,
	// resolved: so every profile must be resolved first.
	for _, p := range set.byName {
		p.loosened = loosened(p, set.byName[p.Extends])
	}
	return set, nil
}

func readBuiltins(raw map[string]*Profile) error {
	entries, err := fs.ReadDir(profiles.FS, ".")
	if err != nil {
		return fmt.Errorf("read built-in profiles: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || path.Ext(e.Name()) != ".yaml" {
			continue
		}
		data, err := fs.ReadFile(profiles.FS, e.Name())
		if err != nil {
			return fmt.Errorf("read built-in profile %q: %w", e.Name(), err)
		}
		if err := parseProfile(data, e.Name(), "built-in/"+e.Name(), raw); err != nil {
			return err
		}
	}
	return nil
}

// readRepoProfiles decodes every *.yaml file of the directory rel of root
// into raw, strictly. origin names the directory in messages.
func readRepoProfiles(root *os.Root, rel, origin string, raw map[string]*Profile) error {
	info, err := root.Stat(filepath.FromSlash(rel))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("read profiles %q: %w", origin, repofile.Explain(unwrapPath(err)))
	case !info.IsDir():
		return fmt.Errorf("read profiles %q: not a directory", origin)
	}
	entries, err := fs.ReadDir(root.FS(), rel)
	if err != nil {
		return fmt.Errorf("read profiles %q: %w", origin, repofile.Explain(unwrapPath(err)))
	}
	var files []fs.DirEntry
	for _, e := range entries {
		if !e.IsDir() && path.Ext(e.Name()) == ".yaml" {
			files = append(files, e)
		}
	}
	if len(files) > MaxFiles {
		return fmt.Errorf("read profiles %q: %d profile files; runnerctl reads at most %d", origin, len(files), MaxFiles)
	}
	total := 0
	for _, e := range files {
		src := origin + "/" + e.Name()
		data, err := repofile.Read(root, path.Join(rel, e.Name()), MaxFileSize)
		if re := (*repofile.Error)(nil); errors.As(err, &re) {
			return fmt.Errorf("profile file %q: %s", src, re.Reason())
		} else if err != nil {
			return fmt.Errorf("profile file %q: %w", src, err)
		}
		if total += len(data); total > MaxTotalSize {
			return fmt.Errorf("read profiles %q: the profile files hold more than %s in all, the most runnerctl reads", origin, repofile.Size(MaxTotalSize))
		}
		if err := parseProfile(data, e.Name(), src, raw); err != nil {
			return err
		}
	}
	return nil
}

// parseProfile decodes the profile file named file, strictly, into raw.
func parseProfile(data []byte, file, src string, raw map[string]*Profile) error {
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("profile file %q: %s", src, yamlError(err))
	}
	if err := yaml.Unmarshal(data, &p.tree); err != nil {
		return fmt.Errorf("profile file %q: %s", src, yamlError(err))
	}
	want := strings.TrimSuffix(file, ".yaml")
	if !nameRE.MatchString(want) {
		return fmt.Errorf("profile file %s: a profile file is named NAME.yaml, NAME being lower-case letters, digits and '-'", safetext.Quote(src))
	}
	if p.Name != want {
		return fmt.Errorf("profile file %q: name %s must match the file name (%q)", src, safetext.Quote(p.Name), want)
	}
	if p.Extends != "" && !nameRE.MatchString(p.Extends) {
		return fmt.Errorf("profile file %q: extends %s is not a profile name", src, safetext.Quote(p.Extends))
	}
	if err := checkTree(p.tree, ""); err != nil {
		return fmt.Errorf("profile file %q: %w", src, err)
	}
	if old, dup := raw[p.Name]; dup {
		return fmt.Errorf("profile file %q: profile %q is already defined by %s; choose another name and extend it instead", src, p.Name, old.Source)
	}
	p.Source = src
	raw[p.Name] = &p
	return nil
}

// resolve merges a profile over the profiles it extends, child first.
func resolve(name string, raw map[string]*Profile, chain []string) (*Profile, error) {
	tree, err := resolveTree(name, raw, chain)
	if err != nil {
		return nil, err
	}
	p := raw[name]
	out, err := decodeTree(tree)
	if err != nil {
		return nil, fmt.Errorf("profile %q (%s): %w", name, p.Source, err)
	}
	out.Name, out.Description, out.Extends, out.Source = p.Name, p.Description, p.Extends, p.Source
	return out, nil
}

func resolveTree(name string, raw map[string]*Profile, chain []string) (map[string]any, error) {
	p, ok := raw[name]
	if !ok {
		return nil, fmt.Errorf("profile %q extends unknown profile %q", chain[len(chain)-1], name)
	}
	if slices.Contains(chain, name) {
		return nil, fmt.Errorf("profiles extend each other in a loop: %s -> %s", strings.Join(chain, " -> "), name)
	}
	if p.Extends == "" {
		return p.tree, nil
	}
	parent, err := resolveTree(p.Extends, raw, append(chain, name))
	if err != nil {
		return nil, err
	}
	return merge(parent, p.tree), nil
}

// merge returns base overlaid with over: mappings merge key by key, any
// other value (lists included) in over replaces the one in base, and an
// explicit false or 0 in over wins. (mergo was tried: its notion of
// "empty" lets a parent's true overwrite a child's explicit false.)
func merge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		bm, bok := out[k].(map[string]any)
		om, ook := v.(map[string]any)
		if bok && ook {
			out[k] = merge(bm, om)
		} else {
			out[k] = v
		}
	}
	return out
}

func decodeTree(tree map[string]any) (*Profile, error) {
	data, err := yaml.Marshal(tree)
	if err != nil {
		return nil, err
	}
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// check enforces what no profile may do, whatever it extends.
func (p *Profile) check() error {
	if strings.TrimSpace(p.Description) == "" {
		return errors.New("description is required: profiles list shows it")
	}
	// An empty rules list makes the chart create a wildcard Role.
	if len(p.RBAC.Rules) == 0 {
		return errors.New("rbac.rules is empty; the chart turns that into a Role allowing everything, so list the rules explicitly")
	}
	for i, r := range p.RBAC.Rules {
		if len(r.Resources) == 0 || len(r.Verbs) == 0 || len(r.APIGroups) == 0 {
			return fmt.Errorf("rbac.rules[%d] must list apiGroups, resources and verbs; the chart fills missing ones with *", i)
		}
		for _, s := range slices.Concat(r.APIGroups, r.Resources, r.Verbs) {
			if strings.Contains(s, "*") {
				return fmt.Errorf("rbac.rules[%d] contains a wildcard %q; list what the runner needs", i, s)
			}
		}
	}
	if sp := p.Jobs.SeccompProfile; sp != "" && sp != "RuntimeDefault" && sp != "Unconfined" {
		return fmt.Errorf("jobs.seccompProfile %q must be RuntimeDefault or Unconfined", sp)
	}
	if r := p.RunnerPod.RestartOnSecretChange; r != "" && r != RestartNone && r != RestartReloader {
		return fmt.Errorf("runnerPod.restartOnSecretChange %q must be %s or %s", r, RestartReloader, RestartNone)
	}
	for i, d := range p.Jobs.EmptyDirs {
		if d.Name == "" || !strings.HasPrefix(d.MountPath, "/") {
			return fmt.Errorf("jobs.emptyDirs[%d] needs a name and an absolute mountPath", i)
		}
	}
	if err := p.checkIDs(); err != nil {
		return err
	}
	return p.checkNames()
}

// Get returns the resolved profile name.
func (s *Set) Get(name string) (*Profile, error) {
	p, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("unknown profile %q; known profiles: %s", name, strings.Join(s.Names(), ", "))
	}
	return p, nil
}

// Names lists every profile, sorted.
func (s *Set) Names() []string {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RestartsWithReloader says whether the runner Deployment carries Stakater
// Reloader annotations (runnerPod.restartOnSecretChange: reloader).
func (p *Profile) RestartsWithReloader() bool {
	return p.RunnerPod.RestartOnSecretChange == RestartReloader
}

// AutomaticTokenRotation says whether gitlab-runner may rotate its own
// token (runnerToken.automaticRotation: true); unset is false.
func (p *Profile) AutomaticTokenRotation() bool {
	return p.RunnerToken.AutomaticRotation != nil && *p.RunnerToken.AutomaticRotation
}

// TokenRotationWarning is the warning of a profile that lets gitlab-runner
// rotate its own token, or "". It is computed from the resolved setting,
// not taken from the profile's warning field, so that no profile can
// silence it.
func (p *Profile) TokenRotationWarning() string {
	if !p.AutomaticTokenRotation() {
		return ""
	}
	return "runnerToken.automaticRotation is true: gitlab-runner will reset its own token at 75% of its " +
		"lifetime and keep the new one only inside its pod, so the token in the secrets manager dies and " +
		"the runner cannot authenticate after its next restart. Remove the setting (or set it to false) " +
		"and let `runnerctl rotate-token` rotate the token."
}

// LoosenedWarning is the warning of a profile that weakens the isolation
// of the runner or its jobs (privileged, root, added capabilities,
// privilege escalation, no seccomp, looser Pod Security enforcement), or
// "". Like TokenRotationWarning it is computed from the resolved settings,
// so that no profile can silence it: not with warning: "", not by
// extending a profile that warns.
func (p *Profile) LoosenedWarning() string {
	if len(p.loosened) == 0 {
		return ""
	}
	return "this profile weakens isolation: " + strings.Join(p.loosened, "; ") +
		". Use it only for trusted projects, on nodes set aside for them."
}

// Warnings are what a user of the profile must know: the profile's own
// warning, then the ones no profile can switch off.
func (p *Profile) Warnings() []string {
	var w []string
	for _, s := range []string{p.Warning, p.LoosenedWarning(), p.TokenRotationWarning()} {
		if s != "" {
			w = append(w, s)
		}
	}
	return w
}

// Privileged says whether job pods may run privileged.
func (p *Profile) Privileged() bool {
	return p.Jobs.Privileged != nil && *p.Jobs.Privileged
}

// With returns a copy of s with one more profile: data, the file file
// (NAME.yaml) as a repository profile would hold it, decoded, checked and
// given the warnings of what it loosens exactly as if it were read from
// profilesDir. import renders with a profile it proposes before writing
// it. The profile may not extend another: it must stand on its own, so
// that no parent's setting is silently added to what it reproduces.
func (s *Set) With(file string, data []byte) (*Set, error) {
	raw := map[string]*Profile{}
	if err := parseProfile(data, file, file, raw); err != nil {
		return nil, err
	}
	name := strings.TrimSuffix(file, ".yaml")
	if raw[name].Extends != "" {
		return nil, fmt.Errorf("profile %q: a proposed profile may not extend another", name)
	}
	if _, dup := s.byName[name]; dup {
		return nil, fmt.Errorf("profile %q already exists", name)
	}
	p, err := resolve(name, raw, nil)
	if err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("profile %q: %w", name, err)
	}
	p.loosened = loosened(p, nil)
	out := &Set{byName: maps.Clone(s.byName)}
	out.byName[name] = p
	return out, nil
}
