package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnerctl/runnerctl/internal/validate/upstream"
)

// cmdUpstreamCRDs copies the pinned upstream CRDs (ArgoCD's, ESO's and
// Flux's; see package upstream) into DIR, as a user would keep their
// cluster's CRDs in the GitOps repository. Without -eso, ArgoCD v3.5.7's
// and ESO v1.3.2's, from the Go module cache; with -eso=2.9, ESO v2.9.0's
// instead, from ../shared/reference (guard the script with
// [reference:eso-crds-v2.9.0]). Flux's come from the module cache either way:
//
//	upstream-crds [-eso=RELEASE] DIR
func cmdUpstreamCRDs(ts *testscript.TestScript, neg bool, args []string) {
	rel := ""
	if len(args) == 2 && strings.HasPrefix(args[0], "-eso=") {
		rel, args = strings.TrimPrefix(args[0], "-eso="), args[1:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: upstream-crds [-eso=RELEASE] DIR")
	}
	if rel == "" {
		dirs, err := upstream.Dirs()
		ts.Check(err)
		for i, d := range dirs {
			copyTree(ts, d, filepath.Join(ts.MkAbs(args[0]), upstream.Modules[i].Name), false)
		}
		return
	}
	argo, err := upstream.ArgoCD()
	ts.Check(err)
	eso, release, err := upstream.ESO(rel)
	ts.Check(err)
	copyTree(ts, argo, filepath.Join(ts.MkAbs(args[0]), "argo-cd"), false)
	copyTree(ts, eso, filepath.Join(ts.MkAbs(args[0]), "external-secrets-"+release), false)
	// Flux's, for the renders under gitops.engine flux.
	flux, err := upstream.Flux()
	ts.Check(err)
	for i, d := range flux {
		copyTree(ts, d, filepath.Join(ts.MkAbs(args[0]), upstream.FluxModules[i].Name), false)
	}
}

// scriptCondition answers [reference:NAME]: whether ../shared/reference/NAME
// (see package upstream) is on this machine. Scripts that need it skip
// without it, as a fresh clone has no ../shared.
func scriptCondition(cond string) (bool, error) {
	name, ok := strings.CutPrefix(cond, "reference:")
	if !ok {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	_, err := upstream.ReferenceDir(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// cmdPublishedChart sets VAR to the path of the gitlab-runner chart as
// published, in the workplace's shared reference data (outside the
// repository); guard the script with
// [!reference:gitlab-runner-chart-0.86.0] skip:
//
//	published-chart VAR
func cmdPublishedChart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: published-chart VAR")
	}
	dir, err := upstream.ReferenceDir("gitlab-runner-chart-0.86.0")
	ts.Check(err)
	ts.Setenv(args[0], filepath.Join(dir, "gitlab-runner-0.86.0.tgz"))
}

// cmdMiniChart copies the small test chart (internal/kube/chartcheck/
// testdata/mini-runner) into DIR, keeping files the script already put
// there, so that a script can ship a variant of one template:
//
//	mini-chart DIR
func cmdMiniChart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mini-chart DIR")
	}
	src, err := filepath.Abs("../kube/chartcheck/testdata/mini-runner")
	ts.Check(err)
	copyTree(ts, src, ts.MkAbs(args[0]), true)
}

func copyTree(ts *testscript.TestScript, src, dst string, keep bool) {
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if _, err := os.Stat(target); err == nil && keep {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	ts.Check(err)
}
