package cli

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// envKillAt names the custody checkpoint (custody.Checkpoint*) at which the
// runnerctl of the tests kills itself with SIGKILL: the tests of what a
// kill at each step of a token's life leaves behind. runnerctl itself has
// no such hook (its factory.checkpoint is nil). NAME@N kills at the Nth
// time the checkpoint is reached (the second cluster's runner of a fleet
// init passes each step a second time).
const envKillAt = "RUNNERCTL_TEST_KILL_AT"

// mainKilledAt is Main with that hook.
func mainKilledAt(at string) int {
	tuneGC(os.Getenv)
	f := &factory{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if at != "" {
		at, nth, _ := strings.Cut(at, "@")
		want, err := strconv.Atoi(nth)
		if err != nil || want < 1 {
			want = 1
		}
		var hits atomic.Int32
		f.checkpoint = func(name string) {
			if name == at && int(hits.Add(1)) == want {
				// SIGKILL on Unix (TerminateProcess on Windows): nothing
				// runs after it, no deferred call, no cleanup.
				if p, err := os.FindProcess(os.Getpid()); err == nil {
					_ = p.Kill()
				}
				select {} // the signal is on its way
			}
		}
	}
	return Run(os.Args[1:], f)
}
