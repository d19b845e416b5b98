package cli

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	fakeaws "github.com/runnerctl/runnerctl/internal/fake/aws"
	fakegcp "github.com/runnerctl/runnerctl/internal/fake/gcp"
	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	fakeinfisical "github.com/runnerctl/runnerctl/internal/fake/infisical"
	fakevault "github.com/runnerctl/runnerctl/internal/fake/vault"
)

// fakeStoreUsage documents the fake-store testscript command.
const fakeStoreUsage = `usage: fake-store SUBCOMMAND [ARGS]

  start BACKEND [-readonly]  start a fake vault, infisical, aws or gcp for this
                             script and set, in its environment, the variables
                             runnerctl's backend reads; -readonly gives
                             credentials that may read the runner tokens but
                             not write them
  grant read|write           change what those credentials may do
  fail OP STATUS [N]         the next N (1) requests of OP fail with STATUS
  delay OP DURATION          hold every answer of OP for DURATION (0 removes)
  clear                      remove every fault and delay
  holds KEY RUNNER_ID        assert that the secret at KEY (as runnerctl prints
                             the location) is fake GitLab runner RUNNER_ID's
                             current token; neither value is ever printed (! negates)
  empty KEY                  assert that nothing is stored at KEY (! negates)
  requests                   print the fake's request log, one a line

Layouts: vault uses mount "secret" (KEY is path#property); infisical project
"runners", environment "prod" (KEY is /folder/NAME); aws KEY is
name[#jsonProperty]; gcp project ` + fakegcp.Project + ` (KEY is the secret ID).
Quote a KEY with "#" in scripts: '#' starts a comment.
Read-only is: vault a policy with only read on secret/data/gitlab/runners/*;
infisical the viewer role; aws AccessReadOnly (GetSecretValue,
DescribeSecret); gcp roles/secretmanager.secretAccessor.
OPs: vault login, lookup, mounts, capabilities, read, write; infisical login,
project, folders, read, create, update; aws GetSecretValue, CreateSecret,
PutSecretValue, DescribeSecret; gcp secrets.get, secrets.create,
secrets.addVersion, versions.access, token, metadata.`

// Credentials and names the fakes are set up with. None of them contains
// the runner-token canary of the scripts.
const (
	scriptVaultToken       = "hvs.runnerctl-script-token"
	scriptVaultPolicy      = "runnerctl-script"
	scriptVaultMount       = "secret"
	scriptVaultRule        = "secret/data/gitlab/runners/*"
	scriptInfisicalID      = "runnerctl-script-client-id"
	scriptInfisicalSecret  = "runnerctl-script-client-secret"
	scriptInfisicalProject = "runners"
	scriptInfisicalEnv     = "prod"
)

// scriptStore is one fake secrets manager, seen through runnerctl's
// locations.
type scriptStore interface {
	// lookup returns the value stored at key (the location as runnerctl
	// prints it); ok is false when there is none.
	lookup(key string) (value string, ok bool, err error)
	grant(write bool)
	ops() []string
	fail(op string, status, n int)
	delay(op string, d time.Duration)
	clear()
	requests() []string
	close()
}

var (
	fakeStoreMu sync.Mutex
	fakeStores  = map[*testscript.TestScript]scriptStore{}
)

func scriptFakeStore(ts *testscript.TestScript) scriptStore {
	fakeStoreMu.Lock()
	defer fakeStoreMu.Unlock()
	s := fakeStores[ts]
	if s == nil {
		ts.Fatalf("fake-store: no store: run \"fake-store start BACKEND\" first")
	}
	return s
}

// cmdFakeStore is the fake-store testscript command (fakeStoreUsage).
func cmdFakeStore(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) == 0 {
		ts.Fatalf("%s", fakeStoreUsage)
	}
	sub, args := args[0], args[1:]
	if neg && sub != "holds" && sub != "empty" {
		ts.Fatalf("fake-store %s does not support !", sub)
	}
	nargs := func(lo, hi int) {
		if len(args) < lo || len(args) > hi {
			ts.Fatalf("fake-store %s: wrong number of arguments\n%s", sub, fakeStoreUsage)
		}
	}
	switch sub {
	case "start":
		nargs(1, 2)
		readonly := false
		if len(args) == 2 {
			if args[1] != "-readonly" {
				ts.Fatalf("fake-store start: unknown option %q\n%s", args[1], fakeStoreUsage)
			}
			readonly = true
		}
		startFakeStore(ts, args[0], readonly)
	case "grant":
		nargs(1, 1)
		switch args[0] {
		case "read", "write":
			scriptFakeStore(ts).grant(args[0] == "write")
		default:
			ts.Fatalf("fake-store grant: %q is not read or write", args[0])
		}
	case "fail":
		nargs(2, 3)
		s := scriptFakeStore(ts)
		n := 1
		if len(args) == 3 {
			n = atoiScript(ts, args[2])
		}
		s.fail(checkStoreOp(ts, s, args[0]), atoiScript(ts, args[1]), n)
	case "delay":
		nargs(2, 2)
		s := scriptFakeStore(ts)
		d, err := time.ParseDuration(args[1])
		ts.Check(err)
		s.delay(checkStoreOp(ts, s, args[0]), d)
	case "clear":
		nargs(0, 0)
		scriptFakeStore(ts).clear()
	case "requests":
		nargs(0, 0)
		for _, l := range scriptFakeStore(ts).requests() {
			fmt.Fprintln(ts.Stdout(), l)
		}
	case "holds":
		nargs(2, 2)
		id, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		holds, why := storeHolds(ts, args[0], id)
		if holds == neg {
			if neg {
				ts.Fatalf("fake-store: %q holds runner %d's current token", args[0], id)
			}
			ts.Fatalf("fake-store: %q does not hold runner %d's current token: %s", args[0], id, why)
		}
	case "empty":
		nargs(1, 1)
		_, ok, err := scriptFakeStore(ts).lookup(args[0])
		ts.Check(err)
		if ok != neg { // something stored, or (with !) nothing
			if neg {
				ts.Fatalf("fake-store: nothing is stored at %q", args[0])
			}
			ts.Fatalf("fake-store: something is stored at %q", args[0])
		}
	default:
		ts.Fatalf("fake-store: unknown subcommand %q\n%s", sub, fakeStoreUsage)
	}
}

// storeHolds compares, without printing either, the value at key with the
// current token of the fake GitLab's runner id.
func storeHolds(ts *testscript.TestScript, key string, id int64) (bool, string) {
	r, ok := fakegitlab.ScriptServer(ts).Runner(id)
	switch {
	case !ok:
		return false, fmt.Sprintf("fake GitLab has no runner %d", id)
	case r.Deleted:
		return false, fmt.Sprintf("runner %d is deleted", id)
	case r.Token == "":
		return false, fmt.Sprintf("runner %d has no token", id)
	}
	v, ok, err := scriptFakeStore(ts).lookup(key)
	ts.Check(err)
	switch {
	case !ok:
		return false, "nothing is stored there"
	case subtle.ConstantTimeCompare([]byte(v), []byte(r.Token)) != 1:
		for _, old := range r.OldTokens {
			if subtle.ConstantTimeCompare([]byte(v), []byte(old)) == 1 {
				return false, "it holds an older token of that runner, no longer valid"
			}
		}
		return false, "it holds another value"
	}
	return true, ""
}

func checkStoreOp(ts *testscript.TestScript, s scriptStore, op string) string {
	if !slices.Contains(s.ops(), op) {
		ts.Fatalf("fake-store: unknown operation %q; this backend has %s", op, strings.Join(s.ops(), ", "))
	}
	return op
}

func atoiScript(ts *testscript.TestScript, s string) int {
	n, err := strconv.Atoi(s)
	ts.Check(err)
	return n
}

func startFakeStore(ts *testscript.TestScript, backend string, readonly bool) {
	fakeStoreMu.Lock()
	dup := fakeStores[ts] != nil
	fakeStoreMu.Unlock()
	if dup {
		ts.Fatalf("fake-store start: a store is already running in this script")
	}
	var (
		s   scriptStore
		env []string
	)
	switch backend {
	case "vault":
		v := fakevault.New()
		v.SetToken(scriptVaultToken, scriptVaultPolicy)
		s = vaultStore{v}
		env = []string{"VAULT_ADDR=" + v.URL(), "VAULT_TOKEN=" + scriptVaultToken}
	case "infisical":
		f := fakeinfisical.New()
		f.AddProject(scriptInfisicalProject)
		f.AddIdentity(scriptInfisicalID, scriptInfisicalSecret)
		s = infisicalStore{f}
		env = []string{
			"INFISICAL_API_URL=" + f.URL(),
			"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=" + scriptInfisicalID,
			"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + scriptInfisicalSecret,
		}
	case "aws":
		f := fakeaws.New()
		s = awsStore{f}
		env = f.Env()
	case "gcp":
		// The key file is a credential: keep it out of $WORK, where the
		// scripts look for leaks.
		dir, err := os.MkdirTemp("", "fake-store-gcp-")
		ts.Check(err)
		ts.Defer(func() { _ = os.RemoveAll(dir) })
		f := fakegcp.New()
		s = gcpStore{f}
		env, err = f.Env(dir)
		if err != nil {
			f.Close()
			ts.Fatalf("fake-store start gcp: %v", err)
		}
	default:
		ts.Fatalf("fake-store start: unknown backend %q (vault, infisical, aws or gcp)", backend)
	}
	s.grant(!readonly)
	fakeStoreMu.Lock()
	fakeStores[ts] = s
	fakeStoreMu.Unlock()
	ts.Defer(func() {
		fakeStoreMu.Lock()
		delete(fakeStores, ts)
		fakeStoreMu.Unlock()
		s.close()
	})
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		ts.Setenv(k, v)
	}
}

// vaultStore: KEY is path#property under mount "secret".
type vaultStore struct{ s *fakevault.Server }

func (v vaultStore) lookup(key string) (string, bool, error) {
	path, prop, ok := strings.Cut(key, "#")
	if !ok || path == "" || prop == "" {
		return "", false, fmt.Errorf("vault location %q is not PATH#PROPERTY", key)
	}
	data, _, ok := v.s.Secret(scriptVaultMount + "/" + strings.Trim(path, "/"))
	if !ok {
		return "", false, nil
	}
	val, ok := data[prop]
	return val, ok && val != "", nil
}

func (v vaultStore) grant(write bool) {
	caps := []string{fakevault.CapRead}
	if write {
		caps = append(caps, fakevault.CapCreate, fakevault.CapUpdate)
	}
	v.s.SetPolicy(scriptVaultPolicy, scriptVaultRule, caps...)
}

func (v vaultStore) ops() []string {
	return []string{fakevault.OpLogin, fakevault.OpLookup, fakevault.OpMounts, fakevault.OpCapabilities, fakevault.OpRead, fakevault.OpWrite}
}
func (v vaultStore) fail(op string, status, n int)    { v.s.FailNext(op, status, n) }
func (v vaultStore) delay(op string, d time.Duration) { v.s.Delay(op, d) }
func (v vaultStore) clear()                           { v.s.ClearFaults() }
func (v vaultStore) requests() []string               { return v.s.Requests() }
func (v vaultStore) close()                           { v.s.Close() }

// infisicalStore: KEY is /folder/NAME in project "runners", environment prod.
type infisicalStore struct{ s *fakeinfisical.Server }

func (f infisicalStore) lookup(key string) (string, bool, error) {
	i := strings.LastIndex(key, "/")
	if !strings.HasPrefix(key, "/") || i == len(key)-1 {
		return "", false, fmt.Errorf("infisical location %q is not /FOLDER/NAME", key)
	}
	folder := key[:i]
	if folder == "" {
		folder = "/"
	}
	val, _, ok := f.s.Secret(scriptInfisicalProject, scriptInfisicalEnv, folder, key[i+1:])
	return val, ok && val != "", nil
}

func (f infisicalStore) grant(write bool) {
	role := fakeinfisical.RoleViewer
	if write {
		role = fakeinfisical.RoleMember
	}
	f.s.Grant(scriptInfisicalID, scriptInfisicalProject, role)
}

func (f infisicalStore) ops() []string {
	return []string{fakeinfisical.OpLogin, fakeinfisical.OpProject, fakeinfisical.OpFolders, fakeinfisical.OpRead, fakeinfisical.OpCreate, fakeinfisical.OpUpdate}
}
func (f infisicalStore) fail(op string, status, n int)    { f.s.FailNext(op, status, n) }
func (f infisicalStore) delay(op string, d time.Duration) { f.s.Delay(op, d) }
func (f infisicalStore) clear()                           { f.s.ClearFaults() }
func (f infisicalStore) requests() []string               { return f.s.Requests() }
func (f infisicalStore) close()                           { f.s.Close() }

// awsStore: KEY is the secret name, with #property for a key of a JSON
// object.
type awsStore struct{ s *fakeaws.Server }

func (a awsStore) lookup(key string) (string, bool, error) {
	name, prop, _ := strings.Cut(key, "#")
	val, ok := a.s.Secret(name)
	if !ok || prop == "" {
		return val, ok && val != "", nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(val), &obj); err != nil {
		return "", false, fmt.Errorf("aws secret %q does not hold a JSON object", name)
	}
	s, ok := obj[prop].(string)
	return s, ok && s != "", nil
}

func (a awsStore) grant(write bool) {
	access := fakeaws.AccessReadOnly
	if write {
		access = fakeaws.AccessFull
	}
	a.s.AddCredentials(fakeaws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: fakeaws.SecretAccessKey, Access: access})
}

func (a awsStore) ops() []string                    { return fakeaws.AllOps }
func (a awsStore) fail(op string, status, n int)    { a.s.FailNext(op, status, n) }
func (a awsStore) delay(op string, d time.Duration) { a.s.Delay(op, d) }
func (a awsStore) clear()                           { a.s.ClearFaults() }
func (a awsStore) requests() []string               { return a.s.Requests() }
func (a awsStore) close()                           { a.s.Close() }

// gcpStore: KEY is the secret ID in project runnerctl-test.
type gcpStore struct{ s *fakegcp.Server }

func (g gcpStore) lookup(key string) (string, bool, error) {
	val, ok := g.s.Secret(key)
	return val, ok && val != "", nil
}

// grant sets the role of the tokens the fake issues from now on: each
// runnerctl run exchanges the key file for a new token. Read-only is
// roles/secretmanager.secretAccessor, what External Secrets Operator needs.
func (g gcpStore) grant(write bool) {
	role := fakegcp.RoleAccessor
	if write {
		role = fakegcp.RoleAdmin
	}
	g.s.SetServiceAccountRole(role)
}

func (g gcpStore) ops() []string                    { return fakegcp.AllOps }
func (g gcpStore) fail(op string, status, n int)    { g.s.FailNext(op, status, n) }
func (g gcpStore) delay(op string, d time.Duration) { g.s.Delay(op, d) }
func (g gcpStore) clear()                           { g.s.ClearFaults() }
func (g gcpStore) requests() []string               { return g.s.Requests() }
func (g gcpStore) close()                           { g.s.Close() }
