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

func newProfilesCmd(f *factory, g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List and explain hardening profiles",
		Long: `Hardening profiles say how the runner pod, its RBAC Role, its job pods and its
namespace are locked down. The built-in ones are baseline, restricted and
privileged-dind; a repository adds its own as YAML files in profilesDir
(runnerctl-profiles/ by default), each extending another profile.

Every built-in profile leaves the runner token's rotation to
runnerctl rotate-token (runnerToken.automaticRotation: false, which render
turns into FF_DISABLE_AUTOMATIC_TOKEN_ROTATION = true): profiles show says
why. A profile that sets it to true is warned about wherever it shows up,
and its own warning field cannot silence that. Neither can it silence the
warning about a profile that weakens isolation: privileged runner or job
pods, root (runAsUser 0), added capabilities, privilege escalation, seccomp
Unconfined, or Pod Security enforcement that is privileged or looser than
the profile it extends.`,
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
				// Warnings adds to the profile's own warning those that no
				// profile can switch off.
				Warnings []string `json:"warnings,omitempty"`
			}
			var items []item
			var loud []string // the warnings no profile can switch off
			for _, n := range set.Names() {
				p, _ := set.Get(n)
				items = append(items, item{Name: p.Name, Extends: p.Extends, Source: p.Source, Summary: firstSentence(p.Description),
					Warning: p.Warning, Warnings: p.Warnings()})
				for _, w := range []string{p.LoosenedWarning(), p.TokenRotationWarning()} {
					if w != "" {
						loud = append(loud, fmt.Sprintf("profile %q (%s): %s", p.Name, p.Source, w))
					}
				}
			}
			// On stderr, like render's warnings: the list itself stays clean
			// for scripts, and the JSON valid.
			for _, w := range loud {
				fmt.Fprintln(f.stderr, colorize(g, "WARNING: ")+w)
			}
			if g.output == "json" {
				return writeJSON(f.stdout, items)
			}
			tw := tabwriter.NewWriter(f.stdout, 0, 4, 2, ' ', 0)
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
		ValidArgsFunction: onlyOneArg(completeProfileNames(f)),
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
				return writeJSON(f.stdout, struct {
					*profile.Profile
					Warnings []string `json:"Warnings,omitempty"`
				}{p, p.Warnings()})
			}
			fmt.Fprintf(f.stdout, "%s (%s)\n\n%s\n", p.Name, p.Source, strings.TrimSpace(p.Description))
			for _, w := range p.Warnings() {
				warn := "WARNING: "
				if isTerminal(f.stdout) { // g.color is about stderr
					warn = colorize(g, warn)
				}
				fmt.Fprintf(f.stdout, "\n%s%s\n", warn, w)
			}
			fmt.Fprintf(f.stdout, "\n%s\n", tokenRotationText(p))
			if p.RestartsWithReloader() {
				fmt.Fprintf(f.stdout, "\nRestarts: render annotates each runner's Deployment with %s,\n"+
					"naming its token Secret (and S3 cache credentials Secret): Stakater Reloader, when\n"+
					"installed in the cluster, restarts the runner once ESO refreshes a rotated token.\n", render.ReloaderSecretAnnotation)
			}
			var out strings.Builder
			enc := yaml.NewEncoder(&out)
			enc.SetIndent(2)
			err = enc.Encode(struct {
				RunnerPod   profile.RunnerPod   `yaml:"runnerPod"`
				RBAC        profile.RBAC        `yaml:"rbac"`
				Jobs        profile.Jobs        `yaml:"jobs"`
				Namespace   profile.Namespace   `yaml:"namespace,omitempty"`
				RunnerToken profile.RunnerToken `yaml:"runnerToken"`
			}{p.RunnerPod, p.RBAC, p.Jobs, p.Namespace, effectiveRunnerToken(p)})
			if err != nil {
				return err
			}
			fmt.Fprintf(f.stdout, "\nResolved settings:\n\n%s", out.String())
			return nil
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

// tokenRotationText says who rotates the runner token under profile p, and
// why it is not the runner.
func tokenRotationText(p *profile.Profile) string {
	state := fmt.Sprintf("off: every runner's config sets %s = true", render.FlagDisableAutomaticTokenRotation)
	if p.AutomaticTokenRotation() {
		state = fmt.Sprintf("ON, against runnerctl's default (runnerToken.automaticRotation: true): every runner's config sets %s = false",
			render.FlagDisableAutomaticTokenRotation)
	}
	return wrapText("Runner token: gitlab-runner's automatic token rotation is "+state+". "+profile.TokenRotationReason, 76)
}

// effectiveRunnerToken is p's runnerToken block with its default filled
// in, so that the resolved settings show what render does.
func effectiveRunnerToken(p *profile.Profile) profile.RunnerToken {
	on := p.AutomaticTokenRotation()
	return profile.RunnerToken{AutomaticRotation: &on}
}

// wrapText fills s into lines of at most width bytes (a longer word stays
// whole), keeping the line breaks s already has.
func wrapText(s string, width int) string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, w := range strings.Fields(para) {
			if line != "" && len(line)+1+len(w) > width {
				out = append(out, line)
				line = ""
			}
			if line != "" {
				line += " "
			}
			line += w
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}

// loadProfiles loads the built-in profiles plus the repository's, taking
// profilesDir from the configuration when there is one to read.
func loadProfiles(g *globals) (*profile.Set, error) {
	dir := config.DefaultProfilesDir
	if cfg, err := config.Load(g.configPath); err == nil {
		dir = cfg.ProfilesDir
	}
	set, err := profile.LoadIn(filepath.Dir(g.configPath), dir)
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
