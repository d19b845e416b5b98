package validate

import (
	"slices"

	"github.com/runnerctl/runnerctl/internal/profile"
)

// Claims are what a hardening profile promises of the runner manager's own
// pod and Role, in the form `validate --chart` checks them against what the
// chart really renders with the generated values: a values key the chart
// ignores would make a promise silently false.
type Claims struct {
	Profile                string `json:"profile"`
	RunAsNonRoot           bool   `json:"runAsNonRoot,omitempty"`
	DropAllCapabilities    bool   `json:"dropAllCapabilities,omitempty"`
	NotPrivileged          bool   `json:"notPrivileged,omitempty"`
	NoPrivilegeEscalation  bool   `json:"noPrivilegeEscalation,omitempty"`
	ReadOnlyRootFilesystem bool   `json:"readOnlyRootFilesystem,omitempty"`
	SeccompRuntimeDefault  bool   `json:"seccompRuntimeDefault,omitempty"`
	Rules                  []Rule `json:"rules,omitempty"`
	TokenSecretKeysMounted bool   `json:"tokenSecretKeysMounted"`
}

// Rule is an RBAC policy rule the profile grants.
type Rule struct {
	APIGroups []string `json:"apiGroups"`
	Resources []string `json:"resources"`
	Verbs     []string `json:"verbs"`
}

// ClaimsOf reads the claims of profile p. Every profile claims that the
// runner reads its token from the Secret the ExternalSecret fills, and
// that its Role has no wildcard (the chart's empty rbac.rules would be
// one).
func ClaimsOf(p *profile.Profile) Claims {
	c := Claims{Profile: p.Name, TokenSecretKeysMounted: true}
	isTrue := func(b *bool) bool { return b != nil && *b }
	isFalse := func(b *bool) bool { return b != nil && !*b }
	if sc := p.RunnerPod.SecurityContext; sc != nil {
		c.RunAsNonRoot = isTrue(sc.RunAsNonRoot)
		c.NotPrivileged = isFalse(sc.Privileged)
		c.NoPrivilegeEscalation = isFalse(sc.AllowPrivilegeEscalation)
		c.ReadOnlyRootFilesystem = isTrue(sc.ReadOnlyRootFilesystem)
		c.DropAllCapabilities = sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL")
		c.SeccompRuntimeDefault = sc.SeccompProfile != nil && sc.SeccompProfile.Type == "RuntimeDefault"
	}
	if ps := p.RunnerPod.PodSecurityContext; ps != nil {
		c.RunAsNonRoot = c.RunAsNonRoot || isTrue(ps.RunAsNonRoot)
		c.SeccompRuntimeDefault = c.SeccompRuntimeDefault || ps.SeccompProfile != nil && ps.SeccompProfile.Type == "RuntimeDefault"
	}
	for _, r := range p.RBAC.Rules {
		c.Rules = append(c.Rules, Rule{APIGroups: r.APIGroups, Resources: r.Resources, Verbs: r.Verbs})
	}
	return c
}
