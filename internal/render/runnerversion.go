package render

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/pelletier/go-toml/v2"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

// RunnerVersion is the gitlab-runner version whose configuration keys cfg
// is rendered and checked for: chart.runnerVersion, else the appVersion of
// chart.version. The errors name the field to change.
func RunnerVersion(cfg *config.Config) (*runnerkeys.Runner, error) {
	return runnerkeys.Resolve(cfg.Chart.Version, cfg.Chart.RunnerVersion)
}

// versionError is the error of a runner version runnerctl has no facts
// for, on the field to change. Render reports it, not Check: commands that
// render nothing (rotate-token) and doctor, which says what else is wrong,
// still work with such a configuration.
func versionError(cfg *config.Config) *config.FieldError {
	_, err := RunnerVersion(cfg)
	if err == nil {
		return nil
	}
	var unknown *runnerkeys.UnknownChartError
	if errors.As(err, &unknown) {
		return &config.FieldError{Path: "chart.version", Msg: err.Error()}
	}
	return &config.FieldError{Path: "chart.runnerVersion", Msg: err.Error()}
}

// checkRunnerVersion finds what the runner version tells about cfg: runner
// and helper images of another version, and runners[].extraConfig that is
// not TOML or that sets a key runnerctl sets itself. Unknown keys and wrong
// types in extraConfig are left to the checks of the generated files
// (validate, and render before it writes), which see the whole
// runners.config.
func checkRunnerVersion(cfg *config.Config, profiles Profiles) []config.FieldError {
	rv, err := RunnerVersion(cfg)
	if err != nil {
		return nil // versionError
	}
	var errs []config.FieldError
	for i := range cfg.Runners {
		r := &cfg.Runners[i]
		field := fmt.Sprintf("runners[%d]", i)
		runs := rv.Version
		if im := r.RunnerImage; im != nil {
			if v, ok := tagVersion(im.Tag); ok {
				if other, err := runnerkeys.Lookup(v); err != nil || other.Table != rv.Table {
					errs = append(errs, config.FieldError{Path: field + ".runnerImage.tag", Msg: fmt.Sprintf(
						"%q runs gitlab-runner %s, but runners.config is rendered and checked for gitlab-runner %s (%s); set chart.runnerVersion to the version you run, or use the runner image of %s",
						im.Tag, v, rv.Version, versionSource(cfg), rv.Version)})
				} else {
					runs = v
				}
			}
		}
		if _, tag := splitImage(r.HelperImage); tag != "" {
			if v, ok := tagVersion(tag); ok && v != runs {
				errs = append(errs, config.FieldError{Path: field + ".helperImage", Msg: fmt.Sprintf(
					"the helper image of gitlab-runner %s, for a runner that runs %s: the helper must be of the runner's own version; leave helperImage empty to let the runner pick it, or use the tag of %s",
					v, runs, runs)})
			}
		}
		if r.ExtraConfig == "" {
			continue
		}
		p, err := profiles.Get(r.Profile)
		if err != nil {
			continue // reported by Check
		}
		if _, err := mergedTOML(r, p, rv); err != nil {
			errs = append(errs, config.FieldError{Path: field + ".extraConfig", Msg: err.Error()})
		}
	}
	return errs
}

func versionSource(cfg *config.Config) string {
	if cfg.Chart.RunnerVersion != "" {
		return "chart.runnerVersion"
	}
	return "the appVersion of chart " + cfg.Chart.Version
}

// imageVersionRE finds the runner version in a gitlab-runner or helper
// image tag: v18.9.0, alpine-v18.9.0, x86_64-v18.9.0. Compiled on first
// use, not at every start of runnerctl.
var imageVersionRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?:^|-)v(\d+\.\d+\.\d+)$`)
})

func tagVersion(tag string) (string, bool) {
	m := imageVersionRE().FindStringSubmatch(tag)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// splitImage splits an image reference into repository and tag (empty
// without one, or with a digest only).
func splitImage(ref string) (repo, tag string) {
	ref, _, _ = strings.Cut(ref, "@")
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// runnerWarnings are what the user of runner r must know about its images.
func runnerWarnings(cfg *config.Config, r *config.Runner) []string {
	_, tag := splitImage(r.HelperImage)
	if tag != "latest" && !strings.HasSuffix(tag, "-latest") {
		return nil
	}
	v := "its own version"
	if rv, err := RunnerVersion(cfg); err == nil {
		v = rv.Version
	}
	return []string{fmt.Sprintf("helperImage %q follows the newest gitlab-runner release, not the runner's (%s), and an x86_64 helper does not start on arm64 nodes; "+
		"leave helperImage empty to let the runner pick the helper of its own version and of the node's architecture, or pin the tag of its version", r.HelperImage, v)}
}

// runnerTOML is runners.config of runner r under profile p: the typed
// configuration runnerctl generates, with runners[].extraConfig merged in.
func runnerTOML(cfg *config.Config, r *config.Runner, p *profile.Profile) (string, error) {
	rv, err := RunnerVersion(cfg)
	if err != nil {
		return "", err
	}
	if r.ExtraConfig == "" {
		return marshalTOML(runnerConfig(r, p, rv))
	}
	text, err := mergedTOML(r, p, rv)
	if err != nil {
		return "", fmt.Errorf("runners[].extraConfig: %w", err)
	}
	return text, nil
}

// mergedTOML merges r's extraConfig into what runnerctl generates. The
// merged document is encoded from maps, so its keys come out sorted
// rather than in the typed model's order: still the same bytes every time.
func mergedTOML(r *config.Runner, p *profile.Profile, rv *runnerkeys.Runner) (string, error) {
	extra, err := parseExtra(r.ExtraConfig)
	if err != nil {
		return "", err
	}
	typed, err := marshalTOML(runnerConfig(r, p, rv))
	if err != nil {
		return "", err
	}
	var doc struct {
		Runners []map[string]any `toml:"runners"`
	}
	if err := toml.Unmarshal([]byte(typed), &doc); err != nil || len(doc.Runners) != 1 {
		return "", fmt.Errorf("re-read the generated runner config: %v", err)
	}
	entry := doc.Runners[0]
	if conflicts := merge(entry, extra, "runners"); len(conflicts) > 0 {
		return "", fmt.Errorf("%s set by runnerctl itself (from profile %q or another field of the runner); change %s there, not in extraConfig",
			quoteList(conflicts), p.Name, pronoun(len(conflicts)))
	}
	var b bytes.Buffer
	enc := toml.NewEncoder(&b)
	enc.SetIndentTables(true)
	if err := enc.Encode(map[string]any{"runners": []any{entry}}); err != nil {
		return "", fmt.Errorf("encode runner config: %w", err)
	}
	return b.String(), nil
}

// parseExtra reads extraConfig: keys of the runner's [[runners]] entry,
// written as in config.toml, with or without the [[runners]] line.
func parseExtra(text string) (map[string]any, error) {
	var doc map[string]any
	if err := toml.Unmarshal([]byte(text), &doc); err != nil {
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			return nil, fmt.Errorf("not valid TOML: line %d of extraConfig: %s", row, de.Error())
		}
		return nil, fmt.Errorf("not valid TOML: %w", err)
	}
	var outside []string
	for k := range doc {
		if k != "runners" {
			outside = append(outside, k)
		}
	}
	if len(outside) > 0 {
		slices.Sort(outside)
		return nil, fmt.Errorf("%s outside the runner's entry: write the keys as in config.toml, under runners ([runners.kubernetes] and so on)", quoteList(outside))
	}
	switch v := doc["runners"].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return v, nil
	case []any:
		if len(v) == 1 {
			if m, ok := v[0].(map[string]any); ok {
				return m, nil
			}
		}
		return nil, fmt.Errorf("holds %d [[runners]] entries; extraConfig adds to the one entry runnerctl renders for this runner", len(v))
	}
	return nil, errors.New(`"runners" must be a table: write the keys as in config.toml, under runners ([runners.kubernetes] and so on)`)
}

// merge adds src to dst: tables merge key by key, arrays of tables are
// appended, and any other key present in both is a conflict, returned by
// its dotted path in sorted order.
func merge(dst, src map[string]any, path string) []string {
	var conflicts []string
	for _, k := range slices.Sorted(maps.Keys(src)) {
		v, p := src[k], path+"."+k
		cur, exists := dst[k]
		if !exists {
			dst[k] = v
			continue
		}
		if dm, ok := cur.(map[string]any); ok {
			if sm, ok := v.(map[string]any); ok {
				conflicts = append(conflicts, merge(dm, sm, p)...)
				continue
			}
		}
		if da, ok := tables(cur); ok {
			if sa, ok := tables(v); ok {
				dst[k] = append(da, sa...)
				continue
			}
		}
		conflicts = append(conflicts, p)
	}
	return conflicts
}

// tables returns v as an array of tables.
func tables(v any) ([]any, bool) {
	a, ok := v.([]any)
	if !ok || len(a) == 0 {
		return nil, false
	}
	for _, e := range a {
		if _, ok := e.(map[string]any); !ok {
			return nil, false
		}
	}
	return a, true
}

func quoteList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	if len(q) == 1 {
		return "key " + q[0] + " is"
	}
	return "keys " + strings.Join(q, ", ") + " are"
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}
