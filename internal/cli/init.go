package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/runnerctl/runnerctl/internal/bootstrap"
	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/prompt"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/repofile"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// question is one input of init: a flag (and so an env var), where its
// value lives in runnerctl.yaml, and how to ask for it. One table drives
// flags, prompts, defaults from an existing file, and the list of what is
// missing in non-interactive mode.
type question struct {
	flag     string
	title    string
	help     string
	kind     string // text, bool, select, list, int
	options  func(s *initState) []prompt.Option
	def      func(s *initState) string // default when nothing else gives a value
	get      func(s *initState) string // value in the existing runnerctl.yaml ("" if none)
	set      func(s *initState, v string) error
	required func(s *initState) bool
	when     func(s *initState) bool // asked only when true
	// implicit: the default is runnerctl.yaml's own default, so an answer
	// equal to it is not written into the file.
	implicit bool
	// suggest offers a default in the prompt only, and says why: a value
	// that the user must choose, which a run without prompts never invents.
	suggest func(s *initState) (value, why string)
}

// registerInitCompletions completes --profile with the known profiles,
// --name with the runners already in runnerctl.yaml (re-running init for
// one updates it), and the other choices with their fixed options.
func registerInitCompletions(cmd *cobra.Command, e env, qs []question) {
	_ = cmd.RegisterFlagCompletionFunc("profile", completeProfileNames(e))
	_ = cmd.RegisterFlagCompletionFunc("name", completeRunnerNames(e))
	for _, q := range qs {
		if q.kind != "select" || q.flag == "profile" {
			continue
		}
		var choices []cobra.Completion
		for _, o := range q.options(&initState{}) {
			choices = append(choices, cobra.CompletionWithDesc(o.Value, o.Label))
		}
		_ = cmd.RegisterFlagCompletionFunc(q.flag, cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp))
	}
}

// initState is the configuration init is building.
type initState struct {
	raw      *config.Config
	runner   *config.Runner // raw.Runners[idx]
	idx      int
	profiles *profile.Set

	existing   []byte // runnerctl.yaml as it was read (empty if none)
	configPath string
	getenv     func(string) string
	// origin is the URL of the git remote init pushes to, the GitOps
	// repository URL's default (originDefault).
	origin, originRemote string
}

func (s *initState) reg() *config.Registration {
	if s.runner.Registration == nil {
		s.runner.Registration = &config.Registration{}
	}
	return s.runner.Registration
}

func always(*initState) bool { return true }

func strField(get func(s *initState) *string) (func(*initState) string, func(*initState, string) error) {
	return func(s *initState) string { return *get(s) },
		func(s *initState, v string) error { *get(s) = v; return nil }
}

func questions() []question {
	var qs []question
	add := func(q question) {
		if q.kind == "" {
			q.kind = "text"
		}
		if q.required == nil {
			q.required = func(*initState) bool { return false }
		}
		if q.when == nil {
			q.when = always
		}
		if q.def == nil {
			q.def = func(*initState) string { return "" }
		}
		qs = append(qs, q)
	}
	text := func(flag, title, help string, required bool, field func(s *initState) *string, def string) {
		get, set := strField(field)
		add(question{flag: flag, title: title, help: help, get: get, set: set, implicit: def != "",
			required: func(*initState) bool { return required },
			def:      func(*initState) string { return def }})
	}
	text("gitlab-url", "GitLab URL", "Base URL of your GitLab, for example https://gitlab.example.com/ (a path prefix such as /gitlab/ is fine).", true,
		func(s *initState) *string { return &s.raw.GitLab.URL }, "")
	text("repo-url", "GitOps repository URL", "Clone URL of this repository as ArgoCD reaches it.", true,
		func(s *initState) *string { return &s.raw.GitOps.RepoURL }, "")
	qs[len(qs)-1].def = func(s *initState) string { return s.origin }
	text("name", "Runner name", "A DNS label: names the Application gitlab-runner-NAME and the generated files.", true,
		func(s *initState) *string { return &s.runner.Name }, "")
	add(question{flag: "scope", implicit: true, title: "Runner scope", help: "Who may use the runner.", kind: "select",
		options: func(*initState) []prompt.Option {
			return []prompt.Option{{Value: "instance", Label: "instance: every project (needs an administrator's token)"},
				{Value: "group", Label: "group: the projects of one group"}, {Value: "project", Label: "project: one project"}}
		},
		def: func(*initState) string { return config.ScopeInstance },
		get: func(s *initState) string { return s.reg().Scope.Type },
		set: func(s *initState, v string) error { s.reg().Scope.Type = v; return nil }})
	add(question{flag: "scope-path", title: "Group or project path", help: "Full path, for example my-org or my-org/my-app.",
		when: func(s *initState) bool {
			return s.reg().Scope.Type == config.ScopeGroup || s.reg().Scope.Type == config.ScopeProject
		},
		required: func(s *initState) bool { return true },
		get:      func(s *initState) string { return s.reg().Scope.Path },
		set:      func(s *initState, v string) error { s.reg().Scope.Path = v; return nil }})
	add(question{flag: "description", implicit: true, title: "Description", help: "Shown in GitLab's runner list.",
		def: func(s *initState) string { return "runnerctl " + s.runner.Name },
		get: func(s *initState) string { return s.reg().Description },
		set: func(s *initState, v string) error { s.reg().Description = v; return nil }})
	add(question{flag: "tags", title: "Tags", help: "Comma-separated job tags this runner picks up (empty for none).", kind: "list",
		get: func(s *initState) string { return strings.Join(s.reg().Tags, ",") },
		set: func(s *initState, v string) error { s.reg().Tags = splitList(v); return nil }})
	// boolQ asks a yes/no question; get reports the file's value ("" when
	// unset, so that the default applies), set stores the answer.
	boolQ := func(flag, title, help string, def func(*initState) bool, get func(*initState) *bool, set func(*initState, bool), when func(*initState) bool) {
		add(question{flag: flag, title: title, help: help, kind: "bool", when: when, implicit: true,
			def: func(s *initState) string { return strconv.FormatBool(def(s)) },
			get: func(s *initState) string {
				if p := get(s); p != nil && *p {
					return "true"
				}
				return ""
			},
			set: func(s *initState, v string) error {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("%q is not true or false", v)
				}
				set(s, b)
				return nil
			}})
	}
	boolQ("run-untagged", "Run untagged jobs?", "Also pick up jobs without tags.",
		func(s *initState) bool { return len(s.reg().Tags) == 0 },
		func(s *initState) *bool { return s.reg().RunUntagged },
		func(s *initState, b bool) { s.reg().RunUntagged = &b }, always)
	boolQ("locked", "Lock to the current project?", "Project runners only.", func(*initState) bool { return false },
		func(s *initState) *bool { return &s.reg().Locked },
		func(s *initState, b bool) { s.reg().Locked = b },
		func(s *initState) bool { return s.reg().Scope.Type == config.ScopeProject })
	add(question{flag: "protected", implicit: true, title: "Protected branches and tags only?", help: "Run jobs of protected refs only (access level ref_protected).", kind: "bool",
		def: func(*initState) string { return "false" },
		get: func(s *initState) string {
			if s.reg().AccessLevel == "ref_protected" {
				return "true"
			}
			return ""
		},
		set: func(s *initState, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			s.reg().AccessLevel = map[bool]string{true: "ref_protected", false: "not_protected"}[b]
			return nil
		}})
	add(question{flag: "maximum-timeout", implicit: true, title: "Maximum job timeout (seconds)", help: "0 for none, else at least 600.", kind: "int",
		def: func(*initState) string { return "0" },
		get: func(s *initState) string {
			if s.reg().MaximumTimeout == 0 {
				return ""
			}
			return strconv.Itoa(s.reg().MaximumTimeout)
		},
		set: func(s *initState, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not a number of seconds", v)
			}
			s.reg().MaximumTimeout = n
			return nil
		}})
	boolQ("paused", "Pause the runner?", "A paused runner takes no jobs until resumed; init sets this in GitLab on every run.", func(*initState) bool { return false },
		func(s *initState) *bool { return &s.reg().Paused },
		func(s *initState, b bool) { s.reg().Paused = b }, always)
	add(question{flag: "maintenance-note", implicit: true, title: "Maintenance note", help: "Free text for administrators (optional).",
		get: func(s *initState) string { return s.reg().MaintenanceNote },
		set: func(s *initState, v string) error { s.reg().MaintenanceNote = v; return nil }})
	add(question{flag: "backend", title: "Secrets backend", help: "Where the runner token is stored; External Secrets Operator reads it from there.", kind: "select",
		options: func(*initState) []prompt.Option {
			return []prompt.Option{{Value: "infisical", Label: "infisical: Infisical (universal auth)"}, {Value: "vault", Label: "vault: HashiCorp Vault KV v2"},
				{Value: "aws", Label: "aws: AWS Secrets Manager"}, {Value: "gcp", Label: "gcp: GCP Secret Manager"}}
		},
		required: func(*initState) bool { return true },
		suggest:  suggestBackend,
		get:      func(s *initState) string { return s.raw.Secrets.Backend },
		set:      func(s *initState, v string) error { s.raw.Secrets.Backend = v; return nil }})
	text("store-name", "ESO store name", "Name of the ClusterSecretStore (or SecretStore) that reads this backend.", true,
		func(s *initState) *string { return &s.raw.Secrets.Store.Name }, "")
	qs[len(qs)-1].suggest = suggestStoreName
	backendQ := func(flag, backend, title, help string, required bool, field func(s *initState) *string) {
		get, set := strField(field)
		add(question{flag: flag, title: title, help: help, get: get, set: set, implicit: !required,
			when:     func(s *initState) bool { return s.raw.Secrets.Backend == backend },
			required: func(*initState) bool { return required }})
	}
	backendQ("infisical-project", "infisical", "Infisical project slug", "The project holding the runner tokens.", true,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.Infisical).ProjectSlug })
	backendQ("infisical-env", "infisical", "Infisical environment", "Environment slug, such as prod (default prod).", false,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.Infisical).Environment })
	backendQ("vault-mount", "vault", "Vault KV v2 mount", "Mount path of the KV version 2 engine (default secret).", false,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.Vault).Mount })
	backendQ("aws-region", "aws", "AWS region", "Region of Secrets Manager (empty: the SDK's default).", false,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.AWS).Region })
	backendQ("gcp-project", "gcp", "GCP project ID", "Project of Secret Manager.", true,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.GCP).Project })
	add(question{flag: "profile", implicit: true, title: "Hardening profile", help: "How the runner and its job pods are locked down (runnerctl profiles show NAME).", kind: "select",
		options: func(s *initState) []prompt.Option {
			var opts []prompt.Option
			for _, n := range s.profiles.Names() {
				p, _ := s.profiles.Get(n)
				opts = append(opts, prompt.Option{Value: n, Label: n + ": " + firstSentence(p.Description)})
			}
			return opts
		},
		def: func(*initState) string { return config.DefaultProfile },
		get: func(s *initState) string { return s.runner.Profile },
		set: func(s *initState, v string) error { s.runner.Profile = v; return nil }})
	text("namespace", "Namespace", "Kubernetes namespace of the runner and its job pods.", false,
		func(s *initState) *string { return &s.runner.Namespace }, config.DefaultNamespace)
	text("chart-version", "Chart version", "Version of the gitlab-runner Helm chart.", false,
		func(s *initState) *string { return &s.raw.Chart.Version }, config.DefaultChartVersion)
	return qs
}

// ensure allocates *p when nil and returns it.
func ensure[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

func splitList(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

type initOptions struct {
	nonInteractive, accessible, dryRun, recreate bool
	yes                                          bool
	tokenFile, caFile, recoveryDir               string
	commit, push, mergeRequest                   bool
	remote, mrProject                            string
}

func newInitCmd(e env, g *globals, v *viper.Viper) *cobra.Command {
	qs := questions()
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a runner in GitLab, store its token, and write the GitOps files",
		Long: `init asks for what it needs (or takes it from flags, RUNNERCTL_* variables and
an existing runnerctl.yaml), checks the GitLab token and the secrets backend,
creates the runner in GitLab, stores its token in the secrets manager, and
only then writes runnerctl.yaml and the rendered files.

The GitLab personal access token comes from GITLAB_TOKEN, --gitlab-token-file
or a masked prompt; it needs the api scope, or create_runner, manage_runner
and read_api (to delete the runner again if its token cannot be stored, to
find it if GitLab's answer is lost, and to see and update it on a re-run). Backend
credentials come from their usual variables: VAULT_ADDR/VAULT_TOKEN (or
VAULT_ROLE_ID/VAULT_SECRET_ID), INFISICAL_UNIVERSAL_AUTH_CLIENT_ID/_SECRET,
and the AWS and GCP SDKs' default chains. No secret is taken from a flag.

In a terminal (or with --accessible, plain lines on stdin) init asks for
every input that no flag, variable or runnerctl.yaml gives, and checks each
answer where it is given, by the rules runnerctl.yaml's validation applies
to that field: a refused answer is asked again with the reason, as is a
flag's value that would be refused. Defaults: the GitOps repository URL is
the URL of the git remote that --remote names (origin), without
credentials; the secrets backend offered is the first one whose credentials
the environment holds (Vault's VAULT_ADDR with VAULT_TOKEN or an AppRole,
INFISICAL_UNIVERSAL_AUTH_CLIENT_ID, AWS's variables or shared credentials
file, GCP's GOOGLE_APPLICATION_CREDENTIALS or gcloud's application default
credentials, in that order); the ESO store name offered is vault,
infisical, aws-secrets-manager or gcp-secret-manager, after the backend. In
accessible mode an empty line takes the default, and a question that the
input leaves unanswered (it ended, or gave 5 refused lines) stops init with
exit status 2, naming it.

Before anything is changed, init shows what it will do (the GitLab and the
runner's scope and settings, where the token is stored, the ESO store, the
profile, the files) and asks to confirm. Answering no changes nothing and
exits 1, so that a command chained after init does not run; --yes (or
RUNNERCTL_YES=true) answers yes beforehand.

Without a terminal on stdin, or with --non-interactive, init never prompts
(nor asks to confirm) and lists every missing input. Only the repository
URL is taken from git unasked; a backend or an ESO store name is never
guessed, since the token and the store must be where the user chose.

Re-running with the same inputs creates no second runner and changes no
file. A run that was killed or lost GitLab's
answer leaves an intent or a kept token in the state directory; the next
init finishes it (adopting the runner GitLab made) before creating anything,
and stores a kept token only once GitLab confirms it is still current. Re-running with other registration
settings (description, tags, run-untagged, locked, protected,
maximum-timeout, paused, maintenance-note) updates the runner in GitLab
before writing the files; its scope cannot change. With --commit, --push or
--merge-request, a commit or push that fails after the runner is created
exits 1 and says what was done.`,
		Example: `  runnerctl init
  GITLAB_TOKEN=... runnerctl init --non-interactive --gitlab-url https://gitlab.example.com/ \
    --repo-url https://gitlab.example.com/ops/gitops.git --name ci --backend vault --store-name vault`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o := initOptions{
				nonInteractive: v.GetBool("non-interactive"), accessible: v.GetBool("accessible"),
				dryRun: v.GetBool("dry-run"), recreate: v.GetBool("recreate"), yes: v.GetBool("yes"),
				tokenFile: v.GetString("gitlab-token-file"), caFile: v.GetString("ca-file"),
				recoveryDir: v.GetString("recovery-dir"),
				commit:      v.GetBool("commit") || v.GetBool("push") || v.GetBool("merge-request"),
				push:        v.GetBool("push") || v.GetBool("merge-request"), mergeRequest: v.GetBool("merge-request"),
				remote: v.GetString("remote"), mrProject: v.GetString("mr-project"),
			}
			return runInit(cmd.Context(), e, g, o, qs, cmd.Flags())
		},
	}
	f := cmd.Flags()
	for _, q := range qs {
		f.String(q.flag, "", q.title+": "+q.help)
	}
	registerInitCompletions(cmd, e, qs)
	f.Bool("non-interactive", false, "never prompt; fail listing every missing input")
	f.Bool("accessible", false, "plain line-by-line prompts (screen readers, answers piped on stdin)")
	f.BoolP("yes", "y", false, "do not ask for confirmation before changing anything (a run without prompts never asks)")
	f.Bool("dry-run", false, "change nothing anywhere; print the plan")
	f.Bool("recreate", false, "create a new runner when the recorded runner ID no longer exists in GitLab")
	f.String("gitlab-token-file", "", "read the GitLab personal access token from this file (instead of GITLAB_TOKEN)")
	f.String("ca-file", "", "PEM file of a CA to trust for GitLab (self-managed GitLab with a private CA)")
	f.String("recovery-dir", "", "state directory, outside the repository: intents, tokens kept (0600) until stored, locks (default $XDG_STATE_HOME/runnerctl)")
	f.Bool("commit", false, "commit the files runnerctl wrote (and only those) with your git configuration and hooks")
	f.Bool("push", false, "commit, then push the current branch")
	f.Bool("merge-request", false, "commit on a new branch runnerctl/NAME, push it and open a merge request in GitLab")
	f.String("remote", "origin", "git remote to push to")
	f.String("mr-project", "", "GitLab project (full path) of the GitOps repository for --merge-request (default: from --repo-url)")
	return cmd
}

func runInit(ctx context.Context, e env, g *globals, o initOptions, qs []question, flags *pflag.FlagSet) error {
	root := filepath.Dir(g.configPath)
	// Bounded and confined as every read of runnerctl.yaml is
	// (config.Load): a regular file of at most config.MaxFileSize.
	existing, err := repofile.ReadFile(g.configPath, config.MaxFileSize)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return &exitError{code: ExitUsage, msg: (&config.ReadError{Path: g.configPath, Err: err}).Error()}
	}
	raw, err := config.Decode(existing)
	if err != nil {
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("%s: %v; fix it or start from a new file", g.configPath, err)}
	}
	if raw.APIVersion == "" {
		raw.APIVersion, raw.Kind = config.APIVersion, config.Kind
	}
	pdir := config.DefaultProfilesDir
	if raw.ProfilesDir != "" {
		pdir = raw.ProfilesDir
	}
	profiles, err := profile.Load(filepath.Join(root, filepath.FromSlash(pdir)))
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}

	// Which runner: --name, else the only one in the file.
	name := flagValue(flags, "name")
	if name == "" && len(raw.Runners) == 1 {
		name = raw.Runners[0].Name
	}
	idx := slices.IndexFunc(raw.Runners, func(r config.Runner) bool { return r.Name == name && name != "" })
	if idx < 0 {
		raw.Runners = append(raw.Runners, config.Runner{Name: name})
		idx = len(raw.Runners) - 1
	}
	st := &initState{raw: raw, runner: &raw.Runners[idx], idx: idx, profiles: profiles,
		existing: existing, configPath: g.configPath, getenv: e.getenv}
	originDefault(ctx, st, qs, flags, root, o.remote)

	interactive := !o.nonInteractive && (o.accessible || isTerminal(e.stdin))
	var asker prompt.Asker
	if interactive {
		h := prompt.New(e.stdin, e.stderr, o.accessible)
		// In a terminal, one program owns the screen from the first
		// question to the confirmation; whatever runnerctl prints in
		// between goes through it (say), and it ends before anything else
		// is printed or changed.
		defer h.Close()
		asker = h
	}
	say := func(msg string) {
		if asker != nil {
			asker.Say(msg)
			return
		}
		fmt.Fprintln(e.stderr, msg)
	}
	if err := ask(ctx, st, qs, flags, asker); err != nil {
		return err
	}
	if st.origin != "" && asker == nil && raw.GitOps.RepoURL == st.origin {
		logf(e, g, "gitops.repoURL: %s (git remote %s)", st.origin, st.originRemote)
	}

	// Validate the whole result, with profiles, before touching anything.
	newYAML, err := st.candidate()
	if err != nil {
		return err
	}
	var checkErrs []config.FieldError
	cfg, err := config.Parse(g.configPath, newYAML, func(c *config.Config) []config.FieldError {
		checkErrs = render.Check(c, profiles)
		return checkErrs
	})
	var inv *config.InvalidError
	if errors.As(err, &inv) {
		// A value given as a flag or RUNNERCTL_* is named as such, not by
		// a line of a file it never was in.
		inv.Attribute(answerSources(qs, flags, e.getenv, idx))
	}
	if err != nil {
		return err
	}
	runner := &cfg.Runners[idx]
	loc, err := cfg.TokenRef(runner)
	if err != nil {
		return err
	}
	res, err := render.Render(cfg, profiles)
	if err != nil {
		return err
	}
	// render's own check, before a runner is created that files the runner
	// cannot read would leave behind.
	if err := checkGenerated(e, cfg, res.Files); err != nil {
		return err
	}
	p := cfg.GitOps.Paths
	plan, err := gitops.NewPlan(root, res.Files, []string{p.Applications, p.Manifests, p.Values}, false)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		say(colorize(g, "WARNING: ") + w)
	}
	if o.caFile != "" && cfg.GitLab.TLS == nil {
		// --ca-file is for runnerctl's own connection; the deployed runner
		// would fail TLS against the same GitLab.
		say(colorize(g, "WARNING: ") + "--ca-file makes runnerctl trust GitLab, but the runner pods need the CA too: " +
			"commit it and set gitlab.tls.caFile in runnerctl.yaml (or gitlab.tls.secretName), then run `runnerctl render`")
	}

	// Where a token may rest is checked before anything else, dry run
	// included: a run that creates a runner must have its write-ahead copy.
	state, err := openState(e, o.recoveryDir, root, o.dryRun)
	if err != nil {
		return err
	}
	identity, err := runnerIdentity(cfg, secrets.Location(loc))
	if err != nil {
		return err
	}

	if o.dryRun {
		if asker != nil {
			_ = asker.Close()
		}
		return printInitPlan(e, g, cfg, runner, loc, plan, newYAML, existing)
	}

	pat, err := gitlabToken(ctx, e, o, asker)
	if err != nil {
		return err
	}
	if asker != nil {
		// The last question: everything is known, nothing is changed yet.
		// A run without prompts (no terminal, --non-interactive) has
		// nobody to ask; --yes says yes beforehand.
		if !o.yes {
			ok, err := confirmInit(ctx, e, asker, cfg, runner, loc, plan, g.configPath, string(newYAML) != string(existing))
			if err != nil {
				return askError(question{title: "confirmation", flag: "yes"}, err)
			}
			if !ok {
				// Not a success: `runnerctl init && git push` must stop here.
				return &exitError{code: ExitFailure, msg: fmt.Sprintf("runner %q: not confirmed; nothing was changed", runner.Name)}
			}
		}
		if err := asker.Close(); err != nil {
			return askError(question{title: "confirmation", flag: "yes"}, err)
		}
	}
	gl, err := gitlab.New(gitlab.Options{URL: cfg.GitLab.URL, Token: pat, CAFile: o.caFile})
	if err != nil {
		return &exitError{code: ExitUsage, msg: err.Error()}
	}
	store, err := newStore(ctx, cfg, e.stderr)
	if err != nil {
		return err
	}
	defer store.Close()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	steps := progress(e, g)
	defer steps.Close()
	out, err := bootstrap.Run(ctx, bootstrap.Deps{
		GitLab: gl, Store: store, Steps: steps, State: state, Checkpoint: e.checkpoint,
		Files: bootstrap.Writer(func() error {
			// The runner ID is known now: record it, then write.
			raw.Runners[idx].RunnerID = runner.RunnerID
			final, err := config.Update(existing, raw)
			if err != nil {
				return err
			}
			if err := writeConfig(g.configPath, existing, final); err != nil {
				return err
			}
			e.checkpoint.Hit(custody.CheckpointConfig)
			return plan.Apply()
		}),
	}, bootstrap.Request{GitLabURL: cfg.GitLab.URL, Runner: runner, Location: secrets.Location(loc), Identity: identity, Recreate: o.recreate})
	if err != nil {
		return err
	}
	if err := reportInit(e, g, runner, out, plan, existing, raw); err != nil {
		return err
	}
	if !o.commit {
		return nil
	}
	return commitInit(ctx, e, g, o, gl, cfg, runner, root, plan, out.Created)
}

// commitInit commits runnerctl.yaml and the generated files that git sees
// changed (this run's, or an earlier init's left uncommitted) and nothing
// else, then pushes and opens a merge request when asked.
func commitInit(ctx context.Context, e env, g *globals, o initOptions, gl *gitlab.Client, cfg *config.Config, r *config.Runner, root string, plan *gitops.Plan, created bool) error {
	ours := []string{filepath.Base(g.configPath)}
	for _, c := range plan.Changes {
		ours = append(ours, filepath.FromSlash(c.Path))
	}
	git := gitops.Git{Dir: root}
	paths, err := git.Changed(ctx, ours)
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		logf(e, g, "no file changed; nothing to commit")
		return nil
	}
	base, err := git.CurrentBranch(ctx)
	if err != nil {
		return err
	}
	branch := base
	if o.mergeRequest {
		branch = "runnerctl/" + r.Name
		if err := git.SwitchNew(ctx, branch); err != nil {
			return err
		}
	}
	title := fmt.Sprintf("Update GitLab runner %s", r.Name)
	if created {
		title = fmt.Sprintf("Add GitLab runner %s", r.Name)
	}
	msg := fmt.Sprintf("%s (runner id %d)\n\nGenerated by runnerctl init: ArgoCD Application, ExternalSecret and Helm values.", title, r.RunnerID)
	if err := git.Commit(ctx, paths, msg); err != nil {
		return failure{fmt.Errorf("the runner is created and its token stored, but committing failed: %w", err)}
	}
	logf(e, g, "committed %d file(s) on %s", len(paths), branch)
	if !o.push {
		return nil
	}
	if err := git.Push(ctx, o.remote, branch); err != nil {
		then := ""
		if o.mergeRequest {
			then = ", then open the merge request"
		}
		return failure{fmt.Errorf("runner %q is created, its token stored and the files committed on %s, but pushing to %s failed "+
			"(push once it is reachable: git push --set-upstream %s %s%s): %w", r.Name, branch, o.remote, o.remote, branch, then, err)}
	}
	logf(e, g, "pushed %s to %s", branch, o.remote)
	if !o.mergeRequest {
		return nil
	}
	project := o.mrProject
	if project == "" {
		project = projectPath(cfg.GitOps.RepoURL)
	}
	url, err := gl.CreateMergeRequest(ctx, project, branch, base, title,
		"Created by `runnerctl init`: the runner exists in GitLab and its token is stored; merging lets ArgoCD deploy it.")
	if err != nil {
		return err
	}
	logf(e, g, "merge request: %s", url)
	return nil
}

// failure exits 1 whatever it wraps: once the runner exists, a step that
// fails after it (commit, push) is a failure of init, not a usage error,
// whatever exit status git had.
type failure struct{ error }

func (f failure) Unwrap() error { return f.error }
func (failure) ExitCode() int   { return ExitFailure }

// projectPath is the group/project path of a GitLab clone URL.
func projectPath(repoURL string) string {
	p := repoURL
	if i := strings.Index(p, "://"); i >= 0 {
		p = p[i+3:]
		if j := strings.Index(p, "/"); j >= 0 {
			p = p[j+1:]
		}
	} else if i := strings.Index(p, ":"); i >= 0 { // git@host:group/project.git
		p = p[i+1:]
	}
	return strings.TrimSuffix(strings.Trim(p, "/"), ".git")
}

func logf(e env, g *globals, format string, args ...any) {
	if !g.quiet && g.output != "json" {
		fmt.Fprintf(e.stderr, format+"\n", args...)
	}
}

// answerSources maps the field of each answer that came from a flag or a
// RUNNERCTL_* variable to its name, for config.InvalidError.Attribute.
func answerSources(qs []question, flags *pflag.FlagSet, getenv func(string) string, runner int) map[string]string {
	sources := map[string]string{}
	for _, q := range qs {
		field, ok := questionFields[q.flag]
		if !ok {
			continue
		}
		switch env := "RUNNERCTL_" + envName(q.flag); {
		case flags.Changed(q.flag):
			sources[field(runner)] = "--" + q.flag
		case getenv(env) != "":
			sources[field(runner)] = env
		}
	}
	return sources
}

// flagValue is a flag's value once RUNNERCTL_* variables are applied.
func flagValue(flags *pflag.FlagSet, name string) string {
	f := flags.Lookup(name)
	if f == nil {
		return ""
	}
	return f.Value.String()
}

// ask fills every question: flag (or env) first, else a prompt starting
// from the existing file's value or the default, else (no prompt) that
// value. With a prompt, every answer is checked where it is given and
// asked again until it is accepted, and a flag's value that would be
// refused is asked again too: an interactive run never ends with missing
// inputs. Without a prompt, every required question left empty and every
// value that does not parse is reported at once.
func ask(ctx context.Context, st *initState, qs []question, flags *pflag.FlagSet, asker prompt.Asker) error {
	var missing, bad []string
	for _, q := range qs {
		if !q.when(st) {
			continue
		}
		v := flagValue(flags, q.flag)
		// An explicitly empty flag (--maintenance-note '') is an answer.
		given := v != "" || flags.Changed(q.flag)
		var refused string
		if given && asker != nil {
			if err := st.check(q, v); err != nil {
				given, refused = false, fmt.Sprintf("--%s %q: %v", q.flag, v, err)
			}
		}
		if !given {
			def, why := q.defaultOf(st, asker != nil)
			if refused != "" {
				asker.Say(refused)
				def = v
			}
			v = def
			if asker != nil {
				var err error
				if v, err = askOne(ctx, asker, st, q, def, why); err != nil {
					return askError(q, err)
				}
			}
		}
		if q.implicit && q.get(st) == "" && v == q.def(st) {
			continue // the default applies without being written down
		}
		if v == "" {
			if q.required(st) {
				missing = append(missing, fmt.Sprintf("--%s (RUNNERCTL_%s): %s", q.flag, envName(q.flag), q.title))
			}
			continue
		}
		if err := q.set(st, v); err != nil {
			bad = append(bad, fmt.Sprintf("--%s: %v", q.flag, err))
		}
	}
	if len(missing)+len(bad) == 0 {
		return nil
	}
	var b strings.Builder
	if len(missing) > 0 {
		b.WriteString("missing inputs (give them as flags or environment variables, or run in a terminal to be asked):\n  " + strings.Join(missing, "\n  "))
	}
	if len(bad) > 0 {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString("invalid inputs:\n  " + strings.Join(bad, "\n  "))
	}
	return &exitError{code: ExitUsage, msg: b.String()}
}

func envName(flag string) string {
	return strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// gitlabToken reads the PAT from GITLAB_TOKEN, --gitlab-token-file or a
// masked prompt; never from a flag value.
func gitlabToken(ctx context.Context, e env, o initOptions, asker prompt.Asker) (secrets.Token, error) {
	if o.tokenFile != "" {
		data, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return secrets.Token{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--gitlab-token-file: %v", err)}
		}
		if t := strings.TrimSpace(string(data)); t != "" {
			return secrets.NewToken(t), nil
		}
		return secrets.Token{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--gitlab-token-file %q is empty", o.tokenFile)}
	}
	if t := strings.TrimSpace(e.getenv("GITLAB_TOKEN")); t != "" {
		return secrets.NewToken(t), nil
	}
	if asker != nil {
		t, err := asker.Secret(ctx, "GitLab personal access token", "Needs the api scope, or create_runner, manage_runner and read_api; it is not stored anywhere.",
			func(t string) error {
				if t == "" {
					return errors.New("is required: set GITLAB_TOKEN or use --gitlab-token-file to give it otherwise")
				}
				return nil
			})
		if errors.Is(err, prompt.ErrAborted) {
			return secrets.Token{}, askError(question{title: "GitLab personal access token"}, err)
		}
		if err == nil && t != "" {
			return secrets.NewToken(t), nil
		}
	}
	return secrets.Token{}, &exitError{code: ExitUsage, msg: "no GitLab personal access token: set GITLAB_TOKEN or use --gitlab-token-file"}
}

// writeConfig replaces runnerctl.yaml atomically when its content changed.
func writeConfig(path string, old, content []byte) error {
	if string(old) == string(content) {
		return nil
	}
	return gitops.WriteFile(filepath.Dir(path), filepath.Base(path), content)
}

func printInitPlan(e env, g *globals, cfg *config.Config, r *config.Runner, loc config.RemoteRef, plan *gitops.Plan, newYAML, existing []byte) error {
	w := e.stdout
	action := fmt.Sprintf("create runner %q in GitLab %s", r.Name, cfg.GitLab.URL)
	if r.RunnerID != 0 {
		action = fmt.Sprintf("use runner %q (id %d) if it still exists in GitLab, and update its settings there where they differ", r.Name, r.RunnerID)
	}
	if g.output == "json" {
		files := []fileReport{}
		for _, c := range plan.Changes {
			files = append(files, fileReport{Path: c.Path, Action: string(c.Action)})
		}
		return writeJSON(w, map[string]any{"dryRun": true, "gitlab": action, "tokenLocation": secrets.Location(loc).String(),
			"backend": cfg.Secrets.Backend, "configChanged": string(newYAML) != string(existing), "files": files})
	}
	fmt.Fprintf(w, "dry run: nothing is changed.\n\nwould %s\nwould store its token in %s at %q\n", action, cfg.Secrets.Backend, secrets.Location(loc).String())
	if string(newYAML) != string(existing) {
		fmt.Fprintf(w, "would write %s\n", g.configPath)
	}
	for _, c := range plan.Pending() {
		fmt.Fprintf(w, "would %s %s\n", c.Action, c.Path)
	}
	return nil
}

// initChanged reports whether init wrote anything: a generated file, or
// runnerctl.yaml.
func initChanged(plan *gitops.Plan, existing []byte, raw *config.Config) bool {
	final, _ := config.Update(existing, raw)
	return len(plan.Pending()) > 0 || string(final) != string(existing)
}

func reportInit(e env, g *globals, r *config.Runner, out bootstrap.Outcome, plan *gitops.Plan, existing []byte, raw *config.Config) error {
	changed := initChanged(plan, existing, raw)
	if g.output == "json" {
		updated := out.Updated
		if updated == nil {
			updated = []string{}
		}
		return writeJSON(e.stdout, map[string]any{"runner": r.Name, "runnerID": out.RunnerID, "created": out.Created,
			"adopted": out.Adopted, "updated": updated, "changed": changed})
	}
	if g.quiet {
		return nil
	}
	switch {
	case out.Created:
		fmt.Fprintf(e.stdout, "runner %q created (id %d), token stored; files written. Review with `git diff`, then commit.\n", r.Name, out.RunnerID)
	case out.Adopted:
		fmt.Fprintf(e.stdout, "runner %q (id %d) taken over (another runnerctl init made it), token stored; files written. Review with `git diff`, then commit.\n", r.Name, out.RunnerID)
	case len(out.Updated) > 0 && changed:
		fmt.Fprintf(e.stdout, "runner %q (id %d) updated in GitLab (%s); files written. Review with `git diff`, then commit.\n",
			r.Name, out.RunnerID, strings.Join(out.Updated, ", "))
	case len(out.Updated) > 0:
		fmt.Fprintf(e.stdout, "runner %q (id %d) updated in GitLab (%s) to match runnerctl.yaml; no file changed.\n",
			r.Name, out.RunnerID, strings.Join(out.Updated, ", "))
	case changed:
		fmt.Fprintf(e.stdout, "runner %q (id %d) exists; files updated.\n", r.Name, out.RunnerID)
	default:
		fmt.Fprintf(e.stdout, "up to date: runner %q (id %d) exists and no file changed.\n", r.Name, out.RunnerID)
	}
	return nil
}
