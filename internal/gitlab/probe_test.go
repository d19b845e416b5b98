package gitlab_test

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

func TestProbe(t *testing.T) {
	ctx := context.Background()

	// Reachable: once, without the token, whatever the token is worth.
	srv, c := setup(t, fake.Options{PathPrefix: "/gitlab", TLS: true}, "glpat-x", "read_api")
	if err := c.Probe(ctx); err != nil {
		t.Fatalf("Probe = %v, want nil", err)
	}
	if got := srv.Requests(); len(got) != 1 || !strings.HasPrefix(got[0], "GET /gitlab/api/v4/personal_access_tokens/self 401") {
		t.Errorf("requests = %q, want one unauthenticated GET", got)
	}

	// The wrong path prefix: an answer, but not GitLab's API.
	wrong, err := gitlab.New(gitlab.Options{URL: strings.TrimSuffix(srv.URL(), "gitlab/"), CAFile: caFile(t, srv), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var httpErr *gitlab.HTTPError
	if err := wrong.Probe(ctx); !errors.As(err, &httpErr) || httpErr.StatusCode != 404 {
		t.Errorf("wrong prefix: Probe = %v, want an HTTPError 404", err)
	}

	// GitLab failing: no retry.
	srv.FailNext(fake.OpTokenSelf, 502, 1)
	if err := c.Probe(ctx); !errors.As(err, &httpErr) || httpErr.StatusCode != 502 {
		t.Errorf("502: Probe = %v, want an HTTPError 502", err)
	}

	// An unknown CA is a TLS error callers can recognize.
	untrusted, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-x"), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var unknown x509.UnknownAuthorityError
	if err := untrusted.Probe(ctx); !errors.As(err, &unknown) {
		t.Errorf("unknown CA: Probe = %v, want an x509.UnknownAuthorityError", err)
	}
}

func caFile(t *testing.T, srv *fake.Server) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(f, srv.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
