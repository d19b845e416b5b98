package gitlab_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

func setup(t *testing.T, opts fake.Options, token string, scopes ...string) (*fake.Server, *gitlab.Client) {
	t.Helper()
	srv := fake.New(opts)
	t.Cleanup(srv.Close)
	srv.AddToken(token, scopes...)
	o := gitlab.Options{URL: srv.URL(), Token: secrets.NewToken(token), Timeout: 5 * time.Second}
	if opts.TLS {
		o.CAFile = filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(o.CAFile, srv.CACertPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, err := gitlab.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func spec(t gitlab.Target) gitlab.RunnerSpec {
	return gitlab.RunnerSpec{Target: t, Description: "ci", RunUntagged: true, AccessLevel: "not_protected"}
}

func TestSelfManagedWithPrefixAndCA(t *testing.T) {
	srv, c := setup(t, fake.Options{PathPrefix: "/gitlab", TLS: true, TokenPrefix: "CANARY"}, "glpat-admin", "api")
	ctx := context.Background()
	if err := c.CheckToken(ctx); err != nil {
		t.Fatal(err)
	}
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker())
	if err != nil {
		t.Fatal(err)
	}
	r, ok := srv.Runner(created.ID)
	if !ok || r.Token != created.Token.Reveal() || created.Recovered {
		t.Errorf("created %+v, server has %+v", created, r)
	}
	if !strings.HasPrefix(srv.Requests()[0], "GET /gitlab/api/v4/") {
		t.Errorf("requests %v do not use the path prefix", srv.Requests())
	}
}

func TestUntrustedCAFails(t *testing.T) {
	srv := fake.New(fake.Options{TLS: true})
	t.Cleanup(srv.Close)
	srv.AddToken("glpat-x", "api")
	c, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-x"), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckToken(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("want a certificate error, got %v", err)
	}
}

func TestTokenChecks(t *testing.T) {
	_, c := setup(t, fake.Options{}, "glpat-read", "read_api")
	var se *gitlab.ScopeError
	if err := c.CheckToken(context.Background()); !errors.As(err, &se) || !strings.Contains(err.Error(), "create_runner or api (to create runners)") ||
		strings.Contains(err.Error(), "read_api or api") {
		t.Fatalf("missing scope: %v", err)
	}
	// create_runner alone creates a runner that the same token can then
	// neither find (a lost answer), delete (a failed store) nor see again
	// (a re-run): init refuses it up front.
	_, c1 := setup(t, fake.Options{}, "glpat-create", "create_runner")
	err := c1.CheckToken(context.Background())
	if !errors.As(err, &se) || len(se.Missing) != 2 || !strings.Contains(err.Error(), "manage_runner or api") || !strings.Contains(err.Error(), "read_api or api") {
		t.Fatalf("create_runner only: %v", err)
	}
	_, capi := setup(t, fake.Options{}, "glpat-api", "api")
	if err := capi.CheckToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv, c2 := setup(t, fake.Options{}, "glpat-ok", "create_runner", "manage_runner", "read_api")
	if err := c2.CheckToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.RevokeToken("glpat-ok")
	if err := c2.CheckToken(context.Background()); !errors.Is(err, gitlab.ErrUnauthorized) {
		t.Fatalf("revoked: %v", err)
	}
}

func TestResolve(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.AddGroup(7, "platform")
	srv.AddProject(9, "platform/app")
	ctx := context.Background()
	if got, err := c.Resolve(ctx, config.Scope{Type: "group", Path: "platform"}); err != nil || got.GroupID != 7 || got.Type != "group_type" {
		t.Errorf("group: %+v %v", got, err)
	}
	if got, err := c.Resolve(ctx, config.Scope{Type: "project", Path: "platform/app"}); err != nil || got.ProjectID != 9 {
		t.Errorf("project: %+v %v", got, err)
	}
	if _, err := c.Resolve(ctx, config.Scope{Type: "project", Path: "platform/nope"}); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("unknown project: %v", err)
	}
}

// A lost answer is resolved by the marker, for every runner type, and the
// runner's token is reset (the first one was never seen): one runner, a
// usable token.
func TestLostCreateIsRecovered(t *testing.T) {
	for _, typ := range []string{"instance_type", "group_type", "project_type"} {
		t.Run(typ, func(t *testing.T) {
			srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
			srv.AddGroup(7, "platform")
			srv.AddProject(9, "platform/app")
			target := gitlab.Target{Type: typ}
			switch typ {
			case "group_type":
				target.GroupID = 7
			case "project_type":
				target.ProjectID = 9
			}
			srv.LoseResponse(fake.OpCreateRunner, 1)
			created, err := c.CreateRunner(context.Background(), spec(target), gitlab.NewMarker())
			if err != nil {
				t.Fatal(err)
			}
			if srv.CreateCount() != 1 || !created.Recovered {
				t.Fatalf("creates %d, recovered %v", srv.CreateCount(), created.Recovered)
			}
			if !srv.TokenValid(created.Token.Reveal()) {
				t.Error("the recovered token is not the runner's live token")
			}
		})
	}
}

func TestCreateNeverRetriedOn5xx(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.FailNext(fake.OpCreateRunner, 500, 1)
	_, err := c.CreateRunner(context.Background(), spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker())
	if err == nil || !strings.Contains(err.Error(), "no runner was created") {
		t.Fatalf("got %v", err)
	}
	posts := 0
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "POST ") {
			posts++
		}
	}
	if posts != 1 || srv.CreateCount() != 0 {
		t.Errorf("POSTs %d creates %d: a create must not be retried", posts, srv.CreateCount())
	}
}

func TestRateLimitHonoured(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.RateLimit(fake.OpCreateRunner, 1, 1)
	start := time.Now()
	if _, err := c.CreateRunner(context.Background(), spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker()); err != nil {
		t.Fatal(err)
	}
	if srv.CreateCount() != 1 {
		t.Errorf("creates %d", srv.CreateCount())
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Errorf("Retry-After: 1 not honoured (retried after %v)", waited)
	} else if waited > 4*time.Second {
		t.Errorf("Retry-After: 1, but retried only after %v", waited)
	}
}

func TestValidationErrorIsClear(t *testing.T) {
	_, c := setup(t, fake.Options{}, "glpat-admin", "api")
	s := spec(gitlab.Target{Type: "instance_type"})
	s.MaximumTimeout = 60
	_, err := c.CreateRunner(context.Background(), s, gitlab.NewMarker())
	if err == nil || !strings.Contains(err.Error(), "Maximum timeout needs to be at least 10 minutes") {
		t.Fatalf("got %v", err)
	}
}

func TestDeleteAndGet(t *testing.T) {
	_, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRunner(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteRunner(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRunner(ctx, created.ID); !errors.Is(err, gitlab.ErrNotFound) {
		t.Fatalf("deleted runner: %v", err)
	}
}
