package profile

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/safetext"
)

var (
	// nameRE is what a profile name may be: runnerctl.yaml's runners[].profile
	// accepts the same.
	nameRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	capabilityRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	// Kubernetes label keys ([DNS subdomain/]name) and values.
	labelKeyRE   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)
	labelValueRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$`)
)

// Pod Security Admission: the label prefix and its levels, loosest first.
const psaPrefix = "pod-security.kubernetes.io/"

var psaLevels = []string{"privileged", "baseline", "restricted"}

// checkTree checks a profile file as written, before extends merges it:
// what the decoder would otherwise accept silently. A null list item
// disappears in decoding (dropCapabilities: [~] would replace a parent's
// [ALL] with nothing); a fraction is truncated into an ID (runAsUser: 0.5
// would run as root); control characters reach the terminal through
// profiles show, and a newline in a warning would end the "# WARNING:"
// comment of every generated file and start YAML of the profile's choosing.
func checkTree(v any, at string) error {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			p := k
			if at != "" {
				p = at + "." + k
			}
			if err := checkText(p, k, false, maxValue); err != nil {
				return err
			}
			if err := checkTree(item, p); err != nil {
				return err
			}
		}
	case []any:
		for i, item := range v {
			p := fmt.Sprintf("%s[%d]", at, i)
			if item == nil {
				return fmt.Errorf("%s is empty; remove the list item or fill it in", p)
			}
			if err := checkTree(item, p); err != nil {
				return err
			}
		}
	case string:
		switch at {
		case "description":
			return checkText(at, v, true, maxDescription)
		case "warning":
			return checkText(at, v, false, maxWarning)
		}
		return checkText(at, v, false, maxValue)
	case float64:
		return fmt.Errorf("%s: wrong type: number %s where a whole number is expected", at, strconv.FormatFloat(v, 'g', -1, 64))
	}
	return nil
}

// checkText refuses invalid UTF-8, control and format characters (newlines
// and tabs only when multiline), and text over max bytes.
func checkText(field, s string, multiline bool, max int) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if i := safetext.BadRune(s, multiline); i >= 0 {
		what := "a control or bidirectional character"
		if !multiline && (s[i] == '\n' || s[i] == '\t') {
			what = "a line break or tab (it must be one line)"
		}
		return fmt.Errorf("%s contains %s at byte %d; remove it", field, what, i)
	}
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes long; at most %d", field, len(s), max)
	}
	return nil
}

// checkIDs refuses user and group IDs that Kubernetes would refuse:
// negative (runAsUser: -1) or over 2^31-1.
func (p *Profile) checkIDs() error {
	ids := map[string]*int64{}
	if sc := p.RunnerPod.SecurityContext; sc != nil {
		ids["runnerPod.securityContext.runAsUser"] = sc.RunAsUser
		ids["runnerPod.securityContext.runAsGroup"] = sc.RunAsGroup
	}
	if sc := p.RunnerPod.PodSecurityContext; sc != nil {
		ids["runnerPod.podSecurityContext.runAsUser"] = sc.RunAsUser
		ids["runnerPod.podSecurityContext.runAsGroup"] = sc.RunAsGroup
		ids["runnerPod.podSecurityContext.fsGroup"] = sc.FSGroup
	}
	if sc := p.Jobs.PodSecurityContext; sc != nil {
		ids["jobs.podSecurityContext.runAsUser"] = sc.RunAsUser
		ids["jobs.podSecurityContext.runAsGroup"] = sc.RunAsGroup
		ids["jobs.podSecurityContext.fsGroup"] = sc.FSGroup
	}
	for _, field := range sortedKeys(ids) {
		if id := ids[field]; id != nil && (*id < 0 || *id > 1<<31-1) {
			return fmt.Errorf("%s %d is not a user or group ID (0 to 2147483647)", field, *id)
		}
	}
	return nil
}

// checkNames refuses capability names and namespace labels that the
// cluster would refuse, and Pod Security levels that do not exist (an
// empty enforce level would leave the namespace unenforced).
func (p *Profile) checkNames() error {
	caps := map[string][]string{"jobs.containerSecurityContext.addCapabilities": nil, "jobs.containerSecurityContext.dropCapabilities": nil}
	if c := p.Jobs.ContainerSecurityContext; c != nil {
		caps["jobs.containerSecurityContext.addCapabilities"] = c.AddCapabilities
		caps["jobs.containerSecurityContext.dropCapabilities"] = c.DropCapabilities
	}
	if sc := p.RunnerPod.SecurityContext; sc != nil && sc.Capabilities != nil {
		caps["runnerPod.securityContext.capabilities.add"] = sc.Capabilities.Add
		caps["runnerPod.securityContext.capabilities.drop"] = sc.Capabilities.Drop
	}
	for _, field := range sortedKeys(caps) {
		for _, c := range caps[field] {
			if !capabilityRE.MatchString(c) {
				return fmt.Errorf("%s: %s is not a Linux capability name such as NET_ADMIN", field, safetext.Quote(c))
			}
		}
	}
	for _, k := range sortedKeys(p.Namespace.Labels) {
		v := p.Namespace.Labels[k]
		if !labelKeyRE.MatchString(k) || len(k) > 253 {
			return fmt.Errorf("namespace.labels: %s is not a Kubernetes label key", safetext.Quote(k))
		}
		if !labelValueRE.MatchString(v) {
			return fmt.Errorf("namespace.labels: %s: %s is not a Kubernetes label value", k, safetext.Quote(v))
		}
		if mode, ok := strings.CutPrefix(k, psaPrefix); ok && !strings.HasSuffix(mode, "-version") && !isPSALevel(v) {
			return fmt.Errorf("namespace.labels: %s: %s is not a Pod Security level (%s)", k, safetext.Quote(v), strings.Join(psaLevels, ", "))
		}
	}
	return nil
}

func isPSALevel(v string) bool {
	for _, l := range psaLevels {
		if l == v {
			return true
		}
	}
	return false
}

// psaRank orders Pod Security levels, loosest first; -1 when unset.
func psaRank(level string) int {
	for i, l := range psaLevels {
		if l == level {
			return i
		}
	}
	return -1
}

// loosened lists what profile p (resolved) sets that weakens the isolation
// of the runner or of its jobs: privileged containers, root, added
// capabilities, privilege escalation, no seccomp filtering, a namespace
// whose Pod Security enforcement is privileged or looser than that of
// parent, the profile p extends (nil when none). It looks at the resolved
// settings, never at p.Warning: a profile cannot hide what it does.
func loosened(p, parent *Profile) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	j := p.Jobs
	if isTrue(j.Privileged) {
		add("jobs.privileged is true (job pods run PRIVILEGED: any job can take over the node it runs on)")
	}
	if isTrue(j.AllowPrivilegeEscalation) {
		add("jobs.allowPrivilegeEscalation is true (job processes may gain privileges, through setuid binaries for example)")
	}
	if sc := j.PodSecurityContext; sc != nil && isZero(sc.RunAsUser) {
		add("jobs.podSecurityContext.runAsUser is 0 (jobs run as root)")
	}
	if c := j.ContainerSecurityContext; c != nil && len(c.AddCapabilities) > 0 {
		add("jobs.containerSecurityContext.addCapabilities adds %s to every job container", strings.Join(c.AddCapabilities, ", "))
	}
	if j.SeccompProfile == "Unconfined" {
		add("jobs.seccompProfile is Unconfined (no system call filtering in job pods)")
	}
	if sc := p.RunnerPod.SecurityContext; sc != nil {
		if isTrue(sc.Privileged) {
			add("runnerPod.securityContext.privileged is true (the runner pod runs privileged)")
		}
		if isTrue(sc.AllowPrivilegeEscalation) {
			add("runnerPod.securityContext.allowPrivilegeEscalation is true")
		}
		if isZero(sc.RunAsUser) {
			add("runnerPod.securityContext.runAsUser is 0 (the runner runs as root)")
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			add("runnerPod.securityContext.capabilities.add adds %s to the runner", strings.Join(sc.Capabilities.Add, ", "))
		}
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type == "Unconfined" {
			add("runnerPod.securityContext.seccompProfile is Unconfined")
		}
	}
	if sc := p.RunnerPod.PodSecurityContext; sc != nil {
		if isZero(sc.RunAsUser) {
			add("runnerPod.podSecurityContext.runAsUser is 0 (the runner runs as root)")
		}
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type == "Unconfined" {
			add("runnerPod.podSecurityContext.seccompProfile is Unconfined")
		}
	}
	// Enforcement is what admits or refuses pods; audit and warn only
	// report.
	const enforce = psaPrefix + "enforce"
	level := p.Namespace.Labels[enforce]
	switch {
	case level == "privileged":
		add("namespace label %s is privileged (Pod Security admits any pod there)", enforce)
	case parent != nil && psaRank(parent.Namespace.Labels[enforce]) > psaRank(level):
		was := parent.Namespace.Labels[enforce]
		if level == "" {
			level = "unset"
		}
		add("namespace label %s is %s, looser than %s in profile %q that it extends", enforce, level, was, parent.Name)
	}
	return out
}

func isTrue(b *bool) bool   { return b != nil && *b }
func isZero(id *int64) bool { return id != nil && *id == 0 }

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// yamlError says what is wrong with a profile file in YAML's words: never
// a Go type, and never more of the file than the decoder's own short
// excerpt, quoted and escaped. A file that is not a profile at all (a
// link to some other file) is thus not copied into the message.
func yamlError(err error) string {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return safetext.Clip(strings.TrimPrefix(err.Error(), "yaml: "), maxMessage)
	}
	// One problem is enough to fix a profile, and a file that is not one
	// would otherwise have a line quoted per problem.
	m := te.Errors[0]
	var msg string
	if u := unknownFieldRE.FindStringSubmatch(m); u != nil {
		msg = fmt.Sprintf("line %s: unknown field %s", u[1], safetext.Quote(u[2]))
	} else if c := cannotRE.FindStringSubmatch(m); c != nil {
		msg = fmt.Sprintf("line %s: wrong type: %s %s where %s is expected", c[1], tagName(c[2]), safetext.Quote(c[3]), typeName(c[4]))
	} else if c := cannotKindRE.FindStringSubmatch(m); c != nil {
		msg = fmt.Sprintf("line %s: wrong type: %s where %s is expected", c[1], tagName(c[2]), typeName(c[3]))
	} else {
		msg = safetext.Clip(m, maxMessage)
	}
	if n := len(te.Errors) - 1; n > 0 {
		msg += fmt.Sprintf(" (and %d more)", n)
	}
	return msg
}

// maxMessage bounds a message of the YAML parser repeated to the user: some
// name what they could not parse (an anchor, a tag) at any length.
const maxMessage = 200

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (.*) not found in type \S+$`)
	cannotRE       = regexp.MustCompile("^line (\\d+): cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
	cannotKindRE   = regexp.MustCompile(`^line (\d+): cannot unmarshal !!(\w+) into (\S+)$`)
)

func tagName(tag string) string {
	switch tag {
	case "str":
		return "string"
	case "int", "float":
		return "number"
	case "bool":
		return "boolean"
	case "seq":
		return "a list"
	case "map":
		return "a mapping"
	}
	return tag
}

func typeName(t string) string {
	t = strings.TrimPrefix(t, "*")
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "profile."):
		return "a mapping"
	case strings.HasPrefix(t, "int"):
		return "a whole number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return "another type"
}

// unwrapPath drops the "openat PATH:" of a *PathError: messages name the
// path once, as the user wrote it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
