package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

func ids(rs []*gitlab.RunnerInfo) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func client(t *testing.T, srv *fake.Server, token string) *gitlab.Client {
	t.Helper()
	c, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken(token), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// findFixture creates, as an administrator: 1 an instance runner "CI
// runner" [k8s linux], 2 a group runner "CI runner" [docker], 3 a project
// runner "builder" [gpu], 4 an instance runner "other" [arm k8s linux],
// whose tags include 1's (GitLab's tag_list filter returns it too).
func findFixture(t *testing.T) *fake.Server {
	t.Helper()
	srv, admin := setup(t, fake.Options{}, "glpat-admin", "api")
	srv.AddGroup(7, "platform")
	srv.AddProject(9, "platform/app")
	ctx := context.Background()
	for _, s := range []gitlab.RunnerSpec{
		{Target: gitlab.Target{Type: "instance_type"}, Description: "CI runner", Tags: []string{"k8s", "linux"}},
		{Target: gitlab.Target{Type: "group_type", GroupID: 7}, Description: "CI runner", Tags: []string{"docker"}},
		{Target: gitlab.Target{Type: "project_type", ProjectID: 9}, Description: "builder", Tags: []string{"gpu"}},
		{Target: gitlab.Target{Type: "instance_type"}, Description: "other", Tags: []string{"arm", "k8s", "linux"}},
	} {
		if _, err := admin.CreateRunner(ctx, s, gitlab.NewMarker("")); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

func TestFindRunners(t *testing.T) {
	srv := findFixture(t)
	srv.AddToken("glpat-reader", "read_api")
	c := client(t, srv, "glpat-reader")
	ctx := context.Background()
	for _, tc := range []struct {
		name        string
		description string
		tags        []string
		want        []int64
	}{
		{"by description and tags", "builder", []string{"gpu"}, []int64{3}},
		{"by tags alone, as a set", "nothing", []string{"linux", "k8s"}, []int64{1}},
		{"by description alone", "CI runner", nil, []int64{1, 2}},
		{"either", "builder", []string{"docker"}, []int64{2, 3}},
		{"a tag subset is not the set", "", []string{"k8s"}, nil},
		{"nothing to look for", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.FindRunners(ctx, tc.description, tc.tags)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got.Matches), tc.want) {
				t.Errorf("matches %v, want %v", ids(got.Matches), tc.want)
			}
			if got.Visible != 4 {
				t.Errorf("visible %d, want 4", got.Visible)
			}
			if len(tc.want) == 0 && !slices.Equal(ids(got.Shown), []int64{1, 2, 3, 4}) {
				t.Errorf("shown %v, want every runner, lowest ID first", ids(got.Shown))
			}
			if len(tc.want) > 0 && got.Shown != nil {
				t.Errorf("shown %v alongside matches", ids(got.Shown))
			}
		})
	}
	got, err := c.FindRunners(ctx, "builder", nil)
	if err != nil || len(got.Matches) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	if m := got.Matches[0]; m.Type != "project_type" || !slices.Equal(m.TagList, []string{"gpu"}) || m.Description != "builder" {
		t.Errorf("match %+v: not the runner's details", *m)
	}
}

// A token that is not an administrator's is refused GET /runners/all with
// a plain 403, and sees through GET /runners the runners its user may
// manage: never instance runners.
func TestFindRunnersNotAdmin(t *testing.T) {
	srv := findFixture(t)
	srv.AddTokenWith("glpat-owner", fake.TokenOptions{Scopes: []string{"read_api"}, OwnedGroups: []int64{7}})
	c := client(t, srv, "glpat-owner")
	got, err := c.FindRunners(context.Background(), "CI runner", []string{"k8s", "linux"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got.Matches), []int64{2}) || got.Visible != 2 {
		t.Errorf("matches %v of %d visible, want [2] of 2 (the group's and its project's)", ids(got.Matches), got.Visible)
	}
	reqs := strings.Join(srv.Requests(), "\n")
	if !strings.Contains(reqs, "GET /api/v4/runners/all 403") || !strings.Contains(reqs, "GET /api/v4/runners 200") {
		t.Errorf("requests:\n%s", reqs)
	}
	if strings.Count(reqs, "/runners/all") != 1 {
		t.Errorf("GET /runners/all asked again after its 403:\n%s", reqs)
	}
}

// A token without read_api gets GitLab's 403 insufficient_scope, which is
// ErrInsufficientScope, with GitLab's answer.
func TestFindRunnersScope(t *testing.T) {
	srv := findFixture(t)
	srv.AddToken("glpat-create", "create_runner")
	_, err := client(t, srv, "glpat-create").FindRunners(context.Background(), "builder", nil)
	if !errors.Is(err, gitlab.ErrInsufficientScope) || !strings.Contains(err.Error(), `"error":"insufficient_scope"`) || !strings.Contains(err.Error(), "read_api") {
		t.Errorf("err = %v; want ErrInsufficientScope with GitLab's answer", err)
	}
}

// Every page of the lists is read (100 runners a page).
func TestFindRunnersPages(t *testing.T) {
	_, admin := setup(t, fake.Options{}, "glpat-admin", "api")
	ctx := context.Background()
	for i := range 101 {
		s := gitlab.RunnerSpec{Target: gitlab.Target{Type: "instance_type"}, Description: fmt.Sprintf("filler %d", i), Tags: []string{"k8s"}}
		if i == 100 {
			s.Description, s.Tags = "last", []string{"k8s", "late"}
		}
		if _, err := admin.CreateRunner(ctx, s, gitlab.NewMarker("")); err != nil {
			t.Fatal(err)
		}
	}
	got, err := admin.FindRunners(ctx, "last", nil)
	if err != nil || !slices.Equal(ids(got.Matches), []int64{101}) || got.Visible != 101 {
		t.Fatalf("%+v %v: want runner 101 of 101", got, err)
	}
	got, err = admin.FindRunners(ctx, "", []string{"late", "k8s"})
	if err != nil || !slices.Equal(ids(got.Matches), []int64{101}) {
		t.Fatalf("%+v %v: want runner 101 by its tags", got, err)
	}
	got, err = admin.FindRunners(ctx, "none", nil)
	if err != nil || len(got.Shown) != gitlab.MaxShown || got.Shown[0].ID != 1 {
		t.Fatalf("%+v %v: want the first %d runners shown", got, err, gitlab.MaxShown)
	}
}
