package cli

import "os"

// envKillAt names the custody checkpoint (custody.Checkpoint*) at which the
// runnerctl of the tests kills itself with SIGKILL: the tests of what a
// kill at each step of a token's life leaves behind. runnerctl itself has
// no such hook (its factory.checkpoint is nil).
const envKillAt = "RUNNERCTL_TEST_KILL_AT"

// mainKilledAt is Main with that hook.
func mainKilledAt(at string) int {
	tuneGC(os.Getenv)
	f := &factory{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	if at != "" {
		f.checkpoint = func(name string) {
			if name == at {
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
