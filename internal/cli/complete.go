package cli

import (
	"cmp"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/repofile"
)

// Dynamic shell completion. cobra answers a shell through its hidden
// __complete command, which parses flags but runs no PersistentPreRunE: the
// functions here read --config (or RUNNERCTL_CONFIG) themselves, and they
// never fail loudly: a missing or broken runnerctl.yaml completes nothing
// rather than printing errors into the user's prompt.

// completionConfig is the runnerctl.yaml that --config names, decoded as
// written (no defaults, no validation: a half-edited file still completes),
// and the path it was read from; nil when it cannot be read.
func completionConfig(cmd *cobra.Command, f *factory) (*config.Config, string) {
	path := "runnerctl.yaml"
	if fl := cmd.Flags().Lookup("config"); fl != nil && fl.Changed {
		path = fl.Value.String()
	} else if v := f.getenv("RUNNERCTL_CONFIG"); v != "" {
		path = v
	}
	data, err := repofile.ReadFile(path, config.MaxFileSize)
	if err != nil {
		return nil, path
	}
	cfg, err := config.Decode(data)
	if err != nil {
		return nil, path
	}
	return cfg, path
}

// completeRunnerNames completes the names of the runners in runnerctl.yaml
// and, for a runner with clusters, the ID NAME@CLUSTER of each of its
// clusters' runners (instanceIDs), each at most once on a command line.
func completeRunnerNames(f *factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, _ := completionConfig(cmd, f)
		if cfg == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, id := range instanceIDs(cfg) {
			if slices.Contains(args, id) || !strings.HasPrefix(id, toComplete) {
				continue
			}
			out = append(out, id)
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeClusterNames completes init's --clusters, a comma-separated
// list: the last item with the clusters runnerctl.yaml has (each with its
// destination) that the list does not name yet. A new cluster's
// NAME=DESTINATION is the user's to type.
func completeClusterNames(f *factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, _ := completionConfig(cmd, f)
		if cfg == nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		i := strings.LastIndex(toComplete, ",")
		head, last := toComplete[:i+1], toComplete[i+1:]
		var named []string
		for _, item := range splitList(head) {
			name, _, _ := clusterItem(item)
			named = append(named, name)
		}
		var out []cobra.Completion
		for _, c := range cfg.Clusters {
			if slices.Contains(named, c.Name) || !strings.HasPrefix(c.Name, last) {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(head+c.Name, cmp.Or(c.Destination.Server, c.Destination.Name, "from ArgoCD's cluster generator")))
		}
		// More may follow a comma: no space after the name.
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// completeProfileNames completes the built-in hardening profiles and the
// repository's own (profilesDir of runnerctl.yaml), each with its summary.
func completeProfileNames(f *factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		cfg, path := completionConfig(cmd, f)
		dir := config.DefaultProfilesDir
		if cfg != nil && cfg.ProfilesDir != "" {
			dir = cfg.ProfilesDir
		}
		set, err := profile.LoadIn(filepath.Dir(path), dir)
		if err != nil {
			set, err = profile.Load("") // a broken repository profile: the built-in ones
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
		}
		var out []cobra.Completion
		for _, n := range set.Names() {
			if !strings.HasPrefix(n, toComplete) {
				continue
			}
			p, _ := set.Get(n)
			out = append(out, cobra.CompletionWithDesc(n, firstSentence(p.Description)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// onlyOneArg limits a completion function to a command's first argument.
func onlyOneArg(f cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return f(cmd, args, toComplete)
	}
}
