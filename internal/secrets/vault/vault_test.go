package vault_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/vault"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/vault"
)

const (
	canary     = "glrt-CANARY-xyz"
	rootToken  = "hvs.root-CANARY-token"
	writer     = "hvs.writer-CANARY-token"
	reader     = "hvs.reader-CANARY-token"
	roleID     = "role-runnerctl"
	secretID   = "secret-id-CANARY-approle"
	policyName = "runnerctl"
	property   = "runner-token"
)

var loc = secrets.Location{Key: "gitlab/runners/ci", Property: property}

// newFake starts a fake Vault with a writer token (create, read, update on
// secret/data/gitlab/runners/*), a read-only token, a root token and an
// AppRole with the writer policy.
func newFake(t *testing.T) *fake.Server {
	t.Helper()
	s := fake.New()
	t.Cleanup(s.Close)
	s.SetPolicy(policyName, "secret/data/gitlab/runners/*", fake.CapCreate, fake.CapRead, fake.CapUpdate)
	s.SetPolicy("reader", "secret/data/gitlab/runners/*", fake.CapRead)
	s.SetToken(rootToken, fake.RootPolicy)
	s.SetToken(writer, policyName)
	s.SetToken(reader, "reader")
	s.SetAppRole("", roleID, secretID, policyName)
	return s
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

func newStore(t *testing.T, s *fake.Server, e env, mutate ...func(*vault.Options)) *vault.Store {
	t.Helper()
	if _, ok := e[vault.EnvAddr]; !ok {
		e[vault.EnvAddr] = s.URL()
	}
	opts := vault.Options{
		Getenv:     e.get,
		HTTPClient: s.Client(),
		MaxRetries: -1,
		RetryWait:  time.Millisecond,
		Timeout:    5 * time.Second,
	}
	for _, m := range mutate {
		m(&opts)
	}
	st, err := vault.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return st
}

func tokenEnv(tok string) env { return env{vault.EnvToken: tok} }

func wantErr(t *testing.T, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Fatalf("error %q does not wrap %v", err, target)
		}
	}
}

func writes(s *fake.Server) []string {
	var out []string
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, "PUT /v1/secret/") || strings.HasPrefix(r, "POST /v1/secret/") {
			out = append(out, r)
		}
	}
	return out
}

func TestPutCreatesUpdatesAndGetRoundTrips(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv(writer))
	ctx := context.Background()

	if err := st.Put(ctx, loc, secrets.NewToken("glrt-first")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	data, version, ok := s.Secret("secret/gitlab/runners/ci")
	if !ok || version != 1 || data[property] != "glrt-first" || len(data) != 1 {
		t.Fatalf("after create: %v version %d ok %v", data, version, ok)
	}

	if err := st.Put(ctx, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	data, version, _ = s.Secret("secret/gitlab/runners/ci")
	if version != 2 || data[property] != "glrt-second" {
		t.Fatalf("after update: %v version %d", data, version)
	}

	got, err := st.Get(ctx, loc)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !got.Equal(secrets.NewToken("glrt-second")) {
		t.Fatal("Get returned another token than the one stored")
	}
	if err := secrets.VerifyStored(ctx, st, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatalf("VerifyStored: %v", err)
	}

	// The same token again writes nothing: no new version for ESO to see.
	if err := st.Put(ctx, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatalf("idempotent Put: %v", err)
	}
	if _, version, _ = s.Secret("secret/gitlab/runners/ci"); version != 2 {
		t.Fatalf("idempotent Put made version %d", version)
	}
}

func TestPutKeepsOtherKeys(t *testing.T) {
	s := newFake(t)
	s.PutSecret("secret/gitlab/runners/ci", map[string]string{"runner-registration-token": "", "note": "kept"})
	st := newStore(t, s, tokenEnv(writer))
	if err := st.Put(context.Background(), loc, secrets.NewToken(canary)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	data, version, _ := s.Secret("secret/gitlab/runners/ci")
	want := map[string]string{"runner-registration-token": "", "note": "kept", property: canary}
	if version != 2 || len(data) != len(want) {
		t.Fatalf("data %v version %d, want %v at version 2", data, version, want)
	}
	for k, v := range want {
		if data[k] != v {
			t.Errorf("key %q = %q, want %q", k, data[k], v)
		}
	}
}

func TestPutAfterSoftDeleteUsesDeletedVersionAsCAS(t *testing.T) {
	s := newFake(t)
	s.PutSecret("secret/gitlab/runners/ci", map[string]string{property: "glrt-old"})
	s.DeleteSecret("secret/gitlab/runners/ci")
	st := newStore(t, s, tokenEnv(writer))
	if _, err := st.Get(context.Background(), loc); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get of a deleted version: %v, want ErrNotFound", err)
	}
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-new")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	data, version, ok := s.Secret("secret/gitlab/runners/ci")
	if !ok || version != 2 || data[property] != "glrt-new" {
		t.Fatalf("data %v version %d ok %v", data, version, ok)
	}
}

func TestKeyWithMountPrefixIsStrippedLikeESO(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv(writer))
	for _, key := range []string{"secret/gitlab/runners/a", "secret/data/gitlab/runners/b"} {
		if err := st.Put(context.Background(), secrets.Location{Key: key, Property: property}, secrets.NewToken("glrt-x")); err != nil {
			t.Fatalf("Put %q: %v", key, err)
		}
	}
	for _, p := range []string{"secret/gitlab/runners/a", "secret/gitlab/runners/b"} {
		if _, _, ok := s.Secret(p); !ok {
			t.Errorf("nothing at %s", p)
		}
	}
}

func TestInvalidLocations(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv(writer))
	for _, l := range []secrets.Location{
		{Key: "", Property: property},
		{Key: "/gitlab/x", Property: property},
		{Key: "gitlab/x/", Property: property},
		{Key: "gitlab//x", Property: property},
		{Key: "gitlab/x"},
	} {
		if err := st.Put(context.Background(), l, secrets.NewToken("glrt-x")); err == nil {
			t.Errorf("Put %+v: no error", l)
		}
	}
	if len(s.Requests()) != 0 {
		t.Fatalf("invalid locations reached Vault: %v", s.Requests())
	}
}

func TestGetMissing(t *testing.T) {
	s := newFake(t)
	s.PutSecret("secret/gitlab/runners/other", map[string]string{"something": "else"})
	st := newStore(t, s, tokenEnv(writer))
	ctx := context.Background()
	if _, err := st.Get(ctx, loc); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := st.Get(ctx, secrets.Location{Key: "gitlab/runners/other", Property: property}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing property: %v", err)
	}
}

func TestCheckSucceeds(t *testing.T) {
	for name, e := range map[string]env{
		"writer token": tokenEnv(writer),
		"root token":   tokenEnv(rootToken),
		"approle":      {vault.EnvRoleID: roleID, vault.EnvSecretID: secretID},
	} {
		t.Run(name, func(t *testing.T) {
			s := newFake(t)
			st := newStore(t, s, e)
			if err := st.Check(context.Background(), loc); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if w := writes(s); len(w) != 0 {
				t.Fatalf("Check wrote: %v", w)
			}
			if _, _, ok := s.Secret("secret/gitlab/runners/ci"); ok {
				t.Fatal("Check created the secret")
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	tests := []struct {
		name    string
		env     env
		setup   func(*fake.Server)
		opts    func(*vault.Options)
		loc     secrets.Location
		want    []error
		message string
	}{
		{name: "unknown token", env: tokenEnv("hvs.unknown-CANARY"), want: []error{secrets.ErrAuth}, message: "wrong, expired or revoked"},
		{name: "revoked token", env: tokenEnv(writer), setup: func(s *fake.Server) { s.RevokeToken(writer) }, want: []error{secrets.ErrAuth}},
		{name: "no credentials", env: env{}, want: []error{secrets.ErrAuth}, message: "VAULT_TOKEN"},
		{name: "role id without secret id", env: env{vault.EnvRoleID: roleID}, want: []error{secrets.ErrAuth}, message: "VAULT_SECRET_ID"},
		{name: "wrong approle secret", env: env{vault.EnvRoleID: roleID, vault.EnvSecretID: "wrong-CANARY"}, want: []error{secrets.ErrAuth}, message: "invalid role or secret ID"},
		{name: "approle at unknown mount", env: env{vault.EnvRoleID: roleID, vault.EnvSecretID: secretID, vault.EnvAppRoleMount: "nope"}, want: []error{secrets.ErrAuth}},
		{name: "read-only policy", env: tokenEnv(reader), want: []error{secrets.ErrPermission}, message: "missing create, update"},
		{name: "policy for another path", env: tokenEnv(writer), loc: secrets.Location{Key: "elsewhere/ci", Property: property}, want: []error{secrets.ErrPermission}, message: "missing create, update, read"},
		{name: "unknown mount", env: tokenEnv(rootToken), opts: func(o *vault.Options) { o.Mount = "nope" }, want: []error{vault.ErrNoMount}},
		{name: "mount the token cannot use", env: tokenEnv(writer), opts: func(o *vault.Options) { o.Mount = "team" }, setup: func(s *fake.Server) { s.MountKV("team", 2) }, want: []error{vault.ErrNoMount, secrets.ErrPermission}},
		{name: "path below a mount is no mount", env: tokenEnv(rootToken), opts: func(o *vault.Options) { o.Mount = "secret/sub" }, want: []error{vault.ErrNoMount}, message: "only \"secret/\" above it"},
		{name: "KV version 1", env: tokenEnv(rootToken), setup: func(s *fake.Server) { s.MountKV("secret", 1) }, want: []error{vault.ErrNoMount}, message: "KV version 1"},
		{name: "wrong namespace", env: tokenEnv(writer), setup: func(s *fake.Server) { s.RequireNamespace("team") }, want: []error{secrets.ErrAuth}},
		{name: "sealed", env: tokenEnv(writer), setup: func(s *fake.Server) { s.FailNext(fake.OpLookup, 503, 1) }, want: []error{secrets.ErrTransient}, message: "Vault is sealed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			var mut []func(*vault.Options)
			if tt.opts != nil {
				mut = append(mut, tt.opts)
			}
			st := newStore(t, s, tt.env, mut...)
			l := loc
			if tt.loc.Key != "" {
				l = tt.loc
			}
			err := st.Check(context.Background(), l)
			wantErr(t, err, tt.want...)
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
			if w := writes(s); len(w) != 0 {
				t.Fatalf("Check wrote: %v", w)
			}
		})
	}
}

func TestNamespaceIsSent(t *testing.T) {
	s := newFake(t)
	s.RequireNamespace("team")
	st := newStore(t, s, env{vault.EnvToken: writer, vault.EnvNamespace: "team/"})
	if err := st.Check(context.Background(), loc); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-x")); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func TestAppRoleLoginOnceAndCustomMount(t *testing.T) {
	s := newFake(t)
	s.SetAppRole("ci-approle", "role-2", "secret-2-CANARY", policyName)
	st := newStore(t, s, env{vault.EnvRoleID: "role-2", vault.EnvSecretID: "secret-2-CANARY", vault.EnvAppRoleMount: "/ci-approle/"})
	ctx := context.Background()
	if err := st.Put(ctx, loc, secrets.NewToken("glrt-x")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, err := st.Get(ctx, loc); err != nil {
		t.Fatalf("Get: %v", err)
	}
	logins := 0
	for _, r := range s.Requests() {
		if strings.Contains(r, "/v1/auth/ci-approle/login") {
			logins++
		}
	}
	if logins != 1 {
		t.Fatalf("%d logins, want 1: %v", logins, s.Requests())
	}
}

func TestPutConflict(t *testing.T) {
	s := newFake(t)
	s.PutSecret("secret/gitlab/runners/ci", map[string]string{property: "glrt-old"})
	st := newStore(t, s, tokenEnv(writer))
	// Someone else rotates the token between runnerctl's read and its write.
	s.OnNext(fake.OpWrite, func() {
		s.PutSecret("secret/gitlab/runners/ci", map[string]string{property: "glrt-theirs"})
	})
	err := st.Put(context.Background(), loc, secrets.NewToken(canary))
	wantErr(t, err, secrets.ErrConflict)
	data, version, _ := s.Secret("secret/gitlab/runners/ci")
	if version != 2 || data[property] != "glrt-theirs" {
		t.Fatalf("the concurrent write was overwritten: %v version %d", data, version)
	}
	if strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "glrt-theirs") {
		t.Fatalf("conflict error shows a token: %v", err)
	}
}

func TestPutConflictOnCreate(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv(writer))
	s.OnNext(fake.OpWrite, func() {
		s.PutSecret("secret/gitlab/runners/ci", map[string]string{"someone": "else"})
	})
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrConflict)
}

func TestPutCASMismatchWithOurTokenIsSuccess(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv(writer))
	// The same token lands first (say, our own write whose answer was
	// lost before the client retried): nothing is in conflict.
	s.OnNext(fake.OpWrite, func() {
		s.PutSecret("secret/gitlab/runners/ci", map[string]string{property: "glrt-same"})
	})
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-same")); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func TestPutRefusesKVv1(t *testing.T) {
	s := newFake(t)
	s.MountKV("secret", 1)
	st := newStore(t, s, tokenEnv(rootToken))
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), vault.ErrNoMount)
	if w := writes(s); len(w) != 0 {
		t.Fatalf("Put wrote to a KV v1 mount: %v", w)
	}
}

func TestPermissionErrors(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv(reader))
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrPermission)

	none := newStore(t, s, tokenEnv(writer))
	wantErr(t, none.Put(context.Background(), secrets.Location{Key: "other/x", Property: property}, secrets.NewToken("glrt-x")), secrets.ErrPermission)
}

func TestBadTokenOnPutIsAuth(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, tokenEnv("hvs.nobody-CANARY"))
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrAuth)
	_, err := st.Get(context.Background(), loc)
	wantErr(t, err, secrets.ErrAuth)
}

func TestTransientFailures(t *testing.T) {
	for _, tt := range []struct {
		op     string
		status int
	}{
		{fake.OpRead, 500}, {fake.OpRead, 503}, {fake.OpRead, 429}, {fake.OpRead, 502},
		{fake.OpWrite, 500}, {fake.OpWrite, 504}, {fake.OpMounts, 503}, {fake.OpLogin, 503},
	} {
		t.Run(tt.op+"/"+strconv.Itoa(tt.status), func(t *testing.T) {
			s := newFake(t)
			s.FailNext(tt.op, tt.status, 1)
			st := newStore(t, s, env{vault.EnvRoleID: roleID, vault.EnvSecretID: secretID})
			wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrTransient)
		})
	}
}

func TestRetriesRecoverFromOneFailure(t *testing.T) {
	s := newFake(t)
	s.FailNext(fake.OpRead, 503, 1)
	s.FailNext(fake.OpWrite, 500, 1)
	st := newStore(t, s, tokenEnv(writer), func(o *vault.Options) { o.MaxRetries = 2 })
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-x")); err != nil {
		t.Fatalf("Put with retries: %v", err)
	}
	if _, version, _ := s.Secret("secret/gitlab/runners/ci"); version != 1 {
		t.Fatalf("version %d, want 1", version)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	s := newFake(t)
	s.Delay(fake.OpRead, 5*time.Second)
	st := newStore(t, s, tokenEnv(writer), func(o *vault.Options) { o.Timeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := st.Get(context.Background(), loc)
	wantErr(t, err, secrets.ErrTransient, context.DeadlineExceeded)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the timeout was not applied: %v", time.Since(start))
	}
}

func TestCancelIsNotTransient(t *testing.T) {
	s := newFake(t)
	s.Delay(fake.OpRead, 5*time.Second)
	st := newStore(t, s, tokenEnv(writer))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := st.Get(ctx, loc)
	wantErr(t, err, context.Canceled)
	if errors.Is(err, secrets.ErrTransient) {
		t.Fatalf("a cancellation is reported as transient: %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := vault.New(vault.Options{Getenv: env{}.get}); err == nil || !strings.Contains(err.Error(), "VAULT_ADDR") {
		t.Fatalf("New without VAULT_ADDR: %v", err)
	}
	_, err := vault.New(vault.Options{Getenv: env{vault.EnvAddr: "http://127.0.0.1:1", vault.EnvCACert: "/nonexistent/ca.pem"}.get})
	if err == nil || !strings.Contains(err.Error(), "VAULT_CACERT") {
		t.Fatalf("New with a missing CA file: %v", err)
	}
}

// TestNoSecretInAnyError drives every failure path with a canary token and
// canary credentials and checks that no message shows them.
func TestNoSecretInAnyError(t *testing.T) {
	secretsToHide := []string{"CANARY", canary, rootToken, writer, reader, secretID}
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	tok := secrets.NewToken(canary)
	ctx := context.Background()

	run := func(e env, setup func(*fake.Server), mut ...func(*vault.Options)) {
		s := newFake(t)
		s.PutSecret("secret/gitlab/runners/ci", map[string]string{property: canary, "other": "CANARY-other"})
		if setup != nil {
			setup(s)
		}
		st := newStore(t, s, e, mut...)
		collect(st.Check(ctx, loc))
		collect(st.Put(ctx, loc, tok))
		_, err := st.Get(ctx, loc)
		collect(err)
		collect(st.Put(ctx, secrets.Location{Key: "elsewhere/x", Property: property}, tok))
	}
	run(tokenEnv("hvs.bad-CANARY"), nil)
	run(tokenEnv(reader), nil)
	run(env{vault.EnvRoleID: roleID, vault.EnvSecretID: "CANARY-wrong"}, nil)
	run(env{vault.EnvRoleID: "CANARY-role"}, nil)
	run(tokenEnv(writer), func(s *fake.Server) {
		s.OnNext(fake.OpWrite, func() { s.PutSecret("secret/gitlab/runners/ci", map[string]string{property: "glrt-CANARY-theirs"}) })
	})
	for _, status := range []int{400, 401, 403, 404, 429, 500, 502, 503} {
		for _, op := range []string{fake.OpRead, fake.OpWrite, fake.OpLookup, fake.OpMounts, fake.OpCapabilities} {
			run(tokenEnv(writer), func(s *fake.Server) { s.FailNext(op, status, 5) })
		}
		run(env{vault.EnvRoleID: roleID, vault.EnvSecretID: secretID}, func(s *fake.Server) { s.FailNext(fake.OpLogin, status, 5) })
	}
	run(tokenEnv(rootToken), nil, func(o *vault.Options) { o.Mount = "nope" })
	run(tokenEnv(writer), func(s *fake.Server) { s.Delay(fake.OpRead, time.Second) }, func(o *vault.Options) { o.Timeout = 20 * time.Millisecond })

	if len(errs) < 100 {
		t.Fatalf("only %d failures collected; the test does not exercise what it claims", len(errs))
	}
	for _, err := range errs {
		msg := err.Error()
		for _, hidden := range secretsToHide {
			if strings.Contains(msg, hidden) {
				t.Errorf("error shows %q: %s", hidden, err)
			}
		}
	}
}
