package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/runnerctl/runnerctl/internal/config"
)

// Commands that take runner names (rotate-token, status, doctor's
// output, init --name) address GitLab runners, and a runner deployed to
// clusters is one GitLab runner per cluster: its instances, named by
// their ID NAME@CLUSTER (config.Runner.ID). A runner's bare name stands
// for all its instances; NAME@CLUSTER for one. A runner name is a DNS
// label, so the @ cannot be part of one.

// selectInstances returns the instances that names name, in the order
// given and each once (with all: every instance, in the file's order).
// Unknown names are invalid input, all listed at once with the names
// runnerctl.yaml has.
func selectInstances(cfg *config.Config, names []string, all bool) ([]*config.Runner, error) {
	inst := cfg.Instances()
	if all {
		return inst, nil
	}
	var out []*config.Runner
	var unknown, problems []string
	for _, n := range names {
		var match []*config.Runner
		for _, r := range inst {
			if r.ID() == n || r.Cluster != "" && r.Name == n {
				match = append(match, r)
			}
		}
		if len(match) == 0 {
			if p := unknownCluster(cfg, n); p != "" {
				problems = append(problems, p)
			} else {
				unknown = append(unknown, fmt.Sprintf("%q", n))
			}
		}
		for _, r := range match {
			if !slices.ContainsFunc(out, func(o *config.Runner) bool { return o.ID() == r.ID() }) {
				out = append(out, r)
			}
		}
	}
	if len(unknown) > 0 {
		var known []string
		for _, r := range cfg.Runners {
			known = append(known, r.Name)
		}
		problems = append([]string{fmt.Sprintf("no runner named %s in runnerctl.yaml (runners: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))}, problems...)
	}
	if len(problems) > 0 {
		return nil, &exitError{code: ExitUsage, msg: strings.Join(problems, "; ")}
	}
	return out, nil
}

// unknownCluster says what is wrong with name NAME@CLUSTER when runner
// NAME exists without that cluster, or "".
func unknownCluster(cfg *config.Config, name string) string {
	runner, cluster, hasCluster := config.SplitInstanceID(name)
	i := slices.IndexFunc(cfg.Runners, func(r config.Runner) bool { return r.Name == runner })
	switch {
	case !hasCluster || i < 0:
		return ""
	case len(cfg.Runners[i].Clusters) == 0:
		return fmt.Sprintf("runner %q has no clusters: name it %q, without @%s", runner, runner, cluster)
	}
	var cs []string
	for _, c := range cfg.Runners[i].Clusters {
		if c.Name == cluster {
			return ""
		}
		cs = append(cs, c.Name)
	}
	return fmt.Sprintf("runner %q is not deployed to cluster %q (its clusters: %s)", runner, cluster, strings.Join(cs, ", "))
}

// instanceIDs are the IDs of every instance of runnerctl.yaml's runners,
// as decoded (no defaults, no validation), for shell completion: a
// runner with clusters gives its name (all its clusters) and NAME@CLUSTER
// for each.
func instanceIDs(cfg *config.Config) []string {
	var out []string
	for _, r := range cfg.Runners {
		if r.Name == "" {
			continue
		}
		out = append(out, r.Name)
		for _, c := range r.Clusters {
			if c.Name != "" {
				out = append(out, config.InstanceID(r.Name, c.Name))
			}
		}
	}
	return out
}
