package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
)

func newProfilesCmd(e env, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List and explain hardening profiles",
		Long: `Hardening profiles say how the runner pod, its RBAC Role, its job pods and its
namespace are locked down. The built-in ones are baseline, restricted and
privileged-dind; a repository adds its own as YAML files in profilesDir
(runnerctl-profiles/ by default), each extending another profile.`,
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the known profiles",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			set, err := loadProfiles(g)
			if err != nil {
				return err
			}
			type item struct {
				Name    string `json:"name"`
				Extends string `json:"extends,omitempty"`
				Source  string `json:"source"`
				Summary string `json:"summary"`
				Warning string `json:"warning,omitempty"`
			}
			var items []item
			for _, n := range set.Names() {
				p, _ := set.Get(n)
				items = append(items, item{Name: p.Name, Extends: p.Extends, Source: p.Source, Summary: firstSentence(p.Description), Warning: p.Warning})
			}
			if g.output == "json" {
				return writeJSON(e.stdout, items)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tEXTENDS\tSUMMARY")
			for _, it := range items {
				ext := it.Extends
				if ext == "" {
					ext = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", it.Name, ext, it.Summary)
			}
			return tw.Flush()
		},
	}
	show := &cobra.Command{
		Use:               "show NAME",
		Short:             "Explain one profile and print its resolved settings",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: onlyOneArg(completeProfileNames(e)),
		RunE: func(_ *cobra.Command, args []string) error {
			set, err := loadProfiles(g)
			if err != nil {
				return err
			}
			p, err := set.Get(args[0])
			if err != nil {
				return usageError{err}
			}
			if g.output == "json" {
				return writeJSON(e.stdout, p)
			}
			fmt.Fprintf(e.stdout, "%s (%s)\n\n%s\n", p.Name, p.Source, strings.TrimSpace(p.Description))
			if p.Warning != "" {
				warn := "WARNING: "
				if isTerminal(e.stdout) { // g.color is about stderr
					warn = colorize(g, warn)
				}
				fmt.Fprintf(e.stdout, "\n%s%s\n", warn, p.Warning)
			}
			if p.RestartsWithReloader() {
				fmt.Fprintf(e.stdout, "\nRestarts: render annotates each runner's Deployment with %s,\n"+
					"naming its token Secret (and S3 cache credentials Secret): Stakater Reloader, when\n"+
					"installed in the cluster, restarts the runner once ESO refreshes a rotated token.\n", render.ReloaderSecretAnnotation)
			}
			var out strings.Builder
			enc := yaml.NewEncoder(&out)
			enc.SetIndent(2)
			err = enc.Encode(struct {
				RunnerPod profile.RunnerPod `yaml:"runnerPod"`
				RBAC      profile.RBAC      `yaml:"rbac"`
				Jobs      profile.Jobs      `yaml:"jobs"`
				Namespace profile.Namespace `yaml:"namespace,omitempty"`
			}{p.RunnerPod, p.RBAC, p.Jobs, p.Namespace})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "\nResolved settings:\n\n%s", out.String())
			return nil
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

// loadProfiles loads the built-in profiles plus the repository's, taking
// profilesDir from the configuration when there is one to read.
func loadProfiles(g *globals) (*profile.Set, error) {
	dir := filepath.Join(filepath.Dir(g.configPath), config.DefaultProfilesDir)
	if cfg, err := config.Load(g.configPath); err == nil {
		dir = filepath.Join(filepath.Dir(g.configPath), filepath.FromSlash(cfg.ProfilesDir))
	}
	set, err := profile.Load(dir)
	if err != nil {
		return nil, &exitError{code: ExitUsage, msg: err.Error()}
	}
	return set, nil
}

func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
