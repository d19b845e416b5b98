package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
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

// GroupPath names a group runner's group by the full path runnerctl.yaml
// uses (import --runner-id), with a read_api token.
func TestGroupPath(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-reader", "read_api")
	srv.AddGroup(7, "platform/ci")
	ctx := context.Background()
	if got, err := c.GroupPath(ctx, 7); err != nil || got != "platform/ci" {
		t.Errorf("GroupPath(7) = %q, %v; want platform/ci", got, err)
	}
	if _, err := c.GroupPath(ctx, 8); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("unknown group: %v", err)
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
			created, err := c.CreateRunner(context.Background(), spec(target), gitlab.NewMarker(""))
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
	_, err := c.CreateRunner(context.Background(), spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
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
	if _, err := c.CreateRunner(context.Background(), spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker("")); err != nil {
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
	_, err := c.CreateRunner(context.Background(), s, gitlab.NewMarker(""))
	if err == nil || !strings.Contains(err.Error(), "Maximum timeout needs to be at least 10 minutes") {
		t.Fatalf("got %v", err)
	}
}

func TestDeleteAndGet(t *testing.T) {
	_, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
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

func TestGetRunnerReturnsSettings(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.AddGroup(7, "platform")
	ctx := context.Background()
	s := gitlab.RunnerSpec{Target: gitlab.Target{Type: "group_type", GroupID: 7}, Description: "CI runner", Tags: []string{"k8s", "linux"},
		AccessLevel: "ref_protected", MaximumTimeout: 3600, Paused: true, MaintenanceNote: "owned by platform"}
	marker := gitlab.NewMarker("")
	created, err := c.CreateRunner(ctx, s, marker)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRunner(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := gitlab.RunnerInfo{ID: created.ID, Type: "group_type", GroupIDs: []int64{7}, Description: "CI runner",
		TagList: []string{"k8s", "linux"}, RunUntagged: false, AccessLevel: "ref_protected", MaximumTimeout: 3600,
		Paused: true, MaintenanceNote: "owned by platform\n" + marker, Status: "never_contacted"}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got  %+v\nwant %+v", *got, want)
	}
}

func TestUpdateRunner(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-runners", "create_runner", "manage_runner", "read_api")
	srv.AddProject(9, "platform/app")
	ctx := context.Background()
	target := gitlab.Target{Type: "project_type", ProjectID: 9}
	s := spec(target)
	s.MaximumTimeout, s.Tags = 3600, []string{"k8s"}
	created, err := c.CreateRunner(ctx, s, gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	s = gitlab.RunnerSpec{Target: target, Description: "CI runner", Tags: []string{"k8s", "arm64"}, RunUntagged: false,
		Locked: true, AccessLevel: "ref_protected", MaximumTimeout: 7200, Paused: true, MaintenanceNote: "new note"}
	if err := c.UpdateRunner(ctx, created.ID, s); err != nil {
		t.Fatal(err)
	}
	r, _ := srv.Runner(created.ID)
	if r.Description != "CI runner" || !reflect.DeepEqual(r.TagList, []string{"k8s", "arm64"}) || r.RunUntagged || !r.Locked ||
		r.AccessLevel != "ref_protected" || r.MaximumTimeout != 7200 || !r.Paused || r.MaintenanceNote != "new note" || r.Updates != 1 {
		t.Fatalf("after the update: %+v", r)
	}
	// No tags and no maximum timeout remove them in GitLab.
	s.Tags, s.RunUntagged, s.MaximumTimeout = nil, true, 0
	if err := c.UpdateRunner(ctx, created.ID, s); err != nil {
		t.Fatal(err)
	}
	info, err := c.GetRunner(ctx, created.ID)
	if err != nil || len(info.TagList) != 0 || info.MaximumTimeout != 0 || !info.RunUntagged {
		t.Fatalf("after removing tags and timeout: %+v %v", info, err)
	}
	if srv.CreateCount() != 1 {
		t.Errorf("creates %d", srv.CreateCount())
	}
}

// Locked is a project runner's setting: it is not sent for other runners,
// as at creation.
func TestUpdateRunnerLockedOnlyForProjects(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	s := spec(gitlab.Target{Type: "instance_type"})
	s.Locked = true
	if err := c.UpdateRunner(ctx, created.ID, s); err != nil {
		t.Fatal(err)
	}
	if r, _ := srv.Runner(created.ID); r.Locked {
		t.Error("locked was sent for an instance runner")
	}
}

func TestUpdateRunnerValidationNamesTheField(t *testing.T) {
	_, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	s := spec(gitlab.Target{Type: "instance_type"})
	for i := range 51 {
		s.Tags = append(s.Tags, fmt.Sprintf("t%d", i))
	}
	s.MaximumTimeout = 60
	err = c.UpdateRunner(ctx, created.ID, s)
	var ve *gitlab.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Field != "tags_list" || ve.Fields[1].Field != "maximum_timeout" {
		t.Fatalf("got %v", err)
	}
	if want := "update runner 1: GitLab refused tags_list: Too many tags specified. Please limit the number of tags to 50; maximum_timeout: needs to be at least 10 minutes"; err.Error() != want {
		t.Errorf("message\n %s\nwant\n %s", err, want)
	}
	if err := c.UpdateRunner(ctx, 99, spec(gitlab.Target{Type: "instance_type"})); !errors.Is(err, gitlab.ErrNotFound) {
		t.Errorf("unknown runner: %v", err)
	}
}

// A PUT is idempotent: after a 5xx, or an answer lost after GitLab acted,
// the client sends it again and the result is the same.
func TestUpdateRetriedOn5xx(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	s := spec(gitlab.Target{Type: "instance_type"})
	s.Paused = true
	srv.FailNext(fake.OpUpdateRunner, 502, 1)
	srv.LoseResponse(fake.OpUpdateRunner, 1)
	if err := c.UpdateRunner(ctx, created.ID, s); err != nil {
		t.Fatal(err)
	}
	var puts []string
	for _, r := range srv.Requests() {
		if strings.HasPrefix(r, "PUT ") {
			puts = append(puts, r)
		}
	}
	want := []string{"PUT /api/v4/runners/1 502", "PUT /api/v4/runners/1 502", "PUT /api/v4/runners/1 200"}
	if !reflect.DeepEqual(puts, want) {
		t.Errorf("PUTs %v, want %v", puts, want)
	}
	if r, _ := srv.Runner(created.ID); !r.Paused || r.Updates != 2 {
		t.Errorf("runner %+v", r)
	}
}

func TestHasProjectRunner(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.AddProject(9, "platform/app")
	srv.AddProject(10, "platform/other")
	ctx := context.Background()
	created, err := c.CreateRunner(ctx, spec(gitlab.Target{Type: "project_type", ProjectID: 9}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		project int64
		want    bool
	}{{9, true}, {10, false}} {
		if got, err := c.HasProjectRunner(ctx, tc.project, created.ID); err != nil || got != tc.want {
			t.Errorf("project %d: %v %v, want %v", tc.project, got, err, tc.want)
		}
	}
}

func TestMarkerSplitsOff(t *testing.T) {
	m := "runnerctl-create-0123456789abcdef"
	for _, tc := range []struct{ note, text, marker string }{
		{gitlab.JoinMarker("owned by platform", m), "owned by platform", m},
		{gitlab.JoinMarker("", m), "", m},
		{gitlab.JoinMarker("two\nlines", m), "two\nlines", m},
		{"owned by platform", "owned by platform", ""},
		{"note\nrunnerctl-create-xyz", "note\nrunnerctl-create-xyz", ""},
		{"runnerctl-create-0123456789abcdef and more", "runnerctl-create-0123456789abcdef and more", ""},
	} {
		if text, marker := gitlab.SplitMarker(tc.note); text != tc.text || marker != tc.marker {
			t.Errorf("SplitMarker(%q) = %q, %q; want %q, %q", tc.note, text, marker, tc.text, tc.marker)
		}
	}
}

// An update whose answer never comes may have been applied: the error says
// so.
func TestUpdateWithoutAnswerIsUncertain(t *testing.T) {
	srv, c := setup(t, fake.Options{}, "glpat-admin", "api")
	created, err := c.CreateRunner(context.Background(), spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	srv.Delay(fake.OpUpdateRunner, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s := spec(gitlab.Target{Type: "instance_type"})
	s.Paused = true
	if err := c.UpdateRunner(ctx, created.ID, s); !errors.Is(err, gitlab.ErrUncertain) {
		t.Fatalf("got %v", err)
	}
	// A refusal is not uncertain.
	srv.ClearFaults()
	srv.FailNext(fake.OpUpdateRunner, 403, 1)
	if err := c.UpdateRunner(context.Background(), created.ID, s); err == nil || errors.Is(err, gitlab.ErrUncertain) {
		t.Fatalf("403: %v", err)
	}
}

// GitLab hides the maintenance note from users who may not update the
// runner (an instance runner, read by someone who is not an administrator).
func TestGetRunnerHiddenNote(t *testing.T) {
	srv, admin := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.AddTokenWith("glpat-user", fake.TokenOptions{Scopes: []string{"api"}})
	user, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-user"), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	created, err := admin.CreateRunner(ctx, spec(gitlab.Target{Type: "instance_type"}), gitlab.NewMarker(""))
	if err != nil {
		t.Fatal(err)
	}
	if info, err := admin.GetRunner(ctx, created.ID); err != nil || info.NoteHidden || info.MaintenanceNote == "" {
		t.Fatalf("admin: %+v %v", info, err)
	}
	if info, err := user.GetRunner(ctx, created.ID); err != nil || !info.NoteHidden || info.MaintenanceNote != "" || info.Type != "instance_type" {
		t.Fatalf("user: %+v %v", info, err)
	}
}
