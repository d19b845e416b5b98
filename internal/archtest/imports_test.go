// Package archtest holds tests of the shape of the import graph: they read
// it with `go list` and fail on an arrow that the architecture forbids.
package archtest

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/runnerctl/runnerctl"

// pkg is what go list says of one package of the module.
type pkg struct {
	ImportPath string
	Imports    []string // direct, without tests
	Deps       []string // transitive, standard library included
}

// listModule returns the module's packages by import path.
func listModule(t *testing.T) map[string]pkg {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(goTool, "list", "-json=ImportPath,Imports,Deps", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list %s/...: %v", module, err)
	}
	pkgs := map[string]pkg{}
	for dec := json.NewDecoder(strings.NewReader(string(out))); ; {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		pkgs[p.ImportPath] = p
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages of %s", len(pkgs), module)
	}
	return pkgs
}

// upwardArrows returns the imports X -> Y where Y lies outside the subtree
// of an ancestor A of X yet depends on A: the arrow leaves A's subtree only
// to come back into the package that contains X (internal/validate/engine -> internal/kube/remote
// -> internal/validate). Such a loop through a side package means the child
// and its parent are really one unit split in the wrong place, and it is
// one step from an import cycle.
func upwardArrows(pkgs map[string]pkg) []string {
	var arrows []string
	for _, x := range pkgs {
		ancestors := map[string]bool{}
		for dir := path.Dir(x.ImportPath); strings.HasPrefix(dir, module+"/"); dir = path.Dir(dir) {
			if _, ok := pkgs[dir]; ok {
				ancestors[dir] = true
			}
		}
		for _, y := range x.Imports {
			if ancestors[y] {
				continue // a child may use its parent's types
			}
			for _, d := range pkgs[y].Deps {
				if ancestors[d] && !strings.HasPrefix(y, d+"/") {
					arrows = append(arrows, x.ImportPath+" -> "+y+" -> … -> "+d)
				}
			}
		}
	}
	slices.Sort(arrows)
	return arrows
}

func TestNoUpwardImports(t *testing.T) {
	pkgs := listModule(t)
	if arrows := upwardArrows(pkgs); len(arrows) > 0 {
		t.Errorf("imports that leave a package's subtree and come back to its parent:\n  %s", strings.Join(arrows, "\n  "))
	}
}

// TestUpwardArrowDetected proves the check can fail: a planted arrow of the
// shape the check exists for is found, and neither a child importing its
// parent directly nor one going through a sibling (secrets/backends ->
// secrets/vault -> secrets) is.
func TestUpwardArrowDetected(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	pkgs := map[string]pkg{
		m("internal/validate"):         {ImportPath: m("internal/validate")},
		m("internal/validate/engine"):  {ImportPath: m("internal/validate/engine"), Imports: []string{m("internal/validate"), m("internal/kube/remote")}},
		m("internal/kube/remote"):      {ImportPath: m("internal/kube/remote"), Imports: []string{m("internal/validate")}, Deps: []string{"fmt", m("internal/validate")}},
		m("internal/secrets"):          {ImportPath: m("internal/secrets")},
		m("internal/secrets/vault"):    {ImportPath: m("internal/secrets/vault"), Imports: []string{m("internal/secrets")}, Deps: []string{m("internal/secrets")}},
		m("internal/secrets/backends"): {ImportPath: m("internal/secrets/backends"), Imports: []string{m("internal/secrets/vault")}, Deps: []string{m("internal/secrets"), m("internal/secrets/vault")}},
	}
	got := upwardArrows(pkgs)
	want := []string{m("internal/validate/engine") + " -> " + m("internal/kube/remote") + " -> … -> " + m("internal/validate")}
	if !slices.Equal(got, want) {
		t.Errorf("upwardArrows = %q, want %q", got, want)
	}
}

// heavy are the module paths runnerctl must not link: they belong to its
// helpers (runnerctl-kube: Kubernetes, Helm; runnerctl-secrets: the cloud
// SDKs and Vault), so that render and --help start in milliseconds.
var heavy = []string{
	"k8s.io/",
	"sigs.k8s.io/controller-runtime",
	"helm.sh/",
	"github.com/aws/",
	"cloud.google.com/",
	"google.golang.org/grpc",
	"github.com/hashicorp/vault/",
	"github.com/infisical/",
}

func TestRunnerctlLinksNoHeavyPackage(t *testing.T) {
	pkgs := listModule(t)
	main, ok := pkgs[module+"/cmd/runnerctl"]
	if !ok || !slices.Contains(main.Deps, "github.com/spf13/cobra") {
		t.Fatalf("go list does not show cmd/runnerctl linking cobra: %v", main.Deps)
	}
	for _, d := range main.Deps {
		for _, h := range heavy {
			if strings.HasPrefix(d, h) {
				t.Errorf("runnerctl links %s: move its use into runnerctl-kube or runnerctl-secrets", d)
			}
		}
	}
	// The helpers do link them: a prefix that matches nothing anywhere
	// would make this test pass for the wrong reason.
	for _, h := range []string{"k8s.io/", "helm.sh/", "github.com/aws/", "cloud.google.com/", "github.com/hashicorp/vault/"} {
		found := false
		for _, helperMain := range []string{"cmd/runnerctl-kube", "cmd/runnerctl-secrets"} {
			found = found || slices.ContainsFunc(pkgs[module+"/"+helperMain].Deps, func(d string) bool { return strings.HasPrefix(d, h) })
		}
		if !found {
			t.Errorf("no helper links a package under %q: update the heavy list", h)
		}
	}
}
