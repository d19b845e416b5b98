package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnerctl/runnerctl/internal/custody"
	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakestore "github.com/runnerctl/runnerctl/internal/fake/store"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// heldLocks are the unlock functions of the locks hold-lock took, by script.
var heldLocks sync.Map

// cmdHoldLock takes, from the test process, the lock of runner NAME of
// ./runnerctl.yaml in state directory DIR, as another runnerctl COMMAND
// (default rotate-token) would, until the script ends or "hold-lock
// release":
//
//	hold-lock DIR NAME [COMMAND]
//	hold-lock DIR NAME@CLUSTER [COMMAND]
//	hold-lock release
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || !(len(args) == 2 || len(args) == 3 || len(args) == 1 && args[0] == "release") {
		ts.Fatalf("usage: hold-lock DIR NAME [COMMAND] | hold-lock release")
	}
	if len(args) == 1 {
		if unlock, ok := heldLocks.LoadAndDelete(ts); ok {
			unlock.(func())()
		}
		return
	}
	command := "rotate-token"
	if len(args) == 3 {
		command = args[2]
	}
	l, err := load(&globals{configPath: ts.MkAbs("runnerctl.yaml")})
	ts.Check(err)
	// NAME may be a cluster's runner NAME@CLUSTER.
	r := l.cfg.Instance(args[1])
	if r == nil {
		ts.Fatalf("hold-lock: no runner %q in runnerctl.yaml", args[1])
	}
	loc, err := l.cfg.TokenRef(r)
	ts.Check(err)
	identity, err := runnerIdentity(l.cfg, secrets.Location(loc))
	ts.Check(err)
	dir, err := custody.Open(ts.MkAbs(args[0]), l.root)
	ts.Check(err)
	unlock, err := dir.Lock(args[1], identity, command)
	ts.Check(err)
	heldLocks.Store(ts, unlock)
	ts.Defer(unlock)
}

// cmdOutsideDir sets VAR to a new, empty directory outside $WORK, removed
// when the script ends:
//
//	outside-dir RECOVERY
//
// A file that legitimately holds a runner token (a recovery file) goes
// there, so that no-canary can still check every file under $WORK.
func cmdOutsideDir(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: outside-dir VAR")
	}
	dir, err := os.MkdirTemp("", "runnerctl-script-")
	ts.Check(err)
	ts.Defer(func() { _ = os.RemoveAll(dir) })
	ts.Setenv(args[0], dir)
}

// cmdStateClean checks that a state directory holds no token and no
// unfinished step: nothing but the locks directory (whose lock files stay
// by design, empty of secrets):
//
//	state-clean DIR
//	! state-clean DIR    (something is left)
func cmdStateClean(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: state-clean DIR")
	}
	entries, err := os.ReadDir(ts.MkAbs(args[0]))
	ts.Check(err)
	var left []string
	for _, e := range entries {
		if e.Name() != "locks" || !e.IsDir() {
			left = append(left, e.Name())
		}
	}
	switch {
	case len(left) > 0 && !neg:
		ts.Fatalf("the state directory %s holds %s", args[0], strings.Join(left, ", "))
	case len(left) == 0 && neg:
		ts.Fatalf("the state directory %s holds nothing", args[0])
	}
}

// cmdStateFiles prints a state directory's files but its locks, one a
// line with its permission bits ("0600 runnerctl-intent-ci-create-….json"),
// for scripts to match (testscript does not expand globs):
//
//	state-files DIR
func cmdStateFiles(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: state-files DIR")
	}
	entries, err := os.ReadDir(ts.MkAbs(args[0]))
	ts.Check(err)
	for _, e := range entries {
		if e.Name() == "locks" {
			continue
		}
		fi, err := e.Info()
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%04o %s\n", fi.Mode().Perm(), e.Name())
	}
}

// cmdSleep waits, to space out background commands:
//
//	sleep 300ms
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// cmdPerm checks a file's permission bits, in octal:
//
//	perm 0600 FILE
func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm MODE FILE")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[1]))
	ts.Check(err)
	got := fi.Mode().Perm()
	if (got == os.FileMode(want)) == neg {
		if neg {
			ts.Fatalf("%s has mode %#o", args[1], got)
		}
		ts.Fatalf("%s has mode %#o, want %#o", args[1], got, want)
	}
}

// cmdRecoveryFile checks a recovery file that runnerctl left behind: it is
// for runner RUNNER_ID, says to store the token at LOCATION, and holds that
// fake GitLab runner's current token. The file is never printed, not even
// on failure:
//
//	recovery-file FILE RUNNER_ID LOCATION
func cmdRecoveryFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: recovery-file FILE RUNNER_ID LOCATION")
	}
	file, loc := args[0], args[2]
	id, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	var rec struct {
		RunnerID    int64  `json:"runner_id"`
		Location    string `json:"location"`
		Instruction string `json:"instruction"`
		Token       string `json:"token"`
	}
	data, err := os.ReadFile(ts.MkAbs(file))
	ts.Check(err)
	if json.Unmarshal(data, &rec) != nil {
		ts.Fatalf("recovery file %s is not JSON", file)
	}
	switch {
	case rec.RunnerID != id:
		ts.Fatalf("recovery file %s is for runner %d, want %d", file, rec.RunnerID, id)
	case rec.Location != loc:
		ts.Fatalf("recovery file %s says to store the token at %q, want %q", file, rec.Location, loc)
	case !strings.Contains(rec.Instruction, strconv.Quote(loc)):
		ts.Fatalf("recovery file %s: the instruction %q does not name the location", file, rec.Instruction)
	}
	if holds, why := fakestore.Holds(ts, id, rec.Token, rec.Token != ""); !holds {
		ts.Fatalf("recovery file %s does not hold runner %d's current token: %s", file, id, why)
	}
}

// cmdWaitCreated blocks until the script's fake GitLab has created N
// runners (at most 30 s), so that a background init can be interrupted at
// a known point:
//
//	wait-created 1
func cmdWaitCreated(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: wait-created N")
	}
	n, err := strconv.Atoi(args[0])
	ts.Check(err)
	srv := fakegitlab.ScriptServer(ts)
	for deadline := time.Now().Add(30 * time.Second); srv.CreateCount() < n; {
		if time.Now().After(deadline) {
			ts.Fatalf("wait-created: %d runners created after 30s, want %d", srv.CreateCount(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
