package vault

import (
	"slices"
	"strings"
)

// aclFor is the set of rules a token's policies hold; s.mu must be held.
func (s *Server) aclFor(t *token) (rules []rule, root bool) {
	for _, p := range t.policies {
		if p == RootPolicy {
			return nil, true
		}
		rules = append(rules, s.policies[p]...)
		if p == "default" {
			rules = append(rules, defaultPolicy...)
		}
	}
	return rules, false
}

// defaultPolicy is the part of Vault's built-in "default" policy that
// matters here.
var defaultPolicy = []rule{
	{path: "auth/token/lookup-self", caps: []string{CapRead}},
	{path: "sys/capabilities-self", caps: []string{CapUpdate}},
}

// capabilities returns the capabilities rules grant on path: ["deny"] when
// none applies or the winning rule denies.
func capabilities(rules []rule, root bool, path string) []string {
	if root {
		return []string{"root"}
	}
	var best *rule
	for i := range rules {
		r := &rules[i]
		if !matches(r.path, path) {
			continue
		}
		if best == nil || higherPriority(r.path, best.path) {
			best = r
		} else if r.path == best.path {
			// Two policies with the same path: Vault merges them.
			merged := rule{path: r.path, caps: append(slices.Clone(best.caps), r.caps...)}
			best = &merged
		}
	}
	if best == nil || slices.Contains(best.caps, CapDeny) || len(best.caps) == 0 {
		return []string{CapDeny}
	}
	caps := slices.Clone(best.caps)
	slices.Sort(caps)
	return slices.Compact(caps)
}

func allowed(rules []rule, root bool, path, capability string) bool {
	caps := capabilities(rules, root, path)
	return slices.Contains(caps, "root") || slices.Contains(caps, capability)
}

// matches reports whether a policy path (exact, trailing "*" glob, "+"
// segments) covers path.
func matches(pattern, path string) bool {
	glob := strings.HasSuffix(pattern, "*")
	pattern = strings.TrimSuffix(pattern, "*")
	if !strings.Contains(pattern, "+") {
		if glob {
			return strings.HasPrefix(path, pattern)
		}
		return path == pattern
	}
	ps := strings.Split(pattern, "/")
	xs := strings.Split(path, "/")
	for i, p := range ps {
		last := i == len(ps)-1
		if i >= len(xs) {
			return false
		}
		switch {
		case p == "+":
			if xs[i] == "" && !(last && glob) {
				return false
			}
		case last && glob:
			return strings.HasPrefix(strings.Join(xs[i:], "/"), p)
		case p != xs[i]:
			return false
		}
	}
	return glob || len(xs) == len(ps)
}

// higherPriority is a simplification of Vault's rules: an exact path wins;
// then the path whose first wildcard comes later; then the longer path.
func higherPriority(a, b string) bool {
	wa, wb := firstWildcard(a), firstWildcard(b)
	if wa != wb {
		return wa > wb
	}
	return len(a) > len(b)
}

func firstWildcard(p string) int {
	i := strings.IndexAny(p, "+*")
	if i < 0 {
		return 1 << 30
	}
	return i
}

// hasMountAccess reports whether any rule grants something under mount, as
// Vault's hasMountAccess does for the UI preflight.
func hasMountAccess(rules []rule, root bool, mountPath string) bool {
	if root {
		return true
	}
	for _, r := range rules {
		if slices.Contains(r.caps, CapDeny) || len(r.caps) == 0 {
			continue
		}
		p := strings.TrimSuffix(r.path, "*")
		if strings.HasPrefix(p, mountPath) || (strings.HasSuffix(r.path, "*") && strings.HasPrefix(mountPath, p)) || matches(r.path, mountPath) {
			return true
		}
		if strings.Contains(r.path, "+") && strings.Count(p, "/") >= strings.Count(mountPath, "/") {
			segs := strings.Split(p, "/")
			mp := strings.Split(strings.TrimSuffix(mountPath, "/"), "/")
			ok := true
			for i, m := range mp {
				if segs[i] != "+" && segs[i] != m {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
	}
	return false
}
