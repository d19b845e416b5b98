package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/rotate"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

type rotateOptions struct {
	*globals
	names           []string
	all, dryRun     bool
	ifExpiresWithin time.Duration
	parallel        int
	gitlab          gitlabFlags
	recDir          string
	// Cluster access: with a kubeconfig or a context, rotate-token gets
	// the new token into the running runners itself.
	access             clusterAccess
	wait, pollInterval time.Duration
}

// cluster reports whether rotate-token has cluster access.
func (o *rotateOptions) cluster() bool {
	return o.access.kubeconfig != "" || o.access.context != "" || o.access.inCluster
}

func newRotateCmd(f *factory, g *globals, runF func(context.Context, *rotateOptions) error) *cobra.Command {
	o := &rotateOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "rotate-token [NAME[@CLUSTER]...]",
		Short: "Give runners new tokens and store them where their ExternalSecrets read them",
		Long: `rotate-token resets the token of each named runner (or --all) in GitLab and
stores the new one in the secrets manager, at the place the runner's
ExternalSecret reads it, with retries and a read-back check.

A reset kills the old token at once, so nothing can be rolled back: before
resetting, rotate-token checks that the backend can be written; after, the
new token is kept in a 0600 recovery file (outside the repository) until it
is stored. If storing fails for good, the runner's result says so and a
re-run stores the kept token without resetting again, once GitLab confirms
it is still the runner's current token (a file another rotation overtook
is discarded). A rotation killed while the reset's answer was in flight
makes the next run check the stored token and reset again if it is dead,
whatever --if-expires-within says.

Runners rotate concurrently (at most --parallel at once), together keeping
to GitLab's rate limit, which they learn from its RateLimit-* headers; each
gets a result, and a failure does not stop the others. A per-runner lock in
the state directory, shared with init, keeps two runs for one runner on one
machine apart; CI jobs on several machines should share a GitLab CI
resource_group.

The runner pods read their token only at start: the output ends with the
kubectl commands that remain (refresh the Secret, restart the runner).

With cluster access (--kubeconfig, --context or --in-cluster, through the
runnerctl-kube helper), rotate-token does those steps itself for each
rotated runner: annotates its ExternalSecret with force-sync, waits until
the Secret holds the new token (comparing SHA-256 hashes; the token is never
printed), restarts the Deployment as kubectl rollout restart does (with the
reloader profile option, Reloader restarts it and rotate-token waits for
that rollout), waits for the rollout, and confirms through GitLab that the
runner has made contact since the rotation. --wait bounds those waits per
runner. A runner whose token is stored but whose cluster steps failed is
reported as rotated with what remains, and makes the exit code 1.

A runner deployed to clusters (runners[].clusters) is one GitLab runner per
cluster, named NAME@CLUSTER: NAME rotates all its clusters' runners,
NAME@CLUSTER one. A runner's clusters rotate one after the other, and the
first that does not finish (failed, or with cluster access not restarted)
stops the rest of that runner's, which are reported as skipped with
nothing changed. With cluster access, each cluster's steps go through its
own kubeconfig context (clusters[].kubeContext, else the cluster's name;
--context is then the context of runners without clusters), one helper
session per context, each opened before any token is reset; --in-cluster
reaches only the cluster it runs in and is refused for them.

The GitLab personal access token comes from GITLAB_TOKEN or
--gitlab-token-file; it needs the api scope, or manage_runner and read_api.
Exit codes: 0 every runner rotated or skipped, 1 any failed, 2 bad input.`,
		Example: `  runnerctl rotate-token ci
  runnerctl rotate-token --all --if-expires-within 720h   # in a scheduled pipeline
  runnerctl rotate-token ci --kubeconfig ~/.kube/config --context prod --wait 5m
  runnerctl rotate-token build@eu-west --kubeconfig ~/.kube/config   # one cluster's runner`,
		ValidArgsFunction: completeRunnerNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.names = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRotate(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.all, "all", false, "rotate every runner in runnerctl.yaml")
	fs.DurationVar(&o.ifExpiresWithin, "if-expires-within", 0, "skip runners whose token expires later than this from now, or never (e.g. 720h)")
	fs.IntVar(&o.parallel, "parallel", rotate.DefaultParallel, "rotate at most this many runners at once (GitLab's rate limit may set a slower pace)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "change nothing; say which runners would be rotated")
	addGitLabFlags(fs, &o.gitlab)
	fs.StringVar(&o.recDir, "recovery-dir", "", "state directory: new tokens kept (0600) until stored, and the rotation locks (default $XDG_STATE_HOME/runnerctl)")
	fs.StringVar(&o.access.kubeconfig, "kubeconfig", "", "with cluster access: kubeconfig file (refresh the Secret, restart the runner, confirm its contact)")
	fs.StringVar(&o.access.context, "context", "", "with cluster access: kubeconfig context (default: the current one; $KUBECONFIG or ~/.kube/config without --kubeconfig)")
	fs.BoolVar(&o.access.inCluster, "in-cluster", false, "with cluster access: use the pod's service account (rotate-token running in the cluster)")
	fs.DurationVar(&o.wait, "wait", rotate.DefaultClusterWait, "with cluster access: how long to wait, per runner, for the Secret, the rollout and the runner's contact")
	fs.DurationVar(&o.pollInterval, "poll-interval", time.Second, "with cluster access: how often to check while waiting")
	_ = fs.MarkHidden("poll-interval")
	return cmd
}

// rotateReport is one runner's result with what remains to be done in the
// cluster.
type rotateReport struct {
	rotate.Result
	Next []string `json:"next,omitempty"`
}

func runRotate(ctx context.Context, f *factory, o *rotateOptions) error {
	g, names := o.globals, o.names
	switch {
	case o.all && len(names) > 0:
		return &exitError{code: ExitUsage, msg: "give runner names or --all, not both"}
	case !o.all && len(names) == 0:
		return &exitError{code: ExitUsage, msg: "name the runners to rotate, or use --all"}
	case o.parallel < 1:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--parallel %d: must be at least 1", o.parallel)}
	case o.ifExpiresWithin < 0:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--if-expires-within %s: must not be negative", o.ifExpiresWithin)}
	case o.access.inCluster && (o.access.kubeconfig != "" || o.access.context != ""):
		return &exitError{code: ExitUsage, msg: "--in-cluster: not with --kubeconfig or --context"}
	case o.cluster() && o.wait <= 0:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--wait %s: must be positive", o.wait)}
	case o.cluster() && o.pollInterval <= 0:
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("--poll-interval %s: must be positive", o.pollInterval)}
	}
	l, err := load(g)
	if err != nil {
		return err
	}
	cfg := l.cfg
	runners, err := selectInstances(cfg, names, o.all)
	if err != nil {
		return err
	}
	if o.access.inCluster {
		// The pod's service account reaches the cluster it runs in, and
		// no other.
		if i := slices.IndexFunc(runners, func(r *config.Runner) bool { return r.Cluster != "" }); i >= 0 {
			return &exitError{code: ExitUsage, msg: fmt.Sprintf("--in-cluster: runner %q runs in cluster %q, which is reached through kubeconfig context %q: use --kubeconfig instead",
				runners[i].ID(), runners[i].Cluster, cfg.KubeContextOf(runners[i]))}
		}
	}
	state, err := openState(f, o.recDir, l.root, o.dryRun)
	if err != nil {
		return err
	}
	targets := make([]rotate.Target, len(runners))
	for i, r := range runners {
		loc, err := cfg.TokenRef(r)
		if err != nil {
			return &exitError{code: ExitUsage, msg: err.Error()}
		}
		identity, err := runnerIdentity(cfg, secrets.Location(loc))
		if err != nil {
			return err
		}
		targets[i] = rotate.Target{Name: r.ID(), RunnerID: r.RunnerID, Location: secrets.Location(loc), Identity: identity}
		if r.Cluster != "" {
			// One cluster at a time per runner (rotate.Target.Group); the
			// files of a runnerctl from before clusters carry the bare name.
			targets[i].Group, targets[i].Legacy = r.Name, r.Name
		}
		if o.cluster() && !o.dryRun {
			targets[i].Cluster = clusterTarget(cfg, r, o.contextOf(cfg, r), reloads(l.profiles, r))
		}
	}

	pat, err := f.gitlabToken(ctx, o.gitlab, nil)
	if err != nil {
		return err
	}
	gl, err := f.gitlabClient(cfg.GitLab.URL, o.gitlab, pat)
	if err != nil {
		return err
	}
	d := rotate.Deps{GitLab: gl, State: state, Checkpoint: f.checkpoint}
	if !o.dryRun {
		store, err := f.store(ctx, cfg, f.stderr)
		if err != nil {
			return err
		}
		defer store.Close()
		d.Store = store
		if o.cluster() {
			// One helper session per kubeconfig context, all opened before
			// any token is reset: a context that does not load is input to
			// fix (exit 2) while nothing has changed yet.
			sessions := map[string]cluster{}
			defer func() {
				for _, kc := range sessions {
					_ = kc.Close()
				}
			}()
			for i, r := range runners {
				access := o.access
				access.context = o.contextOf(cfg, r)
				kc, ok := sessions[access.context]
				if !ok {
					kc, err = f.kube(ctx, access, f.stderr)
					if err != nil {
						return kubeError(r, access.context, err)
					}
					sessions[access.context] = kc
				}
				targets[i].Kube = kc
			}
			d.Contacts = gl
		}
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	steps := progress(f, g)
	d.Steps = steps
	results := rotate.Run(ctx, d, rotate.Options{
		GitLabURL: cfg.GitLab.URL, IfExpiresWithin: o.ifExpiresWithin, Parallel: o.parallel, DryRun: o.dryRun,
		ClusterWait: o.wait, PollInterval: o.pollInterval,
	}, targets)
	steps.Close()

	reports := make([]rotateReport, len(results))
	failed, unfinished := 0, 0
	for i, res := range results {
		reports[i] = rotateReport{Result: res}
		switch {
		case res.Status == rotate.Rotated && res.Cluster != nil:
			reports[i].Next = res.Cluster.Next
			if !res.Cluster.Done() {
				unfinished++
			}
		case res.Status == rotate.Rotated:
			// No cluster access: the commands that finish by hand.
			reports[i].Next = clusterTarget(cfg, runners[i], o.contextOf(cfg, runners[i]), reloads(l.profiles, runners[i])).ByHand()
		case res.Status == rotate.Failed:
			failed++
		}
	}
	if g.output == "json" {
		out, err := json.MarshalIndent(reports, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(f.stdout, string(out))
	} else {
		printRotate(f, g, cfg, reports)
	}
	switch {
	case failed > 0 && unfinished > 0:
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d of %d runners failed; %d rotated but not restarted", failed, len(results), unfinished)}
	case failed > 0:
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d of %d runners failed", failed, len(results))}
	case unfinished > 0:
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d of %d runners rotated but not restarted", unfinished, len(results))}
	}
	return nil
}

// kubeError names the runner and context whose cluster could not be
// opened; the factory's exit code (2 for a kubeconfig or context that
// does not load) is kept.
func kubeError(r *config.Runner, kubeContext string, err error) error {
	if r.Cluster == "" {
		return err
	}
	var coded *exitError
	if errors.As(err, &coded) {
		hint := ""
		if coded.code == ExitUsage {
			// An EKS cluster's context is its ARN, not runnerctl's short name.
			hint = fmt.Sprintf(" (where that is not the context that reaches the cluster, set kubeContext of cluster %q in runnerctl.yaml's clusters[]; it defaults to the cluster's name)", r.Cluster)
		}
		return &exitError{code: coded.code, msg: fmt.Sprintf("runner %q (cluster %q, kubeconfig context %q): %s%s; nothing was changed", r.ID(), r.Cluster, kubeContext, coded.msg, hint)}
	}
	return fmt.Errorf("runner %q (cluster %q, kubeconfig context %q): %w; nothing was changed", r.ID(), r.Cluster, kubeContext, err)
}

// contextOf is the kubeconfig context rotate-token reaches instance r
// through, and that the commands it prints name: its cluster's, or for a
// runner without clusters --context (empty: the current one).
func (o *rotateOptions) contextOf(cfg *config.Config, r *config.Runner) string {
	if c := cfg.KubeContextOf(r); c != "" {
		return c
	}
	return o.access.context
}

// clusterTarget names runner r's objects in the cluster: the
// ExternalSecret render writes (gitlab-runner-NAME-token) and its target
// Secret of the same name, and the chart's Deployment: its fullname for
// release gitlab-runner-NAME, which is the release name itself as it
// starts with the chart's name. kubeContext (contextOf) is named in the
// commands it gives to run by hand.
func clusterTarget(cfg *config.Config, r *config.Runner, kubeContext string, reloader bool) *rotate.ClusterTarget {
	n := render.NamesOf(r)
	return &rotate.ClusterTarget{
		Namespace: r.Namespace, ExternalSecret: n.TokenExternalSecret, ESOVersion: cfg.Secrets.ESOAPIVersion,
		Secret: n.TokenSecret, Deployment: n.Deployment, Reloader: reloader,
		Flux: cfg.GitOps.Engine == config.EngineFlux, KubeContext: kubeContext,
	}
}

// reloads reports whether r's profile has Reloader restart it.
func reloads(profiles *profile.Set, r *config.Runner) bool {
	p, err := profiles.Get(r.Profile)
	return err == nil && p.RestartsWithReloader()
}

func printRotate(f *factory, g *globals, cfg *config.Config, reports []rotateReport) {
	var rotated []rotateReport
	expiring := false
	for _, r := range reports {
		id := ""
		if r.RunnerID != 0 {
			id = fmt.Sprintf(" (id %d)", r.RunnerID)
		}
		switch r.Status {
		case rotate.Failed:
			fmt.Fprintf(f.stdout, "failed   %s%s: %s\n", r.Name, id, r.Error)
		case rotate.Rotated:
			c := r.Cluster
			if c == nil {
				rotated = append(rotated, r)
			}
			if !g.quiet || (c != nil && !c.Done()) {
				fmt.Fprintf(f.stdout, "rotated  %s%s: %s\n", r.Name, id, r.Detail)
			}
			switch {
			case c.Done() && !g.quiet:
				how := "restarted by Reloader"
				if c.Restarted {
					how = "restarted"
				}
				fmt.Fprintf(f.stdout, "         the Secret holds it, the runner was %s and contacted GitLab at %s\n", how, c.ContactedAt.UTC().Format(time.RFC3339))
			case c != nil && !c.Done():
				fmt.Fprintf(f.stdout, "         %s (step %s)\n", c.Error, c.Step)
				for _, s := range c.Next {
					fmt.Fprintln(f.stdout, "           "+s)
				}
			}
		case rotate.Skipped:
			if !g.quiet {
				fmt.Fprintf(f.stdout, "skipped  %s%s: %s\n", r.Name, id, r.Detail)
			}
		case rotate.WouldRotate:
			fmt.Fprintf(f.stdout, "would rotate %s%s: %s\n", r.Name, id, r.Detail)
		}
		for _, w := range r.Warnings {
			expiring = expiring || strings.HasPrefix(w, "GitLab's runner token expiration applies")
			fmt.Fprintln(f.stderr, colorize(g, "WARNING: ")+fmt.Sprintf("runner %q: %s", r.Name, w))
		}
	}
	if len(rotated) > 0 && !g.quiet {
		fmt.Fprintf(f.stdout, "\nStill to do in the cluster (runnerctl has no cluster access): a runner reads its token only when it starts.\n"+
			"External Secrets copies the new token into the runner's Secret within %s (secrets.refreshInterval), or at once with the first command below;\n"+
			"once the Secret changed, restart the runner with the second:\n",
			cfg.Secrets.RefreshInterval)
		for _, r := range rotated {
			for _, s := range r.Next {
				fmt.Fprintln(f.stdout, "  "+s)
			}
		}
	}
	if expiring {
		fmt.Fprintln(f.stderr, colorize(g, "WARNING: ")+rotate.ExpiryAdvice)
	}
}
