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
// Ctrl-C reaches the whole foreground process group of a terminal:
//
//	interrupt
//
// testscript's own kill signals one background command only, which would
// leave runnerctl-secrets untouched and prove nothing about it.
func cmdInterrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: interrupt")
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
		if name != "runnerctl" && name != "runnerctl-secrets" {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGINT); err == nil {
			hit = append(hit, name)
		}
	}
	slices.Sort(hit)
	fmt.Fprintln(ts.Stdout(), strings.Join(hit, " "))
}
