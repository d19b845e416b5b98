package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// instance is cluster eu-1's runner of runner ci, as config.Instances
// makes it: its state files, lock and messages use its ID ci@eu-1.
func instance() *config.Runner {
	return withReg(&config.Runner{Name: "ci", Cluster: "eu-1", Index: 2, ClusterIndex: 0})
}

// A cluster's runner whose token can be neither stored nor rolled back is
// kept under its instance ID, and a second run for that instance stores
// it; a plain runner of the same name does not see the file.
func TestInstanceKeepsItsOwnRecoveryFile(t *testing.T) {
	h := newHarness(t)
	h.store.putErrs = []error{fmt.Errorf("vault: %w", secrets.ErrAuth)}
	h.gl.deleteErr = errors.New("GitLab answered 500")
	r := instance()
	_, err := h.run(context.Background(), r, false)
	if err == nil || !strings.Contains(err.Error(), `runner "ci@eu-1"`) {
		t.Fatalf("first run: %v", err)
	}
	files := h.recoveryFiles(t)
	if len(files) != 1 || filepath.Base(files[0]) != "runnerctl-recovery-ci@eu-1-100.json" {
		t.Fatalf("recovery files %q", files)
	}
	if kept, err := h.state.Kept("ci"); err != nil || len(kept) != 0 {
		t.Fatalf("the plain runner ci sees %d kept tokens (%v)", len(kept), err)
	}
	h.gl.existing[100] = true
	h.gl.setToken(100, canary)
	out, err := h.run(context.Background(), r, false)
	if err != nil || out.Created || len(h.gl.created) != 1 {
		t.Fatalf("second run: %v %+v, created %v", err, out, h.gl.created)
	}
	if tok := h.store.data[testLoc.String()]; tok.Reveal() != canary {
		t.Fatal("the kept token was not stored")
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
	h.noCanary(t, err)
}

// A token kept under the runner's bare name (by a runnerctl from before
// clusters, or before the runner had them) is found for the cluster
// whose runner ID it names, confirmed with GitLab and stored.
func TestInstanceFindsKeptFileOfBareName(t *testing.T) {
	h := newHarness(t)
	h.keep(t, testGitLab, "ci", 7, canary)
	h.gl.existing[7] = true
	h.gl.setToken(7, canary)
	r := instance()
	r.RunnerID = 7
	if _, err := h.run(context.Background(), r, false); err != nil {
		t.Fatal(err)
	}
	if tok := h.store.data[testLoc.String()]; tok.Reveal() != canary {
		t.Fatal("the kept token was not stored")
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
	h.noCanary(t, nil)
}

// What a failed write of the files tells the user names the cluster's
// runner, not just the runner.
func TestInstanceFilesFailureNamesTheCluster(t *testing.T) {
	h := newHarness(t)
	h.writeErr = errors.New("disk full")
	r := instance()
	_, err := h.run(context.Background(), r, false)
	if err == nil || !strings.Contains(err.Error(), `runner "ci@eu-1" (id 100)`) {
		t.Fatalf("err %v", err)
	}
	h.noCanary(t, err)
}
