package gitlab_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
)

func TestCreateRunnerPerType(t *testing.T) {
	s := newServer(t, fake.Options{TokenPrefix: canary})
	c := newClient(t, s, adminToken)

	cases := []struct {
		name string
		opts gl.CreateUserRunnerOptions
		want fake.Runner
	}{
		{
			name: "instance",
			opts: gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), Description: ptr("shared")},
			want: fake.Runner{RunnerType: "instance_type", Description: "shared", RunUntagged: true, AccessLevel: "not_protected"},
		},
		{
			name: "group",
			opts: gl.CreateUserRunnerOptions{
				RunnerType: ptr("group_type"), GroupID: ptr(int64(11)), Description: ptr("platform"),
				TagList: &[]string{"k8s", "linux"}, RunUntagged: ptr(false), AccessLevel: ptr("ref_protected"),
				MaximumTimeout: ptr(int64(3600)), MaintenanceNote: ptr("note\nrunnerctl-create-abc"), Paused: ptr(true),
			},
			want: fake.Runner{
				RunnerType: "group_type", GroupID: 11, Description: "platform", TagList: []string{"k8s", "linux"},
				RunUntagged: false, AccessLevel: "ref_protected", MaximumTimeout: 3600,
				MaintenanceNote: "note\nrunnerctl-create-abc", Paused: true,
			},
		},
		{
			name: "project",
			opts: gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(20)), Locked: ptr(true)},
			want: fake.Runner{RunnerType: "project_type", ProjectID: 20, Locked: true, RunUntagged: true, AccessLevel: "not_protected"},
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ur, resp, err := c.Users.CreateUserRunner(&tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if ur.ID != int64(i+1) {
				t.Errorf("id %d, want %d", ur.ID, i+1)
			}
			if !strings.HasPrefix(ur.Token, "glrt-"+canary+"-") || len(ur.Token) < len("glrt-"+canary+"-")+20 {
				t.Errorf("token %q does not look like glrt-%s-<random>", ur.Token, canary)
			}
			if ur.TokenExpiresAt != nil {
				t.Errorf("token_expires_at %v, want null", ur.TokenExpiresAt)
			}
			got, ok := s.Runner(ur.ID)
			if !ok {
				t.Fatal("runner not stored")
			}
			if got.Token != ur.Token {
				t.Errorf("stored token differs from the answer")
			}
			w := tc.want
			if got.RunnerType != w.RunnerType || got.GroupID != w.GroupID || got.ProjectID != w.ProjectID ||
				got.Description != w.Description || got.Paused != w.Paused || got.Locked != w.Locked ||
				got.RunUntagged != w.RunUntagged || !slices.Equal(got.TagList, w.TagList) ||
				got.AccessLevel != w.AccessLevel || got.MaximumTimeout != w.MaximumTimeout ||
				got.MaintenanceNote != w.MaintenanceNote || got.Deleted || got.CreatorID != 1 {
				t.Errorf("stored %+v, want %+v", got, w)
			}

			// And the details decode through the library.
			d, _, err := c.Runners.GetRunnerDetails(ur.ID)
			if err != nil {
				t.Fatal(err)
			}
			if d.ID != ur.ID || d.RunnerType != w.RunnerType || d.Description != w.Description ||
				d.Paused != w.Paused || d.Active == w.Paused || d.IsShared != (w.RunnerType == "instance_type") ||
				d.Locked != w.Locked || d.RunUntagged != w.RunUntagged || d.AccessLevel != w.AccessLevel ||
				d.MaximumTimeout != w.MaximumTimeout || d.MaintenanceNote != w.MaintenanceNote ||
				d.Status != "never_contacted" || d.Online || d.ContactedAt != nil || d.Token != "" {
				t.Errorf("details %+v, want %+v", d, w)
			}
			if len(w.TagList) > 0 && !slices.Equal(d.TagList, w.TagList) {
				t.Errorf("tag_list %v, want %v", d.TagList, w.TagList)
			}
			if w.RunnerType == "group_type" && (len(d.Groups) != 1 || d.Groups[0].ID != 11 || d.Groups[0].Name != "platform") {
				t.Errorf("groups %+v", d.Groups)
			}
		})
	}
	if n := s.CreateCount(); n != 3 {
		t.Errorf("CreateCount %d, want 3", n)
	}
}

func TestCreateRunnerFormAndCommaTags(t *testing.T) {
	s := newServer(t, fake.Options{})
	// A form body, as curl sends it, with a comma-separated tag_list.
	r := raw(t, s, "POST", "api/v4/user/runners",
		map[string]string{"PRIVATE-TOKEN": adminToken, "Content-Type": "application/x-www-form-urlencoded"},
		"runner_type=group_type&group_id=10&tag_list=a,+b,a&run_untagged=false&maximum_timeout=600")
	if r.status != 201 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	got, _ := s.Runner(1)
	if !slices.Equal(got.TagList, []string{"a", "b"}) || got.RunUntagged || got.MaximumTimeout != 600 {
		t.Errorf("stored %+v", got)
	}
	// tag_list[] arrays in a form, and a JSON string tag_list.
	r = raw(t, s, "POST", "api/v4/user/runners",
		map[string]string{"PRIVATE-TOKEN": adminToken, "Content-Type": "application/x-www-form-urlencoded"},
		"runner_type=instance_type&tag_list[]=x&tag_list[]=y")
	if r.status != 201 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	r = raw(t, s, "POST", "api/v4/user/runners", jsonAuth(adminToken), `{"runner_type":"instance_type","tag_list":"p,q"}`)
	if r.status != 201 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if got, _ := s.Runner(2); !slices.Equal(got.TagList, []string{"x", "y"}) {
		t.Errorf("tags %v", got.TagList)
	}
	if got, _ := s.Runner(3); !slices.Equal(got.TagList, []string{"p", "q"}) {
		t.Errorf("tags %v", got.TagList)
	}
	// A body that is not JSON.
	r = raw(t, s, "POST", "api/v4/user/runners", jsonAuth(adminToken), `{"runner_type":`)
	if r.status != 400 {
		t.Errorf("status %d: %s", r.status, r.body)
	}
}

func TestCreateRunnerValidation(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	long := strings.Repeat("n", 1025)
	many := make([]string, 51)
	for i := range many {
		many[i] = "t" + strconv.Itoa(i)
	}
	cases := []struct {
		name   string
		opts   gl.CreateUserRunnerOptions
		status int
		body   string
	}{
		{"missing runner_type", gl.CreateUserRunnerOptions{Description: ptr("x")}, 400,
			`{"error":"runner_type is missing, runner_type does not have a valid value"}`},
		{"invalid runner_type", gl.CreateUserRunnerOptions{RunnerType: ptr("shared")}, 400,
			`{"error":"runner_type does not have a valid value"}`},
		{"group without group_id", gl.CreateUserRunnerOptions{RunnerType: ptr("group_type")}, 400,
			`{"error":"group_id is missing"}`},
		{"project without project_id", gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), GroupID: ptr(int64(10))}, 400,
			`{"error":"project_id is missing"}`},
		{"invalid access_level", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), AccessLevel: ptr("protected")}, 400,
			`{"error":"access_level does not have a valid value"}`},
		{"two grape errors", gl.CreateUserRunnerOptions{RunnerType: ptr("bogus"), AccessLevel: ptr("protected")}, 400,
			`{"error":"runner_type does not have a valid value, access_level does not have a valid value"}`},
		{"short maximum_timeout", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), MaximumTimeout: ptr(int64(599))}, 400,
			`{"message":"400 Bad request - Maximum timeout needs to be at least 10 minutes"}`},
		{"no tags and no untagged jobs", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), RunUntagged: ptr(false)}, 400,
			`{"message":"400 Bad request - Tags list can not be empty when runner is not allowed to pick untagged jobs"}`},
		{"empty tags and no untagged jobs", gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10)), RunUntagged: ptr(false), TagList: &[]string{}}, 400,
			`{"message":"400 Bad request - Tags list can not be empty when runner is not allowed to pick untagged jobs"}`},
		{"too many tags", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), TagList: &many}, 400,
			`{"message":"400 Bad request - Tags list Too many tags specified. Please limit the number of tags to 50"}`},
		{"long maintenance_note", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), MaintenanceNote: &long}, 400,
			`{"message":"400 Bad request - Maintenance note is too long (maximum is 1024 characters)"}`},
		{"long description", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), Description: &long}, 400,
			`{"message":"400 Bad request - Description is too long (maximum is 1024 characters)"}`},
		{"two model errors", gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), RunUntagged: ptr(false), MaximumTimeout: ptr(int64(60))}, 400,
			`{"message":"400 Bad request - Tags list can not be empty when runner is not allowed to pick untagged jobs and Maximum timeout needs to be at least 10 minutes"}`},
		{"unknown group", gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(999))}, 400,
			`{"message":"400 Bad request - Missing/invalid group"}`},
		{"unknown project", gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(999))}, 400,
			`{"message":"400 Bad request - Missing/invalid project"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Users.CreateUserRunner(&tc.opts)
			er := errResponse(t, err, tc.status)
			sameJSON(t, er.Body, tc.body)
		})
	}
	if n := s.CreateCount(); n != 0 {
		t.Errorf("%d runners created by invalid requests", n)
	}
	if len(s.Runners()) != 0 {
		t.Errorf("runners stored: %+v", s.Runners())
	}

	// Grape type errors, which the typed client cannot send.
	r := raw(t, s, "POST", "api/v4/user/runners", jsonAuth(adminToken),
		`{"runner_type":"group_type","group_id":"ten","paused":"maybe","maximum_timeout":"long"}`)
	if r.status != 400 {
		t.Fatalf("status %d", r.status)
	}
	sameJSON(t, r.body, `{"error":"group_id is invalid, paused is invalid, maximum_timeout is invalid"}`)
}

func TestScopes(t *testing.T) {
	s := newServer(t, fake.Options{})
	s.AddToken("glpat-read", "read_api")
	s.AddToken("glpat-create", "create_runner")
	s.AddToken("glpat-manage", "manage_runner")
	s.AddToken("glpat-user", "read_user")

	// read_api cannot create.
	_, _, err := newClient(t, s, "glpat-read").Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	er := errResponse(t, err, http.StatusForbidden)
	sameJSON(t, er.Body, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"create_runner api read_api"}`)

	// create_runner can create, but not read groups.
	cc := newClient(t, s, "glpat-create")
	ur, _, err := cc.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10))})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = cc.Groups.GetGroup("my-org", nil)
	er = errResponse(t, err, http.StatusForbidden)
	sameJSON(t, er.Body, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"api read_api"}`)
	_, err = cc.Runners.RemoveRunner(ur.ID)
	er = errResponse(t, err, http.StatusForbidden)
	sameJSON(t, er.Body, `{"error":"insufficient_scope","error_description":"The request requires higher privileges than provided by the access token.","scope":"manage_runner api read_api"}`)

	// read_api reads, but does not delete.
	rc := newClient(t, s, "glpat-read")
	if _, _, err := rc.Groups.GetGroup("my-org", nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := rc.Runners.GetRunnerDetails(ur.ID); err != nil {
		t.Fatal(err)
	}
	_, err = rc.Runners.RemoveRunner(ur.ID)
	errResponse(t, err, http.StatusForbidden)

	// manage_runner works on /runners/:id but not on the lists.
	mc := newClient(t, s, "glpat-manage")
	if _, _, err := mc.Runners.ResetRunnerAuthenticationToken(ur.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = mc.Runners.ListRunners(nil)
	errResponse(t, err, http.StatusForbidden)

	// Any scope may read its own token.
	for _, tok := range []string{"glpat-read", "glpat-create", "glpat-manage", "glpat-user", adminToken} {
		pat, _, err := newClient(t, s, tok).PersonalAccessTokens.GetSinglePersonalAccessToken()
		if err != nil {
			t.Fatalf("%s: %v", tok, err)
		}
		if !pat.Active || pat.Revoked || len(pat.Scopes) != 1 {
			t.Errorf("%s: %+v", tok, pat)
		}
	}
}

func TestTokenSelf(t *testing.T) {
	s := newServer(t, fake.Options{})
	exp := time.Now().AddDate(0, 1, 0)
	s.AddTokenWith("glpat-x", fake.TokenOptions{Scopes: []string{"create_runner", "read_api"}, Name: "ci", ExpiresAt: &exp})
	pat, _, err := newClient(t, s, "glpat-x").PersonalAccessTokens.GetSinglePersonalAccessToken()
	if err != nil {
		t.Fatal(err)
	}
	if pat.Name != "ci" || !slices.Equal(pat.Scopes, []string{"create_runner", "read_api"}) || !pat.Active ||
		pat.Revoked || pat.UserID == 1 || pat.CreatedAt == nil || pat.ExpiresAt == nil ||
		pat.ExpiresAt.String() != exp.UTC().Format("2006-01-02") {
		t.Errorf("%+v (expires %v)", pat, pat.ExpiresAt)
	}
	r := raw(t, s, "GET", "api/v4/personal_access_tokens/self", auth(adminToken), "")
	if !strings.Contains(string(r.body), `"expires_at":null`) || !strings.Contains(string(r.body), `"user_id":1`) {
		t.Errorf("body %s", r.body)
	}
}

func TestBadToken(t *testing.T) {
	s := newServer(t, fake.Options{})
	past := time.Now().AddDate(0, 0, -1)
	s.AddTokenWith("glpat-expired", fake.TokenOptions{Scopes: []string{"api"}, Admin: true, ExpiresAt: &past})
	s.AddToken("glpat-revoked", "api")
	s.RevokeToken("glpat-revoked")

	create := &gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}
	for _, tc := range []struct{ token, body string }{
		{"glpat-unknown", `{"message":"401 Unauthorized"}`},
		{"", `{"message":"401 Unauthorized"}`},
		{"glpat-expired", `{"error":"invalid_token","error_description":"Token is expired. You can either do re-authorization or token refresh."}`},
		{"glpat-revoked", `{"error":"invalid_token","error_description":"Token was revoked. You have to re-authorize from the user."}`},
	} {
		c := newClient(t, s, tc.token)
		_, _, err := c.Users.CreateUserRunner(create)
		er := errResponse(t, err, http.StatusUnauthorized)
		sameJSON(t, er.Body, tc.body)
		_, _, err = c.PersonalAccessTokens.GetSinglePersonalAccessToken()
		errResponse(t, err, http.StatusUnauthorized)
		_, _, err = c.Runners.ListRunners(nil)
		errResponse(t, err, http.StatusUnauthorized)
	}
	// An unknown token is 401 even where anonymous callers are let in.
	_, _, err := newClient(t, s, "glpat-unknown").Groups.GetGroup(10, nil)
	errResponse(t, err, http.StatusUnauthorized)
	// Anonymous callers do not see private groups.
	r := raw(t, s, "GET", "api/v4/groups/10", nil, "")
	if r.status != 404 {
		t.Fatalf("anonymous group: %d", r.status)
	}
	sameJSON(t, r.body, `{"message":"404 Group Not Found"}`)
	if s.CreateCount() != 0 {
		t.Error("a runner was created")
	}

	// Authorization: Bearer works like PRIVATE-TOKEN.
	r = raw(t, s, "GET", "api/v4/personal_access_tokens/self", map[string]string{"Authorization": "Bearer " + adminToken}, "")
	if r.status != 200 {
		t.Errorf("bearer: %d %s", r.status, r.body)
	}
	oc, err := gl.NewOAuthClient(adminToken, gl.WithBaseURL(s.URL()), gl.WithoutRetries(), gl.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := oc.PersonalAccessTokens.GetSinglePersonalAccessToken(); err != nil {
		t.Errorf("bearer through the library: %v", err)
	}
}

func TestNonAdminPermissions(t *testing.T) {
	s := newServer(t, fake.Options{})
	s.AddTokenWith("glpat-owner", fake.TokenOptions{Scopes: []string{"api"}, OwnedGroups: []int64{11}, MaintainedProjects: []int64{21}})
	c := newClient(t, s, "glpat-owner")

	_, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden - Insufficient permissions"}`)
	_, _, err = c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10))})
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden - Insufficient permissions"}`)
	_, _, err = c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(20))})
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden - Insufficient permissions"}`)

	g, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(11))})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(21))}); err != nil {
		t.Fatal(err)
	}

	// Groups: the owned one, and its parent (a member of a subgroup sees
	// it); projects: only the maintained one.
	if _, _, err := c.Groups.GetGroup("my-org/platform", nil); err != nil {
		t.Error(err)
	}
	if _, _, err := c.Groups.GetGroup(10, nil); err != nil {
		t.Error(err)
	}
	r := raw(t, s, "GET", "api/v4/projects/my-org%2Fmy-app", auth("glpat-owner"), "")
	if r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
	sameJSON(t, r.body, `{"message":"404 Project Not Found"}`)

	// An admin's instance runner: readable, not deletable.
	inst, _, err := newClient(t, s, adminToken).Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), MaintenanceNote: ptr("secret")})
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := c.Runners.GetRunnerDetails(inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.MaintenanceNote != "" {
		t.Errorf("maintenance note shown to a user who cannot update the runner")
	}
	_, err = c.Runners.RemoveRunner(inst.ID)
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden - No access granted"}`)
	_, _, err = c.Runners.ListAllRunners(nil)
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden"}`)
	_, _, err = c.Runners.ListGroupsRunners(10, nil)
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden"}`)

	// GET /runners: the user's own group and project runners.
	rs, _, err := c.Runners.ListRunners(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].ID != g.ID {
		t.Errorf("owned runners %+v", rs)
	}
}

func TestGroupAndProjectLookup(t *testing.T) {
	s := newServer(t, fake.Options{})
	s.AddProject(22, "my-org/platform/infra.tools")
	c := newClient(t, s, adminToken)
	g, _, err := c.Groups.GetGroup("my-org/platform", nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != 11 || g.FullPath != "my-org/platform" || g.Path != "platform" || g.ParentID != 10 || g.FullName != "my-org / platform" {
		t.Errorf("%+v", g)
	}
	g, _, err = c.Groups.GetGroup(int64(10), nil)
	if err != nil || g.FullPath != "my-org" {
		t.Fatalf("%+v %v", g, err)
	}
	p, _, err := c.Projects.GetProject("my-org/platform/infra.tools", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != 22 || p.PathWithNamespace != "my-org/platform/infra.tools" || p.Namespace == nil || p.Namespace.ID != 11 {
		t.Errorf("%+v", p)
	}
	if p, _, err := c.Projects.GetProject(20, nil); err != nil || p.PathWithNamespace != "my-org/my-app" {
		t.Fatalf("%+v %v", p, err)
	}
	if !slices.Contains(s.Requests(), "GET /api/v4/projects/my-org%2Fplatform%2Finfra%2Etools 200") {
		t.Errorf("requests %q", s.Requests())
	}

	_, _, err = c.Groups.GetGroup("nope", nil)
	if !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("%v", err)
	}
	r := raw(t, s, "GET", "api/v4/groups/nope", auth(adminToken), "")
	sameJSON(t, r.body, `{"message":"404 Group Not Found"}`)
	r = raw(t, s, "GET", "api/v4/projects/404", auth(adminToken), "")
	sameJSON(t, r.body, `{"message":"404 Project Not Found"}`)
}

func TestPathPrefix(t *testing.T) {
	s := newServer(t, fake.Options{PathPrefix: "/gitlab"})
	if !strings.HasSuffix(s.URL(), "/gitlab/") {
		t.Fatalf("URL %q", s.URL())
	}
	c := newClient(t, s, adminToken)
	if _, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}); err != nil {
		t.Fatal(err)
	}
	// A client that forgets the prefix reaches nothing.
	base := strings.TrimSuffix(s.URL(), "gitlab/")
	bad, err := gl.NewClient(adminToken, gl.WithBaseURL(base), gl.WithoutRetries(), gl.WithHTTPClient(s.Client()))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = bad.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	if !errors.Is(err, gl.ErrNotFound) {
		t.Fatalf("without prefix: %v", err)
	}
	want := []string{"POST /gitlab/api/v4/user/runners 201", "POST /api/v4/user/runners 404"}
	if !slices.Equal(s.Requests(), want) {
		t.Errorf("requests %q, want %q", s.Requests(), want)
	}
	if s.CreateCount() != 1 {
		t.Errorf("CreateCount %d", s.CreateCount())
	}
}

func TestTLSWithCA(t *testing.T) {
	s := newServer(t, fake.Options{TLS: true})
	if !strings.HasPrefix(s.URL(), "https://") {
		t.Fatalf("URL %q", s.URL())
	}
	pem := s.CACertPEM()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("CACertPEM is not PEM: %q", pem)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	c, err := gl.NewClient(adminToken, gl.WithBaseURL(s.URL()), gl.WithoutRetries(), gl.WithHTTPClient(hc))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PersonalAccessTokens.GetSinglePersonalAccessToken(); err != nil {
		t.Fatalf("with the CA: %v", err)
	}
	// Without it, the certificate is not trusted.
	plain, err := gl.NewClient(adminToken, gl.WithBaseURL(s.URL()), gl.WithoutRetries(),
		gl.WithHTTPClient(&http.Client{Transport: &http.Transport{}}))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = plain.PersonalAccessTokens.GetSinglePersonalAccessToken()
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Fatalf("without the CA: %v", err)
	}
	plainServer := fake.New(fake.Options{})
	defer plainServer.Close()
	if plainServer.CACertPEM() != nil {
		t.Error("CACertPEM without TLS")
	}
}

func TestResetTokenInvalidatesOld(t *testing.T) {
	s := newServer(t, fake.Options{TokenPrefix: canary})
	c := newClient(t, s, adminToken)
	ur, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(20))})
	if err != nil {
		t.Fatal(err)
	}
	old := ur.Token
	if _, err := c.Runners.VerifyRegisteredRunner(&gl.VerifyRegisteredRunnerOptions{Token: &old}); err != nil {
		t.Fatalf("verify new runner: %v", err)
	}
	tok, resp, err := c.Runners.ResetRunnerAuthenticationToken(ur.ID)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || tok.Token == nil || *tok.Token == old ||
		!strings.HasPrefix(*tok.Token, "glrt-"+canary+"-") || tok.TokenExpiresAt != nil {
		t.Fatalf("reset: %d %+v", resp.StatusCode, tok)
	}
	if s.TokenValid(old) || !s.TokenValid(*tok.Token) {
		t.Error("old token still valid, or new one not")
	}
	_, err = c.Runners.VerifyRegisteredRunner(&gl.VerifyRegisteredRunnerOptions{Token: &old})
	sameJSON(t, errResponse(t, err, 403).Body, `{"message":"403 Forbidden"}`)
	if _, err := c.Runners.VerifyRegisteredRunner(&gl.VerifyRegisteredRunnerOptions{Token: tok.Token}); err != nil {
		t.Errorf("verify new token: %v", err)
	}
	got, _ := s.Runner(ur.ID)
	if got.Token != *tok.Token || !slices.Equal(got.OldTokens, []string{old}) {
		t.Errorf("stored %+v", got)
	}

	_, _, err = c.Runners.ResetRunnerAuthenticationToken(999)
	if !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("reset unknown: %v", err)
	}
}

func TestRunnerTokenExpiry(t *testing.T) {
	s := newServer(t, fake.Options{RunnerTokenExpiresIn: 720 * time.Hour})
	c := newClient(t, s, adminToken)
	ur, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	if err != nil {
		t.Fatal(err)
	}
	if ur.TokenExpiresAt == nil || time.Until(*ur.TokenExpiresAt) < 719*time.Hour {
		t.Fatalf("token_expires_at %v", ur.TokenExpiresAt)
	}
	past := time.Now().Add(-time.Minute)
	s.SetRunnerTokenExpiresAt(ur.ID, &past)
	if s.TokenValid(ur.Token) {
		t.Error("expired token valid")
	}
	tok, _, err := c.Runners.ResetRunnerAuthenticationToken(ur.ID)
	if err != nil || tok.TokenExpiresAt == nil || time.Until(*tok.TokenExpiresAt) < 719*time.Hour {
		t.Fatalf("%+v %v", tok, err)
	}
}

func TestDeleteThenGet404(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	ur, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10))})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Runners.RemoveRunner(ur.ID)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v %v", resp, err)
	}
	_, _, err = c.Runners.GetRunnerDetails(ur.ID)
	if !errors.Is(err, gl.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	r := raw(t, s, "GET", "api/v4/runners/"+strconv.FormatInt(ur.ID, 10), auth(adminToken), "")
	if r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
	sameJSON(t, r.body, `{"message":"404 Not found"}`)
	r = raw(t, s, "DELETE", "api/v4/runners/"+strconv.FormatInt(ur.ID, 10), auth(adminToken), "")
	if r.status != 404 {
		t.Fatalf("second delete: %d", r.status)
	}
	sameJSON(t, r.body, `{"message":"404 Not found"}`)
	r = raw(t, s, "GET", "api/v4/runners/abc", auth(adminToken), "")
	if r.status != 400 {
		t.Fatalf("bad id: %d", r.status)
	}
	sameJSON(t, r.body, `{"error":"id is invalid"}`)
	if s.TokenValid(ur.Token) {
		t.Error("a deleted runner's token is valid")
	}
	got, ok := s.Runner(ur.ID)
	if !ok || !got.Deleted {
		t.Errorf("%+v %v", got, ok)
	}
	if rs, _, err := c.Runners.ListRunners(nil); err != nil || len(rs) != 0 {
		t.Errorf("deleted runner listed: %+v %v", rs, err)
	}
}

func TestListRunners(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	create := func(o gl.CreateUserRunnerOptions) int64 {
		t.Helper()
		ur, _, err := c.Users.CreateUserRunner(&o)
		if err != nil {
			t.Fatal(err)
		}
		return ur.ID
	}
	inst := create(gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type"), Description: ptr("inst")})
	grp := create(gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10)), TagList: &[]string{"a", "b"}})
	sub := create(gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(11)), Paused: ptr(true)})
	prj := create(gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(20))})
	other := create(gl.CreateUserRunnerOptions{RunnerType: ptr("project_type"), ProjectID: ptr(int64(21))})

	ids := func(rs []*gl.Runner) []int64 {
		var out []int64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	check := func(name string, rs []*gl.Runner, err error, want ...int64) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(ids(rs), want) {
			t.Errorf("%s: %v, want %v", name, ids(rs), want)
		}
	}

	rs, _, err := c.Runners.ListRunners(&gl.ListRunnersOptions{Type: ptr("group_type")})
	check("owned group_type", rs, err, grp, sub)
	// GET /runners never lists instance runners, not even to an admin:
	// finding one needs GET /runners/all.
	rs, _, err = c.Runners.ListRunners(&gl.ListRunnersOptions{Type: ptr("instance_type")})
	check("owned instance_type", rs, err)
	rs, _, err = c.Runners.ListAllRunners(&gl.ListRunnersOptions{Type: ptr("instance_type")})
	check("all instance_type", rs, err, inst)
	rs, _, err = c.Runners.ListAllRunners(nil)
	check("all", rs, err, inst, grp, sub, prj, other)
	if rs[0].Description != "inst" || !rs[0].IsShared || rs[0].RunnerType != "instance_type" || !rs[0].Active ||
		rs[0].Status != "never_contacted" || rs[0].Online {
		t.Errorf("entity %+v", rs[0])
	}
	rs, _, err = c.Runners.ListAllRunners(&gl.ListRunnersOptions{Paused: ptr(true)})
	check("paused", rs, err, sub)
	rs, _, err = c.Runners.ListAllRunners(&gl.ListRunnersOptions{Status: ptr("paused")})
	check("status paused", rs, err, sub)
	rs, _, err = c.Runners.ListAllRunners(&gl.ListRunnersOptions{Status: ptr("online")})
	check("online", rs, err)
	rs, _, err = c.Runners.ListAllRunners(&gl.ListRunnersOptions{TagList: &[]string{"b", "a"}})
	check("tags", rs, err, grp)

	// Group lists hold the group's and its parents' runners, and instance runners.
	rs, _, err = c.Runners.ListGroupsRunners("my-org/platform", nil)
	check("group my-org/platform", rs, err, inst, grp, sub)
	rs, _, err = c.Runners.ListGroupsRunners(10, &gl.ListGroupsRunnersOptions{Type: ptr("group_type")})
	check("group 10 group_type", rs, err, grp)
	rs, _, err = c.Runners.ListProjectRunners("my-org/my-app", nil)
	check("project my-org/my-app", rs, err, inst, grp, prj)
	rs, _, err = c.Runners.ListProjectRunners(21, &gl.ListProjectRunnersOptions{Type: ptr("project_type")})
	check("project 21", rs, err, other)

	// Pagination.
	rs, resp, err := c.Runners.ListAllRunners(&gl.ListRunnersOptions{ListOptions: gl.ListOptions{PerPage: 2, Page: 2}})
	check("page 2", rs, err, sub, prj)
	if resp.CurrentPage != 2 || resp.ItemsPerPage != 2 || resp.TotalItems != 5 || resp.TotalPages != 3 ||
		resp.NextPage != 3 || resp.PreviousPage != 1 {
		t.Errorf("pagination %+v", resp)
	}
	_, resp, err = c.Runners.ListAllRunners(&gl.ListRunnersOptions{ListOptions: gl.ListOptions{PerPage: 2, Page: 3}})
	if err != nil || resp.NextPage != 0 {
		t.Errorf("last page: %+v %v", resp, err)
	}

	_, _, err = c.Runners.ListRunners(&gl.ListRunnersOptions{Type: ptr("shared")})
	sameJSON(t, errResponse(t, err, 400).Body, `{"error":"type does not have a valid value"}`)
	_, _, err = c.Runners.ListGroupsRunners(999, nil)
	if !errors.Is(err, gl.ErrNotFound) {
		t.Errorf("unknown group: %v", err)
	}
}

func TestUnknownRouteAndMethod(t *testing.T) {
	s := newServer(t, fake.Options{})
	r := raw(t, s, "GET", "api/v4/no/such/thing", auth(adminToken), "")
	if r.status != 404 {
		t.Fatalf("status %d", r.status)
	}
	sameJSON(t, r.body, `{"error":"404 Not Found"}`)
	r = raw(t, s, "PUT", "api/v4/user/runners", auth(adminToken), "")
	if r.status != 405 || !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Fatalf("status %d allow %q", r.status, r.header.Get("Allow"))
	}
	sameJSON(t, r.body, `{"error":"405 Not Allowed"}`)
	r = raw(t, s, "PATCH", "api/v4/runners/1", auth(adminToken), "")
	if r.status != 405 || r.header.Get("Allow") != "OPTIONS, GET, PUT, DELETE" {
		t.Fatalf("status %d allow %q", r.status, r.header.Get("Allow"))
	}
}

func TestFailNext(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	opts := &gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}

	s.FailNext(fake.OpCreateRunner, 500, 1)
	s.FailNext(fake.OpCreateRunner, 502, 1)
	_, _, err := c.Users.CreateUserRunner(opts)
	sameJSON(t, errResponse(t, err, 500).Body, `{"message":"500 Internal Server Error"}`)
	_, _, err = c.Users.CreateUserRunner(opts)
	er := errResponse(t, err, 502)
	if ct := er.Response.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("502 content type %q", ct)
	}
	if s.CreateCount() != 0 || len(s.Runners()) != 0 {
		t.Fatal("a failed request acted")
	}
	if _, _, err := c.Users.CreateUserRunner(opts); err != nil {
		t.Fatalf("after the faults: %v", err)
	}

	s.FailNext(fake.OpGetGroup, 404, 1)
	r := raw(t, s, "GET", "api/v4/groups/10", auth(adminToken), "")
	sameJSON(t, r.body, `{"message":"404 Group Not Found"}`)
	s.FailNext(fake.OpGetRunner, 503, 2)
	for range 2 {
		_, _, err = c.Runners.GetRunnerDetails(1)
		errResponse(t, err, 503)
	}
	if _, _, err := c.Runners.GetRunnerDetails(1); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /api/v4/user/runners 500",
		"POST /api/v4/user/runners 502",
		"POST /api/v4/user/runners 201",
		"GET /api/v4/groups/10 404",
		"GET /api/v4/runners/1 503",
		"GET /api/v4/runners/1 503",
		"GET /api/v4/runners/1 200",
	}
	if !slices.Equal(s.Requests(), want) {
		t.Errorf("requests\n%q\nwant\n%q", s.Requests(), want)
	}

	defer func() {
		if recover() == nil {
			t.Error("unknown op accepted")
		}
	}()
	s.FailNext("create", 500, 1)
}

// FailAfter lets the first requests of the operation pass, then fails the
// next ones, and leaves the queue as it was added: a later fault waits.
func TestFailAfter(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	if _, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}); err != nil {
		t.Fatal(err)
	}
	s.FailAfter(fake.OpGetRunner, 503, 1, 2)
	s.FailNext(fake.OpGetRunner, 500, 1)
	for _, want := range []int{200, 200, 503, 500, 200} {
		_, resp, _ := c.Runners.GetRunnerDetails(1)
		if resp == nil || resp.StatusCode != want {
			t.Fatalf("got %v, want %d (requests %q)", resp, want, s.Requests())
		}
	}
}

func TestLoseResponse(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	opts := &gl.CreateUserRunnerOptions{RunnerType: ptr("group_type"), GroupID: ptr(int64(10)), MaintenanceNote: ptr("runnerctl-create-1")}

	s.LoseResponse(fake.OpCreateRunner, 1)
	_, _, err := c.Users.CreateUserRunner(opts)
	errResponse(t, err, http.StatusBadGateway)
	if s.CreateCount() != 1 {
		t.Fatalf("CreateCount %d, want 1: the runner must exist though the answer was lost", s.CreateCount())
	}
	// The caller can find it by its marker, as runnerctl does.
	rs, _, err := c.Runners.ListGroupsRunners(10, &gl.ListGroupsRunnersOptions{Type: ptr("group_type")})
	if err != nil || len(rs) != 1 {
		t.Fatalf("%+v %v", rs, err)
	}
	d, _, err := c.Runners.GetRunnerDetails(rs[0].ID)
	if err != nil || !strings.Contains(d.MaintenanceNote, "runnerctl-create-1") {
		t.Fatalf("%+v %v", d, err)
	}

	// An aborted connection: no HTTP answer at all.
	s.LoseConnection(fake.OpCreateRunner, 1)
	_, _, err = c.Users.CreateUserRunner(opts)
	if err == nil {
		t.Fatal("no error")
	}
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		t.Fatalf("got an HTTP answer: %v", err)
	}
	if s.CreateCount() != 2 {
		t.Fatalf("CreateCount %d, want 2", s.CreateCount())
	}

	// A lost reset: the old token is dead and the new one was never seen.
	old := s.Runners()[0].Token
	s.LoseResponseWith(fake.OpResetToken, http.StatusGatewayTimeout, 1)
	_, _, err = c.Runners.ResetRunnerAuthenticationToken(1)
	errResponse(t, err, http.StatusGatewayTimeout)
	if s.TokenValid(old) {
		t.Error("the reset did not happen")
	}
	// A lost delete.
	s.LoseResponse(fake.OpDeleteRunner, 1)
	_, err = c.Runners.RemoveRunner(1)
	errResponse(t, err, http.StatusBadGateway)
	if r, _ := s.Runner(1); !r.Deleted {
		t.Error("the delete did not happen")
	}

	want := []string{
		"POST /api/v4/user/runners 502",
		"GET /api/v4/groups/10/runners 200",
		"GET /api/v4/runners/1 200",
		"POST /api/v4/user/runners aborted",
		"POST /api/v4/runners/1/reset_authentication_token 504",
		"DELETE /api/v4/runners/1 502",
	}
	if !slices.Equal(s.Requests(), want) {
		t.Errorf("requests\n%q\nwant\n%q", s.Requests(), want)
	}
}

func TestRateLimit(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	s.RateLimit(fake.OpCreateRunner, 2, 7)
	before := time.Now()
	_, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	er := errResponse(t, err, http.StatusTooManyRequests)
	if string(er.Body) != "Retry later\n" {
		t.Errorf("body %q", er.Body)
	}
	h := er.Response.Header
	if h.Get("Retry-After") != "7" || h.Get("RateLimit-Remaining") != "0" || h.Get("RateLimit-Name") == "" ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("headers %v", h)
	}
	reset, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64)
	if err != nil || reset < before.Unix()+6 || reset > time.Now().Unix()+8 {
		t.Errorf("RateLimit-Reset %q", h.Get("RateLimit-Reset"))
	}
	if s.CreateCount() != 0 {
		t.Fatal("a throttled request acted")
	}
	_, _, err = c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
	errResponse(t, err, http.StatusTooManyRequests)
	if _, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}); err != nil {
		t.Fatal(err)
	}
}

// With the library's own retries on, a 429 is waited out and retried, even
// for a POST.
func TestRateLimitRetriedByLibrary(t *testing.T) {
	s := newServer(t, fake.Options{})
	c, err := gl.NewClient(adminToken, gl.WithBaseURL(s.URL()), gl.WithHTTPClient(s.Client()),
		gl.WithOnlyIdempotentRetries(), gl.WithCustomRetryWaitMinMax(10*time.Millisecond, 3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s.RateLimit(fake.OpCreateRunner, 1, 1)
	s.LoseResponse(fake.OpGetRunner, 1)
	if _, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Runners.GetRunnerDetails(1); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /api/v4/user/runners 429",
		"POST /api/v4/user/runners 201",
		"GET /api/v4/runners/1 502",
		"GET /api/v4/runners/1 200",
	}
	if !slices.Equal(s.Requests(), want) {
		t.Errorf("requests\n%q\nwant\n%q", s.Requests(), want)
	}
	if s.CreateCount() != 1 {
		t.Errorf("CreateCount %d", s.CreateCount())
	}
}

func TestDelay(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	s.Delay(fake.OpCreateRunner, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")}, gl.WithContext(ctx))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Error("the client waited for the whole delay")
	}
	// The server acted before holding the answer.
	if s.CreateCount() != 1 {
		t.Fatalf("CreateCount %d, want 1", s.CreateCount())
	}
	s.Delay(fake.OpCreateRunner, 0)
	s.Delay(fake.OpGetRunner, 50*time.Millisecond)
	start = time.Now()
	if _, _, err := c.Runners.GetRunnerDetails(1); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Error("no delay")
	}
}

func TestConcurrentCreates(t *testing.T) {
	s := newServer(t, fake.Options{})
	c := newClient(t, s, adminToken)
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			_, _, err := c.Users.CreateUserRunner(&gl.CreateUserRunnerOptions{RunnerType: ptr("instance_type")})
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	seen := map[string]bool{}
	for i, r := range s.Runners() {
		if r.ID != int64(i+1) || seen[r.Token] {
			t.Errorf("runner %+v", r)
		}
		seen[r.Token] = true
	}
	if s.CreateCount() != 20 || len(s.Requests()) != 20 {
		t.Errorf("CreateCount %d, requests %d", s.CreateCount(), len(s.Requests()))
	}
}

func TestStartRejectsBadOptions(t *testing.T) {
	for _, o := range []fake.Options{{PathPrefix: "gitlab"}, {TokenPrefix: "a b"}} {
		if s, err := fake.Start(o); err == nil {
			s.Close()
			t.Errorf("%+v accepted", o)
		}
	}
	s, err := fake.Start(fake.Options{PathPrefix: "/gitlab/"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasSuffix(s.URL(), "/gitlab/") || strings.HasSuffix(s.URL(), "//") {
		t.Errorf("URL %q", s.URL())
	}
}
