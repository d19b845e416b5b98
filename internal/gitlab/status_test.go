package gitlab_test

import (
	"context"
	"errors"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

func TestRunnerStatus(t *testing.T) {
	srv, c := setup(t, fake.Options{PathPrefix: "/gitlab", TLS: true}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}

	st, err := c.RunnerStatus(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "never_contacted" || st.ContactedAt != nil || st.Version != "" || st.Managers != 0 || st.Paused {
		t.Errorf("new runner: %+v", st)
	}

	contacted := time.Now().Add(-3 * time.Minute).Truncate(time.Millisecond)
	expires := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	srv.SetRunnerContact(created.ID, contacted, "18.9.0")
	srv.SetRunnerTokenExpiresAt(created.ID, &expires)
	st, err = c.RunnerStatus(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "online" || st.ContactedAt == nil || !st.ContactedAt.Equal(contacted) ||
		st.Version != "18.9.0" || st.Managers != 1 || st.TokenExpiresAt == nil || !st.TokenExpiresAt.Equal(expires) {
		t.Errorf("after contact: %+v", st)
	}

	// Three hours without contact: offline.
	srv.SetRunnerContact(created.ID, time.Now().Add(-3*time.Hour), "18.9.1")
	if st, err = c.RunnerStatus(ctx, created.ID); err != nil || st.Status != "offline" || st.Version != "18.9.1" {
		t.Errorf("after 3h: %+v, %v", st, err)
	}

	// runnerctl's own check of the token records a manager in GitLab (and
	// a contact): it is not a runner process, and no version.
	if _, err := c.VerifyRunnerToken(ctx, created.Token); err != nil {
		t.Fatal(err)
	}
	if r, _ := srv.Runner(created.ID); len(r.Managers) != 2 {
		t.Fatalf("managers %+v", r.Managers)
	}
	if st, err = c.RunnerStatus(ctx, created.ID); err != nil || st.Managers != 1 || st.Version != "18.9.1" {
		t.Errorf("after a verify: %+v, %v", st, err)
	}

	if _, err := c.RunnerStatus(ctx, 999); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("unknown runner: %v, want ErrNotFound", err)
	}
}

func TestCheckReadToken(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		ok     bool
	}{
		{[]string{"api"}, true},
		{[]string{"read_api"}, true},
		{[]string{"create_runner", "manage_runner"}, false},
	} {
		_, c := setup(t, fake.Options{}, "glpat-x", tc.scopes...)
		err := c.CheckReadToken(context.Background())
		var se *gitlab.ReadScopeError
		if tc.ok != (err == nil) || (!tc.ok && !errors.As(err, &se)) {
			t.Errorf("scopes %v: %v", tc.scopes, err)
		}
	}
	srv, _ := setup(t, fake.Options{}, "glpat-x", "api")
	wrong, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-wrong")})
	if err != nil {
		t.Fatal(err)
	}
	if err := wrong.CheckReadToken(context.Background()); !errors.Is(err, gitlab.ErrUnauthorized) {
		t.Errorf("wrong token: %v, want ErrUnauthorized", err)
	}
}
