package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	kuberemote "github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// captured is what a command line parsed into: the options the one
// command that ran handed to its hook.
type captured struct {
	init     *initOptions
	render   *renderOptions
	validate *validateOptions
	status   *statusOptions
	doctor   *doctorOptions
	rotate   *rotateOptions
	importer *importOptions
}

func (c *captured) hooks() runHooks {
	return runHooks{
		init:     func(_ context.Context, o *initOptions) error { c.init = o; return nil },
		render:   func(_ context.Context, o *renderOptions) error { c.render = o; return nil },
		validate: func(_ context.Context, o *validateOptions) error { c.validate = o; return nil },
		status:   func(_ context.Context, o *statusOptions) error { c.status = o; return nil },
		doctor:   func(_ context.Context, o *doctorOptions) error { c.doctor = o; return nil },
		rotate:   func(_ context.Context, o *rotateOptions) error { c.rotate = o; return nil },
		importer: func(_ context.Context, o *importOptions) error { c.importer = o; return nil },
	}
}

// noNetwork is a factory whose every outside dependency fails the test:
// parsing a command line must reach none of them.
func noNetwork(t *testing.T, env map[string]string, stderr io.Writer) *factory {
	called := func(what string) { t.Helper(); t.Errorf("%s was used while only parsing", what) }
	return &factory{
		stdin: strings.NewReader(""), stdout: io.Discard, stderr: stderr,
		getenv: func(k string) string { return env[k] },
		gitlab: func(gitlab.Options) (*gitlab.Client, error) { called("gitlab"); return nil, nil },
		store:  func(context.Context, *config.Config, io.Writer) (store, error) { called("store"); return nil, nil },
		kube:   func(context.Context, clusterAccess, io.Writer) (cluster, error) { called("kube"); return nil, nil },
		chart: func(context.Context, kuberemote.ChartQuery, io.Writer) (kuberemote.ChartAnswer, error) {
			called("chart")
			return kuberemote.ChartAnswer{}, nil
		},
		checkManifests: func(context.Context, validate.Request, io.Writer) ([]validate.Problem, error) {
			called("checkManifests")
			return nil, nil
		},
		repo: func(string) uncommitted { called("repo"); return nil },
	}
}

// defaults are the global flags when none is given.
func defaults() *globals { return &globals{configPath: "runnerctl.yaml", output: "text"} }

func withGlobals(edit func(*globals)) *globals {
	g := defaults()
	edit(g)
	return g
}

// schedule is the default rotation schedule of status and doctor.
var schedule = rotationSchedule{within: defaultRotateWithin, every: defaultRotateEvery}

// TestOptionsFromCommandLine parses real command lines and RUNNERCTL_*
// variables through the root command, with every command's run replaced
// by a hook that keeps its options: each flag must land in its field, a
// flag must win over its variable, and a variable must win over the
// default.
func TestOptionsFromCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want any // the options the command's hook got
	}{
		{
			name: "render flags and globals",
			args: []string{"render", "--check", "--force", "--no-validate", "--prune-all", "--out", "/tmp/x", "--config", "a/r.yaml", "-q", "-o", "json", "--no-color"},
			want: &renderOptions{globals: &globals{configPath: "a/r.yaml", output: "json", quiet: true, noColor: true},
				check: true, force: true, noValidate: true, pruneAll: true, outDir: "/tmp/x"},
		},
		{
			name: "render from the environment",
			args: []string{"render"},
			env:  map[string]string{"RUNNERCTL_DRY_RUN": "true", "RUNNERCTL_STDOUT": "1", "RUNNERCTL_OUT": "/env", "RUNNERCTL_CONFIG": "e.yaml", "RUNNERCTL_QUIET": "true"},
			want: &renderOptions{globals: &globals{configPath: "e.yaml", output: "text", quiet: true}, dryRun: true, stdout: true, outDir: "/env"},
		},
		{
			name: "a flag wins over its variable",
			args: []string{"render", "--out", "/flag", "-o", "text"},
			env:  map[string]string{"RUNNERCTL_OUT": "/env", "RUNNERCTL_OUTPUT": "json"},
			want: &renderOptions{globals: defaults(), outDir: "/flag"},
		},
		{
			name: "validate",
			args: []string{"validate", "--crds", "a,b", "--crds", "c", "--chart", "oci://r/p/gitlab-runner", "--ignore-missing-schemas", "f1.yaml", "dir"},
			env:  map[string]string{"RUNNERCTL_ALLOW_DRIFT": "true"},
			want: &validateOptions{globals: defaults(), files: []string{"f1.yaml", "dir"}, crds: []string{"a", "b", "c"},
				chart: "oci://r/p/gitlab-runner", ignoreMissing: true, allowDrift: true},
		},
		{
			name: "status",
			args: []string{"status", "--offline", "--gitlab-token-file", "pat", "--ca-file", "ca.pem", "--rotate-within", "48h", "ci", "build"},
			env:  map[string]string{"RUNNERCTL_ROTATE_EVERY": "24h"},
			want: &statusOptions{globals: defaults(), offline: true, names: []string{"ci", "build"},
				gitlab: gitlabFlags{tokenFile: "pat", caFile: "ca.pem"}, schedule: rotationSchedule{within: 48 * time.Hour, every: 24 * time.Hour}},
		},
		{
			name: "doctor",
			args: []string{"doctor", "--rotate-every", "72h"},
			env:  map[string]string{"RUNNERCTL_CA_FILE": "ca.pem", "RUNNERCTL_GITLAB_TOKEN_FILE": "pat", "RUNNERCTL_OFFLINE": "true", "RUNNERCTL_ROTATE_EVERY": "1h"},
			want: &doctorOptions{globals: defaults(), offline: true, gitlab: gitlabFlags{tokenFile: "pat", caFile: "ca.pem"},
				schedule: rotationSchedule{within: defaultRotateWithin, every: 72 * time.Hour}},
		},
		{
			name: "doctor defaults",
			args: []string{"doctor"},
			want: &doctorOptions{globals: defaults(), schedule: schedule},
		},
		{
			name: "rotate-token flags",
			args: []string{"rotate-token", "--all", "--if-expires-within", "720h", "--parallel", "3", "--dry-run", "--recovery-dir", "/state",
				"--gitlab-token-file", "pat", "--ca-file", "ca.pem", "--kubeconfig", "kc", "--context", "prod", "--wait", "1m", "--poll-interval", "2s"},
			want: &rotateOptions{globals: defaults(), names: []string{}, all: true, ifExpiresWithin: 720 * time.Hour, parallel: 3, dryRun: true, recDir: "/state",
				gitlab: gitlabFlags{tokenFile: "pat", caFile: "ca.pem"}, access: clusterAccess{kubeconfig: "kc", context: "prod"},
				wait: time.Minute, pollInterval: 2 * time.Second},
		},
		{
			name: "rotate-token from the environment",
			args: []string{"rotate-token", "ci"},
			env:  map[string]string{"RUNNERCTL_IN_CLUSTER": "true", "RUNNERCTL_PARALLEL": "2", "RUNNERCTL_WAIT": "90s", "RUNNERCTL_OUTPUT": "json"},
			want: &rotateOptions{globals: withGlobals(func(g *globals) { g.output = "json" }), names: []string{"ci"}, parallel: 2,
				access: clusterAccess{inCluster: true}, wait: 90 * time.Second, pollInterval: time.Second},
		},
		{
			// A cluster's runner is named NAME@CLUSTER, as an argument
			// like any runner's name (no flag of its own).
			name: "rotate-token of clusters' runners",
			args: []string{"rotate-token", "build@eu-1", "ci", "build", "--kubeconfig", "kc"},
			want: &rotateOptions{globals: defaults(), names: []string{"build@eu-1", "ci", "build"}, parallel: 10,
				access: clusterAccess{kubeconfig: "kc"}, wait: 5 * time.Minute, pollInterval: time.Second},
		},
		{
			name: "status of a cluster's runner",
			args: []string{"status", "build@us-1"},
			want: &statusOptions{globals: defaults(), names: []string{"build@us-1"}, schedule: schedule},
		},
		{
			name: "import",
			args: []string{"import", "--name", "homelab", "--replace", "--runner-id", "42", "--scope-path", "ops/ci", "--gitlab-token-file", "pat", "apps/", "manifests/es.yaml"},
			env:  map[string]string{"RUNNERCTL_NAME": "env", "RUNNERCTL_CA_FILE": "ca.pem"},
			want: &importOptions{globals: defaults(), paths: []string{"apps/", "manifests/es.yaml"}, name: "homelab", replace: true,
				runnerID: 42, scopePath: "ops/ci", gitlab: gitlabFlags{tokenFile: "pat", caFile: "ca.pem"}},
		},
		{
			name: "import finding the runner",
			args: []string{"import", "--find-runner", "--scope-path", "ops/ci", "--dry-run"},
			env:  map[string]string{"RUNNERCTL_CA_FILE": "ca.pem"},
			want: &importOptions{globals: defaults(), paths: []string{}, dryRun: true, findRunner: true, scopePath: "ops/ci", gitlab: gitlabFlags{caFile: "ca.pem"}},
		},
		{
			name: "import finding the runner from the environment",
			args: []string{"import"},
			env:  map[string]string{"RUNNERCTL_FIND_RUNNER": "true"},
			want: &importOptions{globals: defaults(), paths: []string{}, findRunner: true},
		},
		{
			name: "import from the environment",
			args: []string{"import"},
			env:  map[string]string{"RUNNERCTL_NAME": "env", "RUNNERCTL_DRY_RUN": "true"},
			want: &importOptions{globals: defaults(), paths: []string{}, name: "env", dryRun: true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			var c captured
			if code := execute(newRootCmdWith(noNetwork(t, tc.env, &stderr), c.hooks()), tc.args, &stderr); code != ExitOK {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			got := map[string]any{"init": c.init, "render": c.render, "validate": c.validate, "status": c.status, "doctor": c.doctor, "rotate-token": c.rotate, "import": c.importer}[tc.args[0]]
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("options:\n got %+v\nwant %+v", deref(got), deref(tc.want))
				if g, w := globalsOf(got), globalsOf(tc.want); g != w {
					t.Errorf("globals:\n got %+v\nwant %+v", g, w)
				}
			}
		})
	}
}

// TestInitOptionsFromCommandLine checks init's own flags and its answers:
// a question flag and its variable give the answer, and only the flag
// counts as given on the command line (errors name which one it was).
func TestInitOptionsFromCommandLine(t *testing.T) {
	var stderr bytes.Buffer
	var c captured
	env := map[string]string{"RUNNERCTL_GITLAB_URL": "https://gitlab.example.com/", "RUNNERCTL_NAME": "env-name", "RUNNERCTL_ACCESSIBLE": "true"}
	args := []string{"init", "--name", "ci", "--backend", "vault", "--maintenance-note", "", "-y", "--merge-request", "--remote", "up",
		"--mr-project", "ops/gitops", "--recreate", "--non-interactive", "--gitlab-token-file", "pat", "--recovery-dir", "/state"}
	if code := execute(newRootCmdWith(noNetwork(t, env, &stderr), c.hooks()), args, &stderr); code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	o := c.init
	if o == nil {
		t.Fatal("init's hook did not run")
	}
	for flag, want := range map[string]string{"name": "ci", "backend": "vault", "gitlab-url": "https://gitlab.example.com/", "maintenance-note": "", "store-name": ""} {
		if got := o.answers.value(flag); got != want {
			t.Errorf("answer --%s = %q, want %q", flag, got, want)
		}
	}
	for flag, want := range map[string]bool{"name": true, "backend": true, "maintenance-note": true, "gitlab-url": false, "store-name": false} {
		if got := o.answers.changed(flag); got != want {
			t.Errorf("--%s given on the command line: %v, want %v", flag, got, want)
		}
	}
	if len(o.answers.values) != len(o.qs) || len(o.qs) == 0 {
		t.Errorf("%d answers for %d questions", len(o.answers.values), len(o.qs))
	}
	o.answers, o.qs = answers{}, nil // compared above
	want := &initOptions{globals: defaults(), nonInteractive: true, accessible: true, recreate: true, yes: true,
		gitlab: gitlabFlags{tokenFile: "pat"}, recoveryDir: "/state", mergeRequest: true, remote: "up", mrProject: "ops/gitops"}
	if !reflect.DeepEqual(o, want) {
		t.Errorf("options:\n got %+v\nwant %+v", *o, *want)
	}
	if !o.commits() || !o.pushes() {
		t.Errorf("--merge-request: commits %v, pushes %v; want both", o.commits(), o.pushes())
	}
}

// TestOptionsUsageErrors: what the parsing refuses is a usage error (exit
// 2) naming the flag or variable, and no command runs.
func TestOptionsUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string // in stderr
	}{
		{"variable that does not parse", []string{"rotate-token", "--all"}, map[string]string{"RUNNERCTL_PARALLEL": "many"},
			`environment variable RUNNERCTL_PARALLEL="many"`},
		{"global variable that does not parse", []string{"render"}, map[string]string{"RUNNERCTL_QUIET": "maybe"},
			`environment variable RUNNERCTL_QUIET="maybe"`},
		{"duration that does not parse", []string{"status", "--rotate-every", "weekly"}, nil, `invalid argument "weekly" for "--rotate-every"`},
		{"unknown output", []string{"doctor"}, map[string]string{"RUNNERCTL_OUTPUT": "yaml"}, `--output "yaml": use text or json`},
		{"flags that exclude each other", []string{"render", "--check", "--stdout"}, nil, "--check cannot be combined with --stdout or --dry-run"},
		{"unknown flag", []string{"init", "--token", "glpat-x"}, nil, "unknown flag: --token"},
		{"arguments where none are taken", []string{"doctor", "extra"}, nil, `unknown command "extra"`},
		{"import: --find-runner with --runner-id", []string{"import", "--find-runner", "--runner-id", "3"}, nil, "--find-runner and --runner-id contradict each other"},
		{"import: --scope-path alone", []string{"import", "--scope-path", "ops/ci"}, nil, "which --scope-path needs (or --find-runner)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			var c captured
			code := execute(newRootCmdWith(noNetwork(t, tc.env, &stderr), c.hooks()), tc.args, &stderr)
			if code != ExitUsage || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), ExitUsage, tc.want)
			}
			if c != (captured{}) {
				t.Errorf("a command ran: %+v", c)
			}
		})
	}
}

// deref shows an options struct's fields rather than its address.
func deref(o any) any {
	if v := reflect.ValueOf(o); v.Kind() == reflect.Pointer && !v.IsNil() {
		return v.Elem().Interface()
	}
	return o
}

// globalsOf shows the *globals embedded in an options struct.
func globalsOf(o any) string {
	v := reflect.ValueOf(o)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return "<nil>"
	}
	if f := v.Elem().FieldByName("globals"); f.IsValid() && !f.IsNil() {
		return fmt.Sprintf("%+v", f.Elem())
	}
	return "<nil>"
}
