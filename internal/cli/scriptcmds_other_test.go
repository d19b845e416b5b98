//go:build !linux

package cli

import "github.com/rogpeppe/go-internal/testscript"

// cmdInterrupt needs /proc to find a script's processes; scripts that use
// it run on Linux only ([linux] condition).
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("interrupt: only on Linux")
}

// cmdProcEnv reads /proc/PID/environ; scripts that use it run on Linux only.
func cmdProcEnv(ts *testscript.TestScript, neg bool, args []string) {
	ts.Fatalf("proc-env: only on Linux")
}
