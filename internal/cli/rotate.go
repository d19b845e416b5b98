package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/runnerctl/runnerctl/internal/bootstrap"
	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/rotate"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

type rotateOptions struct {
	all, dryRun               bool
	ifExpiresWithin           time.Duration
	parallel                  int
	tokenFile, caFile, recDir string
}

func newRotateCmd(e env, g *globals, v *viper.Viper) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-token [NAME...]",
		Short: "Give runners new tokens and store them where their ExternalSecrets read them",
		Long: `rotate-token resets the token of each named runner (or --all) in GitLab and
stores the new one in the secrets manager, at the place the runner's
ExternalSecret reads it, with retries and a read-back check.

A reset kills the old token at once, so nothing can be rolled back: before
resetting, rotate-token checks that the backend can be written; after, the
new token is kept in a 0600 recovery file (outside the repository) until it
is stored. If storing fails for good, the runner's result says so and a
re-run stores the kept token without resetting again.

Runners rotate concurrently (--parallel); each gets a result, and a failure
does not stop the others. A per-runner lock (in the state directory) keeps
two rotations of one runner on one machine apart; CI jobs on several
machines should share a GitLab CI resource_group.

The runner pods read their token only at start: the output ends with the
kubectl commands that remain (refresh the Secret, restart the runner).

The GitLab personal access token comes from GITLAB_TOKEN or
--gitlab-token-file; it needs the api scope, or manage_runner and read_api.
Exit codes: 0 every runner rotated or skipped, 1 any failed, 2 bad input.`,
		Example: `  runnerctl rotate-token ci
  runnerctl rotate-token --all --if-expires-within 720h   # in a scheduled pipeline`,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := rotateOptions{
				all: v.GetBool("all"), dryRun: v.GetBool("dry-run"),
				ifExpiresWithin: v.GetDuration("if-expires-within"), parallel: v.GetInt("parallel"),
				tokenFile: v.GetString("gitlab-token-file"), caFile: v.GetString("ca-file"), recDir: v.GetString("recovery-dir"),
			}
			return runRotate(cmd.Context(), e, g, o, args)
		},
	}
	f := cmd.Flags()
	f.Bool("all", false, "rotate every runner in runnerctl.yaml")
	f.Duration("if-expires-within", 0, "skip runners whose token expires later than this from now, or never (e.g. 720h)")
	f.Int("parallel", rotate.DefaultParallel, "rotate at most this many runners at once")
	f.Bool("dry-run", false, "change nothing; say which runners would be rotated")
	f.String("gitlab-token-file", "", "read the GitLab personal access token from this file (instead of GITLAB_TOKEN)")
	f.String("ca-file", "", "PEM file of a CA to trust for GitLab (self-managed GitLab with a private CA)")
	f.String("recovery-dir", "", "state directory: new tokens kept (0600) until stored, and the rotation locks (default $XDG_STATE_HOME/runnerctl)")
	return cmd
}

// rotateReport is one runner's result with what remains to be done in the
// cluster.
type rotateReport struct {
	rotate.Result
	Next []string `json:"next,omitempty"`
}

func runRotate(ctx context.Context, e env, g *globals, o rotateOptions, names []string) error {
	switch {
	case o.all && len(names) > 0:
		return &exitError{code: ExitUsage, msg: "give runner names or --all, not both"}
	case !o.all && len(names) == 0:
		return &exitError{code: ExitUsage, msg: "name the runners to rotate, or use --all"}
	case o.parallel < 1:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--parallel %d: must be at least 1", o.parallel)}
	case o.ifExpiresWithin < 0:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--if-expires-within %s: must not be negative", o.ifExpiresWithin)}
	}
	l, err := load(g)
	if err != nil {
		return err
	}
	cfg := l.cfg
	runners, err := selectRunners(cfg, names, o.all)
	if err != nil {
		return err
	}
	targets := make([]rotate.Target, len(runners))
	for i, r := range runners {
		loc, err := cfg.TokenRef(r)
		if err != nil {
			return &exitError{code: ExitUsage, msg: err.Error()}
		}
		targets[i] = rotate.Target{Name: r.Name, RunnerID: r.RunnerID, Location: secrets.Location(loc)}
	}

	pat, err := gitlabToken(ctx, e, initOptions{tokenFile: o.tokenFile}, nil)
	if err != nil {
		return err
	}
	gl, err := gitlab.New(gitlab.Options{URL: cfg.GitLab.URL, Token: pat, CAFile: o.caFile})
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	recDir := o.recDir
	if recDir == "" {
		recDir = bootstrap.DefaultRecoveryDir(e.getenv)
	}
	d := rotate.Deps{
		GitLab:   gl,
		Recovery: bootstrap.Recovery{Dir: recDir, RepoRoot: l.root},
		Locks:    rotate.FileLocks{Dir: recDir},
	}
	if !o.dryRun {
		store, err := newStore(ctx, cfg, e.stderr)
		if err != nil {
			return err
		}
		defer store.Close()
		d.Store = store
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	steps := progress(e, g)
	d.Steps = steps
	results := rotate.Run(ctx, d, rotate.Options{
		GitLabURL: cfg.GitLab.URL, IfExpiresWithin: o.ifExpiresWithin, Parallel: o.parallel, DryRun: o.dryRun,
	}, targets)
	steps.Close()

	reports := make([]rotateReport, len(results))
	failed := 0
	for i, res := range results {
		reports[i] = rotateReport{Result: res}
		if res.Status == rotate.Rotated {
			reports[i].Next = clusterSteps(runners[i], reloads(l.profiles, runners[i]))
		}
		if res.Status == rotate.Failed {
			failed++
		}
	}
	if g.output == "json" {
		out, err := json.MarshalIndent(reports, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, string(out))
	} else {
		printRotate(e, g, cfg, reports)
	}
	if failed > 0 {
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d of %d runners failed", failed, len(results))}
	}
	return nil
}

// selectRunners returns the named runners in the order given (or every
// runner with all); unknown names are invalid input, all listed at once.
func selectRunners(cfg *config.Config, names []string, all bool) ([]*config.Runner, error) {
	var out []*config.Runner
	if all {
		for i := range cfg.Runners {
			out = append(out, &cfg.Runners[i])
		}
		return out, nil
	}
	var unknown []string
	for _, n := range names {
		i := slices.IndexFunc(cfg.Runners, func(r config.Runner) bool { return r.Name == n })
		switch {
		case i < 0:
			unknown = append(unknown, fmt.Sprintf("%q", n))
		case !slices.Contains(out, &cfg.Runners[i]):
			out = append(out, &cfg.Runners[i])
		}
	}
	if len(unknown) > 0 {
		var known []string
		for _, r := range cfg.Runners {
			known = append(known, r.Name)
		}
		return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("no runner named %s in runnerctl.yaml (runners: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))}
	}
	return out, nil
}

// clusterSteps are the commands that get a stored token into the running
// runner, which reads it only at start. The ExternalSecret is the one
// render writes (gitlab-runner-NAME-token); the Deployment is the chart's
// fullname for release gitlab-runner-NAME, which is the release name
// itself as it starts with the chart's name. With the reloader profile
// option, Reloader restarts the Deployment once ESO has refreshed the
// Secret, so only the refresh remains.
func clusterSteps(r *config.Runner, reloader bool) []string {
	release := "gitlab-runner-" + r.Name
	steps := []string{fmt.Sprintf("kubectl -n %s annotate externalsecret %s-token force-sync=$(date +%%s) --overwrite", r.Namespace, release)}
	if !reloader {
		steps = append(steps, fmt.Sprintf("kubectl -n %s rollout restart deployment/%s", r.Namespace, release))
	}
	return steps
}

// reloads reports whether r's profile has Reloader restart it.
func reloads(profiles *profile.Set, r *config.Runner) bool {
	p, err := profiles.Get(r.Profile)
	return err == nil && p.RestartsWithReloader()
}

func printRotate(e env, g *globals, cfg *config.Config, reports []rotateReport) {
	var rotated []rotateReport
	expiring := false
	for _, r := range reports {
		id := ""
		if r.RunnerID != 0 {
			id = fmt.Sprintf(" (id %d)", r.RunnerID)
		}
		switch r.Status {
		case rotate.Failed:
			fmt.Fprintf(e.stdout, "failed   %s%s: %s\n", r.Name, id, r.Error)
		case rotate.Rotated:
			rotated = append(rotated, r)
			if !g.quiet {
				fmt.Fprintf(e.stdout, "rotated  %s%s: %s\n", r.Name, id, r.Detail)
			}
		case rotate.Skipped:
			if !g.quiet {
				fmt.Fprintf(e.stdout, "skipped  %s%s: %s\n", r.Name, id, r.Detail)
			}
		case rotate.WouldRotate:
			fmt.Fprintf(e.stdout, "would rotate %s%s: %s\n", r.Name, id, r.Detail)
		}
		for _, w := range r.Warnings {
			expiring = expiring || strings.HasPrefix(w, "GitLab's runner token expiration applies")
			fmt.Fprintln(e.stderr, colorize(g, "WARNING: ")+fmt.Sprintf("runner %q: %s", r.Name, w))
		}
	}
	if len(rotated) > 0 && !g.quiet {
		fmt.Fprintf(e.stdout, "\nStill to do in the cluster (runnerctl has no cluster access): a runner reads its token only when it starts.\n"+
			"External Secrets copies the new token into the runner's Secret within %s (secrets.refreshInterval), or at once with the first command below;\n"+
			"once the Secret changed, restart the runner with the second:\n",
			cfg.Secrets.RefreshInterval)
		for _, r := range rotated {
			for _, s := range r.Next {
				fmt.Fprintln(e.stdout, "  "+s)
			}
		}
	}
	if expiring {
		fmt.Fprintln(e.stderr, colorize(g, "WARNING: ")+rotate.ExpiryAdvice)
	}
}
