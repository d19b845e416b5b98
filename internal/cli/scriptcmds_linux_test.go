package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

// cmdInterrupt sends SIGINT to every runnerctl process of this script
// (those whose working directory is under $WORK) and their helpers, as a
// Ctrl-C reaches the whole foreground process group of a terminal; with
// -TERM, SIGTERM to the runnerctl processes alone, as a process manager
// or `kill PID` sends it:
//
//	interrupt [-TERM]
//
// testscript's own kill signals one background command only, which would
// leave runnerctl-secrets untouched and prove nothing about it.
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 || len(args) == 1 && args[0] != "-TERM" {
		ts.Fatalf("usage: interrupt [-TERM]")
	}
	sig, targets := syscall.SIGINT, []string{"runnerctl", "runnerctl-secrets"}
	if len(args) == 1 {
		sig, targets = syscall.SIGTERM, []string{"runnerctl"}
	}
	work := ts.Getenv("WORK")
	entries, err := os.ReadDir("/proc")
	ts.Check(err)
	var hit []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || (cwd != work && !strings.HasPrefix(cwd, work+string(filepath.Separator))) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		name := filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])
		if !slices.Contains(targets, name) {
			continue
		}
		if err := syscall.Kill(pid, sig); err == nil {
			hit = append(hit, name)
		}
	}
	slices.Sort(hit)
	fmt.Fprintln(ts.Stdout(), strings.Join(hit, " "))
}
