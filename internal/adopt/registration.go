package adopt

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/runnerctl/runnerctl/internal/config"
)

// The chart's values for the settings GitLab keeps for a runner (chart
// 0.86.0: runners.tags and runners.locked in _env_vars.tpl, runUntagged,
// protected and name in configmap.yaml's register-the-runner script). They
// date from registration tokens: with a glrt- authentication token the
// script drops all but name, and gitlab-runner passes name to nobody but
// its own config.toml. So they are GitLab's settings that the user meant
// the runner to have, and runnerctl.yaml keeps them as registration, which
// init sets in GitLab: render itself leaves them out, changing nothing in
// the cluster.
const (
	regKeyName        = "name"
	regKeyTags        = "tags"
	regKeyRunUntagged = "runUntagged"
	regKeyLocked      = "locked"
	regKeyProtected   = "protected"
)

var regKeys = []string{regKeyName, regKeyTags, regKeyRunUntagged, regKeyLocked, regKeyProtected}

// Why render may leave the registration values out: the rules (compare.go)
// say it for any import, and the builder's lines repeat it before what it
// did with the value.
const (
	regWhy = "GitLab keeps this setting for the runner: with a glrt- token the chart's register script drops it, " +
		"and runnerctl sets it in GitLab at init (registration), where alone it takes effect"
	regNameWhy = "with a glrt- token the chart gives it to register only as the runner's name in its config.toml " +
		"(the pod's host name when unset), never to GitLab; the description GitLab shows is a setting GitLab keeps, " +
		"which runnerctl sets at init (registration.description)"
)

// regSetting is one registration value of the chart values, as runnerctl.yaml
// would hold it.
type regSetting struct {
	key   string // under runners in the values
	field string // under registration in runnerctl.yaml
	// value is the setting in runnerctl.yaml's terms: a string
	// (description, accessLevel), a []string (tags) or a bool.
	value any
	// problem says why the value cannot be imported; value is unset then.
	problem string
}

// regSettings reads the registration values present in values, in
// regKeys' order. Values under a leak are left to the leak's line.
func regSettings(values map[string]any, leaks leakSet, file string) []regSetting {
	rv := getMap(values, "runners")
	var out []regSetting
	for _, key := range regKeys {
		v, ok := rv[key]
		if !ok || v == nil || leaks.under(file, "runners."+key) {
			continue
		}
		s := regSetting{key: key}
		switch key {
		case regKeyName:
			s.field = "description"
			str, isStr := v.(string)
			switch {
			case !isStr:
				s.problem = "it is not a string"
			case str == "":
				continue // the chart passes no --name then: nothing to keep
			case tokenRE.MatchString(str):
				s.problem = "it looks like a token"
			case !utf8.ValidString(str) || strings.IndexFunc(str, unicode.IsControl) >= 0:
				s.problem = "it holds control characters or invalid UTF-8, which GitLab's description may not"
			case utf8.RuneCountInString(str) > config.MaxDescription:
				s.problem = fmt.Sprintf("it is longer than %d characters, GitLab's limit", config.MaxDescription)
			default:
				s.value = str
			}
		case regKeyTags:
			s.field = "tags"
			tags, problem := parseTags(v)
			if problem != "" {
				s.problem = problem
			} else {
				s.value = tags
			}
		case regKeyRunUntagged, regKeyLocked, regKeyProtected:
			s.field = key
			b, isBool := v.(bool)
			if !isBool {
				s.problem = "it is not true or false"
				break
			}
			s.value = b
			if key == regKeyProtected {
				s.field, s.value = "accessLevel", accessLevel(b)
			}
		}
		out = append(out, s)
	}
	return out
}

func accessLevel(protected bool) string {
	if protected {
		return "ref_protected"
	}
	return "not_protected"
}

// parseTags reads runners.tags as the chart does (one comma-separated
// string, RUNNER_TAG_LIST), or a YAML list of tags, and checks them
// against GitLab's limits, as validate would.
func parseTags(v any) ([]string, string) {
	var parts []string
	switch x := v.(type) {
	case string:
		parts = strings.Split(x, ",")
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, "it is not a comma-separated string or a list of tags"
			}
			parts = append(parts, strings.Split(s, ",")...)
		}
	default:
		return nil, "it is not a comma-separated string or a list of tags"
	}
	var tags []string
	for _, t := range parts {
		t = strings.TrimSpace(t)
		if t == "" || slices.Contains(tags, t) {
			continue
		}
		if tokenRE.MatchString(t) || !utf8.ValidString(t) || strings.IndexFunc(t, unicode.IsControl) >= 0 || utf8.RuneCountInString(t) > config.MaxTagLen {
			return nil, fmt.Sprintf("a tag is not one GitLab takes (at most %d characters, no control characters)", config.MaxTagLen)
		}
		tags = append(tags, t)
	}
	if len(tags) > config.MaxTags {
		return nil, fmt.Sprintf("it has %d tags; GitLab allows at most %d", len(tags), config.MaxTags)
	}
	return tags, ""
}

// registration fills r.Registration: GitLab's settings when the caller read
// them (they are what is live), else the values' registration settings.
// It returns one report line per registration value, which replaces the
// comparison's generic line for that field (see Import).
func (b *builder) registration(r *config.Runner) []Line {
	in := b.in
	settings := regSettings(in.values, b.leaks, in.valuesFile)
	live := b.opts.Registration
	r.RunnerID, r.Registration = b.opts.RunnerID, live
	var reg *config.Registration
	if live == nil {
		reg = &config.Registration{}
	}
	var lines []Line
	for _, s := range settings {
		why := regWhy
		if s.key == regKeyName {
			why = regNameWhy
		}
		at := Line{File: in.valuesFile, Object: in.valuesObject, Field: "runners." + s.key, Class: Equivalent}
		switch {
		case s.problem != "":
			at.Class = Differs
			at.Detail = fmt.Sprintf("%s: not imported, as %s: set registration.%s yourself", why, s.problem, s.field)
		case live != nil:
			have := liveValue(live, s.field)
			if sameSetting(have, s.value) {
				at.Detail = fmt.Sprintf("%s: GitLab runner %d has the same (registration.%s %s)", why, b.opts.RunnerID, s.field, showSetting(have))
			} else {
				// GitLab's setting is the live one: the values' never
				// reached GitLab with a glrt- token, or were changed there
				// since. Keeping GitLab's changes nothing for the runner.
				at.Class = Differs
				at.Detail = fmt.Sprintf("%s: GitLab runner %d has %s, which runnerctl.yaml keeps (registration.%s), and the values say %s: init would keep GitLab's; set registration.%s to the values' if they are what you meant",
					why, b.opts.RunnerID, showSetting(have), s.field, showSetting(s.value), s.field)
			}
		default:
			at.Detail = fromValues(reg, s, why)
		}
		lines = append(lines, at)
	}
	if reg != nil && (reg.Description != "" || len(reg.Tags) > 0 || reg.RunUntagged != nil || reg.AccessLevel != "") {
		r.Registration = reg
	}
	return lines
}

// fromValues sets s in reg, when runnerctl.yaml can hold it for a runner
// whose scope the files do not say, and says what it did.
func fromValues(reg *config.Registration, s regSetting, why string) string {
	const mayDiffer = "the live runner's setting in GitLab may differ: --runner-id or --find-runner reads GitLab's instead"
	switch s.key {
	case regKeyLocked:
		// Only a project runner can be locked, and the scope is GitLab's
		// to say: runnerctl.yaml's default instance scope would make
		// locked: true invalid.
		return fmt.Sprintf("%s: runnerctl.yaml leaves registration.locked out: it applies to project runners only, and the files do not say the runner's scope (%s)", why, mayDiffer)
	case regKeyRunUntagged:
		// regKeys puts tags first: reg.Tags holds the values' by now.
		if !s.value.(bool) && len(reg.Tags) == 0 {
			return fmt.Sprintf("%s: runnerctl.yaml leaves it out: false without tags would give the runner no job, which validate refuses (%s)", why, mayDiffer)
		}
		v := s.value.(bool)
		reg.RunUntagged = &v
	case regKeyName:
		reg.Description = s.value.(string)
	case regKeyTags:
		reg.Tags = s.value.([]string)
	case regKeyProtected:
		if s.value == "ref_protected" {
			reg.AccessLevel = "ref_protected"
		}
	}
	return fmt.Sprintf("%s: runnerctl.yaml has registration.%s %s; %s", why, s.field, showSetting(s.value), mayDiffer)
}

// liveValue is registration field of GitLab's settings, in regSetting's
// terms.
func liveValue(live *config.Registration, field string) any {
	switch field {
	case "description":
		return live.Description
	case "tags":
		return live.Tags
	case regKeyRunUntagged:
		return live.RunUntagged != nil && *live.RunUntagged
	case regKeyLocked:
		return live.Locked
	case "accessLevel":
		return accessLevel(live.AccessLevel == "ref_protected")
	}
	return nil
}

// sameSetting compares two settings; tags as sets, as GitLab keeps them.
func sameSetting(a, b any) bool {
	at, aok := a.([]string)
	bt, bok := b.([]string)
	if aok || bok {
		at, bt = slices.Clone(at), slices.Clone(bt)
		slices.Sort(at)
		slices.Sort(bt)
		return slices.Equal(slices.Compact(at), slices.Compact(bt))
	}
	return a == b
}

func showSetting(v any) string {
	if l, ok := v.([]string); ok {
		a := make([]any, len(l))
		for i, e := range l {
			a[i] = e
		}
		return show(a)
	}
	return show(v)
}
