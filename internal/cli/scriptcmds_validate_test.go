package cli

import (
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnerctl/runnerctl/internal/validate/upstream"
)

// cmdUpstreamCRDs copies the pinned upstream CRDs (ArgoCD's, ESO's; see
// package upstream) from the Go module cache into DIR, as a user would
// keep their cluster's CRDs in the GitOps repository:
//
//	upstream-crds DIR
func cmdUpstreamCRDs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: upstream-crds DIR")
	}
	dirs, err := upstream.Dirs()
	ts.Check(err)
	for i, d := range dirs {
		copyTree(ts, d, filepath.Join(ts.MkAbs(args[0]), upstream.Modules[i].Name), false)
	}
}

// cmdMiniChart copies the small test chart (internal/validate/chartcheck/
// testdata/mini-runner) into DIR, keeping files the script already put
// there, so that a script can ship a variant of one template:
//
//	mini-chart DIR
func cmdMiniChart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mini-chart DIR")
	}
	src, err := filepath.Abs("../validate/chartcheck/testdata/mini-runner")
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
