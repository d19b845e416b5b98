package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

// Secrets backends.
const (
	BackendInfisical = "infisical"
	BackendVault     = "vault"
	BackendAWS       = "aws"
	BackendGCP       = "gcp"
)

// Backends lists the supported backends in the order they are documented.
var Backends = []string{BackendInfisical, BackendVault, BackendAWS, BackendGCP}

// Runner scopes.
const (
	ScopeInstance = "instance"
	ScopeGroup    = "group"
	ScopeProject  = "project"
)

// Limits GitLab puts on a runner (app/models/ci/runner.rb): at most 50 tags,
// and a maintenance note of at most 1024 characters, of which runnerctl
// needs 34 for the marker line it adds at creation ("\nrunnerctl-create-"
// and 16 hex digits) to find a runner whose create answer was lost.
const (
	MaxTags            = 50
	MaxMaintenanceNote = 1024 - 34
	// MaxTagLen and MaxDescription are GitLab's own limits: tag names of
	// 255 characters, and a ci_runners.description of at most 1024
	// (a database constraint since GitLab 17.0).
	MaxTagLen      = 255
	MaxDescription = 1024
)

// MaxImageLen bounds image references: the longest one the distribution
// grammar allows is a 255-character name, ":", a 128-character tag, "@" and
// a sha256 digest (71 characters): 456 bytes.
const MaxImageLen = 456

// systemNamespaces belong to Kubernetes: no runner, and so no job pod,
// runs there.
var systemNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// ReleasePrefix starts the Helm release name of every runner,
// "gitlab-runner-NAME". render derives the release and every generated
// object's name from it (render.NamesOf); it is declared here, below
// render, only because config needs it too: for MaxRunnerNameLen and for
// the default service account, which is the release's name.
const ReleasePrefix = "gitlab-runner-"

// MaxRunnerNameLen keeps the release name within Helm's 53-character limit.
const MaxRunnerNameLen = 53 - len(ReleasePrefix)

var (
	dnsLabelRE     = newLazyRE(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainRE = newLazyRE(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	// Kubernetes' own quantity grammar (resource.Quantity), without the
	// weight of importing apimachinery into every start-up.
	quantityRE    = newLazyRE(`^([0-9]+(\.[0-9]*)?|\.[0-9]+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][-+]?[0-9]+)?$`)
	semverRE      = newLazyRE(`^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)
	imageRE       = newLazyRE(`^[a-zA-Z0-9][a-zA-Z0-9._/:@+-]*$`)
	syncOptionRE  = newLazyRE(`^[A-Za-z]+=[A-Za-z0-9.-]+$`)
	scpLikeRE     = newLazyRE(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[A-Za-z0-9._/~-]+$`)
	projectPathRE = newLazyRE(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)*$`)
	hostPortRE    = newLazyRE(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)
	bucketRE      = newLazyRE(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE      = newLazyRE(`^[a-z0-9-]*$`)
	fqdnRE        = newLazyRE(`^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	// Remote keys: what the four backends accept in names and paths.
	remoteKeyRE     = newLazyRE(`^[A-Za-z0-9/_+=.@{}-]+$`)
	infisicalNameRE = newLazyRE(`^[A-Za-z0-9_.-]+$`)
	gcpNameRE       = newLazyRE(`^[A-Za-z0-9_{}-]+$`)
	propertyRE      = newLazyRE(`^[A-Za-z0-9_.-]+$`)
	profileNameRE   = newLazyRE(`^[a-z0-9][a-z0-9-]*$`)
	imageTagRE      = newLazyRE(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	// Kubernetes label keys (an optional DNS-subdomain prefix and a name
	// of at most 63 characters) and values.
	labelKeyRE   = newLazyRE(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValueRE = newLazyRE(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// validator accumulates every problem instead of stopping at the first.
type validator struct{ errs []FieldError }

// add records a problem. A value quoted with %q is the user's: it is cut
// to a short, escaped excerpt (see echo), so that a 10 MB tag is not
// repeated into a CI log. Strings formatted with %s are runnerctl's own
// words and stay whole.
func (v *validator) add(path, format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = echo(s)
		}
	}
	v.errs = append(v.errs, FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// echo formats as safetext.Quote with %q, as the plain string otherwise.
type echo string

func (e echo) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, safetext.Quote(string(e)))
		return
	}
	io.WriteString(f, string(e))
}

// text rejects what no field may hold: invalid UTF-8 and control characters,
// which would make generated YAML or TOML ambiguous to read or to review.
func (v *validator) text(path, s string) bool {
	if !utf8.ValidString(s) {
		v.add(path, "is not valid UTF-8")
		return false
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		v.add(path, "contains a control character at byte %d; remove it", i)
		return false
	}
	return true
}

func (v *validator) required(path, s string) bool {
	if strings.TrimSpace(s) == "" {
		v.add(path, "is required")
		return false
	}
	return v.text(path, s)
}

func (v *validator) match(path, s string, re *lazyRE, what string) {
	if v.required(path, s) && !re.MatchString(s) {
		v.add(path, "%q is not %s", s, what)
	}
}

// remoteKey accepts a key or path in a secrets backend. A "." or ".."
// segment is refused: the helper builds API paths from it (Vault's
// MOUNT/data/KEY), and such a segment would move the write out of the
// place ESO reads, or out of the KV engine's data/ altogether.
func (v *validator) remoteKey(path, s string, re *lazyRE, what string) {
	v.match(path, s, re, what)
	for _, seg := range strings.Split(s, "/") {
		if seg == "." || seg == ".." {
			v.add(path, "%q has a %q path segment; name the secret's path without it", s, seg)
			return
		}
	}
}

func (v *validator) image(path, s, what string) {
	v.match(path, s, imageRE, what)
	if len(s) > MaxImageLen {
		v.add(path, "is %d bytes long; no image reference is longer than %d", len(s), MaxImageLen)
	}
}

func (v *validator) oneOf(path, s string, allowed ...string) {
	if !slices.Contains(allowed, s) {
		v.add(path, "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
}

func (v *validator) dnsLabel(path, s string, max int) {
	v.match(path, s, dnsLabelRE, "a DNS label (lower-case letters, digits and '-', starting and ending with a letter or digit)")
	if len(s) > max {
		v.add(path, "%q is longer than %d characters", s, max)
	}
}

func (v *validator) dnsSubdomain(path, s string) {
	v.match(path, s, dnsSubdomainRE, "a valid Kubernetes name (lower-case letters, digits, '-' and '.')")
	if len(s) > 253 {
		v.add(path, "is longer than 253 characters")
	}
}

// argoClusterName checks the name of a cluster registered in ArgoCD,
// which ArgoCD keeps as free text: `argocd cluster add CONTEXT` names it
// after the kubeconfig context, which for EKS is the cluster's ARN
// (arn:aws:eks:REGION:ACCOUNT:cluster/NAME). ArgoCD matches it exactly,
// so surrounding spaces can only be a mistake.
func (v *validator) argoClusterName(path, s string) {
	switch {
	case !v.text(path, s):
	case strings.TrimSpace(s) != s:
		v.add(path, "%q has leading or trailing spaces; ArgoCD matches the name exactly, remove them", s)
	case len(s) > 253:
		v.add(path, "is longer than 253 characters")
	}
}

func (v *validator) duration(path, s string) {
	if !v.required(path, s) {
		return
	}
	if d, err := time.ParseDuration(s); err != nil || d < 0 {
		v.add(path, "%q is not a duration such as 30s, 15m or 1h", s)
	}
}

func (v *validator) quantity(path, s string) {
	if s != "" && (!v.text(path, s) || !quantityRE.MatchString(s)) {
		v.add(path, "%q is not a Kubernetes quantity such as 500m, 1, 256Mi or 2Gi", s)
	}
}

// relPath accepts a path inside the repository: relative, no "..", and
// written with forward slashes so the same file works on every OS.
func (v *validator) relPath(path, s string) {
	if !v.required(path, s) {
		return
	}
	if !isRepoPath(s) {
		v.add(path, "%q must be a clean relative path inside the repository (no '..', no leading '/', forward slashes)", s)
	}
}

// isRepoPath is relPath's rule: a clean, local path with forward slashes.
func isRepoPath(s string) bool {
	return !strings.Contains(s, `\`) && filepath.IsLocal(s) && filepath.ToSlash(filepath.Clean(s)) == s
}

// httpURL accepts absolute http(s) URLs without credentials, query or fragment.
func (v *validator) httpURL(path, s string, schemes ...string) {
	if !v.required(path, s) {
		return
	}
	// A URL is quoted only without its credentials and query, which may
	// hold a password or a token (http://u:PW@…, ?private_token=…).
	shown := redact.URL(s)
	u, err := url.Parse(s)
	switch {
	case err != nil:
		// url.Error repeats the whole input; its reason alone is enough
		// (and may still quote part of it: redacted too).
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		v.add(path, "%q is not a URL (%s)", shown, safetext.Clip(redact.Text(err.Error()), maxMessage))
	case !slices.Contains(schemes, u.Scheme):
		v.add(path, "%q must start with %s://", shown, strings.Join(schemes, ":// or "))
	case u.Host == "" || strings.ContainsAny(u.Host, " \"'<>"):
		v.add(path, "%q has no valid host", shown)
	case u.User != nil:
		v.add(path, "must not contain credentials; runnerctl reads secrets from the environment, never from files in Git")
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(s, "?# "):
		v.add(path, "%q must not contain a query, fragment or spaces", shown)
	}
}

// Validate checks the defaulted configuration and returns every problem.
func (c *Config) Validate() []FieldError {
	v := &validator{}
	if c.APIVersion != APIVersion {
		v.add("apiVersion", "%q is not supported; use %s", c.APIVersion, APIVersion)
	}
	if c.Kind != Kind {
		v.add("kind", "%q is not supported; use %s", c.Kind, Kind)
	}
	v.httpURL("gitlab.url", c.GitLab.URL, "https", "http")
	if c.GitLab.TLS != nil {
		c.validateGitLabTLS(v)
	}
	c.validateGitOps(v)
	c.validateEngine(v)
	v.httpURL("chart.repoURL", c.Chart.RepoURL, "https", "http", "oci")
	v.dnsLabel("chart.name", c.Chart.Name, 63)
	v.match("chart.version", c.Chart.Version, semverRE, "an exact chart version such as 0.86.0 (ranges are not reproducible)")
	v.relPath("profilesDir", c.ProfilesDir)
	if c.ProfilesDir == "." {
		v.add("profilesDir", "must not be the repository root: runnerctl.yaml would be read as a hardening profile")
	}
	c.validateSecrets(v)
	c.Patches.validate(v, "patches")
	v.oneOf("gitops.engine", c.GitOps.Engine, EngineArgoCD, EngineFlux)
	instances := c.Instances()
	c.validateClusters(v, instances)

	seen := map[string]int{}
	accounts := map[string]int{}
	locations := map[string][]location{}
	for i := range c.Runners {
		r := &c.Runners[i]
		p := fmt.Sprintf("runners[%d]", i)
		r.validate(v, p)
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			v.add(p+".name", "%q is already used by runners[%d]; names must be unique", r.Name, j)
		}
		seen[r.Name] = i
		sa := r.Namespace + "/" + r.ServiceAccount
		if j, dup := accounts[sa]; dup {
			v.add(p+".serviceAccount", "%q in namespace %q is already used by runners[%d]; each Helm release creates its own service account", r.ServiceAccount, r.Namespace, j)
		}
		accounts[sa] = i
		if r.Namespace == c.ArgoCD.Namespace && c.GitOps.Engine != EngineFlux {
			v.add(p+".namespace", "%q is ArgoCD's own namespace (argocd.namespace); job pods there could read ArgoCD's credentials, so give the runner its own namespace", r.Namespace)
		}
	}
	// One token location per GitLab runner: a runner's clusters each have
	// their own.
	for _, r := range instances {
		ref, err := c.TokenRef(r)
		if err != nil {
			continue
		}
		loc := c.tokenLocation(ref)
		for _, prev := range locations[loc.key] {
			if prev.property == loc.property || prev.property == "" || loc.property == "" {
				field := "tokenSecret"
				if r.Cluster != "" {
					field = "clusters"
				}
				put := RunnerPlaceholder
				if r.Cluster != "" {
					put += " and " + ClusterPlaceholder
				}
				v.add(fmt.Sprintf("runners[%d].%s", r.Index, field), "token location %q is already used by %s; put %s in the backend layout or set tokenSecret", ref.Key, prev.runner.Path(), put)
				break
			}
		}
		loc.runner = r
		locations[loc.key] = append(locations[loc.key], loc)
	}
	return v.errs
}

// location is where a runner's token lives, spelt one way per place.
type location struct {
	key, property string
	runner        *Runner // an instance
}

// tokenLocation names ref the way the backend resolves it, so that two
// spellings of one secret compare equal: Vault's helper (like ESO) strips
// "MOUNT/" and then "data/" from a key. An empty property means the whole
// secret (AWS, GCP, Infisical), which no other runner may share.
func (c *Config) tokenLocation(ref RemoteRef) location {
	key := ref.Key
	if c.Secrets.Backend == BackendVault && c.Secrets.Vault != nil {
		if rest, ok := strings.CutPrefix(key, strings.Trim(c.Secrets.Vault.Mount, "/")+"/"); ok {
			key = strings.TrimPrefix(rest, "data/")
		}
	}
	return location{key: strings.Trim(key, "/"), property: ref.Property}
}

func (c *Config) validateGitOps(v *validator) {
	g := c.GitOps
	if v.required("gitops.repoURL", g.RepoURL) && !scpLikeRE.MatchString(g.RepoURL) {
		v.httpURL("gitops.repoURL", g.RepoURL, "https", "http", "ssh", "git")
	}
	if v.required("gitops.revision", g.Revision) && strings.ContainsAny(g.Revision, " \t~^:?*[\\") {
		v.add("gitops.revision", "%q is not a valid Git revision", g.Revision)
	}
	outputs := []struct{ field, dir string }{
		{"gitops.paths.applications", g.Paths.Applications},
		{"gitops.paths.manifests", g.Paths.Manifests},
		{"gitops.paths.values", g.Paths.Values},
	}
	for i, o := range outputs {
		if o.dir == "" && c.GitOps.Engine == EngineFlux && i == 0 {
			v.add(o.field, fluxPathsRequired)
			continue
		}
		v.relPath(o.field, o.dir)
		if inGitDir(o.dir) {
			v.add(o.field, "%q is inside Git's own directory; runnerctl writes only files that are committed", o.dir)
		}
		if o.dir == c.ProfilesDir {
			v.add(o.field, "must differ from profilesDir (%q): every later command would read the generated files as hardening profiles", c.ProfilesDir)
		}
		// One directory for two kinds of file lets two runners write one
		// file: the Application of runner "x-external-secret" is named
		// like runner x's ExternalSecret, and the values of runner x like
		// its Application.
		for _, prev := range outputs[:i] {
			if o.dir == prev.dir {
				v.add(o.field, "must differ from %s: files of two runners could have the same name in one directory", prev.field)
			}
		}
	}
}

// inGitDir says whether the repository path p is in, or is, a .git
// directory (in any letter case: case-insensitive file systems map .GIT
// onto it too).
func inGitDir(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if strings.EqualFold(part, ".git") {
			return true
		}
	}
	return false
}

func (c *Config) validateArgoCD(v *validator) {
	a := c.ArgoCD
	v.dnsLabel("argocd.namespace", a.Namespace, 63)
	v.dnsSubdomain("argocd.project", a.Project)
	switch d := a.Destination; {
	case d.Server != "" && d.Name != "":
		v.add("argocd.destination", "set server or name, not both")
	case d.Name != "":
		v.argoClusterName("argocd.destination.name", d.Name)
	default:
		v.httpURL("argocd.destination.server", d.Server, "https", "http")
	}
	sp := a.SyncPolicy
	for i, o := range sp.SyncOptions {
		v.match(fmt.Sprintf("argocd.syncPolicy.syncOptions[%d]", i), o, syncOptionRE, "an ArgoCD sync option such as CreateNamespace=true")
	}
	if r := sp.Retry; r != nil {
		if r.Limit < 0 {
			v.add("argocd.syncPolicy.retry.limit", "must be 0 or more")
		}
		if b := r.Backoff; b != nil {
			v.duration("argocd.syncPolicy.retry.backoff.duration", b.Duration)
			v.duration("argocd.syncPolicy.retry.backoff.maxDuration", b.MaxDuration)
			if b.Factor < 1 {
				v.add("argocd.syncPolicy.retry.backoff.factor", "must be 1 or more")
			}
		}
	}
}

func (c *Config) validateSecrets(v *validator) {
	s := c.Secrets
	v.oneOf("secrets.backend", s.Backend, Backends...)
	v.oneOf("secrets.store.kind", s.Store.Kind, "ClusterSecretStore", "SecretStore")
	v.dnsSubdomain("secrets.store.name", s.Store.Name)
	c.validateESO(v)
	v.duration("secrets.refreshInterval", s.RefreshInterval)
	blocks := map[string]bool{
		BackendInfisical: s.Infisical != nil, BackendVault: s.Vault != nil,
		BackendAWS: s.AWS != nil, BackendGCP: s.GCP != nil,
	}
	for _, b := range Backends {
		if blocks[b] && b != s.Backend {
			v.add("secrets."+b, "is set but secrets.backend is %q; remove it or change the backend", s.Backend)
		}
	}
	switch s.Backend {
	case BackendInfisical:
		i := s.Infisical
		if i.ProjectSlug != "" {
			v.match("secrets.infisical.projectSlug", i.ProjectSlug, dnsLabelRE, "an Infisical project slug")
		}
		v.match("secrets.infisical.environment", i.Environment, dnsLabelRE, "an Infisical environment slug")
		v.remoteKey("secrets.infisical.path", i.Path, remoteKeyRE, "a folder path such as /gitlab/runners/{runner}")
		if !strings.HasPrefix(i.Path, "/") {
			v.add("secrets.infisical.path", "%q must start with /", i.Path)
		}
		v.match("secrets.infisical.secretName", i.SecretName, infisicalNameRE, "an Infisical secret name (letters, digits, '_', '.', '-')")
	case BackendVault:
		t := s.Vault
		v.remoteKey("secrets.vault.mount", t.Mount, remoteKeyRE, "a Vault mount path")
		v.remoteKey("secrets.vault.path", t.Path, remoteKeyRE, "a Vault secret path")
		if strings.HasPrefix(t.Path, "/") || strings.HasSuffix(t.Path, "/") {
			v.add("secrets.vault.path", "%q must not start or end with /", t.Path)
		}
		v.match("secrets.vault.property", t.Property, propertyRE, "a key name")
	case BackendAWS:
		a := s.AWS
		if a.Region != "" {
			v.match("secrets.aws.region", a.Region, regionRE, "an AWS region such as eu-west-1")
		}
		v.remoteKey("secrets.aws.name", a.Name, remoteKeyRE, "an AWS secret name (letters, digits and /_+=.@-)")
		if a.Property != "" {
			v.match("secrets.aws.property", a.Property, propertyRE, "a JSON key")
		}
	case BackendGCP:
		g := s.GCP
		if g.Project != "" {
			v.match("secrets.gcp.project", g.Project, dnsLabelRE, "a GCP project ID")
		}
		v.match("secrets.gcp.name", g.Name, gcpNameRE, "a Secret Manager secret ID (letters, digits, '_' and '-')")
	}
}

// validateESO checks that secrets.esoVersion is a release line runnerctl
// knows the CRD defaults of, and that esoAPIVersion is what it serves:
// a file the API server rejects, or fills in, is never in sync.
func (c *Config) validateESO(v *validator) {
	s := c.Secrets
	var names []string
	for _, r := range ESOReleases {
		names = append(names, r.Version)
	}
	rel, ok := ESOReleaseOf(s.ESOVersion)
	if !ok {
		v.add("secrets.esoVersion", "%q is not an ESO release line runnerctl renders for; use one of %s (MAJOR.MINOR of your cluster's ESO; %s for any ESO before 0.17)",
			s.ESOVersion, strings.Join(names, ", "), LegacyESOVersion)
	}
	v.oneOf("secrets.esoAPIVersion", s.ESOAPIVersion, "v1", "v1beta1")
	if ok && rel.APIVersion != s.ESOAPIVersion && (s.ESOAPIVersion == "v1" || s.ESOAPIVersion == "v1beta1") {
		v.add("secrets.esoAPIVersion", "%s is not served by ESO %s, which serves ExternalSecrets in %s only; remove esoAPIVersion, or set secrets.esoVersion to the release your cluster runs",
			s.ESOAPIVersion, rel.Version, rel.APIVersion)
	}
}

func (r *Runner) validate(v *validator, p string) {
	v.dnsLabel(p+".name", r.Name, MaxRunnerNameLen)
	v.dnsLabel(p+".namespace", r.Namespace, 63)
	if slices.Contains(systemNamespaces, r.Namespace) {
		v.add(p+".namespace", "%q belongs to Kubernetes itself; job pods there would run next to the control plane's components, so give the runner its own namespace", r.Namespace)
	}
	v.match(p+".profile", r.Profile, profileNameRE, "a profile name (see runnerctl profiles list)")
	if r.RunnerID < 0 {
		v.add(p+".runnerID", "must not be negative")
	}
	if r.Concurrent < 1 {
		v.add(p+".concurrent", "must be 1 or more")
	}
	if r.CheckInterval < 1 || r.CheckInterval > 3600 {
		v.add(p+".checkInterval", "must be between 1 and 3600 seconds")
	}
	v.image(p+".image", r.Image, "an image reference such as ubuntu:22.04")
	if r.HelperImage != "" {
		v.image(p+".helperImage", r.HelperImage, "an image reference")
	}
	for i, pp := range r.PullPolicy {
		v.oneOf(fmt.Sprintf("%s.pullPolicy[%d]", p, i), pp, "always", "if-not-present", "never")
		if slices.Index(r.PullPolicy, pp) != i {
			v.add(fmt.Sprintf("%s.pullPolicy[%d]", p, i), "%q is listed twice", pp)
		}
	}
	// The default service account derives from the name; an invalid name
	// is reported once, not twice.
	if r.ServiceAccount != ReleasePrefix+r.Name || dnsLabelRE.MatchString(r.Name) {
		v.dnsSubdomain(p+".serviceAccount", r.ServiceAccount)
	}
	if r.JobServiceAccount != "" {
		v.dnsSubdomain(p+".jobServiceAccount", r.JobServiceAccount)
	}
	if im := r.RunnerImage; im != nil {
		if im.Registry != "" {
			v.match(p+".runnerImage.registry", im.Registry, hostPortRE, "a registry host")
		}
		if im.Image != "" {
			v.image(p+".runnerImage.image", im.Image, "an image repository")
		}
		if im.Tag != "" {
			v.match(p+".runnerImage.tag", im.Tag, imageTagRE, "an image tag")
		}
	}
	validateResources(v, p+".resources", r.Resources)
	validateResources(v, p+".jobResources", r.JobResources)
	if reg := r.Registration; reg != nil {
		reg.validate(v, p+".registration")
	}
	if r.TokenSecret != nil {
		v.remoteKey(p+".tokenSecret.key", r.TokenSecret.Key, remoteKeyRE, "a remote key")
		if r.TokenSecret.Property != "" {
			v.match(p+".tokenSecret.property", r.TokenSecret.Property, propertyRE, "a property name")
		}
	}
	if c := r.Cache; c != nil {
		c.validate(v, p+".cache")
	}
	if a := r.Autoscaling; a != nil {
		if a.MinReplicas < 1 {
			v.add(p+".autoscaling.minReplicas", "must be 1 or more")
		}
		if a.MaxReplicas < a.MinReplicas {
			v.add(p+".autoscaling.maxReplicas", "must be at least minReplicas (%d)", a.MinReplicas)
		}
		v.quantity(p+".autoscaling.targetAverageJobs", a.TargetAverageJobs)
	}
	if n := r.NetworkPolicy; n != nil {
		n.validate(v, p+".networkPolicy")
	}
	r.Patches.validate(v, p+".patches")
}

// MaxPatchSize bounds one patch in its JSON form: it is applied to one
// object of every runner it concerns (a top-level patch to all of them),
// and the largest legitimate one (an ignoreDifferences list, a few
// tolerations) is a few KiB.
const MaxPatchSize = 64 << 10

// validate checks what the shape check cannot: that each patch has a JSON
// form (the merge is done on it) within MaxPatchSize. What a patch may
// change is checked by render, against the objects it patches.
func (ps *Patches) validate(v *validator, p string) {
	if ps == nil {
		return
	}
	for _, k := range ps.Kinds() {
		if k.Patch == nil {
			continue
		}
		data, err := k.Patch.JSON()
		switch {
		case err != nil:
			v.add(p+"."+k.Name, "has no JSON form (%v); a merge patch holds only mappings, lists, strings, numbers, booleans and null", err)
		case len(data) > MaxPatchSize:
			v.add(p+"."+k.Name, "is %d bytes long as JSON; runnerctl accepts at most %d bytes in one patch", len(data), MaxPatchSize)
		}
	}
}

func validateResources(v *validator, p string, r *Resources) {
	for _, l := range []struct {
		name string
		rl   ResourceList
	}{{"requests", r.Requests}, {"limits", r.Limits}} {
		v.quantity(p+"."+l.name+".cpu", l.rl.CPU)
		v.quantity(p+"."+l.name+".memory", l.rl.Memory)
		v.quantity(p+"."+l.name+".ephemeralStorage", l.rl.EphemeralStorage)
	}
}

// validateTags checks a runner's tags at p against GitLab's limits.
func validateTags(v *validator, p string, tags []string) {
	for i, t := range tags {
		tp := fmt.Sprintf("%s[%d]", p, i)
		if v.required(tp, t) && (strings.Contains(t, ",") || strings.TrimSpace(t) != t || utf8.RuneCountInString(t) > MaxTagLen) {
			v.add(tp, "%q must have no commas or surrounding spaces and at most %d characters", t, MaxTagLen)
		}
	}
	if len(tags) > MaxTags {
		v.add(p, "has %d tags; GitLab allows at most %d", len(tags), MaxTags)
	}
}

func (reg *Registration) validate(v *validator, p string) {
	v.oneOf(p+".scope.type", reg.Scope.Type, ScopeInstance, ScopeGroup, ScopeProject)
	switch {
	case reg.Scope.Type == ScopeInstance && reg.Scope.Path != "":
		v.add(p+".scope.path", "must be empty for an instance runner")
	case reg.Scope.Type != ScopeInstance:
		v.match(p+".scope.path", reg.Scope.Path, projectPathRE, "a full group or project path such as my-org/my-app")
	}
	if v.text(p+".description", reg.Description) && utf8.RuneCountInString(reg.Description) > MaxDescription {
		v.add(p+".description", "is longer than %d characters, GitLab's limit", MaxDescription)
	}
	validateTags(v, p+".tags", reg.Tags)
	if !*reg.RunUntagged && len(reg.Tags) == 0 {
		v.add(p+".runUntagged", "is false but no tags are set: the runner would never get a job")
	}
	v.oneOf(p+".accessLevel", reg.AccessLevel, "not_protected", "ref_protected")
	if reg.MaximumTimeout != 0 && reg.MaximumTimeout < 600 {
		v.add(p+".maximumTimeout", "must be 0 (none) or at least 600 seconds")
	}
	if v.text(p+".maintenanceNote", reg.MaintenanceNote) && utf8.RuneCountInString(reg.MaintenanceNote) > MaxMaintenanceNote {
		v.add(p+".maintenanceNote", "is longer than %d characters", MaxMaintenanceNote)
	}
	if reg.Locked && reg.Scope.Type != ScopeProject {
		v.add(p+".locked", "applies to project runners only")
	}
}

func (c *Cache) validate(v *validator, p string) {
	v.oneOf(p+".type", c.Type, "s3")
	if c.S3 == nil {
		v.add(p+".s3", "is required")
		return
	}
	s := c.S3
	v.match(p+".s3.serverAddress", s.ServerAddress, hostPortRE, "host or host:port without a scheme")
	v.match(p+".s3.bucketName", s.BucketName, bucketRE, "an S3 bucket name")
	if s.BucketLocation != "" {
		v.match(p+".s3.bucketLocation", s.BucketLocation, regionRE, "a region name")
	}
	v.oneOf(p+".s3.authenticationType", s.AuthenticationType, "access-key", "iam")
	switch {
	case s.AuthenticationType == "access-key" && s.Credentials == nil:
		v.add(p+".s3.credentials", "is required with authenticationType access-key")
	case s.AuthenticationType == "iam" && s.Credentials != nil:
		v.add(p+".s3.credentials", "must be empty with authenticationType iam")
	case s.Credentials != nil:
		for name, ref := range map[string]RemoteRef{"accessKey": s.Credentials.AccessKey, "secretKey": s.Credentials.SecretKey} {
			v.remoteKey(p+".s3.credentials."+name+".key", ref.Key, remoteKeyRE, "a remote key")
			if ref.Property != "" {
				v.match(p+".s3.credentials."+name+".property", ref.Property, propertyRE, "a property name")
			}
		}
	}
}

func (n *NetworkPolicy) validate(v *validator, p string) {
	v.oneOf(p+".flavor", n.Flavor, "kubernetes", "cilium")
	cidrs := func(field string, list []string) {
		for i, c := range list {
			if _, err := netip.ParsePrefix(c); err != nil {
				v.add(fmt.Sprintf("%s.%s[%d]", p, field, i), "%q is not a CIDR such as 10.0.0.0/8", c)
			}
		}
	}
	cidrs("gitlabCIDRs", n.GitLabCIDRs)
	cidrs("registryCIDRs", n.RegistryCIDRs)
	cidrs("apiServerCIDRs", n.APIServerCIDRs)
	for i, f := range n.FQDNs {
		v.match(fmt.Sprintf("%s.fqdns[%d]", p, i), f, fqdnRE, "a lower-case DNS name, optionally starting with *.")
	}
	for i, port := range n.ExtraPorts {
		if port < 1 || port > 65535 {
			v.add(fmt.Sprintf("%s.extraPorts[%d]", p, i), "%d is not a TCP port", port)
		}
	}
	if n.Flavor == "kubernetes" {
		if len(n.FQDNs) > 0 {
			v.add(p+".fqdns", "needs flavor cilium: Kubernetes NetworkPolicy matches addresses only")
		}
		if len(n.GitLabCIDRs) == 0 {
			v.add(p+".gitlabCIDRs", "is required with flavor kubernetes: the runner must reach GitLab")
		}
		if len(n.APIServerCIDRs) == 0 {
			v.add(p+".apiServerCIDRs", "is required with flavor kubernetes: the runner starts job pods through the API server")
		}
	}
}

// Warnings are what a user must know about a valid configuration that
// runnerctl does not refuse. render prints them with the profiles'.
func (c *Config) Warnings() []string {
	var w []string
	// Plain HTTP stays possible (a lab without certificates), but every
	// runner token and job log would cross the network readable; a GitLab
	// on the loopback interface (a local test instance) crosses none.
	if u, err := url.Parse(c.GitLab.URL); err == nil && u.Scheme == "http" && !isLoopback(u.Hostname()) {
		w = append(w, fmt.Sprintf("gitlab.url %s uses http://: runner tokens, jobs and their logs cross the network unencrypted; use https://", safetext.Quote(c.GitLab.URL)))
	}
	return w
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
