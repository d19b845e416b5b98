package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/prompt"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// questionFields names the fields of runnerctl.yaml that each question
// fills, given the index of the runner being set up. An answer is checked
// by the rules that runnerctl.yaml's validation applies to those fields
// (see initState.check): the wizard has no rules of its own to drift from
// the file's.
var questionFields = map[string]func(runner int) []string{
	"gitlab-url":        fixedField("gitlab.url"),
	"repo-url":          fixedField("gitops.repoURL"),
	"name":              runnerField("name"),
	"scope":             runnerField("registration.scope.type"),
	"scope-path":        runnerField("registration.scope.path"),
	"description":       runnerField("registration.description"),
	"tags":              runnerField("registration.tags"),
	"run-untagged":      runnerField("registration.runUntagged"),
	"locked":            runnerField("registration.locked"),
	"protected":         runnerField("registration.accessLevel"),
	"maximum-timeout":   runnerField("registration.maximumTimeout"),
	"paused":            runnerField("registration.paused"),
	"maintenance-note":  runnerField("registration.maintenanceNote"),
	"backend":           fixedField("secrets.backend"),
	"store-name":        fixedField("secrets.store.name"),
	"infisical-project": fixedField("secrets.infisical.projectSlug"),
	"infisical-env":     fixedField("secrets.infisical.environment"),
	"vault-mount":       fixedField("secrets.vault.mount"),
	"aws-region":        fixedField("secrets.aws.region"),
	"gcp-project":       fixedField("secrets.gcp.project"),
	"profile":           runnerField("profile"),
	"namespace":         runnerField("namespace"),
	"chart-version":     fixedField("chart.version"),
	// A new cluster's entry in clusters[] as well as the runner's list.
	"clusters": func(i int) []string { return []string{fmt.Sprintf("runners[%d].clusters", i), "clusters"} },
}

func fixedField(path string) func(int) []string { return func(int) []string { return []string{path} } }

func runnerField(path string) func(int) []string {
	return func(i int) []string { return []string{fmt.Sprintf("runners[%d].%s", i, path)} }
}

// storeNames are the ESO store names the wizard offers for each backend
// (the ones the examples use). They are only offered: the store is one
// that the user created in the cluster, and a name runnerctl made up
// would leave the ExternalSecret unsynced, so a run without prompts
// still needs --store-name.
var storeNames = map[string]string{
	config.BackendVault:     "vault",
	config.BackendInfisical: "infisical",
	config.BackendAWS:       "aws-secrets-manager",
	config.BackendGCP:       "gcp-secret-manager",
}

func suggestStoreName(s *initState) (string, string) {
	name, ok := storeNames[s.raw.Secrets.Backend]
	if !ok {
		return "", ""
	}
	return name, fmt.Sprintf("(Suggested for %s; it must be the name of the store in your cluster.)", s.raw.Secrets.Backend)
}

// suggestBackend offers the backend whose credentials the environment
// holds (detectBackend). Only offered, never taken by a run without
// prompts: credentials lying around for one backend do not say that the
// runner tokens belong there.
func suggestBackend(s *initState) (string, string) {
	found := detectBackend(s.getenv)
	if len(found) == 0 {
		return "", ""
	}
	why := fmt.Sprintf("(Default %s: %s.", found[0].backend, found[0].why)
	if len(found) > 1 {
		var others []string
		for _, f := range found[1:] {
			others = append(others, f.backend)
		}
		why += " Credentials were found for " + strings.Join(others, ", ") + " too."
	}
	return found[0].backend, why + ")"
}

type foundBackend struct{ backend, why string }

// detectBackend lists the backends whose credentials the environment
// holds, in a fixed order: the variables that exist for runnerctl's
// backends alone first (Vault's, Infisical's), then the clouds' default
// chains, which are often set up for other work on the same machine.
// Only the usual places are looked at; nothing is contacted.
func detectBackend(getenv func(string) string) []foundBackend {
	var found []foundBackend
	set := func(names ...string) bool {
		for _, n := range names {
			if getenv(n) == "" {
				return false
			}
		}
		return true
	}
	switch {
	case set("VAULT_ADDR", "VAULT_TOKEN"):
		found = append(found, foundBackend{config.BackendVault, "VAULT_ADDR and VAULT_TOKEN are set"})
	case set("VAULT_ADDR", "VAULT_ROLE_ID", "VAULT_SECRET_ID"):
		found = append(found, foundBackend{config.BackendVault, "VAULT_ADDR, VAULT_ROLE_ID and VAULT_SECRET_ID are set"})
	}
	if set("INFISICAL_UNIVERSAL_AUTH_CLIENT_ID") {
		found = append(found, foundBackend{config.BackendInfisical, "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID is set"})
	}
	home := getenv("HOME")
	if home == "" {
		home = getenv("USERPROFILE") // Windows
	}
	exists := func(path string) bool {
		if path == "" {
			return false
		}
		info, err := os.Stat(path)
		return err == nil && info.Mode().IsRegular()
	}
	awsCredentials := getenv("AWS_SHARED_CREDENTIALS_FILE")
	if awsCredentials == "" && home != "" {
		awsCredentials = filepath.Join(home, ".aws", "credentials")
	}
	switch {
	case set("AWS_ACCESS_KEY_ID"):
		found = append(found, foundBackend{config.BackendAWS, "AWS_ACCESS_KEY_ID is set"})
	case set("AWS_PROFILE"):
		found = append(found, foundBackend{config.BackendAWS, "AWS_PROFILE is set"})
	case set("AWS_WEB_IDENTITY_TOKEN_FILE"):
		found = append(found, foundBackend{config.BackendAWS, "AWS_WEB_IDENTITY_TOKEN_FILE is set"})
	case exists(awsCredentials):
		found = append(found, foundBackend{config.BackendAWS, "the AWS shared credentials file exists"})
	}
	gcloud := getenv("CLOUDSDK_CONFIG")
	switch {
	case gcloud != "": // gcloud's configuration directory, named
	case runtime.GOOS == "windows" && getenv("APPDATA") != "":
		gcloud = filepath.Join(getenv("APPDATA"), "gcloud")
	case home != "":
		gcloud = filepath.Join(home, ".config", "gcloud")
	}
	switch {
	case set("GOOGLE_APPLICATION_CREDENTIALS"):
		found = append(found, foundBackend{config.BackendGCP, "GOOGLE_APPLICATION_CREDENTIALS is set"})
	case gcloud != "" && exists(filepath.Join(gcloud, "application_default_credentials.json")):
		found = append(found, foundBackend{config.BackendGCP, "gcloud's application default credentials exist"})
	}
	return found
}

// originDefault sets st.origin to the URL of the git remote that init
// pushes to (--remote, origin by default) when nothing else gives the
// GitOps repository URL. It is a default safe to take without asking: it
// names this very repository, as the user's git reaches it. A URL that
// runnerctl.yaml could not hold is not offered. git runs with
// gitops.Env's environment, without runnerctl's secrets.
func originDefault(ctx context.Context, st *initState, qs []question, given answers, root, remote string) {
	if given.value("repo-url") != "" || given.changed("repo-url") || st.raw.GitOps.RepoURL != "" {
		return
	}
	url, err := gitops.Git{Dir: root}.RemoteURL(ctx, remote)
	if err != nil || url == "" {
		return // not a repository, or no such remote: nothing to offer
	}
	for _, q := range qs {
		if q.flag == "repo-url" && st.check(q, url) == nil {
			st.origin, st.originRemote = url, remote
		}
	}
}

// defaultOf is the value q starts from when no flag gives one, and why it
// is that value (said in the question's help): the existing
// runnerctl.yaml's, else the question's default, else, when the question
// is asked, what it suggests.
func (q question) defaultOf(st *initState, asking bool) (string, string) {
	if v := q.get(st); v != "" {
		return v, ""
	}
	if v := q.def(st); v != "" {
		if q.flag == "repo-url" && v == st.origin {
			return v, fmt.Sprintf("(Default: git remote %s.)", st.originRemote)
		}
		return v, ""
	}
	if asking && q.suggest != nil {
		return q.suggest(st)
	}
	return "", ""
}

// check validates answer v to q as the final validation of runnerctl.yaml
// would judge the field: v goes into a copy of the configuration being
// built, which is validated whole (with the profiles), and the problems
// of q's field are q's. A required question refuses an empty answer.
func (st *initState) check(q question, v string) error {
	c, err := st.clone()
	if err != nil {
		return nil // the final validation will tell
	}
	paths := questionFields[q.flag](st.idx)
	if !(q.implicit && q.get(c) == "" && v == q.def(c)) { // else the default applies, unwritten (as in ask)
		if v == "" && q.required(c) {
			return errors.New(fieldProblem(config.FieldError{Path: paths[0], Msg: "is required"}, st.idx))
		}
		if err := q.set(c, v); err != nil {
			return err
		}
	}
	var msgs []string
	for _, fe := range c.problems() {
		for _, path := range paths {
			if fe.Path == path || strings.HasPrefix(fe.Path, path+".") || strings.HasPrefix(fe.Path, path+"[") {
				msgs = append(msgs, fieldProblem(fe, st.idx))
				break
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.New(strings.Join(msgs, "; "))
}

// fieldProblem says a field's problem for a prompt: a message that quotes
// the value stands alone; one that starts with a verb ("is required",
// "must be ...") gets the field's name in runnerctl.yaml as its subject.
func fieldProblem(fe config.FieldError, runner int) string {
	if strings.HasPrefix(fe.Msg, `"`) {
		return fe.Msg
	}
	return strings.TrimPrefix(fe.Path, fmt.Sprintf("runners[%d].", runner)) + " " + fe.Msg
}

// clone is a deep copy of st, to try an answer on.
func (st *initState) clone() (*initState, error) {
	data, err := config.Marshal(st.raw)
	if err != nil {
		return nil, err
	}
	raw, err := config.Decode(data)
	if err != nil {
		return nil, err
	}
	c := *st
	c.raw, c.runner = raw, &raw.Runners[st.idx]
	return &c, nil
}

// candidate is the runnerctl.yaml that st would write.
func (st *initState) candidate() ([]byte, error) {
	if reg := st.runner.Registration; reg != nil && reflect.ValueOf(*reg).IsZero() {
		st.runner.Registration = nil // all defaults: nothing to write
	}
	return config.Update(st.existing, st.raw)
}

// problems are what the final validation would report about st.
func (st *initState) problems() []config.FieldError {
	data, err := st.candidate()
	if err != nil {
		return nil
	}
	_, err = config.Parse(st.configPath, data, func(c *config.Config) []config.FieldError { return render.Check(c, st.profiles) })
	var inv *config.InvalidError
	if errors.As(err, &inv) {
		return inv.Errors
	}
	return nil
}

// askError is how a question that got no answer ends the run.
func askError(q question, err error) error {
	switch {
	case errors.Is(err, prompt.ErrAborted):
		return &exitError{code: ExitFailure, msg: fmt.Sprintf("stopped at %q; nothing was changed", q.title)}
	case errors.Is(err, prompt.ErrNoAnswer):
		return &exitError{code: ExitUsage, msg: fmt.Sprintf("%v; give --%s (RUNNERCTL_%s) instead; nothing was changed", err, q.flag, envName(q.flag))}
	}
	return fmt.Errorf("prompt %q: %w", q.title, err)
}

// askOne asks q, starting from def; why, when not empty, says where def
// comes from. Every answer is checked where it is given (st.check).
func askOne(ctx context.Context, a prompt.Asker, st *initState, q question, def, why string) (string, error) {
	help := q.help
	if why != "" {
		help += " " + why
	}
	check := func(v string) error { return st.check(q, v) }
	switch q.kind {
	case "bool":
		b, err := a.Confirm(ctx, q.title, help, def == "true", func(b bool) error { return check(strconv.FormatBool(b)) })
		return strconv.FormatBool(b), err
	case "select":
		// Every option is valid; a wrong one cannot be chosen.
		return a.Select(ctx, q.title, help, q.options(st), def)
	}
	return a.Input(ctx, q.title, help, def, check)
}

// confirmChanges is init's last question, for one runner or a runner's
// clusters alike: everything is known, nothing is changed yet. It says
// summary (what init will do), asks title, and closes the prompt, which
// owns the terminal until then. A run without prompts (a nil asker: no
// terminal, --non-interactive) has nobody to ask; yes (--yes) answers
// beforehand. No is not a success: `runnerctl init && git push` must stop.
func confirmChanges(ctx context.Context, a prompt.Asker, yes bool, runner, title string, summary func() string) error {
	if a == nil {
		return nil
	}
	if !yes {
		a.Say(summary())
		ok, err := a.Confirm(ctx, title, "Nothing is changed anywhere before you answer yes.", false, nil)
		if err != nil {
			return askError(question{title: "confirmation", flag: "yes"}, err)
		}
		if !ok {
			return &exitError{code: ExitFailure, msg: fmt.Sprintf("runner %q: not confirmed; nothing was changed", runner)}
		}
	}
	if err := a.Close(); err != nil {
		return askError(question{title: "confirmation", flag: "yes"}, err)
	}
	return nil
}

// initSummary says what init will do, for the confirmation: where the
// runner is created, with which settings (those that differ from GitLab's
// defaults), where its token goes, what deploys it, and which files are
// written.
func initSummary(f *factory, cfg *config.Config, r *config.Runner, loc config.RemoteRef, plan *gitops.Plan, configPath string, configChanged bool) string {
	reg := r.Registration
	var b strings.Builder
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "  %-11s %s\n", label, fmt.Sprintf(format, args...))
	}
	scope := "instance runner (every project)"
	if reg.Scope.Type != config.ScopeInstance {
		scope = fmt.Sprintf("%s runner of %s", reg.Scope.Type, reg.Scope.Path)
	}
	if r.RunnerID == 0 {
		fmt.Fprintf(&b, "runnerctl init will create runner %q:\n", r.Name)
		line("GitLab", "%s, %s", cfg.GitLab.URL, scope)
	} else {
		fmt.Fprintf(&b, "runnerctl init will use runner %q (id %d) if it still exists, and update its settings in GitLab where they differ:\n", r.Name, r.RunnerID)
		line("GitLab", "%s, %s", cfg.GitLab.URL, scope)
	}
	var settings []string
	if reg.Description != "runnerctl "+r.Name {
		settings = append(settings, fmt.Sprintf("description %q", reg.Description))
	}
	if len(reg.Tags) > 0 {
		settings = append(settings, "tags "+strings.Join(reg.Tags, ", "))
	}
	if untagged := *reg.RunUntagged; untagged != (len(reg.Tags) == 0) {
		settings = append(settings, map[bool]string{true: "runs untagged jobs too", false: "tagged jobs only"}[untagged])
	}
	if reg.Locked {
		settings = append(settings, "locked to its projects")
	}
	if reg.AccessLevel == "ref_protected" {
		settings = append(settings, "protected branches and tags only")
	}
	if reg.MaximumTimeout != 0 {
		settings = append(settings, fmt.Sprintf("maximum job timeout %ds", reg.MaximumTimeout))
	}
	if reg.Paused {
		settings = append(settings, "paused")
	}
	if reg.MaintenanceNote != "" {
		settings = append(settings, "with a maintenance note")
	}
	if len(settings) > 0 {
		line("settings", "%s", strings.Join(settings, "; "))
	}
	line("token", "%s at %q", backendPlace(f, cfg.Secrets), secrets.Location(loc).String())
	line("ESO store", "%s %q", cfg.Secrets.Store.Kind, cfg.Secrets.Store.Name)
	line("deployment", "profile %s, namespace %s, chart %s %s", r.Profile, r.Namespace, cfg.Chart.Name, cfg.Chart.Version)
	var files []string
	if configChanged {
		files = append(files, "write "+filepath.Base(configPath))
	}
	for _, c := range plan.Pending() {
		files = append(files, string(c.Action)+" "+c.Path)
	}
	if len(files) == 0 {
		files = append(files, "none change")
	}
	for i, f := range files {
		label := ""
		if i == 0 {
			label = "files"
		}
		line(label, "%s", f)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// backendPlace names the secrets manager that will hold the token, with
// what tells one of its kind from another.
func backendPlace(f *factory, s config.Secrets) string {
	switch s.Backend {
	case config.BackendVault:
		place := fmt.Sprintf("vault, mount %s", s.Vault.Mount)
		if addr := f.getenv("VAULT_ADDR"); addr != "" {
			place = fmt.Sprintf("vault %s, mount %s", addr, s.Vault.Mount)
		}
		return place
	case config.BackendInfisical:
		return fmt.Sprintf("infisical project %s, environment %s", s.Infisical.ProjectSlug, s.Infisical.Environment)
	case config.BackendAWS:
		if s.AWS.Region == "" {
			return "aws secrets manager (the SDK's default region)"
		}
		return "aws secrets manager in " + s.AWS.Region
	case config.BackendGCP:
		return "gcp secret manager of project " + s.GCP.Project
	}
	return s.Backend
}

// answerSources maps the field of each answer that came from a flag or a
// RUNNERCTL_* variable to its name, for config.InvalidError.Attribute.
func answerSources(qs []question, given answers, getenv func(string) string, runner int) map[string]string {
	sources := map[string]string{}
	for _, q := range qs {
		field, ok := questionFields[q.flag]
		if !ok {
			continue
		}
		// The question's own field: a further one (clusters[]) holds
		// entries of the file too, whose problems keep their lines.
		path := field(runner)[0]
		switch env := "RUNNERCTL_" + envName(q.flag); {
		case given.changed(q.flag):
			sources[path] = "--" + q.flag
		case getenv(env) != "":
			sources[path] = env
		}
	}
	return sources
}

// ask fills every question: flag (or env) first, else a prompt starting
// from the existing file's value or the default, else (no prompt) that
// value. With a prompt, every answer is checked where it is given and
// asked again until it is accepted, and a flag's value that would be
// refused is asked again too: an interactive run never ends with missing
// inputs. Without a prompt, every required question left empty and every
// value that does not parse is reported at once.
func ask(ctx context.Context, st *initState, qs []question, given answers, asker prompt.Asker) error {
	var missing, bad []string
	for _, q := range qs {
		v := given.value(q.flag)
		// An explicitly empty flag (--maintenance-note '') is an answer.
		answered := v != "" || given.changed(q.flag)
		if !q.when(st) && !(q.flagOpens && answered) {
			continue
		}
		var refused string
		if answered && asker != nil {
			if err := st.check(q, v); err != nil {
				answered, refused = false, fmt.Sprintf("--%s %q: %v", q.flag, v, err)
			}
		}
		if !answered {
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
