package config_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

const fleet = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.com/
gitops:
  repoURL: https://gitlab.com/org/gitops.git
secrets:
  backend: vault
  store:
    name: vault
clusters:
  - name: eu-1
    destination:
      server: https://eu-1.example.com
  - name: us-1
    destination:
      name: us-1
runners:
  - name: plain
  - name: build
    registration:
      tags: [docker]
    clusters:
      - name: eu-1
        runnerID: 41
      - name: us-1
        concurrent: 8
        tags: [docker, us]
        nodeSelector:
          pool: ci
        resources:
          requests: {cpu: 500m, memory: 1Gi}
`

func TestInstances(t *testing.T) {
	cfg, err := config.Parse("runnerctl.yaml", []byte(fleet))
	if err != nil {
		t.Fatal(err)
	}
	inst := cfg.Instances()
	var ids []string
	for _, r := range inst {
		ids = append(ids, r.ID()+" "+r.Path())
	}
	if want := []string{"plain runners[0]", "build@eu-1 runners[1].clusters[0]", "build@us-1 runners[1].clusters[1]"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("instances = %q, want %q", ids, want)
	}
	if inst[0] != &cfg.Runners[0] {
		t.Error("a runner without clusters is not its own instance")
	}
	eu, us := inst[1], inst[2]
	if eu.RunnerID != 41 || us.RunnerID != 0 || eu.Concurrent != 2 || us.Concurrent != 8 {
		t.Errorf("eu-1 id %d concurrent %d, us-1 id %d concurrent %d", eu.RunnerID, eu.Concurrent, us.RunnerID, us.Concurrent)
	}
	if eu.Destination.Server != "https://eu-1.example.com" || us.Destination.Name != "us-1" {
		t.Errorf("destinations %+v %+v", eu.Destination, us.Destination)
	}
	if got := us.Registration.Tags; !reflect.DeepEqual(got, []string{"docker", "us"}) {
		t.Errorf("us-1 tags = %q", got)
	}
	if got := cfg.Runners[1].Registration.Tags; !reflect.DeepEqual(got, []string{"docker"}) {
		t.Errorf("the definition's tags changed to %q", got)
	}
	if us.Resources.Requests.CPU != "500m" || eu.Resources.Requests.CPU != "100m" {
		t.Errorf("resources: us-1 %+v, eu-1 %+v", us.Resources, eu.Resources)
	}
	if us.NodeSelector["pool"] != "ci" || eu.NodeSelector != nil {
		t.Errorf("node selectors: us-1 %v, eu-1 %v", us.NodeSelector, eu.NodeSelector)
	}
	if eu.Registration.Description != "runnerctl build (eu-1)" {
		t.Errorf("description = %q", eu.Registration.Description)
	}
	for _, c := range []struct {
		r    *config.Runner
		want string
	}{{eu, "gitlab/runners/build-eu-1"}, {us, "gitlab/runners/build-us-1"}, {inst[0], "gitlab/runners/plain"}} {
		if ref, err := cfg.TokenRef(c.r); err != nil || ref.Key != c.want {
			t.Errorf("%s: token key %q (%v), want %q", c.r.ID(), ref.Key, err, c.want)
		}
	}
	if got := cfg.KubeContextOf(us); got != "us-1" {
		t.Errorf("kube context of us-1 = %q", got)
	}
	if got := cfg.KubeContextOf(inst[0]); got != "" {
		t.Errorf("kube context of a plain runner = %q", got)
	}
	if got := cfg.Instance("build@us-1"); got == nil || got.Concurrent != 8 {
		t.Errorf("Instance(build@us-1) = %+v", got)
	}
}

// A cluster's tags move runUntagged along when the runner left it to its
// default, and leave it alone when the runner set it.
func TestInstanceUntagged(t *testing.T) {
	for _, c := range []struct {
		reg  string
		want bool
	}{{"", false}, {"    registration:\n      runUntagged: true\n", true}} {
		src := strings.Replace(fleet, "  - name: build\n    registration:\n      tags: [docker]\n", "  - name: build\n"+c.reg, 1)
		cfg, err := config.Parse("runnerctl.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		inst := cfg.Instances()
		if got := *inst[2].Registration.RunUntagged; got != c.want {
			t.Errorf("%q: us-1 runUntagged = %v, want %v", c.reg, got, c.want)
		}
		if got := *inst[1].Registration.RunUntagged; !got {
			t.Errorf("%q: eu-1 (no tags) runUntagged = false", c.reg)
		}
	}
}

func TestClusterErrors(t *testing.T) {
	for _, c := range []struct {
		name, from, to, want string
	}{
		{"unknown cluster", "      - name: eu-1\n        runnerID: 41\n", "      - name: ap-1\n", `runners[1].clusters[0].name: "ap-1" is not in clusters[]`},
		{"listed twice", "      - name: us-1\n        concurrent: 8\n", "      - name: eu-1\n        concurrent: 8\n", `runners[1].clusters[1].name: "eu-1" is already listed as runners[1].clusters[0]`},
		{"no destination", "    destination:\n      name: us-1\n", "", "clusters[1].destination: is required with generator list"},
		{"same destination", "      name: us-1\n", "      server: https://eu-1.example.com\n", "clusters[1].destination: is already the destination of clusters[0]"},
		{"runnerID on the definition", "  - name: build\n", "  - name: build\n    runnerID: 7\n", "runners[1].runnerID: is recorded per cluster"},
		{"application patch per cluster", "        runnerID: 41\n", "        runnerID: 41\n        patches:\n          application:\n            metadata: {annotations: {a: b}}\n", "runners[1].clusters[0].patches.application"},
		{"name too long", "eu-1", "europe-west-north-12", "makes the Application name gitlab-runner-build-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-europe-west-north-12 74 characters long"},
		{"flux", "gitops:\n", "gitops:\n  engine: flux\n", "runners[1].clusters: needs gitops.engine argocd"},
		{"clusters unused under flux", "gitops:\n", "gitops:\n  engine: flux\n", "clusters: is used only with gitops.engine argocd"},
		{"selector without generator", "secrets:\n", "argocd:\n  applicationSet:\n    selector: {env: prod}\nsecrets:\n", "argocd.applicationSet.selector: is used only with generator clusters"},
		{"generator without selector", "secrets:\n", "argocd:\n  applicationSet:\n    generator: clusters\nsecrets:\n", "argocd.applicationSet.selector: is required"},
		{"shared tokenSecret", "    registration:\n", "    tokenSecret:\n      key: gitlab/build\n    registration:\n", "runners[1].tokenSecret.key: must contain {cluster}"},
		{"bad node label", "          pool: ci\n", "          pool: has space\n", "runners[1].clusters[1].nodeSelector.pool"},
		{"application name taken", "  - name: plain\n", "  - name: build-eu-1\n", "runners[1].clusters[0].name: gives the Application name gitlab-runner-build-eu-1, which runners[0] has too"},
		{"bad engine", "gitops:\n", "gitops:\n  engine: jenkins\n", "gitops.engine"},
		{"destination name with spaces", "      name: us-1\n", "      name: \"us-1 \"\n", `clusters[1].destination.name: "us-1 " has leading or trailing spaces`},
		{"destination name with a control character", "      name: us-1\n", "      name: \"us\\t1\"\n", "clusters[1].destination.name: contains a control character"},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := fleet
			if c.name == "name too long" {
				base = strings.Replace(fleet, "- name: build\n", "- name: build-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 1)
			}
			src := strings.ReplaceAll(base, c.from, c.to)
			if src == base {
				t.Fatalf("%q is not in the fixture", c.from)
			}
			_, err := config.Parse("runnerctl.yaml", []byte(src))
			var inv *config.InvalidError
			if !errors.As(err, &inv) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error does not contain %q:\n%v", c.want, err)
			}
		})
	}
}

// Two clusters' runners never share a token: with the cluster generator
// the destinations come from ArgoCD, and the token key still differs.
func TestClusterGenerator(t *testing.T) {
	src := strings.NewReplacer(
		"    destination:\n      server: https://eu-1.example.com\n", "",
		"    destination:\n      name: us-1\n", "",
		"secrets:\n", "argocd:\n  applicationSet:\n    generator: clusters\n    selector: {runners: gitlab}\nsecrets:\n",
	).Replace(fleet)
	cfg, err := config.Parse("runnerctl.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if d := cfg.Instances()[1].Destination; d != (config.Destination{}) {
		t.Errorf("destination under the cluster generator = %+v", d)
	}
	bad := strings.Replace(src, "  - name: us-1\n", "  - name: us-1\n    destination: {name: us}\n", 1)
	if _, err := config.Parse("runnerctl.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "clusters[1].destination: is set by ArgoCD's cluster generator") {
		t.Errorf("destination with the cluster generator: %v", err)
	}
}

// init records each cluster's runner at runners[i].clusters[j].runnerID
// through Update: the other runners keep their text, comments included,
// and the runner with clusters gets the IDs where its clusters are.
func TestUpdateRecordsClusterRunnerIDs(t *testing.T) {
	src := strings.Replace(fleet, "  - name: plain\n", "  # the old one\n  - name: plain # keep\n", 1)
	raw, err := config.Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	raw.Runners[1].Clusters[1].RunnerID = 42
	out, err := config.Update([]byte(src), raw)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{
		"  # the old one\n  - name: plain # keep\n",
		"      - name: eu-1\n        runnerID: 41\n",
		"      - name: us-1\n        runnerID: 42\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Update lost or misplaced %q:\n%s", want, got)
		}
	}
	cfg, err := config.Parse("runnerctl.yaml", out)
	if err != nil {
		t.Fatal(err)
	}
	if id := cfg.Instance("build@us-1").RunnerID; id != 42 {
		t.Errorf("build@us-1 runnerID after Update = %d, want 42", id)
	}
	if cfg.Runners[1].RunnerID != 0 {
		t.Errorf("the definition got runnerID %d", cfg.Runners[1].RunnerID)
	}
}

// TestDestinationNameIsArgoCDs: ArgoCD keeps a cluster's name as free
// text, and `argocd cluster add` names an EKS cluster after its
// kubeconfig context, the cluster's ARN; runnerctl takes it as written,
// for a fleet's cluster as for a single runner's destination.
func TestDestinationNameIsArgoCDs(t *testing.T) {
	const arn = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
	src := strings.Replace(fleet, "      name: us-1\n", "      name: \""+arn+"\"\n", 1)
	cfg, err := config.Parse("runnerctl.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Instance("build@us-1").Cluster; got != "us-1" {
		t.Errorf("cluster = %q", got)
	}
	if got := cfg.Clusters[1].Destination.Name; got != arn {
		t.Errorf("destination name = %q", got)
	}
	single := strings.Replace(fleet, "secrets:\n", "argocd:\n  destination: {name: \""+arn+"\"}\nsecrets:\n", 1)
	if _, err := config.Parse("runnerctl.yaml", []byte(single)); err != nil {
		t.Errorf("argocd.destination.name %q: %v", arn, err)
	}
}
