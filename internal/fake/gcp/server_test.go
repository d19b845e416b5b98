package gcp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/google"
)

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (a answer) errField(k string) any {
	e, _ := a.body["error"].(map[string]any)
	return e[k]
}

func send(t *testing.T, s *Server, method, path, token, body string) answer {
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
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func wantErr(t *testing.T, a answer, code int, status, msgPart string) {
	t.Helper()
	if a.status != code || a.errField("status") != status || a.errField("code") != float64(code) ||
		!strings.Contains(a.errField("message").(string), msgPart) {
		t.Errorf("got %d %s, want %d %s containing %q", a.status, a.raw, code, status, msgPart)
	}
}

const base = "/v1/projects/" + Project + "/secrets"

func TestAuthAndProject(t *testing.T) {
	s := New()
	defer s.Close()
	a := send(t, s, "GET", base+"/x", "", "")
	wantErr(t, a, 401, "UNAUTHENTICATED", "missing required authentication credential")
	if !strings.HasPrefix(a.header.Get("Www-Authenticate"), "Bearer") {
		t.Error("no WWW-Authenticate")
	}
	wantErr(t, send(t, s, "GET", base+"/x", "ya29.bogus", ""), 401, "UNAUTHENTICATED", "invalid authentication credentials")
	wantErr(t, send(t, s, "GET", "/v1/projects/nope/secrets/x", Token, ""), 403, "PERMISSION_DENIED", "Permission denied on resource project nope.")
	wantErr(t, send(t, s, "GET", base+"/x", Token, ""), 404, "NOT_FOUND", "Secret [projects/"+ProjectNumber+"/secrets/x] not found.")
	s.AddToken("ya29.viewer", RoleViewer)
	wantErr(t, send(t, s, "POST", base+"/x:addVersion", "ya29.viewer", `{"payload":{"data":"eA=="}}`), 403, "PERMISSION_DENIED",
		"Permission 'secretmanager.versions.add' denied for resource 'projects/"+Project+"/secrets/x' (or it may not exist).")
	wantErr(t, send(t, s, "GET", "/v1/projects/"+Project+"/nonsense", Token, ""), 404, "NOT_FOUND", "Method not found.")
}

func TestSecretLifecycle(t *testing.T) {
	s := New()
	defer s.Close()
	wantErr(t, send(t, s, "POST", base+"?secretId=a%20b", Token, `{"replication":{"automatic":{}}}`), 400, "INVALID_ARGUMENT", "Secret ID")
	wantErr(t, send(t, s, "POST", base+"?secretId=s", Token, `{}`), 400, "INVALID_ARGUMENT", "replication")
	wantErr(t, send(t, s, "POST", base+"?secretId=s", Token, `{"replication":{"automatic":{}},"labelz":{}}`), 400, "INVALID_ARGUMENT", `Unknown name "labelz"`)
	a := send(t, s, "POST", base+"?secretId=s", Token, `{"replication":{"automatic":{}}}`)
	if a.status != 200 || a.body["name"] != "projects/"+ProjectNumber+"/secrets/s" {
		t.Fatalf("create: %d %s", a.status, a.raw)
	}
	wantErr(t, send(t, s, "POST", base+"?secretId=s", Token, `{"replication":{"automatic":{}}}`), 409, "ALREADY_EXISTS",
		"Secret [projects/"+ProjectNumber+"/secrets/s] already exists.")
	wantErr(t, send(t, s, "GET", base+"/s/versions/latest:access", Token, ""), 404, "NOT_FOUND", "not found or has no versions.")

	data := base64.StdEncoding.EncodeToString([]byte("v1"))
	wantErr(t, send(t, s, "POST", base+"/s:addVersion", Token, `{"payload":{"data":"`+data+`","dataCrc32c":"1"}}`), 400, "INVALID_ARGUMENT", "Checksum")
	wantErr(t, send(t, s, "POST", base+"/s:addVersion", Token, `{"payload":{}}`), 400, "INVALID_ARGUMENT", "empty")
	a = send(t, s, "POST", base+"/s:addVersion", Token, `{"payload":{"data":"`+data+`"}}`)
	if a.status != 200 || a.body["name"] != "projects/"+ProjectNumber+"/secrets/s/versions/1" || a.body["state"] != "ENABLED" {
		t.Fatalf("addVersion: %d %s", a.status, a.raw)
	}
	send(t, s, "POST", base+"/s:addVersion", Token, `{"payload":{"data":"`+base64.StdEncoding.EncodeToString([]byte("v2"))+`"}}`)
	a = send(t, s, "GET", base+"/s/versions/latest:access", Token, "")
	p, _ := a.body["payload"].(map[string]any)
	if a.status != 200 || p["data"] != base64.StdEncoding.EncodeToString([]byte("v2")) || p["dataCrc32c"] == "" ||
		a.body["name"] != "projects/"+ProjectNumber+"/secrets/s/versions/2" {
		t.Fatalf("access latest: %d %s", a.status, a.raw)
	}
	a = send(t, s, "GET", "/v1/projects/"+ProjectNumber+"/secrets/s/versions/1:access", Token, "")
	if p, _ := a.body["payload"].(map[string]any); a.status != 200 || p["data"] != data {
		t.Fatalf("access 1 by project number: %d %s", a.status, a.raw)
	}
	wantErr(t, send(t, s, "GET", base+"/s/versions/9:access", Token, ""), 404, "NOT_FOUND", "versions/9] not found.")
	if v, _ := s.Secret("s"); v != "v2" || s.Versions("s") != 2 {
		t.Fatalf("state: %q %d", v, s.Versions("s"))
	}
}

func TestFaultsAndDelay(t *testing.T) {
	s := New()
	defer s.Close()
	s.FailNext(OpGetSecret, 429, 1)
	s.FailNext("*", 503, 1)
	wantErr(t, send(t, s, "GET", base+"/x", Token, ""), 429, "RESOURCE_EXHAUSTED", "Quota exceeded")
	wantErr(t, send(t, s, "GET", base+"/x/versions/latest:access", Token, ""), 503, "UNAVAILABLE", "currently unavailable")
	wantErr(t, send(t, s, "GET", base+"/x", Token, ""), 404, "NOT_FOUND", "not found")
	// Authentication is checked before injected failures.
	s.FailNext(OpGetSecret, 500, 1)
	wantErr(t, send(t, s, "GET", base+"/x", "", ""), 401, "UNAUTHENTICATED", "")
	wantErr(t, send(t, s, "GET", base+"/x", Token, ""), 500, "INTERNAL", "Internal error")

	s.Delay(OpGetSecret, 150*time.Millisecond)
	start := time.Now()
	send(t, s, "GET", base+"/x", Token, "")
	if time.Since(start) < 150*time.Millisecond {
		t.Error("delay not applied")
	}
	want := "secrets.get,versions.access,secrets.get,secrets.get,secrets.get,secrets.get"
	if got := strings.Join(s.Requests(), ","); got != want {
		t.Errorf("requests = %s", got)
	}
}

func TestClearFaults(t *testing.T) {
	s := New()
	defer s.Close()
	s.FailNext("*", 503, 3)
	s.Delay(OpGetSecret, time.Minute)
	s.ClearFaults()
	wantErr(t, send(t, s, "GET", base+"/x", Token, ""), 404, "NOT_FOUND", "not found")
}

func TestMetadataServer(t *testing.T) {
	s := New()
	defer s.Close()
	a := send(t, s, "GET", "/computeMetadata/v1/instance/service-accounts/default/token", "", "")
	if a.status != 403 {
		t.Errorf("no Metadata-Flavor: %d", a.status)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/computeMetadata/v1/instance/service-accounts/default/token", nil)
	req.Header.Set("Metadata-Flavor", "Google")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if tok.AccessToken == "" || send(t, s, "GET", base+"/x", tok.AccessToken, "").status != 404 {
		t.Fatalf("metadata token not accepted: %+v", tok)
	}
}

func TestTokenEndpoint(t *testing.T) {
	s := New()
	defer s.Close()
	path, err := s.CredentialsFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// The real x/oauth2 service-account flow gets a token here.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := google.CredentialsFromJSONWithTypeAndParams(context.Background(), b, google.ServiceAccount,
		google.CredentialsParams{Scopes: []string{"https://www.googleapis.com/auth/cloud-platform"}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	if send(t, s, "GET", base+"/x", tok.AccessToken, "").status != 404 || s.Issued() != 1 {
		t.Fatal("issued token not accepted")
	}
	// A forged assertion is refused.
	form := url.Values{"grant_type": {jwtBearer}, "assertion": {"eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"}}
	resp, err := http.PostForm(s.URL()+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(raw), "invalid_grant") {
		t.Fatalf("forged: %d %s", resp.StatusCode, raw)
	}
}
