// Package fake holds what the fake servers under it share: Server, the
// few methods every one of them offers a test, and the testscript plumbing
// their commands (fake-gitlab, fake-kube, fake-store) are built from. Each
// fake lives in its own package with its own strict API; faults are kept by
// fake/inject.
package fake

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// Server is a running fake: what a test, or a testscript command, needs
// of any of them without knowing which one it is.
type Server interface {
	// URL is the address a client is given.
	URL() string
	// Close stops the server; delayed answers are cut short.
	Close()
	// Requests is the log of the requests served, one line each, in order.
	Requests() []string
	// Ops names the operations FailNext and Delay take.
	Ops() []string
	// FailNext makes the next n requests of op fail with status, with the
	// body the real service sends with it.
	FailNext(op string, status, n int)
	// Delay holds every answer of op for d; zero removes the delay.
	Delay(op string, d time.Duration)
	// ClearFaults removes every pending fault and delay.
	ClearFaults()
}

// FaultUsage documents the subcommands FaultCmd runs, for the usage text of
// a fake's testscript command.
const FaultUsage = `  fail OP STATUS [N]   the next N (1) requests of OP fail with STATUS
  delay OP DURATION    hold every answer of OP for DURATION (0 removes)
  clear                remove every fault and delay
  requests             print the request log, one a line`

// FaultCmd runs sub, with args, when it is one of the subcommands of
// FaultUsage, on the server that get returns (called only then, since it
// fails a script that has started none), and reports whether it was one.
// cmd names the command in errors.
func FaultCmd(ts *testscript.TestScript, cmd, sub string, args []string, get func() Server) bool {
	nargs := func(lo, hi int) {
		if len(args) < lo || len(args) > hi {
			ts.Fatalf("%s %s: wrong number of arguments\n%s", cmd, sub, FaultUsage)
		}
	}
	switch sub {
	case "fail":
		nargs(2, 3)
		s := get()
		n := 1
		if len(args) == 3 {
			n = Atoi(ts, args[2])
		}
		s.FailNext(CheckOp(ts, cmd, s, args[0]), Atoi(ts, args[1]), n)
	case "delay":
		nargs(2, 2)
		s := get()
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		s.Delay(CheckOp(ts, cmd, s, args[0]), d)
	case "clear":
		nargs(0, 0)
		get().ClearFaults()
	case "requests":
		nargs(0, 0)
		for _, l := range get().Requests() {
			fmt.Fprintln(ts.Stdout(), l)
		}
	default:
		return false
	}
	return true
}

// CheckOp returns op when s knows it, and fails the script otherwise (the
// fakes panic on an unknown operation, to catch a test's typo).
func CheckOp(ts *testscript.TestScript, cmd string, s Server, op string) string {
	if !slices.Contains(s.Ops(), op) {
		ts.Fatalf("%s: unknown operation %q; this fake has %s", cmd, op, strings.Join(s.Ops(), ", "))
	}
	return op
}

// Atoi is strconv.Atoi that fails the script on a bad number.
func Atoi(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	ts.Check(err)
	return n
}

// scripts holds what testscript commands started, by script and command.
var scripts sync.Map // scriptKey -> interface{ Close() }

type scriptKey struct {
	ts  *testscript.TestScript
	cmd string
}

// Attach makes s the running script's fake of command cmd, until the
// script ends, when s is closed. It fails the script when cmd has already
// started one.
func Attach(ts *testscript.TestScript, cmd string, s interface{ Close() }) {
	k := scriptKey{ts, cmd}
	if _, dup := scripts.LoadOrStore(k, s); dup {
		s.Close()
		ts.Fatalf("%s start: one is already running in this script", cmd)
	}
	ts.Defer(func() {
		scripts.Delete(k)
		s.Close()
	})
}

// Attached returns what Attach made the running script's fake of cmd; ok
// is false when there is none.
func Attached[S any](ts *testscript.TestScript, cmd string) (s S, ok bool) {
	v, found := scripts.Load(scriptKey{ts, cmd})
	if !found {
		return s, false
	}
	s, ok = v.(S)
	return s, ok
}

// MustAttached is Attached that fails the script when there is none.
func MustAttached[S any](ts *testscript.TestScript, cmd string) S {
	s, ok := Attached[S](ts, cmd)
	if !ok {
		ts.Fatalf("%s: none running: run \"%s start\" first", cmd, cmd)
	}
	return s
}
