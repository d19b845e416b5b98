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

// publishedChart is the gitlab-runner chart as published, in the
// workplace's shared reference data (outside the repository).
const publishedChart = "../../../shared/reference/gitlab-runner-chart-0.86.0/gitlab-runner-0.86.0.tgz"

// hasPublishedChart is the [published-chart] script condition: scripts
// that need the chart skip without it ([!published-chart] skip).
func hasPublishedChart() bool {
	_, err := os.Stat(publishedChart)
	return err == nil
}

// cmdPublishedChart sets VAR to the absolute path of the published chart:
//
//	published-chart CHART
func cmdPublishedChart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: published-chart VAR")
	}
	p, err := filepath.Abs(publishedChart)
	ts.Check(err)
	if !hasPublishedChart() {
		ts.Fatalf("published-chart: %s is not there; guard the script with [!published-chart] skip", p)
	}
	ts.Setenv(args[0], p)
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
