// Package store is the fake-store testscript command: it starts one of the
// fake secrets managers (vault, infisical, aws, gcp) for a script, in the
// set-up each package's ScriptStore describes, and checks what runnerctl
// stored there against the fake GitLab's runners.
package store

import (
	"crypto/subtle"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/runnerctl/runnerctl/internal/fake"
	fakeaws "github.com/runnerctl/runnerctl/internal/fake/aws"
	fakegcp "github.com/runnerctl/runnerctl/internal/fake/gcp"
	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakeinfisical "github.com/runnerctl/runnerctl/internal/fake/infisical"
	fakevault "github.com/runnerctl/runnerctl/internal/fake/vault"
)

const cmdName = "fake-store"

// Usage documents the fake-store testscript command.
const Usage = `usage: fake-store SUBCOMMAND [ARGS]

  start BACKEND [-readonly]  start a fake vault, infisical, aws or gcp for this
                             script and set, in its environment, the variables
                             runnerctl's backend reads; -readonly gives
                             credentials that may read the runner tokens but
                             not write them
  grant read|write           change what those credentials may do
` + fake.FaultUsage + `
  holds KEY RUNNER_ID        assert that the secret at KEY (as runnerctl prints
                             the location) is fake GitLab runner RUNNER_ID's
                             current token; neither value is ever printed (! negates)
  empty KEY                  assert that nothing is stored at KEY (! negates)

Layouts: vault uses mount "secret" (KEY is path#property); infisical project
"runners", environment "prod" (KEY is /folder/NAME); aws KEY is
name[#jsonProperty]; gcp project ` + fakegcp.Project + ` (KEY is the secret ID).
Quote a KEY with "#" in scripts: '#' starts a comment.
Read-only is: vault a policy with only read on secret/data/gitlab/runners/*;
infisical the viewer role; aws AccessReadOnly (GetSecretValue,
DescribeSecret); gcp roles/secretmanager.secretAccessor.
OPs are each fake's Ops(): vault login, lookup, mounts, capabilities, read,
write; infisical login, project, folders, read, create, update; aws
GetSecretValue, CreateSecret, PutSecretValue, DescribeSecret; gcp
secrets.get, secrets.create, secrets.addVersion, versions.access, token,
metadata.`

// Store is a fake secrets manager as the command drives it: a
// fake.Server that reads keys written as runnerctl prints a location and
// whose credentials may be made read-only.
type Store interface {
	fake.Server
	// Lookup returns the value stored at key; ok is false when there is
	// none (or it is empty).
	Lookup(key string) (value string, ok bool, err error)
	// Grant lets the credentials runnerctl is given write the runner
	// tokens, or only read them.
	Grant(write bool)
}

// Of returns the store the running script started, failing the script
// when there is none: for other commands (fake-kube) that read it.
func Of(ts *testscript.TestScript) Store { return fake.MustAttached[Store](ts, cmdName) }

// Cmd is the fake-store testscript command (Usage).
func Cmd(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("%s", Usage)
	}
	sub, args := args[0], args[1:]
	if neg && sub != "holds" && sub != "empty" {
		ts.Fatalf("fake-store %s does not support !", sub)
	}
	if fake.FaultCmd(ts, cmdName, sub, args, func() fake.Server { return Of(ts) }) {
		return
	}
	nargs := func(lo, hi int) {
		if len(args) < lo || len(args) > hi {
			ts.Fatalf("fake-store %s: wrong number of arguments\n%s", sub, Usage)
		}
	}
	switch sub {
	case "start":
		nargs(1, 2)
		readonly := false
		if len(args) == 2 {
			if args[1] != "-readonly" {
				ts.Fatalf("fake-store start: unknown option %q\n%s", args[1], Usage)
			}
			readonly = true
		}
		start(ts, args[0], readonly)
	case "grant":
		nargs(1, 1)
		switch args[0] {
		case "read", "write":
			Of(ts).Grant(args[0] == "write")
		default:
			ts.Fatalf("fake-store grant: %q is not read or write", args[0])
		}
	case "holds":
		nargs(2, 2)
		id, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		v, ok, err := Of(ts).Lookup(args[0])
		ts.Check(err)
		holds, why := Holds(ts, id, v, ok)
		if holds == neg {
			if neg {
				ts.Fatalf("fake-store: %q holds runner %d's current token", args[0], id)
			}
			ts.Fatalf("fake-store: %q does not hold runner %d's current token: %s", args[0], id, why)
		}
	case "empty":
		nargs(1, 1)
		_, ok, err := Of(ts).Lookup(args[0])
		ts.Check(err)
		if ok != neg { // something stored, or (with !) nothing
			if neg {
				ts.Fatalf("fake-store: nothing is stored at %q", args[0])
			}
			ts.Fatalf("fake-store: something is stored at %q", args[0])
		}
	default:
		ts.Fatalf("fake-store: unknown subcommand %q\n%s", sub, Usage)
	}
}

// Holds compares, without printing either, value (ok: something is stored)
// with the current token of the fake GitLab's runner id; when they differ,
// why says how.
func Holds(ts *testscript.TestScript, id int64, value string, ok bool) (holds bool, why string) {
	r, found := fakegitlab.ScriptServer(ts).Runner(id)
	switch {
	case !found:
		return false, fmt.Sprintf("fake GitLab has no runner %d", id)
	case r.Deleted:
		return false, fmt.Sprintf("runner %d is deleted", id)
	case r.Token == "":
		return false, fmt.Sprintf("runner %d has no token", id)
	}
	switch {
	case !ok:
		return false, "nothing is stored there"
	case subtle.ConstantTimeCompare([]byte(value), []byte(r.Token)) != 1:
		for _, old := range r.OldTokens {
			if subtle.ConstantTimeCompare([]byte(value), []byte(old)) == 1 {
				return false, "it holds an older token of that runner, no longer valid"
			}
		}
		return false, "it holds another value"
	}
	return true, ""
}

func start(ts *testscript.TestScript, backend string, readonly bool) {
	if _, ok := fake.Attached[Store](ts, cmdName); ok {
		ts.Fatalf("fake-store start: a store is already running in this script")
	}
	var (
		s   Store
		env []string
	)
	switch backend {
	case "vault":
		s, env = fakevault.NewScriptStore()
	case "infisical":
		s, env = fakeinfisical.NewScriptStore()
	case "aws":
		s, env = fakeaws.NewScriptStore()
	case "gcp":
		// The key file is a credential: keep it out of $WORK, where the
		// scripts look for leaks.
		dir, err := os.MkdirTemp("", "fake-store-gcp-")
		ts.Check(err)
		ts.Defer(func() { _ = os.RemoveAll(dir) })
		g, genv, err := fakegcp.NewScriptStore(dir)
		if err != nil {
			ts.Fatalf("fake-store start gcp: %v", err)
		}
		s, env = g, genv
	default:
		ts.Fatalf("fake-store start: unknown backend %q (vault, infisical, aws or gcp)", backend)
	}
	s.Grant(!readonly)
	fake.Attach(ts, cmdName, s)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		ts.Setenv(k, v)
	}
}
