package cli

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
)

const instancesSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.example.com/
gitops:
  repoURL: https://gitlab.example.com/ops/gitops.git
secrets:
  backend: vault
  store:
    name: vault
clusters:
  - name: eu-1
    destination: {server: https://eu-1.example.com}
  - name: us-1
    destination: {server: https://us-1.example.com}
    kubeContext: prod-us
runners:
  - name: ci
  - name: build
    clusters:
      - name: eu-1
        runnerID: 41
      - name: us-1
`

func instancesConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("runnerctl.yaml", []byte(instancesSpec))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A runner's name stands for all its clusters, NAME@CLUSTER for one; each
// instance once, in the order named.
func TestSelectInstances(t *testing.T) {
	cfg := instancesConfig(t)
	for _, tc := range []struct {
		names []string
		all   bool
		want  []string
	}{
		{all: true, want: []string{"ci", "build@eu-1", "build@us-1"}},
		{names: []string{"build"}, want: []string{"build@eu-1", "build@us-1"}},
		{names: []string{"build@us-1", "ci", "build"}, want: []string{"build@us-1", "ci", "build@eu-1"}},
		{names: []string{"build@eu-1", "build@eu-1"}, want: []string{"build@eu-1"}},
	} {
		got, err := selectInstances(cfg, tc.names, tc.all)
		if err != nil {
			t.Fatalf("%q: %v", tc.names, err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, r.ID())
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("%q: %q, want %q", tc.names, ids, tc.want)
		}
	}
	for _, tc := range []struct {
		names []string
		want  string
	}{
		{[]string{"nope", "zeta"}, `no runner named "nope", "zeta" in runnerctl.yaml (runners: ci, build)`},
		{[]string{"build@ap-1"}, `runner "build" is not deployed to cluster "ap-1" (its clusters: eu-1, us-1)`},
		{[]string{"ci@eu-1"}, `runner "ci" has no clusters: name it "ci", without @eu-1`},
		{[]string{"nope", "ci@eu-1"}, `no runner named "nope" in runnerctl.yaml (runners: ci, build); runner "ci" has no clusters`},
	} {
		_, err := selectInstances(cfg, tc.names, false)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitUsage || !strings.Contains(ee.msg, tc.want) {
			t.Errorf("%q: %v, want exit 2 with %q", tc.names, err, tc.want)
		}
	}
}

// init --name NAME@CLUSTER: the runner's name for the questions, and the
// cluster; refused (exit 2) for a runner without that cluster, or one
// runnerctl.yaml does not have.
func TestSplitInstance(t *testing.T) {
	raw, err := config.Decode([]byte(instancesSpec))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, runner, cluster, err string }{
		{name: "build", runner: "build"},
		{name: "new", runner: "new"},
		{name: "build@us-1", runner: "build", cluster: "us-1"},
		{name: "build@", err: "with a cluster after the @"},
		{name: "build@ap-1", err: `runner "build" is not deployed to cluster "ap-1"`},
		{name: "ci@eu-1", err: `runner "ci" has no clusters`},
		{name: "new@eu-1", err: `runnerctl.yaml has no runner "new"`},
	} {
		runner, cluster, err := splitInstance(raw, tc.name)
		var ee *exitError
		switch {
		case tc.err != "" && (!errors.As(err, &ee) || ee.code != ExitUsage || !strings.Contains(ee.msg, tc.err)):
			t.Errorf("%q: %v, want exit 2 with %q", tc.name, err, tc.err)
		case tc.err == "" && (err != nil || runner != tc.runner || cluster != tc.cluster):
			t.Errorf("%q: %q %q %v", tc.name, runner, cluster, err)
		}
	}
}

// The kubectl commands left to do name the context of a cluster's runner.
func TestClusterStepsNameTheContext(t *testing.T) {
	cfg := instancesConfig(t)
	us := cfg.Instance("build@us-1")
	got := clusterTarget(cfg, us, cfg.KubeContextOf(us), false).ByHand()
	if len(got) != 2 || !strings.HasPrefix(got[0], "kubectl --context prod-us -n gitlab-runner annotate externalsecret ") ||
		!strings.HasPrefix(got[1], "kubectl --context prod-us -n gitlab-runner rollout restart deployment/") {
		t.Errorf("steps %q", got)
	}
}

// A config with runners deployed to clusters gets a row per cluster, with
// the cluster and the token location; the plain runner says "-".
func TestStatusTableByCluster(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	contacted := now.Add(-time.Minute)
	id := int64(41)
	eu := statusRow{Name: "build", Cluster: "eu-1", RunnerID: &id, FilesUpToDate: true, TokenLocation: "gitlab/runners/build-eu-1#runner-token"}
	eu.setGitLab(&gitlab.Status{ID: 41, Status: "online", ContactedAt: &contacted}, nil)
	rows := []statusRow{
		{Name: "ci", Status: statusNotCreated, FilesUpToDate: true, TokenLocation: "gitlab/runners/ci#runner-token"},
		eu,
		{Name: "build", Cluster: "us-1", Status: statusNotCreated, FilesUpToDate: true, TokenLocation: "gitlab/runners/build-us-1#runner-token"},
	}
	var b strings.Builder
	if err := writeStatusTable(&b, rows, now, false); err != nil {
		t.Fatal(err)
	}
	want := `NAME   CLUSTER  ID  GITLAB       PAUSED  LAST CONTACT  VERSION  TOKEN EXPIRES  FILES       TOKEN LOCATION
ci     -        -   not created  -       -             -        -              up to date  gitlab/runners/ci#runner-token
build  eu-1     41  online       no      1m ago        -        never          up to date  gitlab/runners/build-eu-1#runner-token
build  us-1     -   not created  -       -             -        -              up to date  gitlab/runners/build-us-1#runner-token
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if rows[1].id() != "build@eu-1" || rows[0].id() != "ci" {
		t.Errorf("row ids %q %q", rows[1].id(), rows[0].id())
	}
}
