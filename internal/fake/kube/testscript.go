package kube

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/fake"
	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakestore "github.com/runnerctl/runnerctl/internal/fake/store"
	fakevault "github.com/runnerctl/runnerctl/internal/fake/vault"
)

const cmdName = "fake-kube"

// CmdUsage documents the fake-kube testscript command.
const CmdUsage = `usage: fake-kube SUBCOMMAND [ARGS]

  start                  start a fake Kubernetes API server for this script,
                         write its kubeconfig outside $WORK and set $KUBECONFIG
                         (contexts: fake, the current one, and stale, whose
                         token the server rejects); needs fake-gitlab and a
                         vault fake-store started first: the simulated ESO
                         reads the store, and a finished rollout makes the
                         runner contact the fake GitLab
  cluster CLUSTER [CONTEXT]  start another fake API server, with objects of its
                         own, for runnerctl.yaml's cluster CLUSTER, reached as
                         kubeconfig context CONTEXT (default: CLUSTER); $KUBECONFIG
                         is rewritten with it (same token as fake)
  runner NAME RUNNER_ID  add runner NAME's ExternalSecret (read from the
                         rendered manifests/gitlab-runner-NAME-external-secret.yaml,
                         or DIR/gitlab-runner-NAME/gitlab-runner-NAME-external-secret.yaml
                         under gitops.engine flux), its Secret synced from the
                         store, and its Deployment gitlab-runner-NAME (with
                         Reloader's annotation when the rendered values, or
                         HelmRelease, carry it); its pods are GitLab runner RUNNER_ID.
                         NAME@CLUSTER: runner NAME's cluster CLUSTER, in that
                         cluster's server, from its files (gitlab-runner-NAME-CLUSTER-...);
                         restarts and secret-holds take NAME@CLUSTER too
  fail OP STATUS         every request of OP answers STATUS until clear
  stall CONTROLLER [CLUSTER]  stop eso (the Secret never changes), rollout (a new
                         pod never becomes available), reloader, or contact
                         (the restarted runner never contacts GitLab); in
                         CLUSTER's server (see cluster) when given
  delay OP DURATION      hold every answer of OP for DURATION (0 removes)
  clear                  remove faults, delays and stalls, in every cluster's server
  restarts NAME N        assert that Deployment gitlab-runner-NAME got N restart patches
  patched-by NAME MANAGER  assert that every patch of runner NAME's ExternalSecret
                         and Deployment, and at least one, had field manager MANAGER
  secret-holds NAME RUNNER_ID  assert that Secret gitlab-runner-NAME-token's
                         runner-token is fake GitLab runner RUNNER_ID's current
                         token (never printed; ! negates)
  requests               print the request log

OPs: ` + "get-externalsecret, patch-externalsecret, get-secret, get-deployment, patch-deployment."

// scriptKube is the fake a script started, with the runners it was told
// about.
type scriptKube struct {
	*Server
	mu  sync.Mutex
	ns  map[string]string // runner name -> namespace
	ids map[string]int64  // deployment ns/name -> runner ID
	// sites are the servers of "fake-kube cluster", by cluster name, and
	// contexts their kubeconfig contexts (the first server only).
	sites      map[string]*scriptKube
	contexts   []Context
	kubeconfig string // the directory of $KUBECONFIG
}

// site is the server that holds runner id NAME or NAME@CLUSTER, and the
// runner's name there.
func (k *scriptKube) site(ts *testscript.TestScript, id string) (*scriptKube, string) {
	name, cluster, ok := strings.Cut(id, "@")
	if !ok {
		return k, name
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	s, ok := k.sites[cluster]
	if !ok {
		ts.Fatalf("fake-kube: no cluster %q: run \"fake-kube cluster %s\" first", cluster, cluster)
	}
	return s, name
}

func scriptServer(ts *testscript.TestScript) *scriptKube {
	return fake.MustAttached[*scriptKube](ts, cmdName)
}

// Cmd is the fake-kube testscript command (CmdUsage).
func Cmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("%s", CmdUsage)
	}
	sub, args := args[0], args[1:]
	if neg && sub != "secret-holds" {
		ts.Fatalf("fake-kube %s does not support !", sub)
	}
	nargs := func(n int) {
		if len(args) != n {
			ts.Fatalf("fake-kube %s: wrong number of arguments\n%s", sub, CmdUsage)
		}
	}
	switch sub {
	case "start":
		nargs(0)
		startScript(ts)
	case "cluster":
		if len(args) != 1 && len(args) != 2 {
			ts.Fatalf("fake-kube cluster: wrong number of arguments\n%s", CmdUsage)
		}
		context := args[0]
		if len(args) == 2 {
			context = args[1]
		}
		addScriptCluster(ts, args[0], context)
	case "runner":
		nargs(2)
		addScriptRunner(ts, args[0], args[1])
	case "fail":
		// Unlike the other fakes' "fail OP STATUS [N]": a refused
		// permission stays refused, however often the client retries.
		nargs(2)
		k := scriptServer(ts)
		k.Fail(fake.CheckOp(ts, cmdName, k, args[0]), fake.Atoi(ts, args[1]))
	case "stall":
		if len(args) != 2 {
			nargs(1)
		}
		if !slices.Contains(AllStalls, args[0]) {
			ts.Fatalf("fake-kube stall: unknown controller %q (%s)", args[0], strings.Join(AllStalls, ", "))
		}
		k := scriptServer(ts)
		if len(args) == 2 {
			k, _ = k.site(ts, "@"+args[1])
		}
		k.Stall(args[0])
	case "restarts":
		nargs(2)
		k, name := scriptServer(ts).site(ts, args[0])
		got := k.Restarts(k.namespace(ts, name), "gitlab-runner-"+name)
		if want := fake.Atoi(ts, args[1]); got != want {
			ts.Fatalf("fake-kube: deployment gitlab-runner-%s (%s) got %d restart patches, want %d", name, args[0], got, want)
		}
	case "patched-by":
		nargs(2)
		k := scriptServer(ts)
		ns, release := k.namespace(ts, args[0]), "gitlab-runner-"+args[0]
		for _, obj := range [][2]string{{"externalsecrets", release + "-token"}, {"deployments", release}} {
			got := k.FieldManagers(obj[0], ns, obj[1])
			if len(got) == 0 || slices.ContainsFunc(got, func(m string) bool { return m != args[1] }) {
				ts.Fatalf("fake-kube: %s %s/%s was patched by %q, want only %q", obj[0], ns, obj[1], got, args[1])
			}
		}
	case "secret-holds":
		nargs(2)
		k, name := scriptServer(ts).site(ts, args[0])
		id, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		v, ok := k.SecretValue(k.namespace(ts, name), "gitlab-runner-"+name+"-token", "runner-token")
		if holds, why := fakestore.Holds(ts, id, v, ok && v != ""); holds == neg {
			if neg {
				ts.Fatalf("fake-kube: secret gitlab-runner-%s-token (%s) holds runner %d's current token", name, args[0], id)
			}
			ts.Fatalf("fake-kube: secret gitlab-runner-%s-token (%s) does not hold runner %d's current token: %s", name, args[0], id, why)
		}
	default:
		if !fake.FaultCmd(ts, cmdName, sub, args, func() fake.Server { return scriptServer(ts) }) {
			ts.Fatalf("fake-kube: unknown subcommand %q\n%s", sub, CmdUsage)
		}
	}
}

// ClearFaults clears the sites' servers too: a stall given a cluster
// lives in that cluster's server, and "clear" promises a clean slate.
func (k *scriptKube) ClearFaults() {
	k.Server.ClearFaults()
	k.mu.Lock()
	sites := make([]*scriptKube, 0, len(k.sites))
	for _, s := range k.sites {
		sites = append(sites, s)
	}
	k.mu.Unlock()
	for _, s := range sites {
		s.Server.ClearFaults()
	}
}

func (k *scriptKube) namespace(ts *testscript.TestScript, runner string) string {
	k.mu.Lock()
	defer k.mu.Unlock()
	ns, ok := k.ns[runner]
	if !ok {
		ts.Fatalf("fake-kube: no runner %q: run \"fake-kube runner %s ID\" first", runner, runner)
	}
	return ns
}

func startScript(ts *testscript.TestScript) {
	if _, ok := fake.Attached[*scriptKube](ts, cmdName); ok {
		ts.Fatalf("fake-kube start: a server is already running in this script")
	}
	k := newScriptKube(ts, "start")
	fake.Attach(ts, cmdName, k)
	// The kubeconfig holds the fake's bearer token (not a runner token):
	// outside $WORK all the same, as a user's would be.
	dir, err := os.MkdirTemp("", "fake-kube-")
	ts.Check(err)
	ts.Defer(func() { _ = os.RemoveAll(dir) })
	k.kubeconfig = dir
	path, err := k.WriteKubeconfig(dir)
	ts.Check(err)
	ts.Setenv("KUBECONFIG", path)
}

// newScriptKube starts a server whose ESO reads the script's vault
// fake-store and whose finished rollouts make the runner contact the
// script's fake GitLab.
func newScriptKube(ts *testscript.TestScript, sub string) *scriptKube {
	// Taken now: the callbacks run on the fake's goroutines, where
	// ts.Fatalf must not be called.
	store := fakestore.Of(ts)
	if _, ok := store.(fakevault.ScriptStore); !ok {
		ts.Fatalf("fake-kube %s: the simulated ESO reads only a vault fake-store", sub)
	}
	gl := fakegitlab.ScriptServer(ts)
	k := &scriptKube{Server: New(), ns: map[string]string{}, ids: map[string]int64{}, sites: map[string]*scriptKube{}}
	k.Source = func(key, property string) (string, bool) {
		v, ok, err := store.Lookup(key + "#" + property)
		return v, ok && err == nil
	}
	k.OnRollout = func(ns, name string) {
		k.mu.Lock()
		id, ok := k.ids[ns+"/"+name]
		k.mu.Unlock()
		if ok {
			gl.SetRunnerContact(id, time.Now(), "18.9.0")
		}
	}
	return k
}

// addScriptCluster starts the server of cluster name, reached as context,
// and rewrites $KUBECONFIG with it.
func addScriptCluster(ts *testscript.TestScript, name, context string) {
	k := scriptServer(ts)
	site := newScriptKube(ts, "cluster")
	ts.Defer(site.Close)
	k.mu.Lock()
	if _, dup := k.sites[name]; dup {
		k.mu.Unlock()
		ts.Fatalf("fake-kube cluster: cluster %q is already running", name)
	}
	k.sites[name] = site
	k.contexts = append(k.contexts, Context{Name: context, Server: site.Server})
	contexts := slices.Clone(k.contexts)
	k.mu.Unlock()
	path, err := k.WriteKubeconfig(k.kubeconfig, contexts...)
	ts.Check(err)
	ts.Setenv("KUBECONFIG", path)
}

func addScriptRunner(ts *testscript.TestScript, instance, idArg string) {
	k, name := scriptServer(ts).site(ts, instance)
	id, err := strconv.ParseInt(idArg, 10, 64)
	ts.Check(err)
	release := "gitlab-runner-" + name
	// A cluster's files are named after the runner and the cluster; its
	// objects in the cluster after the runner alone. Under flux, a
	// runner's files are in a directory of their own.
	stem := "gitlab-runner-" + strings.ReplaceAll(instance, "@", "-")
	data, err := os.ReadFile(rendered(ts, "manifests/"+stem+"-external-secret.yaml", "*/"+release+"/"+release+"-external-secret.yaml"))
	ts.Check(err)
	j, err := yaml.YAMLToJSON(data)
	ts.Check(err)
	var obj map[string]any
	ts.Check(json.Unmarshal(j, &obj))
	ts.Check(k.AddExternalSecret(obj))
	ns := obj["metadata"].(map[string]any)["namespace"].(string)
	values, err := os.ReadFile(rendered(ts, "values/"+stem+".yaml", "*/"+release+"/"+release+"-helm-release.yaml"))
	ts.Check(err)
	var reload []string
	for _, line := range strings.Split(string(values), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), ReloaderAnnotation+":"); ok {
			reload = strings.Split(strings.TrimSpace(v), ",")
		}
	}
	k.AddDeployment(ns, release, reload)
	k.mu.Lock()
	k.ns[name], k.ids[ns+"/"+release] = ns, id
	k.mu.Unlock()
}

// rendered is the path of a rendered file: argocd under the default
// gitops.paths, else the one file matching the flux pattern (a runner's
// directory in gitops.paths.manifests).
func rendered(ts *testscript.TestScript, argocd, flux string) string {
	if p := ts.MkAbs(argocd); fileExists(p) {
		return p
	}
	m, err := filepath.Glob(ts.MkAbs(flux))
	ts.Check(err)
	if len(m) != 1 {
		ts.Fatalf("fake-kube: neither %s nor exactly one %s (found %q)", argocd, flux, m)
	}
	return m[0]
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
