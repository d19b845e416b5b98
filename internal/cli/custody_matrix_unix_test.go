//go:build unix

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/custody"
	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakevault "github.com/runnerctl/runnerctl/internal/fake/vault"
)

// TestCustodyKillMatrix kills runnerctl with SIGKILL at every step of a
// token's life in init and in rotate-token, runs the same command again,
// and checks what the issue asks of every step: GitLab holds one live
// runner, the secrets manager holds that runner's current token,
// runnerctl.yaml records the runner, nothing but the locks is left in the
// state directory, and no token reached any output or file. Steps inside
// runnerctl are reached through its custody checkpoints; requests in
// flight by holding the fake's answer (or the request itself) and killing
// the process meanwhile. The re-run of rotate-token uses
// --if-expires-within 1h on tokens that never expire, as a scheduled run
// does: only what the killed run left may make it rotate.
//
// The table of outcomes is logged (go test -run CustodyKillMatrix -v),
// and written as Markdown to $RUNNERCTL_MATRIX_OUT when that is set.
func TestCustodyKillMatrix(t *testing.T) {
	bin, err := exec.LookPath("runnerctl")
	if err != nil {
		t.Skipf("runnerctl is not on PATH (TestMain puts it there): %v", err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is needed for the commit step")
	}
	t.Parallel() // mostly waiting for its processes: run beside the scripts
	var (
		mu   sync.Mutex
		rows []matrixRow
	)
	t.Cleanup(func() {
		slices.SortFunc(rows, func(a, b matrixRow) int { return a.order - b.order })
		var b strings.Builder
		b.WriteString("| command | killed | re-run exit | live runners | stored token current | recorded | state dir clean |\n|---|---|---|---|---|---|---|\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s |\n", r.command, r.step, r.exit, r.live, yes(r.current), yes(r.recorded), yes(r.clean))
		}
		t.Logf("SIGKILL at each step, then the same command again:\n%s", b.String())
		if out := os.Getenv("RUNNERCTL_MATRIX_OUT"); out != "" {
			if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
				t.Error(err)
			}
		}
	})
	for i, sc := range matrixScenarios() {
		t.Run(sc.command+"/"+strings.ReplaceAll(sc.step, " ", "_"), func(t *testing.T) {
			t.Parallel()
			row := runMatrixScenario(t, bin, sc)
			row.order = i
			mu.Lock()
			rows = append(rows, row)
			mu.Unlock()
		})
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

type matrixRow struct {
	order           int
	command, step   string
	exit, live      int
	current         bool
	recorded, clean bool
}

// matrixScenario is one kill point. checkpoint names a custody checkpoint
// at which runnerctl kills itself; otherwise arm sets the fakes up so that
// a request is in flight and returns a channel closed once it is, when
// the test kills the process. release (optional) lets the fake go on.
type matrixScenario struct {
	command, step string
	checkpoint    string
	arm           func(f *matrixFakes) (inFlight <-chan struct{}, release func())
	commit        bool // init --commit, with a slow pre-commit hook
	// fleet: init or rotate-token of runner build deployed to clusters
	// eu-1 and us-1, killed at the checkpoint's second hit: while the
	// second cluster's runner is made (its token reset), the first's done.
	fleet bool
}

// matrixFleet is the runnerctl.yaml of the fleet scenarios.
const matrixFleet = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.invalid/
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
runners:
  - name: build
    clusters:
      - name: eu-1
      - name: us-1
`

const matrixWait = 30 * time.Second

func matrixScenarios() []matrixScenario {
	heldWrite := func(f *matrixFakes) (<-chan struct{}, func()) {
		arrived, release := make(chan struct{}), make(chan struct{})
		f.vault.OnNext(fakevault.OpWrite, func() { close(arrived); <-release })
		return arrived, func() { close(release) }
	}
	writtenWrite := func(f *matrixFakes) (<-chan struct{}, func()) {
		f.vault.Delay(fakevault.OpWrite, matrixWait)
		return f.poll(func() bool { _, _, ok := f.vault.Secret(f.secretPath); return ok && f.storedChanged() }), nil
	}
	heldReadBack := func(f *matrixFakes) (<-chan struct{}, func()) {
		arrived, release := make(chan struct{}), make(chan struct{})
		// The read that follows the write is the read-back (Put reads
		// before it writes, for check-and-set).
		f.vault.OnNext(fakevault.OpWrite, func() {
			f.vault.OnNext(fakevault.OpRead, func() { close(arrived); <-release })
		})
		return arrived, func() { close(release) }
	}
	createAnswered := func(f *matrixFakes) (<-chan struct{}, func()) {
		f.gitlab.Delay(fakegitlab.OpCreateRunner, matrixWait)
		return f.poll(func() bool { return f.gitlab.CreateCount() == 1 }), nil
	}
	rollbackInFlight := func(f *matrixFakes) (<-chan struct{}, func()) {
		f.vault.FailNext(fakevault.OpWrite, 403, 100)
		f.gitlab.Delay(fakegitlab.OpDeleteRunner, matrixWait)
		return f.poll(func() bool { r, ok := f.gitlab.Runner(1); return ok && r.Deleted }), nil
	}
	storeFailsThenCheckpoint := func(f *matrixFakes) (<-chan struct{}, func()) {
		f.vault.FailNext(fakevault.OpWrite, 403, 100)
		return nil, nil
	}
	resetAnswered := func(f *matrixFakes) (<-chan struct{}, func()) {
		f.gitlab.Delay(fakegitlab.OpResetToken, matrixWait)
		return f.poll(func() bool { r, _ := f.gitlab.Runner(1); return len(r.OldTokens) == 1 }), nil
	}
	return []matrixScenario{
		{command: "init", step: "before create (intent written)", checkpoint: custody.CheckpointIntent},
		{command: "init", step: "create in flight (GitLab made it)", arm: createAnswered},
		{command: "init", step: "after create (answer in hand)", checkpoint: custody.CheckpointAnswered},
		{command: "init", step: "token kept (recovery file)", checkpoint: custody.CheckpointKept},
		{command: "init", step: "store in flight (not yet written)", arm: heldWrite},
		{command: "init", step: "store in flight (written, answer lost)", arm: writtenWrite},
		{command: "init", step: "after store, before read-back", checkpoint: custody.CheckpointPut},
		{command: "init", step: "read-back in flight", arm: heldReadBack},
		{command: "init", step: "after read-back", checkpoint: custody.CheckpointStored},
		{command: "init", step: "rollback (before the delete)", checkpoint: custody.CheckpointRollback, arm: storeFailsThenCheckpoint},
		{command: "init", step: "rollback in flight (runner deleted)", arm: rollbackInFlight},
		{command: "init", step: "file write (runnerctl.yaml only)", checkpoint: custody.CheckpointConfig},
		{command: "init", step: "after file write", checkpoint: custody.CheckpointFiles},
		{command: "init", step: "commit (hook running)", commit: true},
		{command: "init fleet", step: "2nd cluster: before create (intent written)", checkpoint: custody.CheckpointIntent, fleet: true},
		{command: "init fleet", step: "2nd cluster: after create (answer in hand)", checkpoint: custody.CheckpointAnswered, fleet: true},
		{command: "init fleet", step: "2nd cluster: token kept (recovery file)", checkpoint: custody.CheckpointKept, fleet: true},
		{command: "init fleet", step: "2nd cluster: after store, before read-back", checkpoint: custody.CheckpointPut, fleet: true},
		{command: "init fleet", step: "2nd cluster: after read-back", checkpoint: custody.CheckpointStored, fleet: true},
		{command: "init fleet", step: "2nd cluster: recorded in runnerctl.yaml", checkpoint: custody.CheckpointConfig, fleet: true},
		{command: "init fleet", step: "2nd cluster: recorded, recovery file not removed", checkpoint: custody.CheckpointFiles, fleet: true},
		{command: "rotate-token", step: "before reset (intent written)", checkpoint: custody.CheckpointIntent},
		{command: "rotate-token", step: "reset in flight (GitLab reset it)", arm: resetAnswered},
		{command: "rotate-token", step: "after reset (answer in hand)", checkpoint: custody.CheckpointAnswered},
		{command: "rotate-token", step: "token kept (recovery file)", checkpoint: custody.CheckpointKept},
		{command: "rotate-token", step: "store in flight (not yet written)", arm: heldWrite},
		{command: "rotate-token", step: "store in flight (written, answer lost)", arm: writtenWrite},
		{command: "rotate-token", step: "after store, before read-back", checkpoint: custody.CheckpointPut},
		{command: "rotate-token", step: "read-back in flight", arm: heldReadBack},
		{command: "rotate-token", step: "after read-back", checkpoint: custody.CheckpointStored},
		{command: "rotate-token", step: "recovery file removed", checkpoint: custody.CheckpointDone},
		{command: "rotate-token fleet", step: "2nd cluster: before reset (intent written)", checkpoint: custody.CheckpointIntent, fleet: true},
		{command: "rotate-token fleet", step: "2nd cluster: after reset (answer in hand)", checkpoint: custody.CheckpointAnswered, fleet: true},
		{command: "rotate-token fleet", step: "2nd cluster: token kept (recovery file)", checkpoint: custody.CheckpointKept, fleet: true},
		{command: "rotate-token fleet", step: "2nd cluster: after store, before read-back", checkpoint: custody.CheckpointPut, fleet: true},
		{command: "rotate-token fleet", step: "2nd cluster: after read-back", checkpoint: custody.CheckpointStored, fleet: true},
		{command: "rotate-token fleet", step: "2nd cluster: recovery file removed", checkpoint: custody.CheckpointDone, fleet: true},
	}
}

// matrixFakes are one scenario's GitLab and Vault.
type matrixFakes struct {
	gitlab     *fakegitlab.Server
	vault      *fakevault.Server
	secretPath string
	before     string // the stored token before the killed run
}

// storedChanged reports whether the stored token differs from the one
// before the killed run (a rotation's write has landed).
func (f *matrixFakes) storedChanged() bool {
	data, _, ok := f.vault.Secret(f.secretPath)
	return ok && data["runner-token"] != f.before
}

// poll closes the returned channel once cond holds.
func (f *matrixFakes) poll(cond func() bool) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		for deadline := time.Now().Add(matrixWait); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			if cond() {
				close(ch)
				return
			}
		}
	}()
	return ch
}

const matrixCanary = "CANARYm4trix"

func runMatrixScenario(t *testing.T, bin string, sc matrixScenario) matrixRow {
	gl, err := fakegitlab.Start(fakegitlab.Options{TokenPrefix: matrixCanary})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(gl.Close)
	gl.AddToken("glpat-matrix", "api")
	vault := fakevault.New()
	t.Cleanup(vault.Close)
	vault.SetToken("hvs.matrix", fakevault.RootPolicy)
	f := &matrixFakes{gitlab: gl, vault: vault, secretPath: "secret/gitlab/runners/ci"}

	repo, state, home := t.TempDir(), filepath.Join(t.TempDir(), "state"), t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "GIT_CONFIG_NOSYSTEM=1",
		"GITLAB_TOKEN=glpat-matrix", "VAULT_ADDR=" + vault.URL(), "VAULT_TOKEN=hvs.matrix",
		"RUNNERCTL_NON_INTERACTIVE=true", "RUNNERCTL_GITLAB_URL=" + gl.URL(), "RUNNERCTL_RECOVERY_DIR=" + state,
		"RUNNERCTL_REPO_URL=https://gitlab.example.com/ops/gitops.git", "RUNNERCTL_BACKEND=vault", "RUNNERCTL_STORE_NAME=vault",
	}
	var outputs bytes.Buffer
	run := func(killAt string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = repo, env
		if killAt != "" {
			cmd.Env = append(slices.Clone(env), envKillAt+"="+killAt)
		}
		out := &bytes.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		// A killed runnerctl's runnerctl-secrets lives on until its request
		// ends (it shares runnerctl's stderr): do not wait for it.
		cmd.WaitDelay = 500 * time.Millisecond
		return cmd, out
	}
	finish := func(cmd *exec.Cmd, out *bytes.Buffer) int {
		err := cmd.Wait()
		outputs.Write(out.Bytes())
		var ee *exec.ExitError
		switch {
		case err == nil || errors.Is(err, exec.ErrWaitDelay):
			return cmd.ProcessState.ExitCode()
		case errors.As(err, &ee):
			return ee.ExitCode()
		}
		t.Fatalf("%v: %v", cmd.Args, err)
		return -1
	}

	args := []string{"init", "--name", "ci"}
	// Where each runner's token is stored, by instance ID.
	paths := map[string]string{"ci": f.secretPath}
	if sc.fleet {
		if err := os.WriteFile(filepath.Join(repo, "runnerctl.yaml"), []byte(matrixFleet), 0o644); err != nil {
			t.Fatal(err)
		}
		args = []string{"init", "--name", "build"}
		paths = map[string]string{"build@eu-1": "secret/gitlab/runners/build-eu-1", "build@us-1": "secret/gitlab/runners/build-us-1"}
	}
	if sc.commit {
		args = append(args, "--commit")
		setupMatrixGit(t, repo, home)
	}
	rotation := strings.HasPrefix(sc.command, "rotate-token")
	if rotation {
		// args is the init that creates the runner(s) to rotate.
		cmd, out := run("", args...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if code := finish(cmd, out); code != 0 {
			t.Fatalf("init before the rotation: exit %d\n%s", code, out)
		}
		data, _, _ := vault.Secret(f.secretPath)
		f.before = data["runner-token"]
		args = []string{"rotate-token", args[len(args)-1]}
	}

	// The killed run.
	var inFlight <-chan struct{}
	var release func()
	if sc.arm != nil {
		inFlight, release = sc.arm(f)
	}
	if sc.commit {
		inFlight = f.poll(func() bool { _, err := os.Stat(filepath.Join(home, "hook-started")); return err == nil })
	}
	killAt := sc.checkpoint
	if sc.fleet {
		killAt += "@2"
	}
	cmd, out := run(killAt, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if inFlight != nil && sc.checkpoint == "" {
		select {
		case <-inFlight:
			_ = cmd.Process.Kill()
		case <-time.After(matrixWait):
			t.Fatalf("the step was never reached:\n%s", out)
		}
	}
	if release != nil {
		release()
	}
	code := finish(cmd, out)
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("runnerctl was not killed at %q (exit %d):\n%s", sc.step, code, out)
	}
	gl.ClearFaults()
	vault.ClearFaults()
	if sc.commit {
		// git goes on without runnerctl; let it finish its commit.
		<-f.poll(func() bool { _, err := os.Stat(filepath.Join(home, "hook-done")); return err == nil })
		<-f.poll(func() bool { _, err := os.Stat(filepath.Join(repo, ".git", "index.lock")); return err != nil })
	}

	// The same command again.
	rerun := args
	if rotation {
		rerun = append(slices.Clone(args), "--if-expires-within", "1h")
	}
	cmd, out = run("", rerun...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	row := matrixRow{command: sc.command, step: sc.step, exit: finish(cmd, out)}
	if row.exit != 0 {
		t.Errorf("re-run exited %d:\n%s", row.exit, out)
	}

	var live []fakegitlab.Runner
	for _, r := range gl.Runners() {
		if !r.Deleted {
			live = append(live, r)
		}
	}
	row.live = len(live)
	if len(live) == len(paths) {
		// Each instance's stored token is a live runner's current one,
		// no two the same runner's, and runnerctl.yaml records that
		// runner at the instance's place.
		cfg, _ := os.ReadFile(filepath.Join(repo, "runnerctl.yaml"))
		row.current, row.recorded = true, true
		seen := map[int64]bool{}
		for id, path := range paths {
			data, _, ok := vault.Secret(path)
			i := slices.IndexFunc(live, func(r fakegitlab.Runner) bool { return ok && data["runner-token"] == r.Token })
			if i < 0 || seen[live[i].ID] {
				row.current, row.recorded = false, false
				t.Errorf("%s: the stored token is no live runner's current one", id)
				continue
			}
			seen[live[i].ID] = true
			at := fmt.Sprintf(`(?m)^    runnerID: %d$`, live[i].ID)
			if _, cluster, ok := strings.Cut(id, "@"); ok {
				at = fmt.Sprintf(`(?m)^      - name: %s\n        runnerID: %d$`, regexp.QuoteMeta(cluster), live[i].ID)
			}
			if !regexp.MustCompile(at).Match(cfg) {
				row.recorded = false
				t.Errorf("%s: runner %d is not recorded in runnerctl.yaml:\n%s", id, live[i].ID, cfg)
			}
		}
	}
	entries, err := os.ReadDir(state)
	row.clean = err == nil
	for _, e := range entries {
		if e.Name() != "locks" {
			row.clean = false
			t.Errorf("left in the state directory: %s", e.Name())
		}
	}
	if row.live != len(paths) || !row.current || !row.recorded {
		t.Errorf("live runners %d, stored token current %v, recorded %v\n%s", row.live, row.current, row.recorded, outputs.String())
	}
	if sc.commit {
		log, err := exec.Command("git", "-C", repo, "log", "--format=%s", "--", "runnerctl.yaml").Output()
		if err != nil || !strings.Contains(string(log), "Add GitLab runner ci") {
			t.Errorf("no commit of runnerctl.yaml: %q %v", log, err)
		}
	}
	if strings.Contains(outputs.String(), matrixCanary) {
		t.Error("a runner token reached runnerctl's output")
	}
	_ = filepath.WalkDir(repo, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(matrixCanary)) {
				t.Errorf("a runner token is in %s", path)
			}
		}
		return nil
	})
	return row
}

// setupMatrixGit makes repo a Git repository whose pre-commit hook marks
// its start, sleeps, and marks its end, so that runnerctl can be killed
// while git commits.
func setupMatrixGit(t *testing.T, repo, home string) {
	t.Helper()
	for _, args := range [][]string{
		{"init", "-q", "-b", "main"}, {"config", "user.email", "matrix@example.com"}, {"config", "user.name", "Matrix"},
		{"commit", "-q", "--allow-empty", "-m", "start"},
	} {
		cmd := exec.CommandContext(context.Background(), "git", args...)
		cmd.Dir, cmd.Env = repo, []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "GIT_CONFIG_NOSYSTEM=1"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	hook := fmt.Sprintf("#!/bin/sh\ntouch %q\nsleep 1\ntouch %q\n", filepath.Join(home, "hook-started"), filepath.Join(home, "hook-done"))
	if err := os.WriteFile(filepath.Join(repo, ".git", "hooks", "pre-commit"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
}
