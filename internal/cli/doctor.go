package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	kuberemote "github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/remote"
)

// probeTimeout bounds doctor's first question to GitLab: a quick verdict
// on reachability, where the client's own retries would wait for minutes.
const probeTimeout = 10 * time.Second

// Verdicts of a check; the JSON values are a contract.
const (
	checkOK      = "ok"
	checkFail    = "fail"
	checkSkipped = "skipped"
	checkWarn    = "warn"
)

// checkResult is one check in doctor's output; its JSON names are a
// contract.
type checkResult struct {
	Check  string `json:"check"`
	Status string `json:"status"` // ok, fail, skipped or warn
	Detail string `json:"detail"`
	Fix    string `json:"fix"` // what to run or change; "" for ok and skipped
}

type doctorOptions struct {
	*globals
	offline  bool
	gitlab   gitlabFlags
	color    bool // stdout is a terminal and colors are not disabled
	schedule rotationSchedule
}

// doctorGitLab is what doctor needs of GitLab.
type doctorGitLab interface {
	Probe(ctx context.Context) error
	CheckToken(ctx context.Context) error
	GetRunner(ctx context.Context, id int64) (*gitlab.RunnerInfo, error)
	TokenExpiresAt(ctx context.Context, id int64) (*time.Time, error)
}

func newDoctorCmd(f *factory, g *globals, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	o := &doctorOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check GitLab, the token, the secrets backend, the chart, the runners, the files and the repository",
		Long: `doctor runs every check runnerctl's commands depend on and prints one line per
check with its verdict (ok, FAIL, warn, skipped) and, for FAIL and warn, the
fix:

  gitlab    GitLab answers at gitlab.url (--ca-file for a private CA); DNS,
            TLS and connection problems are told apart from HTTP errors
  token     the personal access token (GITLAB_TOKEN or --gitlab-token-file)
            is valid and has api, or create_runner, manage_runner and read_api
  secrets   the secrets backend (through runnerctl-secrets) accepts the
            credentials and can reach every runner's token location; only
            Vault's check proves write permission: for Infisical, AWS and GCP
            a pass means reachable and readable (they have no dry run)
  chart     chart.version exists in chart.repoURL (through runnerctl-kube,
            with the Helm SDK): an HTTP(S) Helm repository's index.yaml or
            an OCI registry's tags; warn when the repository cannot be
            reached from here (HTTPS_PROXY is honoured; no custom CA)
  runner/N  runner N exists in GitLab (warn when it has no runnerID yet)
  expiry/N  runner N's token is not expired (FAIL: run runnerctl
            rotate-token N), does not expire before the next scheduled
            rotation could run (warn: rotate it now), and is not inside the
            scheduled rotation's window (warn, for information: the next
            run renews it); see --rotate-within and --rotate-every
  files     the generated files match runnerctl.yaml (as render --check)
  repo      the git work tree has nothing uncommitted (warn); skipped
            outside a git repository

The scheduled rotation is the CI template's runnerctl rotate-token --all
--if-expires-within 720h: --rotate-within is its --if-expires-within,
--rotate-every how often it runs (weekly at the longest in the template).
--rotate-within must be longer than --rotate-every, or a token could expire
between two runs without ever being inside the window (exit 2).

Checks that need GitLab are skipped when GitLab cannot be reached.
--offline runs only the files and repo checks. Nothing is changed anywhere,
and nothing is written to Helm's cache or configuration.

Exit codes: 0 no check failed (warnings allowed); 1 a check failed; 2
invalid configuration or usage.`,
		Example: `  runnerctl doctor
  runnerctl doctor --offline      # files and repository only, no network
  runnerctl doctor -o json | jq '.[] | select(.status == "fail")'
  runnerctl doctor --rotate-every 24h   # the rotation is scheduled daily`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.color = f.colorsOn(g, f.stdout)
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDoctor(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.offline, "offline", false, "run only the checks that need no network (files, repository)")
	addGitLabFlags(fs, &o.gitlab)
	addRotationFlags(fs, &o.schedule)
	return cmd
}

func runDoctor(ctx context.Context, f *factory, o *doctorOptions) error {
	g := o.globals
	if err := o.schedule.check(); err != nil {
		return err
	}
	l, err := load(g)
	if err != nil {
		return err // invalid runnerctl.yaml: exit 2
	}
	var (
		gitlabChecks []checkResult // gitlab, token, then one per runner
		secretsCheck checkResult
		chart        checkResult
	)
	if o.offline {
		gitlabChecks = skipGitLab(l.cfg, "--offline")
		secretsCheck = checkResult{Check: "secrets", Status: checkSkipped, Detail: "--offline"}
		chart = checkResult{Check: "chart", Status: checkSkipped, Detail: "--offline"}
	} else {
		// GitLab's checks depend on each other; the backend is independent.
		var grp errgroup.Group
		grp.Go(func() error {
			newClient := func(opts gitlab.Options) (doctorGitLab, error) { return f.gitlab(opts) }
			gitlabChecks = checkGitLab(ctx, f, l.cfg, o, newClient, f.now)
			return nil
		})
		grp.Go(func() error {
			secretsCheck = checkSecrets(ctx, f, l.cfg, f.store)
			return nil
		})
		grp.Go(func() error {
			chart = checkChart(ctx, f, l.cfg.Chart, l.cfg.GitOps.Engine, f.chart)
			return nil
		})
		_ = grp.Wait()
	}

	// The fixed order of the output: gitlab, token, secrets, chart, the
	// runners in spec order (each runner/N, then its expiry/N), files, repo.
	results := slices.Concat(gitlabChecks[:2], []checkResult{secretsCheck, chart}, gitlabChecks[2:],
		[]checkResult{checkFiles(l, g.configPath), checkRepo(ctx, f.repo(l.root), l.cfg.GitOps.Engine)})

	if g.output == "json" {
		if err := writeJSON(f.stdout, results); err != nil {
			return err
		}
	} else if err := writeChecks(f.stdout, results, g.quiet, o.color); err != nil {
		return err
	}
	var failed []string
	for _, r := range results {
		if r.Status == checkFail {
			failed = append(failed, r.Check)
		}
	}
	if len(failed) > 0 {
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("%d check(s) failed: %s", len(failed), strings.Join(failed, ", "))}
	}
	return nil
}

// skipGitLab is every GitLab check, skipped for reason.
func skipGitLab(cfg *config.Config, reason string) []checkResult {
	out := []checkResult{
		{Check: "gitlab", Status: checkSkipped, Detail: reason},
		{Check: "token", Status: checkSkipped, Detail: reason},
	}
	return append(out, skipRunners(cfg.Instances(), reason)...)
}

// skipRunners is the checks of every runner, skipped for reason.
func skipRunners(runners []*config.Runner, reason string) []checkResult {
	var out []checkResult
	for _, r := range runners {
		out = append(out,
			checkResult{Check: "runner/" + r.ID(), Status: checkSkipped, Detail: reason},
			checkResult{Check: "expiry/" + r.ID(), Status: checkSkipped, Detail: reason})
	}
	return out
}

// checkGitLab runs the checks that need GitLab, in order: reachable, the
// token, then every runner (a few at a time). What cannot be checked
// because an earlier check failed is skipped, not failed again.
func checkGitLab(ctx context.Context, f *factory, cfg *config.Config, o *doctorOptions, newClient func(gitlab.Options) (doctorGitLab, error), now func() time.Time) []checkResult {
	pat, tokenErr := f.gitlabToken(ctx, o.gitlab, nil)
	client, err := newClient(gitlab.Options{URL: cfg.GitLab.URL, Token: pat, CAFile: o.gitlab.caFile})
	if err != nil { // the CA file cannot be read or holds no certificate
		out := skipGitLab(cfg, "GitLab cannot be asked")
		out[0] = checkResult{Check: "gitlab", Status: checkFail, Detail: err.Error(),
			Fix: "give --ca-file a readable PEM file with your CA's certificate"}
		if tokenErr != nil { // known without asking GitLab
			out[1], _ = checkToken(ctx, nil, tokenErr)
		}
		return out
	}

	reach := checkReachable(ctx, client, cfg, o.gitlab.caFile)
	if reach.Status == checkFail {
		out := skipGitLab(cfg, "GitLab is unreachable")
		out[0] = reach
		if tokenErr != nil { // known without asking GitLab
			out[1], _ = checkToken(ctx, client, tokenErr)
		}
		return out
	}
	token, access := checkToken(ctx, client, tokenErr)
	out := []checkResult{reach, token}
	if !access.runners {
		return append(out, skipRunners(cfg.Instances(), "needs a token that may read runners")...)
	}
	rc := runnerChecks{c: client, schedule: o.schedule, now: now, expiry: access.expiry}
	// One check per GitLab runner: each cluster of a runner deployed to
	// several is checked as runner/NAME@CLUSTER.
	return append(out, rc.run(ctx, cfg.Instances())...)
}

func checkReachable(ctx context.Context, c doctorGitLab, cfg *config.Config, caFile string) checkResult {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := c.Probe(ctx)
	if err != nil {
		detail, fix := reachProblem(err)
		return checkResult{Check: "gitlab", Status: checkFail, Detail: cfg.GitLab.URL + ": " + detail, Fix: fix}
	}
	if caFile != "" && cfg.GitLab.TLS == nil {
		return checkResult{Check: "gitlab", Status: checkWarn, Detail: cfg.GitLab.URL + " answers (trusting --ca-file); the runner pods do not trust that CA",
			Fix: "commit the CA certificate and set gitlab.tls.caFile (or gitlab.tls.secretName) in runnerctl.yaml, then run `runnerctl render`"}
	}
	return checkResult{Check: "gitlab", Status: checkOK, Detail: cfg.GitLab.URL + " answers"}
}

// reachProblem says why GitLab could not be reached, and what to do.
func reachProblem(err error) (detail, fix string) {
	var (
		httpErr  *gitlab.HTTPError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		verify   *tls.CertificateVerificationError
		header   tls.RecordHeaderError
		dnsErr   *net.DNSError
		netErr   net.Error
	)
	switch {
	case errors.As(err, &httpErr) && httpErr.StatusCode == 404:
		return "no GitLab API there (HTTP 404)",
			"check gitlab.url in runnerctl.yaml: the base URL of GitLab, with its path prefix if it has one (https://host/gitlab/)"
	case errors.As(err, &httpErr):
		return "GitLab " + httpErr.Error(),
			"GitLab, or a proxy in front of it, is failing: check its health and try again"
	case errors.As(err, &unknown):
		return "TLS: certificate signed by an unknown authority (a private CA?)",
			"pass the CA's certificate with --ca-file, and set gitlab.tls in runnerctl.yaml so that the runner pods trust it too"
	case errors.As(err, &hostname):
		return "TLS: " + hostname.Error(),
			"use in gitlab.url a host name that GitLab's certificate names"
	case errors.As(err, &invalid):
		return "TLS: " + invalid.Error(),
			"GitLab's certificate is expired or not valid: renew it, or check this machine's clock"
	case errors.As(err, &verify):
		return "TLS: " + verify.Error(),
			"check GitLab's certificate chain; for a private CA pass it with --ca-file and set gitlab.tls"
	case errors.As(err, &header):
		return "TLS: the server does not speak TLS",
			"check the scheme and port of gitlab.url (http:// or https://)"
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("DNS: cannot resolve %q", dnsErr.Name),
			"check the host name in gitlab.url, and this machine's DNS"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused",
			"check the host and port in gitlab.url, and that GitLab is running"
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer within %s", probeTimeout),
			"check the network path to GitLab: firewall, VPN, HTTPS_PROXY/NO_PROXY"
	}
	return "connection failed: " + err.Error(),
		"check gitlab.url and the network path to GitLab (firewall, VPN, HTTPS_PROXY/NO_PROXY)"
}

// tokenFix is what a token that cannot do runnerctl's work needs.
const tokenFix = "export GITLAB_TOKEN (or use --gitlab-token-file) with a personal access token that has the api scope, or create_runner, manage_runner and read_api"

// tokenAccess is what the runner checks may ask GitLab with the token.
type tokenAccess struct {
	runners bool // GET /runners/:id: read_api, manage_runner or api
	expiry  bool // the token expiry, through GraphQL: read_api or api
}

// checkToken checks the token and reports what it may read, so that the
// runner checks that it allows can run.
func checkToken(ctx context.Context, c doctorGitLab, tokenErr error) (checkResult, tokenAccess) {
	if tokenErr != nil {
		detail := tokenErr.Error()
		if o := strings.Index(detail, ":"); strings.HasPrefix(detail, "no GitLab personal access token") && o > 0 {
			detail = detail[:o]
		}
		return checkResult{Check: "token", Status: checkFail, Detail: detail, Fix: tokenFix}, tokenAccess{}
	}
	err := c.CheckToken(ctx)
	var scopeErr *gitlab.ScopeError
	switch {
	case err == nil:
		return checkResult{Check: "token", Status: checkOK, Detail: "valid, with the scopes runnerctl needs"}, tokenAccess{runners: true, expiry: true}
	case errors.As(err, &scopeErr):
		access := tokenAccess{
			runners: slices.ContainsFunc(scopeErr.Have, func(s string) bool { return s == "read_api" || s == "manage_runner" }),
			expiry:  slices.Contains(scopeErr.Have, "read_api"), // api would not be a scope error
		}
		return checkResult{Check: "token", Status: checkFail,
			Detail: fmt.Sprintf("scopes [%s] lack %s", strings.Join(scopeErr.Have, ", "), strings.Join(scopeErr.Missing, "; ")),
			Fix:    tokenFix}, access
	case errors.Is(err, gitlab.ErrUnauthorized):
		return checkResult{Check: "token", Status: checkFail, Detail: err.Error(), Fix: tokenFix}, tokenAccess{}
	}
	return checkResult{Check: "token", Status: checkFail, Detail: err.Error(),
		Fix: "GitLab answered but the token could not be checked: try again, or check GitLab's health"}, tokenAccess{}
}

// runnerGetter is what the runner checks need of GitLab.
type runnerGetter interface {
	GetRunner(ctx context.Context, id int64) (*gitlab.RunnerInfo, error)
	TokenExpiresAt(ctx context.Context, id int64) (*time.Time, error)
}

// runnerChecks are the two checks of each runner: runner/N (it exists) and
// expiry/N (its token lives until the scheduled rotation renews it).
type runnerChecks struct {
	c        runnerGetter
	schedule rotationSchedule
	now      func() time.Time
	expiry   bool // the token may read token expiry (GraphQL)
}

// run asks GitLab about every runner with a runnerID, a few at a time;
// results keep the spec's order, each runner/N followed by its expiry/N.
func (rc runnerChecks) run(ctx context.Context, runners []*config.Runner) []checkResult {
	out := make([]checkResult, 2*len(runners))
	var grp errgroup.Group
	grp.SetLimit(statusParallel)
	for i := range runners {
		// Each goroutine writes only its own two slots.
		r, res, exp := runners[i], &out[2*i], &out[2*i+1]
		*res = checkResult{Check: "runner/" + r.ID()}
		*exp = checkResult{Check: "expiry/" + r.ID(), Status: checkSkipped}
		if r.RunnerID == 0 {
			res.Status, res.Detail = checkWarn, "not created: no runnerID in runnerctl.yaml"
			res.Fix = fmt.Sprintf("run `runnerctl init --name %s`", r.ID())
			exp.Detail = "not created"
			continue
		}
		grp.Go(func() error {
			info, err := rc.c.GetRunner(ctx, r.RunnerID)
			switch {
			case errors.Is(err, gitlab.ErrNotFound):
				res.Status, res.Detail = checkFail, fmt.Sprintf("runner %d does not exist in GitLab (or the token may not see it)", r.RunnerID)
				where := "its runnerID"
				if r.Cluster != "" {
					where = r.Path() + ".runnerID"
				}
				res.Fix = fmt.Sprintf("run `runnerctl init --name %s --recreate` to create it again, or correct %s in runnerctl.yaml", r.ID(), where)
			case err != nil:
				res.Status, res.Detail = checkFail, err.Error()
				res.Fix = "check the token's access to this runner, or try again"
			default:
				res.Status, res.Detail = checkOK, fmt.Sprintf("runner %d exists (%s)", info.ID, info.Status)
			}
			switch {
			case res.Status != checkOK:
				exp.Detail = fmt.Sprintf("runner/%s failed", r.ID())
			case !rc.expiry:
				exp.Detail = "needs a token with read_api or api (GitLab's GraphQL API)"
			default:
				*exp = rc.checkExpiry(ctx, r)
			}
			return nil
		})
	}
	_ = grp.Wait()
	return out
}

// checkExpiry judges runner r's token expiry against the scheduled
// rotation.
func (rc runnerChecks) checkExpiry(ctx context.Context, r *config.Runner) checkResult {
	res := checkResult{Check: "expiry/" + r.ID()}
	at, err := rc.c.TokenExpiresAt(ctx, r.RunnerID)
	if err != nil {
		res.Status, res.Detail = checkFail, err.Error()
		res.Fix = "check the token's access to this runner (GraphQL needs read_api or api), or try again"
		return res
	}
	now := rc.now()
	w := rc.schedule.tokenAdvice(r.ID(), at, now)
	switch {
	case w == nil && at == nil:
		res.Status, res.Detail = checkOK, "the token never expires"
	case w == nil:
		res.Status = checkOK
		res.Detail = fmt.Sprintf("the token expires %s, after the scheduled rotation's window (%s)", ago(now, *at), flagDuration(rc.schedule.within))
	default:
		res.Status, res.Detail, res.Fix = checkWarn, w.Message, w.fix()
		if w.failed() {
			res.Status = checkFail
		}
	}
	return res
}

// backendCredentials says where each backend's credentials come from.
var backendCredentials = map[string]string{
	config.BackendVault:     "set VAULT_ADDR and VAULT_TOKEN (or VAULT_ROLE_ID and VAULT_SECRET_ID)",
	config.BackendInfisical: "set INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET (and INFISICAL_API_URL for a self-hosted Infisical)",
	config.BackendAWS:       "give the AWS SDK's default chain credentials (AWS_PROFILE, SSO, AWS_ACCESS_KEY_ID, IRSA)",
	config.BackendGCP:       "give Application Default Credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS)",
}

// checkSecrets opens the backend in the helper and checks every runner's
// token location. Store.Check writes nothing; only Vault's proves write
// permission (through the token's capabilities): the other backends have
// no dry run, so there a pass means reachable and readable.
func checkSecrets(ctx context.Context, f *factory, cfg *config.Config, open func(context.Context, *config.Config, io.Writer) (store, error)) checkResult {
	backend := cfg.Secrets.Backend
	res := checkResult{Check: "secrets"}
	s, err := open(ctx, cfg, f.stderr)
	if err != nil {
		res.Status, res.Detail = checkFail, err.Error()
		var coded *exitError
		switch {
		case errors.Is(err, remote.ErrNoHelper):
			res.Fix = "install " + remote.HelperName + " next to runnerctl (go install ./cmd/... installs both)"
		case errors.As(err, &coded) && coded.code == ExitUsage:
			res.Fix = "fix what the error names: the backend's settings in runnerctl.yaml (secrets." + backend + "), or its credentials: " + backendCredentials[backend]
		case errors.Is(err, secrets.ErrAuth):
			res.Fix = backendCredentials[backend]
		default:
			res.Fix = "check that the backend is reachable from here and try again"
		}
		return res
	}
	defer s.Close()
	var locs, problems []string
	var fixes []string
	for _, r := range cfg.Instances() {
		ref, err := cfg.TokenRef(r)
		if err != nil {
			problems = append(problems, fmt.Sprintf("runner %q: %v", r.ID(), err))
			continue
		}
		loc := secrets.Location(ref)
		locs = append(locs, fmt.Sprintf("%q", loc.String()))
		if err := s.Check(ctx, loc); err != nil {
			problems = append(problems, err.Error())
			fix := "check that the backend is reachable from here and try again"
			switch {
			case errors.Is(err, secrets.ErrAuth):
				fix = backendCredentials[backend]
			case errors.Is(err, secrets.ErrPermission):
				fix = "let the credentials create, update and read the runner tokens' locations (see the error)"
			}
			if !slices.Contains(fixes, fix) {
				fixes = append(fixes, fix)
			}
			if !errors.Is(err, secrets.ErrPermission) {
				break // the backend, not this location: the others would say the same
			}
		}
	}
	if len(problems) > 0 {
		res.Status, res.Detail, res.Fix = checkFail, strings.Join(problems, "; "), strings.Join(fixes, "; ")
		return res
	}
	res.Status = checkOK
	if backend == config.BackendVault {
		res.Detail = fmt.Sprintf("vault: reachable and writable at %s", strings.Join(locs, ", "))
	} else {
		res.Detail = fmt.Sprintf("%s: reachable and readable at %s (write permission is only proven when init or rotate-token writes: %s has no dry run)",
			backend, strings.Join(locs, ", "), backend)
	}
	if len(locs) == 0 {
		res.Detail = backend + ": credentials accepted (no runners in the spec)"
	}
	return res
}

// checkChart asks the chart repository whether chart.version exists. An
// unreachable repository is a warning: nothing is known, and what matters
// is that the GitOps engine (gitops.engine) reaches it, which this machine
// cannot tell.
func checkChart(ctx context.Context, f *factory, ch config.Chart, engine string,
	ask func(context.Context, kuberemote.ChartQuery, io.Writer) (kuberemote.ChartAnswer, error)) checkResult {
	res := checkResult{Check: "chart"}
	what := fmt.Sprintf("chart %s %s", ch.Name, ch.Version)
	a, err := ask(ctx, kuberemote.ChartQuery{RepoURL: ch.RepoURL, Chart: ch.Name, Version: ch.Version}, f.stderr)
	switch {
	case errors.Is(err, kuberemote.ErrNoHelper):
		res.Status, res.Detail = checkFail, err.Error()
		res.Fix = "install " + kuberemote.HelperName + " next to runnerctl (go install ./cmd/...)"
	case errors.Is(err, kuberemote.ErrUnreachable):
		res.Status, res.Detail = checkWarn, what+": cannot reach the chart repository: "+err.Error()
		res.Fix = "check the network path to " + ch.RepoURL + " (firewall, VPN, HTTPS_PROXY/NO_PROXY); " + chartFetcher(engine) + " must reach it too"
	case errors.Is(err, kuberemote.ErrConfig): // a helper of another release, or a bad chart setting
		res.Status, res.Detail = checkFail, what+": "+err.Error()
		res.Fix = "install runnerctl and " + kuberemote.HelperName + " from the same release (go install ./cmd/...), or correct chart in runnerctl.yaml, as the error says"
	case errors.Is(err, kuberemote.ErrNotFound):
		res.Status, res.Detail = checkFail, what+": "+err.Error()
		res.Fix = "check chart.repoURL in runnerctl.yaml: the Helm repository's URL (where index.yaml is), or oci://registry/path"
	case err != nil:
		res.Status, res.Detail = checkFail, what+": "+err.Error()
		res.Fix = "check chart.repoURL in runnerctl.yaml and the repository's health, then try again"
	case a.Found:
		res.Status, res.Detail = checkOK, fmt.Sprintf("%s found in %s", what, ch.RepoURL)
	case !a.ChartExists:
		res.Status, res.Detail = checkFail, fmt.Sprintf("no chart %s in %s", ch.Name, ch.RepoURL)
		res.Fix = "check chart.name and chart.repoURL in runnerctl.yaml"
	default:
		res.Status = checkFail
		res.Detail = fmt.Sprintf("%s not found in %s (newest: %s)", what, ch.RepoURL, strings.Join(a.Latest, ", "))
		res.Fix = fmt.Sprintf("set chart.version in runnerctl.yaml to an existing version (the newest is %s), then run `runnerctl render`", a.Latest[0])
	}
	return res
}

// checkFiles compares the rendered files with the repository, exactly as
// status --offline does.
func checkFiles(l *loaded, configPath string) checkResult {
	res := checkResult{Check: "files"}
	rows, orphans, err := fileState(l)
	if err != nil {
		res.Status, res.Detail, res.Fix = checkFail, err.Error(), "fix runnerctl.yaml or the profiles it uses"
		return res
	}
	var pending []string
	for _, r := range rows {
		for _, f := range r.PendingFiles {
			pending = append(pending, f.Path+": "+f.Action)
		}
	}
	for _, c := range orphans {
		pending = append(pending, fmt.Sprintf("%s: %s", c.Path, c.Action))
	}
	if len(pending) > 0 {
		res.Status = checkFail
		res.Detail = fmt.Sprintf("%d file(s) out of date with %s: %s", len(pending), configPath, strings.Join(pending, ", "))
		res.Fix = "run `runnerctl render` and commit the result"
		return res
	}
	res.Status, res.Detail = checkOK, "the generated files match "+configPath
	return res
}

// chartFetcher is what fetches the chart in the cluster under engine: under
// flux the runner's own HelmRepository or OCIRepository, which
// source-controller reconciles, not the machine doctor runs on.
func chartFetcher(engine string) string {
	if engine == config.EngineFlux {
		return "Flux's source-controller"
	}
	return "ArgoCD"
}

// engineName names the GitOps engine that deploys the files, for hints.
func engineName(engine string) string {
	if engine == config.EngineFlux {
		return "Flux"
	}
	return "ArgoCD"
}

// checkRepo warns about uncommitted changes: the GitOps engine deploys
// only what is committed and pushed.
func checkRepo(ctx context.Context, git uncommitted, engine string) checkResult {
	res := checkResult{Check: "repo"}
	paths, err := git.Uncommitted(ctx)
	switch {
	case errors.Is(err, gitops.ErrNotRepo):
		res.Status, res.Detail = checkSkipped, "not a git repository"
	case err != nil:
		res.Status, res.Detail = checkSkipped, "git: "+err.Error()
	case len(paths) == 0:
		res.Status, res.Detail = checkOK, "nothing uncommitted"
	default:
		res.Status = checkWarn
		shown := paths
		if len(shown) > 5 {
			shown = shown[:5]
		}
		res.Detail = fmt.Sprintf("%d uncommitted change(s): %s", len(paths), strings.Join(shown, ", "))
		if len(paths) > len(shown) {
			res.Detail += fmt.Sprintf(" and %d more", len(paths)-len(shown))
		}
		res.Fix = "review with `git status` and `git diff`, then commit and push (" + engineName(engine) + " deploys only what is pushed)"
	}
	return res
}

// writeChecks prints one line per check: verdict, check, detail, and the
// fix of a failure or warning. Quiet prints failures only.
func writeChecks(w io.Writer, results []checkResult, quiet, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range results {
		if quiet && r.Status != checkFail {
			continue
		}
		line := r.Detail
		if r.Fix != "" {
			line += "; fix: " + r.Fix
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", paint(color, verdictColor(r.Status), verdictText(r.Status)), r.Check, line)
	}
	return tw.Flush()
}

func verdictText(s string) string {
	if s == checkFail {
		return "FAIL"
	}
	return s
}

func verdictColor(s string) string {
	switch s {
	case checkOK:
		return colorGreen
	case checkFail:
		return colorRed
	case checkWarn:
		return colorYellow
	}
	return colorNone
}
