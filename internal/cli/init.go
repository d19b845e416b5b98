package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// initOptions are init's flags: one per question (qs), whose values are
// answers, and those that say how init runs.
type initOptions struct {
	*globals
	qs                                           []question
	answers                                      answers
	nonInteractive, accessible, dryRun, recreate bool
	yes                                          bool
	gitlab                                       gitlabFlags
	recoveryDir                                  string
	commit, push, mergeRequest                   bool
	remote, mrProject                            string
}

// commits reports whether init commits: --push and --merge-request imply
// --commit.
func (o *initOptions) commits() bool { return o.commit || o.pushes() }

// pushes reports whether init pushes: --merge-request implies --push.
func (o *initOptions) pushes() bool { return o.push || o.mergeRequest }

// answers are the values of init's question flags, by flag name, after
// RUNNERCTL_* layering.
type answers struct {
	values map[string]*string
	// changed reports whether a flag was given on the command line (not
	// through its variable): errors name where a value came from.
	changed func(flag string) bool
}

// value is the answer a flag or its variable gives ("" for none).
func (a answers) value(flag string) string {
	if v := a.values[flag]; v != nil {
		return *v
	}
	return ""
}

func newInitCmd(f *factory, g *globals, runF func(context.Context, *initOptions) error) *cobra.Command {
	o := &initOptions{globals: g, qs: questions(), answers: answers{values: map[string]*string{}}}
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
before writing the files; its scope cannot change.

A runner that runnerctl.yaml deploys to clusters (runners[].clusters) is one
GitLab runner per cluster: init creates or updates them one after the
other, each with its own token location, and records each one's ID at
runners[i].clusters[j].runnerID as soon as its token is stored. The
generated files are written once every cluster has its runner; when one
fails, init stops there (those before stay recorded) and a re-run goes on.
--name NAME@CLUSTER works on that cluster's runner only.

--clusters deploys the runner to clusters: comma-separated NAME=DESTINATION
(an http(s) URL is the cluster's API server, anything else its name in
ArgoCD, such as an EKS cluster's ARN), which adds the cluster to
runnerctl.yaml's clusters[], or NAME alone for one that clusters[] has.
The question is asked when runnerctl.yaml has clusters; elsewhere the flag
(or RUNNERCTL_CLUSTERS) opts in. init adds clusters and never removes one
(an answer that leaves out one of the runner's clusters is refused: edit
runnerctl.yaml for that), and a runner created without clusters keeps its
single GitLab runner: give clusters to a new one. With --commit, --push or
--merge-request, a commit or push that fails after the runner is created
exits 1 and says what was done.`,
		Example: `  runnerctl init
  GITLAB_TOKEN=... runnerctl init --non-interactive --gitlab-url https://gitlab.example.com/ \
    --repo-url https://gitlab.example.com/ops/gitops.git --name ci --backend vault --store-name vault`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runInit(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	o.answers.changed = fs.Changed
	for _, q := range o.qs {
		v := new(string)
		o.answers.values[q.flag] = v
		fs.StringVar(v, q.flag, "", q.title+": "+q.help)
	}
	registerInitCompletions(cmd, f, o.qs)
	fs.BoolVar(&o.nonInteractive, "non-interactive", false, "never prompt; fail listing every missing input")
	fs.BoolVar(&o.accessible, "accessible", false, "plain line-by-line prompts (screen readers, answers piped on stdin)")
	fs.BoolVarP(&o.yes, "yes", "y", false, "do not ask for confirmation before changing anything (a run without prompts never asks)")
	fs.BoolVar(&o.dryRun, "dry-run", false, "change nothing anywhere; print the plan")
	fs.BoolVar(&o.recreate, "recreate", false, "create a new runner when the recorded runner ID no longer exists in GitLab")
	addGitLabFlags(fs, &o.gitlab)
	fs.StringVar(&o.recoveryDir, "recovery-dir", "", "state directory, outside the repository: intents, tokens kept (0600) until stored, locks (default $XDG_STATE_HOME/runnerctl)")
	fs.BoolVar(&o.commit, "commit", false, "commit the files runnerctl wrote (and only those) with your git configuration and hooks")
	fs.BoolVar(&o.push, "push", false, "commit, then push the current branch")
	fs.BoolVar(&o.mergeRequest, "merge-request", false, "commit on a new branch runnerctl/NAME, push it and open a merge request in GitLab")
	fs.StringVar(&o.remote, "remote", "origin", "git remote to push to")
	fs.StringVar(&o.mrProject, "mr-project", "", "GitLab project (full path) of the GitOps repository for --merge-request (default: from --repo-url)")
	return cmd
}

// registerInitCompletions completes --profile with the known profiles,
// --name with the runners already in runnerctl.yaml (re-running init for
// one updates it), and the other choices with their fixed options.
func registerInitCompletions(cmd *cobra.Command, f *factory, qs []question) {
	_ = cmd.RegisterFlagCompletionFunc("profile", completeProfileNames(f))
	_ = cmd.RegisterFlagCompletionFunc("name", completeRunnerNames(f))
	_ = cmd.RegisterFlagCompletionFunc("clusters", completeClusterNames(f))
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
