package adopt

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// tokenRE finds what looks like a GitLab runner token or the legacy
// registration token: the glrt- and glrtr- prefixes (also behind an
// instance's own prefix, acme-glrt-…) and GR1348941. It only decides what
// to report, never what is valid.
var tokenRE = regexp.MustCompile(`(glrtr?-|GR1348941)[A-Za-z0-9_\-]{8,}`)

// tokenKeys are keys whose value is a token whatever it looks like: the
// chart's runnerToken and runnerRegistrationToken, the runner's token in
// config.toml, and a Secret's runner-token keys.
var tokenKeys = []string{"runnertoken", "runnerregistrationtoken", "token", "runner-token", "runner-registration-token"}

// leakSet is where tokens were found, by file and field path.
type leakSet map[string]Line

func leakKey(file, field string) string { return file + "\x00" + field }

func (l leakSet) has(file, field string) bool {
	_, ok := l[leakKey(file, field)]
	return ok
}

// under reports whether field is a leak or inside one.
func (l leakSet) under(file, field string) bool {
	for _, ln := range l {
		if ln.File == file && (field == ln.Field || strings.HasPrefix(field, ln.Field+".") || strings.HasPrefix(field, ln.Field+"[")) {
			return true
		}
	}
	return false
}

func (l leakSet) lines() []Line {
	var out []Line
	for _, ln := range l {
		out = append(out, ln)
	}
	slices.SortFunc(out, compareLines)
	return out
}

const leakAdvice = "a runner token is written here: remove it from the file and from the Git history, and rotate the token (runnerctl rotate-token); import did not take it"

// findLeaks looks for tokens in every document, in the chart values
// (inline ones included) and in runners.config.
func findLeaks(docs []doc, in *inputs) leakSet {
	l := leakSet{}
	for _, d := range docs {
		if isValues(d.obj) {
			continue // walked below as in.values, with the values' paths
		}
		l.walk(d.file, d.object(), "", d.obj, d.kind() == "Secret")
	}
	l.walk(in.valuesFile, in.valuesObject, "", in.values, false)
	if in.toml != nil {
		l.walk(in.valuesFile, in.valuesObject, "runners.config", in.toml, false)
	}
	return l
}

func (l leakSet) walk(file, object, path string, v any, secret bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := joinKey(path, k)
			// Texts decoded and walked on their own: their fields give
			// a better location than the whole text.
			if p == "runners.config" || (strings.Contains(p, "spec.source") && (strings.HasSuffix(p, ".helm.values") || strings.HasSuffix(p, ".helm.valuesObject"))) {
				continue
			}
			// A value that is an ESO template ({{ .X }}) refers to a token
			// elsewhere; any other non-empty value under a token key is one.
			if s, ok := e.(string); ok && s != "" && !strings.Contains(s, "{{") &&
				(slices.Contains(tokenKeys, strings.ToLower(k)) || (secret && strings.Contains(strings.ToLower(k), "token"))) {
				l[leakKey(file, p)] = Line{File: file, Object: object, Field: p, Class: Leak, Detail: leakAdvice}
				continue
			}
			l.walk(file, object, p, e, secret)
		}
	case []any:
		for i, e := range x {
			l.walk(file, object, fmt.Sprintf("%s[%d]", path, i), e, secret)
		}
	case string:
		if tokenRE.MatchString(x) {
			l[leakKey(file, path)] = Line{File: file, Object: object, Field: path, Class: Leak, Detail: leakAdvice}
		}
	}
}

// joinKey appends a mapping key to a field path, bracketing keys that
// contain dots or slashes (labels, annotations) so the path stays readable.
func joinKey(path, k string) string {
	if strings.ContainsAny(k, "./ ") {
		return fmt.Sprintf("%s[%q]", path, k)
	}
	if path == "" {
		return k
	}
	return path + "." + k
}
