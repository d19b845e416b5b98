package infisical_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	fake "github.com/runnerctl/runnerctl/internal/fake/infisical"
)

type client struct {
	t     *testing.T
	s     *fake.Server
	token string
}

func (c *client) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.s.URL()+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.s.Client().Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

func setup(t *testing.T) (*fake.Server, *client, string) {
	t.Helper()
	s := fake.New()
	t.Cleanup(s.Close)
	pid := s.AddProject("platform")
	s.AddIdentity("id", "secret")
	s.Grant("id", "platform", fake.RoleMember)
	c := &client{t: t, s: s}
	status, body := c.do("POST", "/api/v1/auth/universal-auth/login", map[string]string{"clientId": "id", "clientSecret": "secret"})
	if status != 200 || body["tokenType"] != "Bearer" || body["accessToken"] == "" {
		t.Fatalf("login: %d %v", status, body)
	}
	c.token = body["accessToken"].(string)
	return s, c, pid
}

func TestLoginAndTokens(t *testing.T) {
	s, c, _ := setup(t)
	anon := &client{t: t, s: s}
	status, body := anon.do("POST", "/api/v1/auth/universal-auth/login", map[string]string{"clientId": "id", "clientSecret": "wrong"})
	if status != 401 || body["message"] != "Invalid credentials" || body["error"] != "UnauthorizedError" {
		t.Fatalf("bad secret: %d %v", status, body)
	}
	if status, body = anon.do("GET", "/api/v1/projects/slug/platform", nil); status != 401 || body["message"] != "Token missing" {
		t.Fatalf("no token: %d %v", status, body)
	}
	bad := &client{t: t, s: s, token: "garbage"}
	if status, body = bad.do("GET", "/api/v1/projects/slug/platform", nil); status != 403 || body["error"] != "TokenError" {
		t.Fatalf("bad token: %d %v", status, body)
	}
	s.ExpireTokens()
	if status, body = c.do("GET", "/api/v1/projects/slug/platform", nil); status != 403 || !strings.Contains(body["message"].(string), "expired") {
		t.Fatalf("expired token: %d %v", status, body)
	}
}

func TestProjects(t *testing.T) {
	s, c, pid := setup(t)
	status, body := c.do("GET", "/api/v1/projects/slug/platform", nil)
	envs, _ := body["environments"].([]any)
	if status != 200 || body["id"] != pid || len(envs) != 3 {
		t.Fatalf("project: %d %v", status, body)
	}
	if status, body = c.do("GET", "/api/v1/projects/slug/nope", nil); status != 404 || body["message"] != "Project with slug 'nope' not found" {
		t.Fatalf("unknown project: %d %v", status, body)
	}
	s.AddProject("other")
	if status, body = c.do("GET", "/api/v1/projects/slug/other", nil); status != 403 || !strings.Contains(body["error"].(string), "not a member") {
		t.Fatalf("not a member: %d %v", status, body)
	}
}

func TestFoldersAndSecrets(t *testing.T) {
	s, c, pid := setup(t)
	q := url.Values{"workspaceId": {pid}, "environment": {"prod"}, "secretPath": {"/a/b"}}
	status, body := c.do("GET", "/api/v3/secrets/raw/TOKEN?"+q.Encode(), nil)
	if status != 404 || body["error"] != "GetSecretByName" || body["message"] != "Folder with path '/a/b' in environment with slug 'prod' not found" {
		t.Fatalf("missing folder: %d %v", status, body)
	}
	write := map[string]any{"workspaceId": pid, "environment": "prod", "secretPath": "/a/b", "secretValue": "v1", "type": "shared"}
	if status, body = c.do("POST", "/api/v3/secrets/raw/TOKEN", write); status != 404 || body["error"] != "CreateSecret" {
		t.Fatalf("create in a missing folder: %d %v", status, body)
	}
	if status, body = c.do("POST", "/api/v1/folders", map[string]any{"workspaceId": pid, "environment": "prod", "name": "a", "path": "/"}); status != 200 {
		t.Fatalf("create folder: %d %v", status, body)
	}
	if status, body = c.do("POST", "/api/v1/folders", map[string]any{"workspaceId": pid, "environment": "prod", "name": "a", "path": "/"}); status != 400 || body["message"] != "Folder with name 'a' already exists in path '/'" {
		t.Fatalf("existing folder: %d %v", status, body)
	}
	c.do("POST", "/api/v1/folders", map[string]any{"workspaceId": pid, "environment": "prod", "name": "b", "path": "/a"})
	if status, body = c.do("POST", "/api/v3/secrets/raw/TOKEN", write); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	if status, body = c.do("POST", "/api/v3/secrets/raw/TOKEN", write); status != 400 || body["message"] != "Secret already exist" {
		t.Fatalf("create twice: %d %v", status, body)
	}
	write["secretValue"] = "  v2\n"
	if status, _ = c.do("PATCH", "/api/v3/secrets/raw/TOKEN", write); status != 200 {
		t.Fatalf("update: %d", status)
	}
	if v, version, _ := s.Secret("platform", "prod", "/a/b", "TOKEN"); v != "v2\n" || version != 2 {
		t.Fatalf("stored %q version %d, want a trimmed value with its newline, version 2", v, version)
	}
	if status, body = c.do("PATCH", "/api/v3/secrets/raw/NOPE", write); status != 404 || body["message"] != "Secret with name NOPE not found" {
		t.Fatalf("update missing: %d %v", status, body)
	}
	q.Set("workspaceSlug", "platform")
	q.Del("workspaceId")
	status, body = c.do("GET", "/api/v3/secrets/raw/TOKEN?"+q.Encode(), nil)
	if status != 200 || body["secret"].(map[string]any)["secretValue"] != "v2\n" {
		t.Fatalf("read by slug: %d %v", status, body)
	}
	q.Del("environment")
	if status, body = c.do("GET", "/api/v3/secrets/raw/TOKEN?"+q.Encode(), nil); status != 400 || body["message"] != "Missing environment" {
		t.Fatalf("no environment: %d %v", status, body)
	}
	status, body = c.do("GET", "/api/v1/folders?"+url.Values{"workspaceId": {pid}, "environment": {"nope"}}.Encode(), nil)
	if status != 404 || body["message"] != "Environment with slug 'nope' not found" {
		t.Fatalf("folders of an unknown environment: %d %v", status, body)
	}
}

func TestRoles(t *testing.T) {
	s, c, pid := setup(t)
	s.SetSecret("platform", "prod", "/", "TOKEN", "v")
	s.Grant("id", "platform", fake.RoleViewer)
	write := map[string]any{"workspaceId": pid, "environment": "prod", "secretPath": "/", "secretValue": "w"}
	status, body := c.do("PATCH", "/api/v3/secrets/raw/TOKEN", write)
	if status != 403 || body["error"] != "PermissionDenied" || body["message"] != "You are not allowed to edit on secrets" {
		t.Fatalf("viewer update: %d %v", status, body)
	}
	q := url.Values{"workspaceId": {pid}, "environment": {"prod"}}
	if status, _ = c.do("GET", "/api/v3/secrets/raw/TOKEN?"+q.Encode(), nil); status != 200 {
		t.Fatalf("viewer read: %d", status)
	}
	s.Grant("id", "platform", fake.RoleNoAccess)
	if status, _ = c.do("GET", "/api/v3/secrets/raw/TOKEN?"+q.Encode(), nil); status != 403 {
		t.Fatalf("no-access read: %d", status)
	}
}

func TestUnknownRouteAndFaults(t *testing.T) {
	s, c, _ := setup(t)
	status, body := c.do("GET", "/api/v9/nothing", nil)
	if status != 404 || body["error"] != "Not Found" || body["message"] != "Route GET:/api/v9/nothing not found" {
		t.Fatalf("unknown route: %d %v", status, body)
	}
	s.FailNext(fake.OpProject, 500, 1)
	if status, body = c.do("GET", "/api/v1/projects/slug/platform", nil); status != 500 || body["message"] != "Something went wrong" {
		t.Fatalf("fault: %d %v", status, body)
	}
	if status, _ = c.do("GET", "/api/v1/projects/slug/platform", nil); status != 200 {
		t.Fatalf("after the fault: %d", status)
	}
}
