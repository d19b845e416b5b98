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

func TestMarkerCarriesIdentity(t *testing.T) {
	m := gitlab.NewMarker("0123abcd")
	if gitlab.MarkerIdentity(m) != "0123abcd" || m == gitlab.NewMarker("0123abcd") {
		t.Fatalf("marker %q: identity %q", m, gitlab.MarkerIdentity(m))
	}
	if _, got := gitlab.SplitMarker(gitlab.JoinMarker("note", m)); got != m {
		t.Errorf("SplitMarker lost %q: %q", m, got)
	}
	// Not an identity: random instead, and still a marker.
	for _, bad := range []string{"", "0123", "0123abcX", "0123abcd0"} {
		if r := gitlab.NewMarker(bad); gitlab.MarkerIdentity(r) == "" || gitlab.MarkerIdentity(r) == bad {
			t.Errorf("NewMarker(%q) = %q", bad, r)
		}
	}
	for _, notMarker := range []string{"runnerctl-create-", "runnerctl-create-0123abcd", "runnerctl-create-0123abcd0123abcG", "x-0123abcd01234567"} {
		if gitlab.MarkerIdentity(notMarker) != "" {
			t.Errorf("MarkerIdentity(%q) is not empty", notMarker)
		}
	}
}

// POST /runners/verify tells the current token from one reset since,
// without changing the token; the fake records the check's runner manager
// under VerifySystemID, as GitLab does.
func TestVerifyRunnerToken(t *testing.T) {
	srv, c := setup(t, fake.Options{TokenPrefix: "CANARYv"}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.VerifyRunnerToken(ctx, created.Token)
	if err != nil || id != created.ID {
		t.Fatalf("current token: id %d, %v", id, err)
	}
	r, _ := srv.Runner(created.ID)
	if r.Token != created.Token.Reveal() || len(r.Managers) != 1 || r.Managers[0].SystemID != gitlab.VerifySystemID {
		t.Fatalf("verify changed the token or recorded %+v", r.Managers)
	}
	if _, err := c.ResetToken(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.VerifyRunnerToken(ctx, created.Token)
	if !errors.Is(err, gitlab.ErrTokenRefused) || strings.Contains(err.Error(), "CANARYv") {
		t.Fatalf("old token: %v", err)
	}
	// No answer is no verdict: transient, and never "refused". (The
	// deadline cuts the retries short.)
	srv.FailNext(fake.OpVerifyRunner, 503, 4)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = c.VerifyRunnerToken(short, secrets.NewToken(r.Token))
	if !errors.Is(err, gitlab.ErrTransient) || errors.Is(err, gitlab.ErrTokenRefused) {
		t.Fatalf("503: %v", err)
	}
}

// FindByIdentity sees the runners runnerctl made for one token location,
// lowest ID first, and no others.
func TestFindByIdentity(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.AddGroup(7, "platform")
	ctx := context.Background()
	target := gitlab.Target{Type: "group_type", GroupID: 7}
	var mine []int64
	for _, m := range []string{gitlab.NewMarker("0123abcd"), gitlab.NewMarker("ffffffff"), gitlab.NewMarker("0123abcd")} {
		cr, err := c.CreateRunner(ctx, spec(target), m)
		if err != nil {
			t.Fatal(err)
		}
		if gitlab.MarkerIdentity(m) == "0123abcd" {
			mine = append(mine, cr.ID)
		}
	}
	other := spec(target)
	other.Description = "not ci"
	if _, err := c.CreateRunner(ctx, other, gitlab.NewMarker("0123abcd")); err != nil {
		t.Fatal(err)
	}
	found, err := c.FindByIdentity(ctx, target, "ci", "0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 || found[0].ID != mine[0] || found[1].ID != mine[1] || found[0].CreatedAt == nil || gitlab.MarkerIdentity(found[0].Marker) != "0123abcd" {
		t.Fatalf("found %+v, want runners %v", found, mine)
	}
	if err := c.DeleteRunner(ctx, mine[0]); err != nil {
		t.Fatal(err)
	}
	if found, _ := c.FindByIdentity(ctx, target, "ci", "0123abcd"); len(found) != 1 || found[0].ID != mine[1] {
		t.Fatalf("after delete: %+v", found)
	}
	// FindByMarker reads the other descriptions too, once the same ones
	// hold no match: a description may have been changed in GitLab.
	m := gitlab.NewMarker("")
	cr, err := c.CreateRunner(ctx, other, m)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := c.FindByMarker(ctx, target, "ci", m); err != nil || id != cr.ID {
		t.Fatalf("FindByMarker: %d %v", id, err)
	}
}

func TestContactedAtAndTransientErrors(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	if at, err := c.ContactedAt(ctx, created.ID); err != nil || at != nil {
		t.Fatalf("never contacted: %v %v", at, err)
	}
	srv.FailNext(fake.OpGetRunner, 502, 5)
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := c.ContactedAt(short, created.ID); !errors.Is(err, gitlab.ErrTransient) {
		t.Fatalf("502: %v", err)
	}
	srv.ClearFaults()
	if _, err := c.ContactedAt(ctx, 999); !errors.Is(err, gitlab.ErrNotFound) || errors.Is(err, gitlab.ErrTransient) {
		t.Fatalf("404: %v", err)
	}
}
