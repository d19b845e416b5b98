package gitlab_test

import (
	"net/http"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
)

func TestRunnerContactAndManagers(t *testing.T) {
	s := newServer(t, fake.Options{})
	s.AddToken("glpat-reader", "read_api")
	s.AddToken("glpat-creator", "create_runner")
	c := newClient(t, s, adminToken)
	r, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	if err != nil {
		t.Fatal(err)
	}

	ms, _, err := c.Runners.ListRunnerManagers(r.ID)
	if err != nil || len(ms) != 0 {
		t.Fatalf("managers of a new runner: %v, %v", ms, err)
	}
	if s.SetRunnerContact(999, time.Now(), "18.9.0") {
		t.Error("SetRunnerContact of an unknown runner reported success")
	}

	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	if !s.SetRunnerContact(r.ID, at, "18.9.0") {
		t.Fatal("SetRunnerContact failed")
	}
	d, _, err := newClient(t, s, "glpat-reader").Runners.GetRunnerDetails(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "online" || d.ContactedAt == nil || !d.ContactedAt.Equal(at) || d.Version != "18.9.0" {
		t.Errorf("details after contact: status %q contacted %v version %q", d.Status, d.ContactedAt, d.Version)
	}
	ms, _, err = newClient(t, s, "glpat-reader").Runners.ListRunnerManagers(r.ID)
	if err != nil || len(ms) != 1 {
		t.Fatalf("managers: %v, %v", ms, err)
	}
	if m := ms[0]; m.Version != "18.9.0" || m.Status != "online" || m.ContactedAt == nil || !m.ContactedAt.Equal(at) || m.SystemID == "" {
		t.Errorf("manager %+v", m)
	}

	// The same authorization as GET /runners/:id.
	_, _, err = newClient(t, s, "glpat-creator").Runners.ListRunnerManagers(r.ID)
	errResponse(t, err, http.StatusForbidden)
	_, _, err = c.Runners.ListRunnerManagers(999)
	errResponse(t, err, http.StatusNotFound)

	// Listing by status sees contact too.
	rs, _, err := c.Runners.ListAllRunners(&gl.ListRunnersOptions{Status: ptr("online")})
	if err != nil || len(rs) != 1 {
		t.Errorf("online runners: %v, %v", rs, err)
	}
}
