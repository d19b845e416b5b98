package gitlab_test

import (
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
)

func TestUpdateRunner(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	ur, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{
		RunnerType: ptr("project_type"), ProjectID: ptr(int64(20)), Description: ptr("ci"),
		TagList: &[]string{"k8s"}, MaximumTimeout: ptr(int64(3600)), MaintenanceNote: ptr("note\nrunnerctl-create-0123456789abcdef"),
	})
	if err != nil {
		t.Fatal(err)
	}

	d, resp, err := c.Runners.UpdateRunnerDetails(ur.ID, &gl.UpdateRunnerDetailsOptions{
		Description: ptr("CI runner"), Paused: ptr(true), TagList: &[]string{"k8s", "linux", "k8s"},
		RunUntagged: ptr(false), Locked: ptr(true), AccessLevel: ptr("ref_protected"),
		MaximumTimeout: ptr(int64(7200)), MaintenanceNote: ptr("owned by platform"),
	})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %v %v", resp, err)
	}
	// The answer is the runner's details after the update.
	if d.ID != ur.ID || d.Description != "CI runner" || !d.Paused || d.Active || !reflect.DeepEqual(d.TagList, []string{"k8s", "linux"}) ||
		d.RunUntagged || !d.Locked || d.AccessLevel != "ref_protected" || d.MaximumTimeout != 7200 || d.MaintenanceNote != "owned by platform" {
		t.Errorf("answer %+v", d)
	}
	got, _ := s.Runner(ur.ID)
	want := fake.Runner{Description: "CI runner", Paused: true, TagList: []string{"k8s", "linux"}, RunUntagged: false,
		Locked: true, AccessLevel: "ref_protected", MaximumTimeout: 7200, MaintenanceNote: "owned by platform", Updates: 1}
	if got.Description != want.Description || got.Paused != want.Paused || !reflect.DeepEqual(got.TagList, want.TagList) ||
		got.RunUntagged != want.RunUntagged || got.Locked != want.Locked || got.AccessLevel != want.AccessLevel ||
		got.MaximumTimeout != want.MaximumTimeout || got.MaintenanceNote != want.MaintenanceNote || got.Updates != 1 {
		t.Errorf("stored %+v\nwant %+v", got, want)
	}
	if got.Token != ur.Token || got.RunnerType != "project_type" || got.ProjectID != 20 {
		t.Errorf("an update changed the token or the scope: %+v", got)
	}

	// Only the given parameters change; null removes the maximum timeout and
	// an empty list the tags (run_untagged must allow that).
	r := raw(t, s, "PUT", "api/v4/runners/"+strconv.FormatInt(ur.ID, 10), jsonAuth(adminToken),
		`{"maximum_timeout":null,"tag_list":[],"run_untagged":true}`)
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got, _ = s.Runner(ur.ID)
	if got.MaximumTimeout != 0 || len(got.TagList) != 0 || !got.RunUntagged || got.Description != "CI runner" || !got.Paused || got.Updates != 2 {
		t.Errorf("after a partial update: %+v", got)
	}
	d, _, err = c.Runners.GetRunnerDetails(ur.ID)
	if err != nil || d.MaximumTimeout != 0 {
		t.Fatalf("details %+v %v", d, err)
	}
	if !strings.Contains(string(raw(t, s, "GET", "api/v4/runners/"+strconv.FormatInt(ur.ID, 10), auth(adminToken), "").body), `"maximum_timeout":null`) {
		t.Error("a removed maximum timeout is not null")
	}

	// Form bodies and comma-separated tags work too; paused=false resumes.
	r = raw(t, s, "PUT", "api/v4/runners/"+strconv.FormatInt(ur.ID, 10),
		map[string]string{"PRIVATE-TOKEN": adminToken, "Content-Type": "application/x-www-form-urlencoded"}, "tag_list=a,+b&paused=false")
	if r.status != 200 {
		t.Fatalf("form: %d %s", r.status, r.body)
	}
	if got, _ = s.Runner(ur.ID); !reflect.DeepEqual(got.TagList, []string{"a", "b"}) || got.Paused {
		t.Errorf("form update: %+v", got)
	}
}

func TestUpdateRunnerRefusals(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	ur, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{
		RunnerType: ptr("group_type"), GroupID: ptr(int64(10)), TagList: &[]string{"k8s"}, RunUntagged: ptr(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.Runner(ur.ID)
	id := strconv.FormatInt(ur.ID, 10)
	long := strings.Repeat("n", 1025)
	many := make([]string, 51)
	for i := range many {
		many[i] = "t" + strconv.Itoa(i)
	}
	cases := []struct {
		name   string
		path   string
		body   string
		status int
		want   string
	}{
		{"nothing to update", id, `{}`, 400,
			`{"error":"description, active, paused, tag_list, run_untagged, locked, access_level, maximum_timeout, maintenance_note are missing, at least one parameter must be provided"}`},
		{"active and paused", id, `{"active":true,"paused":true}`, 400, `{"error":"active, paused are mutually exclusive"}`},
		{"invalid access_level", id, `{"access_level":"protected"}`, 400, `{"error":"access_level does not have a valid value"}`},
		{"grape type errors", "abc", `{"paused":"maybe","maximum_timeout":"long"}`, 400,
			`{"error":"id is invalid, paused is invalid, maximum_timeout is invalid"}`},
		{"unknown runner", "999", `{"paused":true}`, 404, `{"message":"404 Not found"}`},
		{"short maximum_timeout", id, `{"maximum_timeout":599}`, 400, `{"message":{"maximum_timeout":["needs to be at least 10 minutes"]}}`},
		{"zero maximum_timeout", id, `{"maximum_timeout":0}`, 400, `{"message":{"maximum_timeout":["needs to be at least 10 minutes"]}}`},
		{"no tags and no untagged jobs", id, `{"tag_list":[]}`, 400,
			`{"message":{"tags_list":["can not be empty when runner is not allowed to pick untagged jobs"]}}`},
		{"too many tags", id, `{"tag_list":["` + strings.Join(many, `","`) + `"]}`, 400,
			`{"message":{"tags_list":["Too many tags specified. Please limit the number of tags to 50"]}}`},
		{"long description and note", id, `{"description":"` + long + `","maintenance_note":"` + long + `"}`, 400,
			`{"message":{"description":["is too long (maximum is 1024 characters)"],"maintenance_note":["is too long (maximum is 1024 characters)"]}}`},
		{"null access_level", id, `{"access_level":null}`, 400, `{"message":{"access_level":["can't be blank"]}}`},
		{"several model errors", id, `{"run_untagged":false,"tag_list":"","maximum_timeout":60}`, 400,
			`{"message":{"tags_list":["can not be empty when runner is not allowed to pick untagged jobs"],"maximum_timeout":["needs to be at least 10 minutes"]}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := raw(t, s, "PUT", "api/v4/runners/"+tc.path, jsonAuth(adminToken), tc.body)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			sameJSON(t, r.body, tc.want)
		})
	}
	// The body keeps the model's order of validations, as GitLab's does.
	r := raw(t, s, "PUT", "api/v4/runners/"+id, jsonAuth(adminToken), `{"run_untagged":false,"tag_list":[],"maximum_timeout":60}`)
	if got := string(r.body); got != `{"message":{"tags_list":["can not be empty when runner is not allowed to pick untagged jobs"],"maximum_timeout":["needs to be at least 10 minutes"]}}` {
		t.Errorf("body %s", got)
	}
	if after, _ := s.Runner(ur.ID); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused update changed the runner:\n%+v\n%+v", after, before)
	}

	// The typed client sees a validation error as a 400 with that body.
	_, _, err = c.Runners.UpdateRunnerDetails(ur.ID, &gl.UpdateRunnerDetailsOptions{MaximumTimeout: ptr(int64(60))})
	er := errResponse(t, err, http.StatusBadRequest)
	sameJSON(t, er.Body, `{"message":{"maximum_timeout":["needs to be at least 10 minutes"]}}`)

	// Deleted runners are gone.
	if _, err := c.Runners.RemoveRunner(ur.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err = c.Runners.UpdateRunnerDetails(ur.ID, &gl.UpdateRunnerDetailsOptions{Paused: ptr(true)}); !errors.Is(err, gl.ErrNotFound) {
		t.Fatalf("update of a deleted runner: %v", err)
	}
	r = raw(t, s, "PUT", "api/v4/runners/"+id, jsonAuth(adminToken), `{"paused":true}`)
	if r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
	sameJSON(t, r.body, `{"message":"404 Not found"}`)
}

func TestUpdateRunnerScopesAndPermissions(t *testing.T) {
	s := newServer(t, fake.Options{})
	s.AddToken("glpat-read", "read_api")
	s.AddToken("glpat-manage", "manage_runner")
	s.AddTokenWith("glpat-stranger", fake.TokenOptions{Scopes: []string{"api"}, OwnedGroups: []int64{11}})
	s.AddTokenWith("glpat-owner", fake.TokenOptions{Scopes: []string{"manage_runner"}, OwnedGroups: []int64{10}})
	ur, _, err := newClient(t, s, adminToken).Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10))})
	if err != nil {
		t.Fatal(err)
	}
	opts := &gl.UpdateRunnerDetailsOptions{Paused: ptr(true)}

	// read_api reads but does not update.
	_, _, err = newClient(t, s, "glpat-read").Runners.UpdateRunnerDetails(ur.ID, opts)
	sameJSON(t, errResponse(t, err, http.StatusForbidden).Body,
		`{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"manage_runner api read_api"}`)
	// A user who does not own the runner's group may not.
	_, _, err = newClient(t, s, "glpat-stranger").Runners.UpdateRunnerDetails(ur.ID, opts)
	sameJSON(t, errResponse(t, err, http.StatusForbidden).Body, `{"message":"403 Forbidden - No access granted"}`)
	if r, _ := s.Runner(ur.ID); r.Paused || r.Updates != 0 {
		t.Fatalf("refused updates changed the runner: %+v", r)
	}
	// manage_runner is enough, for the group's owner and for an administrator.
	for _, tok := range []string{"glpat-owner", "glpat-manage"} {
		if _, _, err := newClient(t, s, tok).Runners.UpdateRunnerDetails(ur.ID, opts); err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
	}
	if r, _ := s.Runner(ur.ID); !r.Paused || r.Updates != 2 {
		t.Errorf("runner %+v", r)
	}
	// Without a token: 401.
	r := raw(t, s, "PUT", "api/v4/runners/"+strconv.FormatInt(ur.ID, 10), map[string]string{"Content-Type": "application/json"}, `{"paused":false}`)
	if r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
	sameJSON(t, r.body, `{"message":"401 Unauthorized"}`)
}

// A group runner's details name its group.
func TestRunnerDetailsGroups(t *testing.T) {
	s := newServer(t, fake.Options{})
	ur, _, err := newClient(t, s, adminToken).Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10))})
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := newClient(t, s, adminToken).Runners.GetRunnerDetails(ur.ID)
	if err != nil || len(d.Groups) != 1 || d.Groups[0].ID != 10 {
		t.Fatalf("admin: %+v %v", d, err)
	}
}
