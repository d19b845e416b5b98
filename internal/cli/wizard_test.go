package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/prompt"
)

// Every question names its field of runnerctl.yaml, or its answers would
// not be checked where they are given.
func TestEveryQuestionHasItsField(t *testing.T) {
	for _, q := range questions() {
		if questionFields[q.flag] == nil {
			t.Errorf("question --%s has no entry in questionFields", q.flag)
		}
	}
}

func newTestState(t *testing.T) *initState {
	t.Helper()
	profiles, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	raw := &config.Config{APIVersion: config.APIVersion, Kind: config.Kind,
		Runners: []config.Runner{{Name: "other"}, {}}}
	return &initState{raw: raw, runner: &raw.Runners[1], idx: 1, profiles: profiles,
		configPath: filepath.Join(t.TempDir(), "runnerctl.yaml"), getenv: func(string) string { return "" }}
}

// An answer is judged by runnerctl.yaml's own rules for the question's
// field, and only by those: the fields not asked yet are empty and
// invalid, which is none of this question's business.
func TestCheckAnswer(t *testing.T) {
	qs := map[string]question{}
	for _, q := range questions() {
		qs[q.flag] = q
	}
	st := newTestState(t)
	for _, c := range []struct {
		flag, answer, want string // want "" accepts
	}{
		{"gitlab-url", "https://gitlab.example.com/", ""},
		{"gitlab-url", "ftp://gitlab", `"ftp://gitlab" must start with https:// or http://`},
		{"gitlab-url", "", "gitlab.url is required"},
		{"repo-url", "git@gitlab.example.com:ops/gitops.git", ""},
		{"repo-url", "https://user:pw@gitlab.example.com/ops/gitops.git", "gitops.repoURL must not contain credentials"},
		{"name", "ci", ""},
		{"name", "Bad_Name", `"Bad_Name" is not a DNS label`},
		{"name", "other", `"other" is already used by runners[0]`},
		{"name", "", "name is required"},
		{"tags", "k8s, linux", ""},
		{"tags", strings.Repeat("t,", 51), "registration.tags has 51 tags"},
		{"run-untagged", "false", "registration.runUntagged is false but no tags are set"},
		{"run-untagged", "true", ""},
		{"maximum-timeout", "60", "registration.maximumTimeout must be 0 (none) or at least 600 seconds"},
		{"maximum-timeout", "soon", `"soon" is not a number of seconds`},
		{"maximum-timeout", "3600", ""},
		{"store-name", "", "secrets.store.name is required"},
		{"store-name", "Vault_Store", `"Vault_Store" is not a valid Kubernetes name`},
		{"namespace", "", ""}, // the default applies
		{"namespace", "CI", `"CI" is not a DNS label`},
		{"chart-version", "1.x", `"1.x" is not an exact chart version`},
		{"clusters", "", ""},
		{"clusters", "eu-1=https://eu-1.example.com, us-1=arn:aws:eks:us-east-1:111122223333:cluster/prod", ""},
		{"clusters", "eu-1", `cluster "eu-1" is not in runnerctl.yaml's clusters[]: give it as eu-1=DESTINATION`},
		// runnerctl.yaml's rules for a new entry of clusters[] too.
		{"clusters", "EU=https://eu-1.example.com", `"EU" is not a DNS label`},
		{"clusters", "a=https://x.example.com,b=https://x.example.com", "clusters[1].destination is already the destination of clusters[0]"},
	} {
		err := st.check(qs[c.flag], c.answer)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("--%s %q refused: %v", c.flag, c.answer, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("--%s %q: err = %v, want %q", c.flag, c.answer, err, c.want)
		}
	}
	if st.runner.Name != "" || st.runner.Registration != nil && len(st.runner.Registration.Tags) > 0 || len(st.raw.Clusters)+len(st.runner.Clusters) > 0 {
		t.Errorf("check changed the state: %+v", st.runner)
	}
}

func TestDetectBackend(t *testing.T) {
	home := t.TempDir()
	gcloud := filepath.Join(home, ".config", "gcloud")
	if err := os.MkdirAll(gcloud, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(gcloud, "application_default_credentials.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, ""},
		{map[string]string{"VAULT_ADDR": "https://v"}, ""}, // an address is no credential
		{map[string]string{"VAULT_ADDR": "https://v", "VAULT_TOKEN": "t", "AWS_PROFILE": "ops"}, "vault aws"},
		{map[string]string{"VAULT_ADDR": "https://v", "VAULT_ROLE_ID": "r", "VAULT_SECRET_ID": "s"}, "vault"},
		{map[string]string{"AWS_ACCESS_KEY_ID": "a", "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID": "i"}, "infisical aws"},
		{map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/k.json", "AWS_WEB_IDENTITY_TOKEN_FILE": "/t"}, "aws gcp"},
		{map[string]string{"HOME": home}, "gcp"},
	} {
		var got []string
		for _, f := range detectBackend(func(k string) string { return c.env[k] }) {
			got = append(got, f.backend)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%v: found %q, want %q", c.env, got, c.want)
		}
	}
}

// With a prompt, ask takes every answer only once it is accepted: refused
// ones are said with their reason, and nothing is left missing.
func TestAskChecksEachAnswer(t *testing.T) {
	st := newTestState(t)
	st.getenv = func(k string) string {
		return map[string]string{"VAULT_ADDR": "https://vault.example.com", "VAULT_TOKEN": "t"}[k]
	}
	var o *initOptions
	cmd := newInitCmd(&factory{getenv: st.getenv}, &globals{}, func(_ context.Context, opts *initOptions) error { o = opts; return nil })
	cmd.SetArgs([]string{"--chart-version", "1.x"})
	if err := cmd.Execute(); err != nil || o == nil {
		t.Fatalf("init --chart-version 1.x: %v", err)
	}
	a := &prompt.Static{Answers: []string{
		"https://gitlab.example.com/", "https://gitlab.example.com/ops/gitops.git",
		"Bad_Name", "ci", // refused, then accepted
		"", "", "", // scope (instance), description, tags
		"n", "", // run untagged: refused without tags, then the default (yes)
		"", "60", "", "", "", // protected, timeout refused then default, paused, note
		"", "", "", // backend (vault, from the environment), store name (vault), mount
		"", "", // profile, namespace
		"", "0.86.0", // the refused flag's value again, then a good one
	}}
	if err := ask(context.Background(), st, o.qs, o.answers, a); err != nil {
		t.Fatalf("ask: %v", err)
	}
	if len(a.Answers) != 0 {
		t.Errorf("answers left: %q", a.Answers)
	}
	// 0.86.0 is the default: it applies without being written down.
	if st.runner.Name != "ci" || st.raw.Secrets.Backend != "vault" || st.raw.Secrets.Store.Name != "vault" || st.raw.Chart.Version != "" {
		t.Errorf("name %q, backend %q, store %q, chart %q", st.runner.Name, st.raw.Secrets.Backend, st.raw.Secrets.Store.Name, st.raw.Chart.Version)
	}
	said := strings.Join(a.Said, "\n")
	for _, w := range []string{
		`Runner name: "Bad_Name" is not a DNS label`,
		"Run untagged jobs?: registration.runUntagged is false",
		"Maximum job timeout (seconds): registration.maximumTimeout must be 0 (none) or at least 600 seconds",
		`--chart-version "1.x": "1.x" is not an exact chart version`,
		`Chart version: "1.x" is not an exact chart version`,
	} {
		if !strings.Contains(said, w) {
			t.Errorf("not said: %q\nsaid:\n%s", w, said)
		}
	}
}

// init's help states the accessible mode's bound as it is.
func TestInitHelpStatesMaxTries(t *testing.T) {
	cmd := newInitCmd(&factory{getenv: func(string) string { return "" }}, &globals{}, nil)
	if want := fmt.Sprintf("gave %d refused lines", prompt.MaxTries); !strings.Contains(strings.Join(strings.Fields(cmd.Long), " "), want) {
		t.Errorf("init's help does not say %q", want)
	}
}

// setClusters adds clusters to a runner, and to clusters[] when new; it
// keeps what the file says of the ones it has, and drops nothing.
func TestSetClusters(t *testing.T) {
	fresh := func(generator string) *initState {
		st := newTestState(t)
		st.raw.ArgoCD.ApplicationSet.Generator = generator
		st.raw.Clusters = []config.Cluster{{Name: "eu-1", Destination: config.Destination{Server: "https://eu-1.example.com"}, KubeContext: "prod-eu"}}
		st.runner.Name = "build"
		st.runner.Clusters = []config.RunnerCluster{{Name: "eu-1", RunnerID: 7, Concurrent: 3}}
		return st
	}
	st := fresh("")
	if err := setClusters(st, "eu-1, us-1=arn:aws:eks:us-east-1:111122223333:cluster/prod,lab=http://10.0.0.1:6443"); err != nil {
		t.Fatal(err)
	}
	want := []config.Cluster{
		{Name: "eu-1", Destination: config.Destination{Server: "https://eu-1.example.com"}, KubeContext: "prod-eu"},
		{Name: "us-1", Destination: config.Destination{Name: "arn:aws:eks:us-east-1:111122223333:cluster/prod"}},
		{Name: "lab", Destination: config.Destination{Server: "http://10.0.0.1:6443"}},
	}
	if fmt.Sprint(st.raw.Clusters) != fmt.Sprint(want) {
		t.Errorf("clusters = %+v", st.raw.Clusters)
	}
	if got := fmt.Sprint(st.runner.Clusters); got != fmt.Sprint([]config.RunnerCluster{{Name: "eu-1", RunnerID: 7, Concurrent: 3}, {Name: "us-1"}, {Name: "lab"}}) {
		t.Errorf("runner's clusters = %s", got)
	}
	// The same cluster with the same destination is the same answer.
	if err := setClusters(fresh(""), "eu-1=https://eu-1.example.com"); err != nil {
		t.Errorf("eu-1 with its own destination: %v", err)
	}
	// Under ArgoCD's cluster generator a new cluster has no destination.
	st = fresh(config.GeneratorClusters)
	if err := setClusters(st, "eu-1,us-1"); err != nil || st.raw.Clusters[1] != (config.Cluster{Name: "us-1"}) {
		t.Errorf("cluster generator: %v, %+v", err, st.raw.Clusters)
	}
	for _, c := range []struct{ answer, want string }{
		{"", `runner "build" is deployed to cluster "eu-1" already, which the answer leaves out`},
		{"us-1=https://us-1.example.com", `cluster "eu-1" already, which the answer leaves out`},
		{"eu-1=https://elsewhere.example.com", `cluster "eu-1" is in clusters[0] with another destination`},
		{"eu-1,eu-1", `cluster "eu-1" is listed twice`},
	} {
		if err := setClusters(fresh(""), c.answer); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.answer, err, c.want)
		}
	}
	st = newTestState(t)
	st.runner.Name, st.runner.RunnerID = "ci", 5
	if err := setClusters(st, "eu-1=https://eu-1.example.com"); err == nil || !strings.Contains(err.Error(), `runner "ci" is one GitLab runner already (id 5)`) {
		t.Errorf("a runner without clusters, created: %v", err)
	}
}

// The clusters question is asked where runnerctl.yaml has clusters, and
// its answer checked there like any other: a refused one is asked again.
func TestAskClusters(t *testing.T) {
	st := newTestState(t)
	st.raw.Clusters = []config.Cluster{{Name: "eu-1", Destination: config.Destination{Server: "https://eu-1.example.com"}}}
	var o *initOptions
	cmd := newInitCmd(&factory{getenv: st.getenv}, &globals{}, func(_ context.Context, opts *initOptions) error { o = opts; return nil })
	cmd.SetArgs([]string{"--gitlab-url", "https://gitlab.example.com/", "--repo-url", "https://gitlab.example.com/ops/gitops.git",
		"--name", "build", "--scope", "instance", "--description", "d", "--tags", "", "--run-untagged", "true", "--protected", "false",
		"--maximum-timeout", "0", "--paused", "false", "--maintenance-note", "", "--backend", "vault", "--store-name", "vault",
		"--vault-mount", "secret", "--profile", "restricted", "--namespace", "gitlab-runner", "--chart-version", "0.86.0"})
	if err := cmd.Execute(); err != nil || o == nil {
		t.Fatalf("init: %v", err)
	}
	a := &prompt.Static{Answers: []string{"xx-9", "eu-1, us-1=https://us-1.example.com"}}
	if err := ask(context.Background(), st, o.qs, o.answers, a); err != nil {
		t.Fatalf("ask: %v", err)
	}
	if len(a.Answers) != 0 {
		t.Errorf("answers left: %q", a.Answers)
	}
	if len(st.runner.Clusters) != 2 || len(st.raw.Clusters) != 2 || st.raw.Clusters[1].Destination.Server != "https://us-1.example.com" {
		t.Errorf("runner's clusters %+v, clusters %+v", st.runner.Clusters, st.raw.Clusters)
	}
	if said := strings.Join(a.Said, "\n"); !strings.Contains(said, `Clusters: cluster "xx-9" is not in runnerctl.yaml's clusters[]`) {
		t.Errorf("the refused answer was not said:\n%s", said)
	}
}
