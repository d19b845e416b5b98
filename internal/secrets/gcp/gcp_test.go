package gcp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	fakegcp "github.com/runnerctl/runnerctl/internal/fake/gcp"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const canary = "glrt-CANARY-xyz"

// gcpEnv lists the variables ADC and this package read from the process.
var gcpEnv = []string{
	"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT",
	"CLOUDSDK_CONFIG", "GCE_METADATA_HOST", "GCE_METADATA_IP", EndpointEnv,
	"GOOGLE_API_USE_CLIENT_CERTIFICATE", "GOOGLE_CLOUD_UNIVERSE_DOMAIN",
}

// isolate keeps ADC off the machine's own credentials and off the network:
// HOME is an empty directory (no gcloud file) and the metadata server, if
// ever asked, is a closed loopback port.
func isolate(t *testing.T) {
	t.Helper()
	for _, k := range gcpEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GCE_METADATA_HOST", "127.0.0.1:1")
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func static(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})
}

func noEnv(string) string { return "" }

func setup(t *testing.T) (*fakegcp.Server, *Store) {
	t.Helper()
	isolate(t)
	f := fakegcp.New()
	t.Cleanup(f.Close)
	st, err := New(ctx(t), Options{Project: fakegcp.Project, Endpoint: f.URL(), TokenSource: static(fakegcp.Token), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

func TestPutCreatesThenAddsVersions(t *testing.T) {
	f, st := setup(t)
	loc := secrets.Location{Key: "gitlab-runner-ci-token"}
	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-first")); err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Secret(loc.Key); !ok || v != "glrt-first" {
		t.Fatalf("stored %q, %v", v, ok)
	}
	if got := strings.Join(f.Requests(), ","); got != "secrets.addVersion,secrets.create,secrets.addVersion" {
		t.Fatalf("requests = %s", got)
	}
	if !f.ChecksumSent(loc.Key) {
		t.Error("no dataCrc32c was sent")
	}
	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatal(err)
	}
	if f.Versions(loc.Key) != 2 {
		t.Fatalf("versions = %d", f.Versions(loc.Key))
	}
	if got := strings.Join(f.Requests()[3:], ","); got != "secrets.addVersion" {
		t.Fatalf("update requests = %s", got)
	}
	got, err := st.Get(ctx(t), loc)
	if err != nil || !got.Equal(secrets.NewToken("glrt-second")) {
		t.Fatalf("Get: %v", err)
	}
	if err := secrets.VerifyStored(ctx(t), st, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatal(err)
	}
}

func TestProjectNumber(t *testing.T) {
	isolate(t)
	f := fakegcp.New()
	defer f.Close()
	st, err := New(ctx(t), Options{Project: fakegcp.ProjectNumber, Endpoint: f.URL(), TokenSource: static(fakegcp.Token), Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "s"}, secrets.NewToken("glrt-n")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret("s"); v != "glrt-n" {
		t.Fatal("not stored")
	}
}

func TestGetNotFound(t *testing.T) {
	f, st := setup(t)
	f.CreateEmpty("empty")
	for _, id := range []string{"missing", "empty"} {
		_, err := st.Get(ctx(t), secrets.Location{Key: id})
		if !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s: err = %v", id, err)
		}
		if err != nil && !strings.Contains(err.Error(), `gcp secret "`+id+`" in project "runnerctl-test"`) {
			t.Errorf("%s: error does not name the secret: %v", id, err)
		}
	}
}

func TestCheck(t *testing.T) {
	f, st := setup(t)
	f.SetSecret("exists", "glrt-x")
	for _, id := range []string{"missing", "exists"} {
		if err := st.Check(ctx(t), secrets.Location{Key: id}); err != nil {
			t.Errorf("Check(%s) = %v", id, err)
		}
	}
	for _, op := range f.Requests() {
		if op != fakegcp.OpGetSecret {
			t.Errorf("Check made a %s call", op)
		}
	}
	if f.Exists("missing") || f.Versions("exists") != 1 {
		t.Error("Check changed something")
	}
}

func TestCheckFailures(t *testing.T) {
	cases := map[string]struct {
		prep    func(f *fakegcp.Server)
		project string
		token   string
		want    error
		say     string
	}{
		"unknown token":    {token: "ya29.unknown", want: secrets.ErrAuth, say: "UNAUTHENTICATED"},
		"revoked token":    {prep: func(f *fakegcp.Server) { f.RemoveToken(fakegcp.Token) }, want: secrets.ErrAuth, say: "UNAUTHENTICATED"},
		"no role":          {prep: func(f *fakegcp.Server) { f.AddToken(fakegcp.Token, fakegcp.RoleNone) }, want: secrets.ErrPermission, say: "secretmanager.secrets.get"},
		"accessor only":    {prep: func(f *fakegcp.Server) { f.AddToken(fakegcp.Token, fakegcp.RoleAccessor) }, want: secrets.ErrPermission, say: "PERMISSION_DENIED"},
		"unknown project":  {project: "no-such-project", want: secrets.ErrPermission, say: "Permission denied on resource project no-such-project"},
		"throttled":        {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 429, 1) }, want: secrets.ErrTransient, say: "RESOURCE_EXHAUSTED"},
		"server error":     {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 500, 1) }, want: secrets.ErrTransient, say: "INTERNAL"},
		"unavailable":      {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 503, 1) }, want: secrets.ErrTransient, say: "UNAVAILABLE"},
		"deadline at 504":  {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 504, 1) }, want: secrets.ErrTransient},
		"injected 401":     {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 401, 1) }, want: secrets.ErrAuth},
		"injected 403":     {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 403, 1) }, want: secrets.ErrPermission},
		"invalid argument": {prep: func(f *fakegcp.Server) { f.FailNext(fakegcp.OpGetSecret, 400, 1) }, say: "INVALID_ARGUMENT"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			isolate(t)
			f := fakegcp.New()
			defer f.Close()
			if c.prep != nil {
				c.prep(f)
			}
			project, token := fakegcp.Project, fakegcp.Token
			if c.project != "" {
				project = c.project
			}
			if c.token != "" {
				token = c.token
			}
			st, err := New(ctx(t), Options{Project: project, Endpoint: f.URL(), TokenSource: static(token), Getenv: noEnv})
			if err != nil {
				t.Fatal(err)
			}
			err = st.Check(ctx(t), secrets.Location{Key: "gitlab-runner-ci-token"})
			if err == nil {
				t.Fatal("Check passed")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.want == nil {
				for _, s := range []error{secrets.ErrAuth, secrets.ErrPermission, secrets.ErrNotFound, secrets.ErrTransient, secrets.ErrConflict} {
					if errors.Is(err, s) {
						t.Fatalf("err = %v wraps %v", err, s)
					}
				}
			}
			if c.say != "" && !strings.Contains(err.Error(), c.say) {
				t.Fatalf("err = %v, want it to say %q", err, c.say)
			}
		})
	}
}

func TestPutPermissionAndTransient(t *testing.T) {
	cases := map[string]struct {
		prep func(f *fakegcp.Server)
		want error
	}{
		"viewer cannot add":      {func(f *fakegcp.Server) { f.AddToken(fakegcp.Token, fakegcp.RoleViewer) }, secrets.ErrPermission},
		"add 503":                {func(f *fakegcp.Server) { f.FailNext(fakegcp.OpAddVersion, 503, 1) }, secrets.ErrTransient},
		"add 429":                {func(f *fakegcp.Server) { f.FailNext(fakegcp.OpAddVersion, 429, 1) }, secrets.ErrTransient},
		"create 500":             {func(f *fakegcp.Server) { f.FailNext(fakegcp.OpCreateSecret, 500, 1) }, secrets.ErrTransient},
		"second add 500":         {func(f *fakegcp.Server) { f.CreateEmpty("x"); f.FailNext(fakegcp.OpAddVersion, 500, 1) }, secrets.ErrTransient},
		"token revoked":          {func(f *fakegcp.Server) { f.RemoveToken(fakegcp.Token) }, secrets.ErrAuth},
		"create denied (403)":    {func(f *fakegcp.Server) { f.FailNext(fakegcp.OpCreateSecret, 403, 1) }, secrets.ErrPermission},
		"every call unavailable": {func(f *fakegcp.Server) { f.FailNext("*", 503, 5) }, secrets.ErrTransient},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, st := setup(t)
			c.prep(f)
			err := st.Put(ctx(t), secrets.Location{Key: "x"}, secrets.NewToken(canary))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if strings.Contains(err.Error(), "CANARY") {
				t.Fatalf("error carries the token: %v", err)
			}
		})
	}
}

// raceTransport creates the secret on the fake just before Put's create
// reaches it, as a concurrent writer would.
type raceTransport struct {
	f    *fakegcp.Server
	once atomic.Bool
}

func (r *raceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Query().Get("secretId") != "" && r.once.CompareAndSwap(false, true) {
		r.f.SetSecret(req.URL.Query().Get("secretId"), "glrt-theirs")
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestPutWhenCreatedConcurrently(t *testing.T) {
	isolate(t)
	f := fakegcp.New()
	defer f.Close()
	st, err := New(ctx(t), Options{Project: fakegcp.Project, Endpoint: f.URL(), TokenSource: static(fakegcp.Token), Getenv: noEnv,
		HTTPClient: &http.Client{Transport: &raceTransport{f: f}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "raced"}, secrets.NewToken("glrt-mine")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret("raced"); v != "glrt-mine" || f.Versions("raced") != 2 {
		t.Fatalf("latest = %q, versions = %d", v, f.Versions("raced"))
	}
}

func TestADCServiceAccountFile(t *testing.T) {
	isolate(t)
	f := fakegcp.New()
	defer f.Close()
	path, err := f.CredentialsFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": path, EndpointEnv: f.URL()}
	st, err := New(ctx(t), Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if st.Project() != fakegcp.Project {
		t.Fatalf("project = %q, want the key file's", st.Project())
	}
	if st.Endpoint() != f.URL() {
		t.Fatalf("endpoint = %q", st.Endpoint())
	}
	loc := secrets.Location{Key: "sa"}
	if err := st.Check(ctx(t), loc); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-sa")); err != nil {
		t.Fatal(err)
	}
	if err := secrets.VerifyStored(ctx(t), st, loc, secrets.NewToken("glrt-sa")); err != nil {
		t.Fatal(err)
	}
	if n := f.Issued(); n != 1 {
		t.Fatalf("tokens issued = %d, want 1 (reused across calls)", n)
	}

	// The process environment works the same way (Getenv nil).
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", path)
	t.Setenv(EndpointEnv, f.URL()+"/v1/")
	st, err = New(ctx(t), Options{Project: fakegcp.Project})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx(t), loc); err != nil {
		t.Fatal(err)
	}
}

func TestFakeEnv(t *testing.T) {
	isolate(t)
	f := fakegcp.New()
	defer f.Close()
	env, err := f.Env(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	st, err := New(ctx(t), Options{Getenv: func(k string) string { return m[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "env"}, secrets.NewToken("glrt-env")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret("env"); v != "glrt-env" {
		t.Fatal("not stored")
	}
}

func TestADCTokenEndpointFailures(t *testing.T) {
	for status, want := range map[int]error{400: secrets.ErrAuth, 503: secrets.ErrTransient} {
		isolate(t)
		f := fakegcp.New()
		path, err := f.CredentialsFile(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": path}
		st, err := New(ctx(t), Options{Endpoint: f.URL(), Getenv: func(k string) string { return env[k] }})
		if err != nil {
			t.Fatal(err)
		}
		f.FailNext(fakegcp.OpToken, status, 1)
		err = st.Put(ctx(t), secrets.Location{Key: "x"}, secrets.NewToken(canary))
		if !errors.Is(err, want) || strings.Contains(err.Error(), "CANARY") {
			t.Errorf("token endpoint %d: err = %v, want %v", status, err, want)
		}
		if f.Exists("x") {
			t.Error("something was written")
		}
		f.Close()
	}
}

func TestADCMetadataServer(t *testing.T) {
	isolate(t)
	f := fakegcp.New()
	defer f.Close()
	t.Setenv("GCE_METADATA_HOST", f.MetadataHost())
	st, err := New(ctx(t), Options{Endpoint: f.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if st.Project() != fakegcp.Project {
		t.Fatalf("project = %q, want the metadata server's", st.Project())
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "md"}, secrets.NewToken("glrt-md")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret("md"); v != "glrt-md" || f.Issued() != 1 {
		t.Fatalf("value %q, issued %d", v, f.Issued())
	}
}

func TestNoCredentials(t *testing.T) {
	t.Run("missing key file", func(t *testing.T) {
		isolate(t)
		env := map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "/nonexistent/key.json"}
		_, err := New(ctx(t), Options{Project: "p-1", Getenv: func(k string) string { return env[k] }})
		if !errors.Is(err, secrets.ErrAuth) || !strings.Contains(err.Error(), "gcloud auth application-default login") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("metadata server without account", func(t *testing.T) {
		isolate(t)
		f := fakegcp.New()
		defer f.Close()
		f.DisableMetadata()
		t.Setenv("GCE_METADATA_HOST", f.MetadataHost())
		st, err := New(ctx(t), Options{Project: fakegcp.Project, Endpoint: f.URL()})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Check(ctx(t), secrets.Location{Key: "x"})
		if !errors.Is(err, secrets.ErrAuth) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unsupported key type", func(t *testing.T) {
		isolate(t)
		p := t.TempDir() + "/k.json"
		if err := os.WriteFile(p, []byte(`{"type":"gdch_service_account"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(ctx(t), Options{Project: "p-1", Getenv: func(k string) string {
			if k == "GOOGLE_APPLICATION_CREDENTIALS" {
				return p
			}
			return ""
		}})
		if !errors.Is(err, secrets.ErrAuth) || !strings.Contains(err.Error(), "unsupported") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestEndpointAndProjectValidation(t *testing.T) {
	isolate(t)
	for _, e := range []string{"http://example.com", "ftp://x", "secretmanager.googleapis.com", "https://x?y=1", "http://10.0.0.1:8080"} {
		if _, err := New(ctx(t), Options{Project: "p-1", Endpoint: e, TokenSource: static("t"), Getenv: noEnv}); err == nil {
			t.Errorf("endpoint %q accepted", e)
		}
	}
	for e, want := range map[string]string{
		"": DefaultEndpoint,
		"https://secretmanager.googleapis.com/v1/": DefaultEndpoint,
		"http://localhost:8085":                    "http://localhost:8085",
		"http://[::1]:8085/v1":                     "http://[::1]:8085",
		"https://proxy.example.com/sm/":            "https://proxy.example.com/sm",
	} {
		st, err := New(ctx(t), Options{Project: "p-1", Endpoint: e, TokenSource: static("t"), Getenv: noEnv})
		if err != nil || st.Endpoint() != want {
			t.Errorf("endpoint %q: %v, %v; want %s", e, st, err, want)
		}
	}
	for _, p := range []string{"", "a/b", "p?x", "UPPER"} {
		if _, err := New(ctx(t), Options{Project: p, TokenSource: static("t"), Getenv: noEnv}); err == nil {
			t.Errorf("project %q accepted", p)
		}
	}
	st, err := New(ctx(t), Options{TokenSource: static("t"), Getenv: func(k string) string {
		return map[string]string{"GOOGLE_CLOUD_PROJECT": "from-env"}[k]
	}})
	if err != nil || st.Project() != "from-env" {
		t.Errorf("GOOGLE_CLOUD_PROJECT: %v", err)
	}
}

func TestInvalidLocations(t *testing.T) {
	f, st := setup(t)
	for _, loc := range []secrets.Location{{}, {Key: "a/b"}, {Key: "has space"}, {Key: "ok", Property: "p"}, {Key: strings.Repeat("x", 256)}} {
		if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-x")); err == nil {
			t.Errorf("Put(%q) accepted", loc)
		}
		if err := st.Check(ctx(t), loc); err == nil {
			t.Errorf("Check(%q) accepted", loc)
		}
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "ok"}, secrets.Token{}); err == nil {
		t.Error("empty token accepted")
	}
	if n := len(f.Requests()); n != 0 {
		t.Errorf("%d requests were sent for invalid input", n)
	}
	if st.Backend() != "gcp" {
		t.Error("backend name")
	}
}

func TestQuotaProjectHeader(t *testing.T) {
	isolate(t)
	f := fakegcp.New()
	defer f.Close()
	var got atomic.Value
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got.Store(r.Header.Get("X-Goog-User-Project"))
		return http.DefaultTransport.RoundTrip(r)
	})}
	st, err := New(ctx(t), Options{Project: fakegcp.Project, Endpoint: f.URL(), TokenSource: static(fakegcp.Token), HTTPClient: hc,
		Getenv: func(k string) string { return map[string]string{"GOOGLE_CLOUD_QUOTA_PROJECT": "billing-1"}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Check(ctx(t), secrets.Location{Key: "x"}); err != nil {
		t.Fatal(err)
	}
	if got.Load() != "billing-1" {
		t.Fatalf("X-Goog-User-Project = %v", got.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestTimeout(t *testing.T) {
	f, st := setup(t)
	f.Delay(fakegcp.OpAccessVersion, 2*time.Second)
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := st.Get(c, secrets.Location{Key: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

// TestCanaryNeverInErrors drives every failure path with the canary token
// and checks that no error text carries it.
func TestCanaryNeverInErrors(t *testing.T) {
	tok := secrets.NewToken(canary)
	loc := secrets.Location{Key: "c"}
	var errs []error
	for _, prep := range []func(f *fakegcp.Server){
		func(f *fakegcp.Server) { f.FailNext("*", 500, 10) },
		func(f *fakegcp.Server) { f.FailNext("*", 400, 10) },
		func(f *fakegcp.Server) { f.FailNext("*", 429, 10) },
		func(f *fakegcp.Server) { f.FailNext(fakegcp.OpAddVersion, 403, 1) },
		func(f *fakegcp.Server) { f.FailNext(fakegcp.OpCreateSecret, 409, 1) },
		func(f *fakegcp.Server) { f.AddToken(fakegcp.Token, fakegcp.RoleNone) },
		func(f *fakegcp.Server) { f.RemoveToken(fakegcp.Token) },
		func(f *fakegcp.Server) { f.SetSecret("c", "glrt-other") },
	} {
		f, st := setup(t)
		prep(f)
		_, gerr := st.Get(ctx(t), loc)
		errs = append(errs, st.Put(ctx(t), loc, tok), gerr, st.Check(ctx(t), loc), secrets.VerifyStored(ctx(t), st, loc, tok))
	}
	// A server message quoting the value (real ones do not) is redacted.
	f, st := setup(t)
	f.CreateEmpty("c")
	f.FailNextWith(fakegcp.OpAddVersion, 400, "INVALID_ARGUMENT", "bad payload "+canary+" / "+base64.StdEncoding.EncodeToString([]byte(canary)), 1)
	err := st.Put(ctx(t), loc, tok)
	if err == nil || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("err = %v, want a redacted message", err)
	}
	errs = append(errs, err)

	f, st = setup(t)
	f.Delay("*", time.Second)
	c, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	errs = append(errs, st.Put(c, loc, tok))
	n := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		n++
		if strings.Contains(err.Error(), "CANARY") {
			t.Errorf("error carries the token: %v", err)
		}
	}
	if n < 20 {
		t.Fatalf("only %d errors were produced; the test exercises too little", n)
	}
}
