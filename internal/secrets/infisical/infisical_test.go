package infisical_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/infisical"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/infisical"
)

const (
	canary       = "glrt-CANARY-xyz"
	clientID     = "3f9a1c2e-runnerctl-identity"
	clientSecret = "client-secret-CANARY-value"
	project      = "platform"
	environment  = "prod"
)

var loc = secrets.Location{Key: "/gitlab/runners/ci/RUNNER_TOKEN"}

// newFake starts a fake Infisical with project "platform" (dev, staging,
// prod) and a machine identity that is a member of it.
func newFake(t *testing.T) *fake.Server {
	t.Helper()
	s := fake.New()
	t.Cleanup(s.Close)
	s.AddProject(project)
	s.AddIdentity(clientID, clientSecret)
	s.Grant(clientID, project, fake.RoleMember)
	return s
}

type env map[string]string

func (e env) get(k string) string { return e[k] }

func credentials(s *fake.Server) env {
	return env{
		infisical.EnvAPIURL:       s.URL(),
		infisical.EnvClientID:     clientID,
		infisical.EnvClientSecret: clientSecret,
	}
}

func newStore(t *testing.T, s *fake.Server, e env, mutate ...func(*infisical.Options)) *infisical.Store {
	t.Helper()
	opts := infisical.Options{
		ProjectSlug: project,
		Environment: environment,
		Getenv:      e.get,
		HTTPClient:  s.Client(),
		Timeout:     5 * time.Second,
		MaxRetries:  -1,
		RetryWait:   time.Millisecond,
	}
	for _, m := range mutate {
		m(&opts)
	}
	st, err := infisical.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return st
}

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

// count counts the requests that start with prefix ("POST /api/v1/folders").
func count(s *fake.Server, prefix string) int {
	n := 0
	for _, r := range s.Requests() {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func writes(s *fake.Server) int {
	return count(s, "POST /api/v1/folders") + count(s, "POST /api/v3/") + count(s, "PATCH /api/v3/")
}

func TestPutCreatesFoldersAndUpdates(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	ctx := context.Background()

	if err := st.Put(ctx, loc, secrets.NewToken("glrt-first")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	for _, f := range []string{"/gitlab", "/gitlab/runners", "/gitlab/runners/ci"} {
		if !s.FolderExists(project, environment, f) {
			t.Errorf("folder %s was not created", f)
		}
	}
	if got := count(s, "POST /api/v1/folders"); got != 3 {
		t.Errorf("%d folder creations, want one per missing level (3)", got)
	}
	v, version, ok := s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN")
	if !ok || v != "glrt-first" || version != 1 {
		t.Fatalf("after create: %q version %d ok %v", v, version, ok)
	}
	if s.FolderExists(project, "dev", "/gitlab") {
		t.Fatal("folders were created in another environment")
	}

	if err := st.Put(ctx, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	v, version, _ = s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN")
	if v != "glrt-second" || version != 2 {
		t.Fatalf("after update: %q version %d", v, version)
	}
	if got := count(s, "POST /api/v1/folders"); got != 3 {
		t.Errorf("the update created folders again (%d creations)", got)
	}

	if err := secrets.VerifyStored(ctx, st, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatalf("VerifyStored: %v", err)
	}
	if err := st.Put(ctx, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatalf("idempotent Put: %v", err)
	}
	if _, version, _ = s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN"); version != 2 {
		t.Fatalf("idempotent Put made version %d", version)
	}
	if logins := count(s, "POST /api/v1/auth/universal-auth/login"); logins != 1 {
		t.Errorf("%d logins, want 1", logins)
	}
	if lookups := count(s, "GET /api/v1/projects/slug/"); lookups != 1 {
		t.Errorf("%d project look-ups, want 1", lookups)
	}
}

func TestPutCreatesOnlyMissingFolders(t *testing.T) {
	s := newFake(t)
	s.SetSecret(project, environment, "/gitlab/other", "KEEP", "kept")
	st := newStore(t, s, credentials(s))
	if err := st.Put(context.Background(), loc, secrets.NewToken(canary)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if got := count(s, "POST /api/v1/folders"); got != 2 {
		t.Errorf("%d folder creations, want 2 (runners, ci)", got)
	}
	if v, _, ok := s.Secret(project, environment, "/gitlab/other", "KEEP"); !ok || v != "kept" {
		t.Fatal("a neighbouring secret changed")
	}
}

func TestPutKeepsNeighbours(t *testing.T) {
	s := newFake(t)
	s.SetSecret(project, environment, "/gitlab/runners/ci", "OTHER", "other")
	st := newStore(t, s, credentials(s))
	if err := st.Put(context.Background(), loc, secrets.NewToken(canary)); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if v, _, _ := s.Secret(project, environment, "/gitlab/runners/ci", "OTHER"); v != "other" {
		t.Fatalf("OTHER = %q", v)
	}
	if got := count(s, "POST /api/v1/folders"); got != 0 {
		t.Errorf("%d folder creations in an existing folder", got)
	}
}

func TestKeysLikeESO(t *testing.T) {
	s := newFake(t)
	e := credentials(s)
	e[infisical.EnvAPIURL] = s.URL() + "/api/" // the CLI's form
	st := newStore(t, s, e)
	ctx := context.Background()
	if err := st.Put(ctx, secrets.Location{Key: "gitlab/relative/NAME"}, secrets.NewToken("glrt-a")); err != nil {
		t.Fatalf("relative key: %v", err)
	}
	if _, _, ok := s.Secret(project, environment, "/gitlab/relative", "NAME"); !ok {
		t.Error("a relative key is not under /")
	}
	if err := st.Put(ctx, secrets.Location{Key: "/AT_ROOT"}, secrets.NewToken("glrt-b")); err != nil {
		t.Fatalf("root key: %v", err)
	}
	if _, _, ok := s.Secret(project, environment, "/", "AT_ROOT"); !ok {
		t.Error("a root key is not at /")
	}
}

func TestInvalidLocations(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	for _, l := range []secrets.Location{
		{Key: ""},
		{Key: "/gitlab/runners/"},
		{Key: "/git lab/NAME"},
		{Key: "/gitlab//NAME"},
		{Key: "/gitlab/NAME", Property: "token"},
	} {
		if err := st.Put(context.Background(), l, secrets.NewToken("glrt-x")); err == nil {
			t.Errorf("Put %+v: no error", l)
		}
		if err := st.Check(context.Background(), l); err == nil {
			t.Errorf("Check %+v: no error", l)
		}
	}
	if len(s.Requests()) != 0 {
		t.Fatalf("invalid locations reached Infisical: %v", s.Requests())
	}
}

func TestGetMissing(t *testing.T) {
	s := newFake(t)
	s.SetSecret(project, environment, "/gitlab/runners/ci", "OTHER", "x")
	st := newStore(t, s, credentials(s))
	ctx := context.Background()
	if _, err := st.Get(ctx, loc); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing secret: %v", err)
	}
	if _, err := st.Get(ctx, secrets.Location{Key: "/no/such/folder/NAME"}); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("missing folder: %v", err)
	}
}

func TestCheckSucceedsWithoutWriting(t *testing.T) {
	for _, role := range []string{fake.RoleAdmin, fake.RoleMember, fake.RoleViewer} {
		t.Run(role, func(t *testing.T) {
			s := newFake(t)
			s.Grant(clientID, project, role)
			st := newStore(t, s, credentials(s))
			if err := st.Check(context.Background(), loc); err != nil {
				t.Fatalf("Check: %v", err)
			}
			if w := writes(s); w != 0 {
				t.Fatalf("Check wrote %d times: %v", w, s.Requests())
			}
		})
	}
}

func TestCheckFailures(t *testing.T) {
	tests := []struct {
		name    string
		env     func(env)
		setup   func(*fake.Server)
		opts    func(*infisical.Options)
		want    []error
		message string
	}{
		{name: "wrong client secret", env: func(e env) { e[infisical.EnvClientSecret] = "wrong-CANARY" }, want: []error{secrets.ErrAuth}, message: "Invalid credentials"},
		{name: "unknown client id", env: func(e env) { e[infisical.EnvClientID] = "nobody" }, want: []error{secrets.ErrAuth}},
		{name: "no credentials", env: func(e env) { delete(e, infisical.EnvClientID) }, want: []error{secrets.ErrAuth}, message: infisical.EnvClientID},
		{name: "unknown project", opts: func(o *infisical.Options) { o.ProjectSlug = "nope" }, want: []error{infisical.ErrNoProject}, message: "Project with slug 'nope' not found"},
		{name: "not a member", setup: func(s *fake.Server) { s.Grant(clientID, project, "") }, want: []error{infisical.ErrNoProject, secrets.ErrPermission}, message: "not a member"},
		{name: "unknown environment", opts: func(o *infisical.Options) { o.Environment = "production" }, want: []error{infisical.ErrNoEnvironment}, message: "dev, staging, prod"},
		{name: "no permissions", setup: func(s *fake.Server) {
			// Infisical looks for the folder before it checks permissions:
			// the folder must exist for a read to be refused.
			s.SetSecret(project, environment, "/gitlab/runners/ci", "OTHER", "x")
			s.Grant(clientID, project, fake.RoleNoAccess)
		}, want: []error{secrets.ErrPermission}, message: "not allowed to describeSecret on secrets"},
		{name: "server error", setup: func(s *fake.Server) { s.FailNext(fake.OpProject, 500, 1) }, want: []error{secrets.ErrTransient}},
		{name: "wrong API URL", env: func(e env) { e[infisical.EnvAPIURL] += "/nope" }, message: "check INFISICAL_API_URL"},
		{name: "login rate limited", setup: func(s *fake.Server) { s.FailNext(fake.OpLogin, 429, 1) }, want: []error{secrets.ErrTransient}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			e := credentials(s)
			if tt.env != nil {
				tt.env(e)
			}
			var mut []func(*infisical.Options)
			if tt.opts != nil {
				mut = append(mut, tt.opts)
			}
			st := newStore(t, s, e, mut...)
			err := st.Check(context.Background(), loc)
			wantErr(t, err, tt.want...)
			if tt.message != "" && !strings.Contains(err.Error(), tt.message) {
				t.Errorf("error %q does not say %q", err, tt.message)
			}
			if w := writes(s); w != 0 {
				t.Fatalf("Check wrote: %v", s.Requests())
			}
		})
	}
}

func TestPutWithReadOnlyRole(t *testing.T) {
	s := newFake(t)
	s.Grant(clientID, project, fake.RoleViewer)
	st := newStore(t, s, credentials(s))
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrPermission)

	s.SetSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN", "glrt-old")
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrPermission)
	if v, _, _ := s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN"); v != "glrt-old" {
		t.Fatalf("a viewer changed the secret to %q", v)
	}
}

func TestCreateRaceIsConflict(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	s.OnNext(fake.OpCreate, func() {
		s.SetSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN", "glrt-theirs")
	})
	err := st.Put(context.Background(), loc, secrets.NewToken(canary))
	wantErr(t, err, secrets.ErrConflict)
	if v, _, _ := s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN"); v != "glrt-theirs" {
		t.Fatalf("the concurrent value was overwritten: %q", v)
	}
	if strings.Contains(err.Error(), "CANARY") || strings.Contains(err.Error(), "theirs") {
		t.Fatalf("the error shows a token: %v", err)
	}
}

func TestCreateRaceWithOurTokenIsSuccess(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	s.OnNext(fake.OpCreate, func() {
		s.SetSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN", "glrt-same")
	})
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-same")); err != nil {
		t.Fatalf("Put: %v", err)
	}
}

func TestUpdateOfDeletedSecretIsConflict(t *testing.T) {
	s := newFake(t)
	s.SetSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN", "glrt-old")
	st := newStore(t, s, credentials(s))
	s.OnNext(fake.OpUpdate, func() { s.DeleteSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN") })
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-new")), secrets.ErrConflict)
}

func TestFolderCreatedConcurrentlyIsFine(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	// Another run creates /gitlab between runnerctl's listing and its create.
	s.OnNext(fake.OpFolders, func() {})
	s.OnNext(fake.OpFolders, func() { s.SetSecret(project, environment, "/gitlab", "X", "x") })
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-x")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if _, _, ok := s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN"); !ok {
		t.Fatal("not stored")
	}
}

func TestFolderDeletedBeforeCreateIsConflict(t *testing.T) {
	s := newFake(t)
	s.SetSecret(project, environment, "/gitlab/runners/ci", "OTHER", "x")
	st := newStore(t, s, credentials(s))
	s.OnNext(fake.OpCreate, func() { s.DeleteFolder(project, environment, "/gitlab/runners/ci") })
	wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrConflict)
}

func TestExpiredAccessTokenLogsInAgain(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	ctx := context.Background()
	if err := st.Put(ctx, loc, secrets.NewToken("glrt-a")); err != nil {
		t.Fatalf("Put: %v", err)
	}
	s.ExpireTokens()
	if err := st.Put(ctx, loc, secrets.NewToken("glrt-b")); err != nil {
		t.Fatalf("Put after expiry: %v", err)
	}
	if logins := count(s, "POST /api/v1/auth/universal-auth/login"); logins != 2 {
		t.Fatalf("%d logins, want 2", logins)
	}
}

func TestRevokedCredentialsOnReloginIsAuth(t *testing.T) {
	s := newFake(t)
	st := newStore(t, s, credentials(s))
	ctx := context.Background()
	if err := st.Check(ctx, loc); err != nil {
		t.Fatalf("Check: %v", err)
	}
	s.ExpireTokens()
	s.AddIdentity(clientID, "rotated-secret")
	s.Grant(clientID, project, fake.RoleMember)
	_, err := st.Get(ctx, loc)
	wantErr(t, err, secrets.ErrAuth)
}

func TestTransientFailures(t *testing.T) {
	for _, tt := range []struct {
		op     string
		status int
	}{
		{fake.OpLogin, 500}, {fake.OpProject, 503}, {fake.OpRead, 500}, {fake.OpRead, 429},
		{fake.OpFolders, 502}, {fake.OpCreate, 500}, {fake.OpCreate, 504},
	} {
		t.Run(tt.op+"/"+strconv.Itoa(tt.status), func(t *testing.T) {
			s := newFake(t)
			s.FailNext(tt.op, tt.status, 1)
			st := newStore(t, s, credentials(s))
			wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrTransient)
		})
	}
	t.Run("update/503", func(t *testing.T) {
		s := newFake(t)
		s.SetSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN", "glrt-old")
		s.FailNext(fake.OpUpdate, 503, 1)
		st := newStore(t, s, credentials(s))
		wantErr(t, st.Put(context.Background(), loc, secrets.NewToken("glrt-x")), secrets.ErrTransient)
	})
}

func TestRetriesRecover(t *testing.T) {
	s := newFake(t)
	s.FailNext(fake.OpLogin, 503, 1)
	s.FailNext(fake.OpRead, 429, 1)
	s.FailNext(fake.OpCreate, 500, 2)
	st := newStore(t, s, credentials(s), func(o *infisical.Options) { o.MaxRetries = 2 })
	if err := st.Put(context.Background(), loc, secrets.NewToken("glrt-x")); err != nil {
		t.Fatalf("Put with retries: %v", err)
	}
	if _, version, _ := s.Secret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN"); version != 1 {
		t.Fatalf("version %d, want 1", version)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	s := newFake(t)
	s.Delay(fake.OpRead, 5*time.Second)
	st := newStore(t, s, credentials(s), func(o *infisical.Options) { o.Timeout = 100 * time.Millisecond })
	start := time.Now()
	_, err := st.Get(context.Background(), loc)
	wantErr(t, err, secrets.ErrTransient, context.DeadlineExceeded)
	if time.Since(start) > 3*time.Second {
		t.Fatalf("the timeout was not applied: %v", time.Since(start))
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []infisical.Options{
		{Environment: environment},
		{ProjectSlug: project},
		{ProjectSlug: project, Environment: environment, Getenv: env{infisical.EnvAPIURL: "app.infisical.com"}.get},
	} {
		if _, err := infisical.New(o); err == nil {
			t.Errorf("New(%+v): no error", o)
		}
	}
}

// TestNoSecretInAnyError drives every failure path with a canary token and
// canary credentials and checks that no message shows them.
func TestNoSecretInAnyError(t *testing.T) {
	var errs []error
	collect := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	tok := secrets.NewToken(canary)
	ctx := context.Background()
	run := func(setup func(*fake.Server, env), mut ...func(*infisical.Options)) {
		s := newFake(t)
		s.SetSecret(project, environment, "/gitlab/runners/ci", "RUNNER_TOKEN", "glrt-CANARY-existing")
		e := credentials(s)
		if setup != nil {
			setup(s, e)
		}
		st := newStore(t, s, e, mut...)
		collect(st.Check(ctx, loc))
		collect(st.Put(ctx, loc, tok))
		_, err := st.Get(ctx, loc)
		collect(err)
		collect(st.Put(ctx, secrets.Location{Key: "/new/folder/RUNNER_TOKEN"}, tok))
	}
	run(func(_ *fake.Server, e env) { e[infisical.EnvClientSecret] = "wrong-CANARY-secret" })
	run(func(s *fake.Server, _ env) { s.Grant(clientID, project, fake.RoleViewer) })
	run(func(s *fake.Server, _ env) { s.Grant(clientID, project, fake.RoleNoAccess) })
	run(func(s *fake.Server, _ env) { s.Grant(clientID, project, "") })
	run(func(s *fake.Server, _ env) {
		s.OnNext(fake.OpCreate, func() { s.SetSecret(project, environment, "/new/folder", "RUNNER_TOKEN", "glrt-CANARY-theirs") })
	})
	for _, status := range []int{400, 401, 403, 404, 429, 500, 502, 503} {
		for _, op := range []string{fake.OpLogin, fake.OpProject, fake.OpFolders, fake.OpRead, fake.OpCreate, fake.OpUpdate} {
			run(func(s *fake.Server, _ env) { s.FailNext(op, status, 10) })
		}
	}
	run(func(s *fake.Server, _ env) { s.Delay(fake.OpRead, time.Second) }, func(o *infisical.Options) { o.Timeout = 20 * time.Millisecond })

	if len(errs) < 120 {
		t.Fatalf("only %d failures collected; the test does not exercise what it claims", len(errs))
	}
	for _, err := range errs {
		for _, hidden := range []string{"CANARY", canary, clientSecret, "eyJ"} {
			if strings.Contains(err.Error(), hidden) {
				t.Errorf("error shows %q: %s", hidden, err)
			}
		}
	}
}
