package cli

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakekube "github.com/runnerctl/runnerctl/internal/fake/kube"
	fakestore "github.com/runnerctl/runnerctl/internal/fake/store"
)

// TestMain lets testscript run runnerctl as a real process (the test binary
// re-executing itself), so scripts see exactly what users see: exit codes,
// stdout, stderr and files. Its helpers are built from cmd/ (withHelpers).
func TestMain(m *testing.M) {
	testscript.Main(withHelpers{m}, map[string]func(){
		"runnerctl": func() { os.Exit(mainKilledAt(os.Getenv(envKillAt))) },
	})
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "../../testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exitcode":        cmdExitCode,
			"fake-charts":     cmdFakeCharts,
			"fake-gitlab":     fakegitlab.Cmd,
			"fake-kube":       fakekube.Cmd,
			"fake-store":      fakestore.Cmd,
			"hold-lock":       cmdHoldLock,
			"no-canary":       cmdNoCanary,
			"outside-dir":     cmdOutsideDir,
			"wait-created":    cmdWaitCreated,
			"interrupt":       cmdInterrupt,
			"proc-env":        cmdProcEnv,
			"mini-chart":      cmdMiniChart,
			"published-chart": cmdPublishedChart,
			"upstream-crds":   cmdUpstreamCRDs,
			"perm":            cmdPerm,
			"recovery-file":   cmdRecoveryFile,
			"state-clean":     cmdStateClean,
			"state-files":     cmdStateFiles,
			"sleep":           cmdSleep,
		},
		// $EXAMPLES is examples/ of this repository, for scripts that
		// check the committed examples as they are.
		Setup: func(e *testscript.Env) error {
			examples, err := filepath.Abs("../../examples")
			e.Setenv("EXAMPLES", examples)
			return err
		},
		Condition:           scriptCondition,
		RequireExplicitExec: true,
	})
}

// cmdExitCode runs a command and checks its exact exit status:
//
//	exitcode 2 exec runnerctl render
//
// testscript's own "! exec" only knows zero from non-zero, and runnerctl's
// contract distinguishes 1 (failure, drift) from 2 (invalid input).
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 3 || args[1] != "exec" {
		ts.Fatalf("usage: exitcode CODE exec PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exit code %q: %v", args[0], err)
	}
	got := 0
	if err := ts.Exec(args[2], args[3:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("run %s: %v", args[2], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[2], got, want)
	}
}

// cmdNoCanary fails when the planted canary (the fakes put it in every
// runner token they issue) appears in any file under $WORK, in the last
// command's stdout or stderr, or in any extra file named:
//
//	no-canary CANARY [FILE...]
func cmdNoCanary(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: no-canary CANARY [FILE...]")
	}
	canary := args[0]
	for _, stream := range []string{"stdout", "stderr"} {
		if strings.Contains(ts.ReadFile(stream), canary) {
			ts.Fatalf("the canary %q appears in %s", canary, stream)
		}
	}
	roots := append([]string{ts.Getenv("WORK")}, args[1:]...)
	for _, root := range roots {
		err := filepath.WalkDir(ts.MkAbs(root), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if strings.Contains(string(data), canary) {
				ts.Fatalf("the canary %q appears in %s", canary, path)
			}
			return nil
		})
		ts.Check(err)
	}
}
