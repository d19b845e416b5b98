package vault_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	fake "github.com/runnerctl/runnerctl/internal/fake/vault"
)

const root = "hvs.root"

func newServer(t *testing.T) *fake.Server {
	t.Helper()
	s := fake.New()
	t.Cleanup(s.Close)
	s.SetToken(root, fake.RootPolicy)
	return s
}

// do sends a request and decodes the JSON answer (nil when empty).
func do(t *testing.T, s *fake.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

func errorsOf(m map[string]any) []string {
	var out []string
	list, _ := m["errors"].([]any)
	for _, e := range list {
		out = append(out, e.(string))
	}
	return out
}

func TestTokensAreRequired(t *testing.T) {
	s := newServer(t)
	for _, tok := range []string{"", "hvs.unknown"} {
		status, body := do(t, s, "GET", "/v1/secret/data/x", tok, "")
		if status != 403 || !reflect.DeepEqual(errorsOf(body), []string{"permission denied"}) {
			t.Errorf("token %q: %d %v", tok, status, body)
		}
	}
}

func TestKVv2Semantics(t *testing.T) {
	s := newServer(t)
	status, body := do(t, s, "GET", "/v1/secret/data/app", root, "")
	if status != 404 || body["errors"] == nil || len(errorsOf(body)) != 0 {
		t.Fatalf("missing secret: %d %v, want 404 {\"errors\":[]}", status, body)
	}
	if status, body = do(t, s, "POST", "/v1/secret/data/app", root, `{"options":{"cas":0}}`); status != 400 || errorsOf(body)[0] != "no data provided" {
		t.Fatalf("no data: %d %v", status, body)
	}
	if status, body = do(t, s, "POST", "/v1/secret/data/app", root, `{"data":{"a":"1"},"options":{"cas":0}}`); status != 200 {
		t.Fatalf("create: %d %v", status, body)
	}
	if v := body["data"].(map[string]any)["version"]; v != float64(1) {
		t.Fatalf("create answered version %v", v)
	}
	status, body = do(t, s, "PUT", "/v1/secret/data/app", root, `{"data":{"a":"2"},"options":{"cas":0}}`)
	if status != 400 || errorsOf(body)[0] != "check-and-set parameter did not match the current version" {
		t.Fatalf("stale cas: %d %v", status, body)
	}
	if status, _ = do(t, s, "PUT", "/v1/secret/data/app", root, `{"data":{"a":"2"},"options":{"cas":1}}`); status != 200 {
		t.Fatalf("cas 1: %d", status)
	}
	status, body = do(t, s, "GET", "/v1/secret/data/app", root, "")
	d := body["data"].(map[string]any)
	if status != 200 || d["data"].(map[string]any)["a"] != "2" || d["metadata"].(map[string]any)["version"] != float64(2) {
		t.Fatalf("read: %d %v", status, body)
	}
	s.DeleteSecret("secret/app")
	status, body = do(t, s, "GET", "/v1/secret/data/app", root, "")
	d, _ = body["data"].(map[string]any)
	if status != 404 || d == nil || d["data"] != nil || d["metadata"].(map[string]any)["deletion_time"] == "" {
		t.Fatalf("deleted version: %d %v", status, body)
	}
}

func TestUnknownMount(t *testing.T) {
	s := newServer(t)
	status, body := do(t, s, "GET", "/v1/nope/data/x", root, "")
	if status != 404 || errorsOf(body)[0] != `no handler for route "nope/data/x". route entry not found.` {
		t.Fatalf("root on unknown mount: %d %v", status, body)
	}
	s.SetPolicy("p", "secret/data/*", fake.CapRead)
	s.SetToken("hvs.p", "p")
	if status, _ = do(t, s, "GET", "/v1/nope/data/x", "hvs.p", ""); status != 403 {
		t.Fatalf("ACLs come first: %d", status)
	}
	status, body = do(t, s, "GET", "/v1/sys/internal/ui/mounts/nope", root, "")
	if status != 403 || !strings.Contains(errorsOf(body)[0], `preflight capability check returned 403, please ensure client's policies grant access to path "nope/"`) {
		t.Fatalf("preflight of an unknown mount: %d %v", status, body)
	}
	status, body = do(t, s, "GET", "/v1/sys/internal/ui/mounts/secret", "hvs.p", "")
	if status != 200 || body["data"].(map[string]any)["options"].(map[string]any)["version"] != "2" {
		t.Fatalf("preflight: %d %v", status, body)
	}
}

func TestCapabilitiesSelf(t *testing.T) {
	s := newServer(t)
	s.SetPolicy("p", "secret/data/team/*", fake.CapRead, fake.CapCreate)
	s.SetPolicy("p", "secret/data/team/locked", fake.CapDeny)
	s.SetPolicy("p", "secret/data/+/shared", fake.CapUpdate)
	s.SetToken("hvs.p", "p")
	for path, want := range map[string][]string{
		"secret/data/team/x":       {"create", "read"},
		"secret/data/team/locked":  {"deny"},
		"secret/data/other/x":      {"deny"},
		"secret/data/other/shared": {"update"},
	} {
		status, body := do(t, s, "POST", "/v1/sys/capabilities-self", "hvs.p", `{"paths":["`+path+`"]}`)
		if status != 200 {
			t.Fatalf("%s: %d %v", path, status, body)
		}
		var got []string
		for _, c := range body["data"].(map[string]any)[path].([]any) {
			got = append(got, c.(string))
		}
		if !reflect.DeepEqual(got, want) || body["capabilities"] == nil {
			t.Errorf("%s: %v (%v), want %v", path, got, body, want)
		}
	}
	_, body := do(t, s, "POST", "/v1/sys/capabilities-self", root, `{"paths":["anything"]}`)
	if !reflect.DeepEqual(body["capabilities"], []any{"root"}) {
		t.Errorf("root: %v", body)
	}
}

func TestAppRoleLogin(t *testing.T) {
	s := newServer(t)
	s.SetAppRole("", "role", "secret", "p")
	status, body := do(t, s, "POST", "/v1/auth/approle/login", "", `{"role_id":"role","secret_id":"wrong"}`)
	if status != 400 || errorsOf(body)[0] != "invalid role or secret ID" {
		t.Fatalf("wrong secret: %d %v", status, body)
	}
	status, body = do(t, s, "POST", "/v1/auth/approle/login", "", `{"role_id":"role","secret_id":"secret"}`)
	if status != 200 {
		t.Fatalf("login: %d %v", status, body)
	}
	tok := body["auth"].(map[string]any)["client_token"].(string)
	status, body = do(t, s, "GET", "/v1/auth/token/lookup-self", tok, "")
	if status != 200 || !reflect.DeepEqual(body["data"].(map[string]any)["policies"], []any{"default", "p"}) {
		t.Fatalf("lookup-self: %d %v", status, body)
	}
}

func TestFaultsAndHooks(t *testing.T) {
	s := newServer(t)
	s.FailNext(fake.OpRead, 503, 1)
	if status, body := do(t, s, "GET", "/v1/secret/data/x", root, ""); status != 503 || errorsOf(body)[0] != "Vault is sealed" {
		t.Fatalf("fault: %d %v", status, body)
	}
	var ran atomic.Bool
	s.OnNext(fake.OpWrite, func() { ran.Store(true); s.PutSecret("secret/x", map[string]string{"k": "v"}) })
	status, _ := do(t, s, "PUT", "/v1/secret/data/x", root, `{"data":{"k":"mine"},"options":{"cas":0}}`)
	if !ran.Load() || status != 400 {
		t.Fatalf("hook ran %v, status %d (want the write to lose the race)", ran.Load(), status)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an unknown operation was accepted")
		}
	}()
	s.FailNext("nope", 500, 1)
}
