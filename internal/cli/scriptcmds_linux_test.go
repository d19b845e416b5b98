package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

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
	var hit []string
	for _, p := range scriptProcs(ts) {
		if !slices.Contains(targets, p.name) {
			continue
		}
		if err := syscall.Kill(p.pid, sig); err == nil {
			hit = append(hit, p.name)
		}
	}
	slices.Sort(hit)
	fmt.Fprintln(ts.Stdout(), strings.Join(hit, " "))
}

// cmdProcEnv waits (up to 30s) for a process of this script named NAME
// (runnerctl-secrets, runnerctl-kube) and writes the environment it was
// started with, as /proc/PID/environ holds it, into FILE, one entry a
// line:
//
//	proc-env NAME FILE
//
// That is what the process got from its parent, whatever it reads later.
func cmdProcEnv(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: proc-env NAME FILE")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		for _, p := range scriptProcs(ts) {
			if p.name != args[0] {
				continue
			}
			environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.pid), "environ"))
			if err != nil {
				continue // it exited meanwhile
			}
			lines := strings.ReplaceAll(strings.TrimSuffix(string(environ), "\x00"), "\x00", "\n") + "\n"
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(lines), 0o600))
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("proc-env: no process %s under $WORK after 30s", args[0])
		}
	}
}

// scriptProc is a process of this script: its working directory is under
// $WORK.
type scriptProc struct {
	pid  int
	name string // the base name of its argv[0]
}

func scriptProcs(ts *testscript.TestScript) []scriptProc {
	work := ts.Getenv("WORK")
	entries, err := os.ReadDir("/proc")
	ts.Check(err)
	var procs []scriptProc
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
		procs = append(procs, scriptProc{pid: pid, name: filepath.Base(strings.SplitN(string(cmdline), "\x00", 2)[0])})
	}
	return procs
}
