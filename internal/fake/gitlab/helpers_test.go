package gitlab_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
)

const (
	adminToken = "glpat-admin-token"
	canary     = "CANARY"
)

// newServer starts a fake with the usual fixtures: an admin token with the
// api scope, group 10 my-org, group 11 my-org/platform, project 20
// my-org/my-app and project 21 other/app.
func newServer(t *testing.T, opts fake.Options) *fake.Server {
	t.Helper()
	s := fake.New(opts)
	t.Cleanup(s.Close)
	s.AddToken(adminToken, "api")
	s.AddGroup(10, "my-org")
	s.AddGroup(11, "my-org/platform")
	s.AddProject(20, "my-org/my-app")
	s.AddProject(21, "other/app")
	return s
}

func newClient(t *testing.T, s *fake.Server, token string, opts ...gl.ClientOptionFunc) *gl.Client {
	t.Helper()
	opts = append([]gl.ClientOptionFunc{gl.WithBaseURL(s.URL()), gl.WithoutRetries(), gl.WithHTTPClient(s.Client())}, opts...)
	c, err := gl.NewClient(token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// errResponse asserts err is a *gl.ErrorResponse with status.
func errResponse(t *testing.T, err error, status int) *gl.ErrorResponse {
	t.Helper()
	var er *gl.ErrorResponse
	if !errors.As(err, &er) {
		t.Fatalf("error %v (%T) is not a *gitlab.ErrorResponse", err, err)
	}
	if er.StatusCode != status {
		t.Fatalf("status %d, want %d (body %s)", er.StatusCode, status, er.Body)
	}
	return er
}

// sameJSON asserts that got and want hold the same JSON value.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %q is not JSON: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body\n %s\nwant\n %s", got, want)
	}
}

type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// raw sends a request by hand, for what the client library hides (404
// bodies, form bodies, unknown routes). path is relative to URL().
func raw(t *testing.T, s *fake.Server, method, path string, header map[string]string, body string) rawResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{resp.StatusCode, resp.Header, b}
}

func auth(token string) map[string]string { return map[string]string{"PRIVATE-TOKEN": token} }

func jsonAuth(token string) map[string]string {
	return map[string]string{"PRIVATE-TOKEN": token, "Content-Type": "application/json"}
}
