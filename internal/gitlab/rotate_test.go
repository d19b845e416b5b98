package gitlab_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// A reset whose answer is lost (502, or a dropped connection) is retried:
// each reset makes only its own token valid, so the token finally returned
// is the live one.
func TestResetRetriedWhenAnswerLost(t *testing.T) {
	for _, lose := range []func(*fake.Server){
		func(s *fake.Server) { s.LoseResponseWith(fake.OpResetToken, 502, 1) },
		func(s *fake.Server) { s.LoseConnection(fake.OpResetToken, 1) },
		func(s *fake.Server) { s.FailNext(fake.OpResetToken, 503, 1) },
	} {
		srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
		ctx := context.Background()
		created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
		if err != nil {
			t.Fatal(err)
		}
		lose(srv)
		reset, err := c.ResetToken(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !srv.TokenValid(reset.Token.Reveal()) || srv.TokenValid(created.Token.Reveal()) {
			t.Errorf("the returned token is not the live one")
		}
	}
}

// A refusal (4xx) is not retried.
func TestResetNotRetriedOn4xx(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, _ := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	srv.FailNext(fake.OpResetToken, 403, 1)
	if _, err := c.ResetToken(ctx, created.ID); err == nil {
		t.Fatal("no error")
	}
	if r, _ := srv.Runner(created.ID); !srv.TokenValid(created.Token.Reveal()) || r.Token != created.Token.Reveal() {
		t.Errorf("the token was reset")
	}
}

// GET /runners/:id does not carry token_expires_at; GraphQL does.
func TestTokenExpiresAt(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, _ := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	got, err := c.TokenExpiresAt(ctx, created.ID)
	if err != nil || got != nil {
		t.Fatalf("never expires: %v %v", got, err)
	}
	at := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	srv.SetRunnerTokenExpiresAt(created.ID, &at)
	got, err = c.TokenExpiresAt(ctx, created.ID)
	if err != nil || got == nil || !got.Equal(at) {
		t.Fatalf("got %v %v, want %v", got, err, at)
	}
	if _, err := c.TokenExpiresAt(ctx, 999); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("unknown runner: %v", err)
	}
	srv.FailNext(fake.OpGraphQL, 500, 1)
	if got, err := c.TokenExpiresAt(ctx, created.ID); err != nil || got == nil {
		t.Errorf("a query is retried after a 500: %v %v", got, err)
	}
}

// GraphQL needs api or read_api: a manage_runner-only token is refused.
func TestTokenExpiresAtNeedsReadAPI(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	created, _ := c.CreateRunner(context.Background(), spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	srv.AddToken("glpat-manage", "manage_runner")
	c2, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-manage")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.TokenExpiresAt(context.Background(), created.ID); err == nil {
		t.Fatal("no error")
	}
}

// A reset is not idempotent, but a 429 means GitLab refused it before
// doing anything: the client retries it, after the wait GitLab asks for,
// and exactly one reset happens.
func TestResetRetriedAfter429(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	srv.RateLimit(fake.OpResetToken, 1, 1)
	reset, err := c.ResetToken(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !srv.TokenValid(reset.Token.Reveal()) || srv.TokenValid(created.Token.Reveal()) {
		t.Errorf("the returned token is not the live one")
	}
	var codes []string
	for _, r := range srv.Requests() {
		if strings.Contains(r, "/reset_authentication_token") {
			codes = append(codes, r[strings.LastIndexByte(r, ' ')+1:])
		}
	}
	if strings.Join(codes, ",") != "429,201" || c.Throttled() != 1 {
		t.Errorf("resets answered %v, throttled %d: want 429 then 201, one throttled", codes, c.Throttled())
	}
	if r, _ := srv.Runner(created.ID); len(r.OldTokens) != 1 {
		t.Errorf("the runner had %d tokens before, want 1: a refused reset must not count", len(r.OldTokens))
	}
}
