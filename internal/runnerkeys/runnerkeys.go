// Package runnerkeys knows which TOML keys and feature flags each
// gitlab-runner version understands, and checks runners.config against
// them.
//
// gitlab-runner reads its config.toml with BurntSushi/toml and drops every
// key it does not know without a word: `privilegd = true` or a
// `[runners.kubernetes_typo]` table registers fine and does nothing, so a
// misspelt hardening setting is silently a no-op. A value of the wrong
// type (`privileged = 'yes'`) is the opposite: fatal when the runner
// starts, a crash loop. This package is the guard against both.
//
// The facts (table.go) are generated from gitlab-runner's own
// common/config.go and helpers/featureflags/flags.go at each version's tag
// (see gen/): only the versions whose sources were read are known. The
// table covers a [[runners]] entry, which is all the chart takes from
// runners.config (it registers with it as a template).
package runnerkeys

//go:generate go run ./gen -ref ../../../shared/reference/gitlab-runner-source -out table.go

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// keyRow is one key path with its type in the runner versions of mask.
type keyRow struct {
	path, typ string
	mask      uint8
}

// flagRow is one feature flag, present in the versions of mask and
// deprecated in those of deprecated.
type flagRow struct {
	name             string
	mask, deprecated uint8
}

// Types of the table (see gen for how they are derived).
const (
	tString      = "string"
	tBool        = "bool"
	tInt         = "int"
	tFloat       = "float"
	tDuration    = "duration"
	tDatetime    = "datetime"
	tAny         = "any"
	tStringOrArr = "string-or-list"
	tTable       = "table"
	tTables      = "tables"
	tOpaque      = "opaque"
)

// chartAppVersions are the gitlab-runner chart versions runnerctl was
// verified against, with the runner version their Chart.yaml appVersion
// names: that, not the chart's own version number, decides which runner
// runs. Add a chart here only after reading its Chart.yaml.
var chartAppVersions = []struct{ chart, runner string }{
	{"0.86.0", "18.9.0"},
}

// Runner is one gitlab-runner version and the facts runnerctl has for it.
type Runner struct {
	// Version is the runner's version, such as 18.9.0.
	Version string
	// Table is the version whose keys and flags are used: Version itself,
	// or the table of the same minor release (see Lookup).
	Table string
	bit   uint8
}

// Versions lists the runner versions runnerctl has facts for, oldest
// first.
func Versions() []string { return slices.Clone(tableVersions) }

// Charts lists the chart versions runnerctl knows the runner version of,
// as "CHART (gitlab-runner RUNNER)".
func Charts() []string {
	var out []string
	for _, c := range chartAppVersions {
		out = append(out, c.chart+" (gitlab-runner "+c.runner+")")
	}
	return out
}

// RunnerOfChart gives the runner version that chart version deploys, when
// runnerctl knows it.
func RunnerOfChart(chart string) (string, bool) {
	for _, c := range chartAppVersions {
		if c.chart == chart {
			return c.runner, true
		}
	}
	return "", false
}

// Lookup returns the facts for runner version v (X.Y.Z, an optional
// leading v allowed). A version without a table of its own uses the table
// of its minor release (18.9.2 uses 18.9.0's): gitlab-runner's patch
// releases carry fixes, not new settings, and should one add a key, the
// check refuses it rather than letting it through. Any other version is
// an error: checking it against another minor's keys could pass a key
// that version dropped, which is exactly the silent no-op this check is
// for.
func Lookup(v string) (*Runner, error) {
	nums, ok := parseVersion(v)
	if !ok {
		return nil, fmt.Errorf("runner version %q is not a version such as 18.9.0", v)
	}
	clean := fmt.Sprintf("%d.%d.%d", nums[0], nums[1], nums[2])
	for i, t := range tableVersions {
		if t == clean {
			return &Runner{Version: clean, Table: t, bit: 1 << i}, nil
		}
	}
	for i, t := range tableVersions {
		tn, _ := parseVersion(t)
		if tn[0] == nums[0] && tn[1] == nums[1] {
			return &Runner{Version: clean, Table: t, bit: 1 << i}, nil
		}
	}
	return nil, fmt.Errorf("runnerctl has no facts about the TOML keys of gitlab-runner %s; it knows %s",
		clean, knownList())
}

func knownList() string {
	var parts []string
	for _, t := range tableVersions {
		parts = append(parts, strings.TrimSuffix(t, ".0")+".x")
	}
	return strings.Join(parts, " and ")
}

// Resolve gives the runner version of a configuration: explicit (the
// configuration's runnerVersion) when set, else the one chart deploys. The
// errors say which setting to change.
func Resolve(chart, explicit string) (*Runner, error) {
	if explicit != "" {
		return Lookup(explicit)
	}
	v, ok := RunnerOfChart(chart)
	if !ok {
		return nil, &UnknownChartError{Chart: chart}
	}
	return Lookup(v)
}

// UnknownChartError is a chart version runnerctl does not know the runner
// version of.
type UnknownChartError struct{ Chart string }

func (e *UnknownChartError) Error() string {
	return fmt.Sprintf("runnerctl does not know which gitlab-runner version chart %s deploys (it knows %s), "+
		"so it cannot tell which runners.config keys that runner understands; set chart.runnerVersion "+
		"to the chart's appVersion (helm show chart gitlab-runner --repo URL --version %s)",
		e.Chart, strings.Join(Charts(), ", "), e.Chart)
}

// Has reports whether the runner knows the key path (dotted, from the
// document root: runners.kubernetes.privileged).
func (r *Runner) Has(path string) bool {
	_, ok := r.typeOf(path)
	return ok
}

// NativeSeccomp reports whether the runner has seccomp_profile keys in the
// Kubernetes executor's security contexts (gitlab-runner 18.11 and later);
// older runners need a pod_spec patch.
func (r *Runner) NativeSeccomp() bool {
	return r.Has("runners.kubernetes.pod_security_context.seccomp_profile.type")
}

// HasFlag reports whether the runner knows feature flag name.
func (r *Runner) HasFlag(name string) bool {
	f, ok := r.flag(name)
	return ok && f.mask&r.bit != 0
}

func (r *Runner) typeOf(path string) (string, bool) {
	i, _ := slices.BinarySearchFunc(tableKeys, path, func(k keyRow, p string) int { return strings.Compare(k.path, p) })
	for ; i < len(tableKeys) && tableKeys[i].path == path; i++ {
		if tableKeys[i].mask&r.bit != 0 {
			return tableKeys[i].typ, true
		}
	}
	return "", false
}

// otherVersions lists the table versions other than r's that know path.
func (r *Runner) otherVersions(path string) []string {
	var out []string
	i, _ := slices.BinarySearchFunc(tableKeys, path, func(k keyRow, p string) int { return strings.Compare(k.path, p) })
	for ; i < len(tableKeys) && tableKeys[i].path == path; i++ {
		for b, v := range tableVersions {
			if tableKeys[i].mask&(1<<b) != 0 && 1<<b != r.bit && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// children lists the names of the keys directly below path.
func (r *Runner) children(path string) []string {
	prefix := path + "."
	if path == "" {
		prefix = ""
	}
	i, _ := slices.BinarySearchFunc(tableKeys, prefix, func(k keyRow, p string) int { return strings.Compare(k.path, p) })
	var out []string
	for ; i < len(tableKeys) && strings.HasPrefix(tableKeys[i].path, prefix); i++ {
		rest := tableKeys[i].path[len(prefix):]
		if tableKeys[i].mask&r.bit == 0 || strings.Contains(rest, ".") {
			continue
		}
		out = append(out, rest)
	}
	return out
}

func (r *Runner) flag(name string) (flagRow, bool) {
	i, ok := slices.BinarySearchFunc(tableFlags, name, func(f flagRow, n string) int { return strings.Compare(f.name, n) })
	if !ok {
		return flagRow{}, false
	}
	return tableFlags[i], true
}

func (r *Runner) flagNames() []string {
	var out []string
	for _, f := range tableFlags {
		if f.mask&r.bit != 0 {
			out = append(out, f.name)
		}
	}
	return out
}

func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	parts := strings.Split(strings.TrimPrefix(v, "v"), ".")
	if len(parts) != 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return out, false
		}
		out[i] = n
	}
	return out, true
}
