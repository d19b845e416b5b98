package cli

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/prompt"
	"github.com/runnerctl/runnerctl/internal/render"
)

// questionFields names the field of runnerctl.yaml that each question
// fills, given the index of the runner being set up. An answer is checked
// by the rules that runnerctl.yaml's validation applies to that field (see
// initState.check): the wizard has no rules of its own to drift from the
// file's.
var questionFields = map[string]func(runner int) string{
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
}

func fixedField(path string) func(int) string { return func(int) string { return path } }

func runnerField(path string) func(int) string {
	return func(i int) string { return fmt.Sprintf("runners[%d].%s", i, path) }
}

// defaultOf is the value q starts from when no flag gives one, and why it
// is that value (said in the question's help): the existing
// runnerctl.yaml's, else the question's default.
func (q question) defaultOf(st *initState) (string, string) {
	if v := q.get(st); v != "" {
		return v, ""
	}
	return q.def(st), ""
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
	path := questionFields[q.flag](st.idx)
	if !(q.implicit && q.get(c) == "" && v == q.def(c)) { // else the default applies, unwritten (as in ask)
		if v == "" && q.required(c) {
			return errors.New(fieldProblem(config.FieldError{Path: path, Msg: "is required"}, st.idx))
		}
		if err := q.set(c, v); err != nil {
			return err
		}
	}
	var msgs []string
	for _, fe := range c.problems() {
		if fe.Path == path || strings.HasPrefix(fe.Path, path+".") || strings.HasPrefix(fe.Path, path+"[") {
			msgs = append(msgs, fieldProblem(fe, st.idx))
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
