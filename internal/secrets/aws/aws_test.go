package aws

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	fakeaws "github.com/runnerctl/runnerctl/internal/fake/aws"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const canary = "glrt-CANARY-xyz"

// awsEnv lists every variable the SDK's default chain reads that could take
// it off loopback or to the machine's own credentials.
var awsEnv = []string{
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "AWS_EC2_METADATA_DISABLED",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
	"AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_CA_BUNDLE",
	"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
}

// isolate clears the AWS environment, then sets env (KEY=VALUE), and points
// HOME at an empty directory so ~/.aws is never read.
func isolate(t *testing.T, env ...string) {
	t.Helper()
	for _, k := range awsEnv {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

func setup(t *testing.T, opts Options) (*fakeaws.Server, *Store) {
	t.Helper()
	f := fakeaws.New()
	t.Cleanup(f.Close)
	isolate(t, f.Env()...)
	if opts.RetryMaxAttempts == 0 {
		opts.RetryMaxAttempts = 1
	}
	st, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return f, st
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

func TestPutCreatesThenUpdatesPlain(t *testing.T) {
	f, st := setup(t, Options{})
	loc := secrets.Location{Key: "gitlab/runners/ci"}

	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-first")); err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Secret(loc.Key); !ok || v != "glrt-first" {
		t.Fatalf("stored %q, %v", v, ok)
	}
	if n := f.Versions(loc.Key); n != 1 {
		t.Fatalf("versions = %d, want 1", n)
	}
	if got := count(f.Requests(), fakeaws.OpCreateSecret); got != 1 {
		t.Fatalf("CreateSecret calls = %d, want 1 (%v)", got, f.Requests())
	}

	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret(loc.Key); v != "glrt-second" {
		t.Fatalf("stored %q after update", v)
	}
	if n := f.Versions(loc.Key); n != 2 {
		t.Fatalf("versions = %d, want 2", n)
	}
	if got := count(f.Requests(), fakeaws.OpPutSecretValue); got != 1 {
		t.Fatalf("PutSecretValue calls = %d, want 1", got)
	}
	// AWSCURRENT moved; the old version is AWSPREVIOUS.
	var cur, prev int
	for _, st := range f.Stages(loc.Key) {
		for _, s := range st {
			switch s {
			case "AWSCURRENT":
				cur++
			case "AWSPREVIOUS":
				prev++
			}
		}
	}
	if cur != 1 || prev != 1 {
		t.Fatalf("stages = %v", f.Stages(loc.Key))
	}

	got, err := st.Get(ctx(t), loc)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(secrets.NewToken("glrt-second")) {
		t.Fatal("Get did not return the token just stored")
	}
	if err := secrets.VerifyStored(ctx(t), st, loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatal(err)
	}

	// The same token again writes no new version.
	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-second")); err != nil {
		t.Fatal(err)
	}
	if n := f.Versions(loc.Key); n != 2 {
		t.Fatalf("versions = %d after an unchanged Put, want 2", n)
	}
}

func TestPropertyCreateAndMergeKeepsOtherKeys(t *testing.T) {
	f, st := setup(t, Options{})
	loc := secrets.Location{Key: "gitlab/runners/new", Property: "runner-token"}
	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-aaa")); err != nil {
		t.Fatal(err)
	}
	v, _ := f.Secret(loc.Key)
	if v != `{"runner-token":"glrt-aaa"}` {
		t.Fatalf("created value = %s", v)
	}

	loc = secrets.Location{Key: "gitlab/runners/shared", Property: "runner-token"}
	f.SetSecret(loc.Key, `{"other":"keep <me> & too","n":1.50,"nested":{"a":[1,2]},"runner-token":"glrt-old"}`)
	if err := st.Put(ctx(t), loc, secrets.NewToken("glrt-new")); err != nil {
		t.Fatal(err)
	}
	v, _ = f.Secret(loc.Key)
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &obj); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"other":        `"keep <me> & too"`,
		"n":            `1.50`,
		"nested":       `{"a":[1,2]}`,
		"runner-token": `"glrt-new"`,
	}
	if len(obj) != len(want) {
		t.Fatalf("keys = %v", obj)
	}
	for k, w := range want {
		if string(obj[k]) != w {
			t.Errorf("%s = %s, want %s", k, obj[k], w)
		}
	}
	got, err := st.Get(ctx(t), loc)
	if err != nil || !got.Equal(secrets.NewToken("glrt-new")) {
		t.Fatalf("Get: %v", err)
	}
}

func TestPropertyOnNonJSONValueIsRefused(t *testing.T) {
	f, st := setup(t, Options{})
	loc := secrets.Location{Key: "plain", Property: "runner-token"}
	f.SetSecret(loc.Key, "some-plain-value-that-must-stay")
	for name, err := range map[string]error{
		"put":   st.Put(ctx(t), loc, secrets.NewToken(canary)),
		"check": st.Check(ctx(t), loc),
	} {
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		if strings.Contains(err.Error(), "some-plain-value") || strings.Contains(err.Error(), "CANARY") {
			t.Fatalf("%s: error leaks a value: %v", name, err)
		}
	}
	if v, _ := f.Secret(loc.Key); v != "some-plain-value-that-must-stay" {
		t.Fatal("value was overwritten")
	}
	if f.Versions(loc.Key) != 1 {
		t.Fatal("a version was added")
	}
}

func TestGetNotFound(t *testing.T) {
	f, st := setup(t, Options{})
	f.SetSecret("obj", `{"other":"x"}`)
	f.CreateEmpty("empty")
	for _, loc := range []secrets.Location{
		{Key: "missing"},
		{Key: "missing", Property: "p"},
		{Key: "obj", Property: "runner-token"},
		{Key: "empty"},
	} {
		_, err := st.Get(ctx(t), loc)
		if !errors.Is(err, secrets.ErrNotFound) {
			t.Errorf("%s: err = %v, want ErrNotFound", loc, err)
		}
		if err != nil && !strings.Contains(err.Error(), `aws secret "`+loc.Key+`"`) {
			t.Errorf("%s: error does not name the secret: %v", loc, err)
		}
	}
}

func TestGetBinaryValue(t *testing.T) {
	f, st := setup(t, Options{})
	f.SetSecretBinary("bin", []byte(`{"runner-token":"glrt-bin"}`))
	got, err := st.Get(ctx(t), secrets.Location{Key: "bin", Property: "runner-token"})
	if err != nil || !got.Equal(secrets.NewToken("glrt-bin")) {
		t.Fatalf("Get: %v", err)
	}
}

func TestPutIntoSecretWithoutVersion(t *testing.T) {
	f, st := setup(t, Options{})
	f.CreateEmpty("empty")
	if err := st.Put(ctx(t), secrets.Location{Key: "empty"}, secrets.NewToken("glrt-x")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret("empty"); v != "glrt-x" {
		t.Fatalf("value = %q", v)
	}
}

// raceTransport creates the secret on the fake just before CreateSecret
// reaches it, as a concurrent writer would.
type raceTransport struct {
	f    *fakeaws.Server
	once atomic.Bool
}

func (r *raceTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") == "secretsmanager.CreateSecret" && r.once.CompareAndSwap(false, true) {
		r.f.SetSecret("raced", `{"theirs":"kept"}`)
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestPutMergesIntoSecretCreatedConcurrently(t *testing.T) {
	f := fakeaws.New()
	t.Cleanup(f.Close)
	isolate(t, f.Env()...)
	st, err := New(ctx(t), Options{RetryMaxAttempts: 1, HTTPClient: &http.Client{Transport: &raceTransport{f: f}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "raced", Property: "mine"}, secrets.NewToken("glrt-m")); err != nil {
		t.Fatal(err)
	}
	v, _ := f.Secret("raced")
	if v != `{"mine":"glrt-m","theirs":"kept"}` {
		t.Fatalf("value = %s", v)
	}
}

func TestCheck(t *testing.T) {
	f, st := setup(t, Options{})
	f.SetSecret("exists", "glrt-x")
	for _, loc := range []secrets.Location{{Key: "missing"}, {Key: "exists"}, {Key: "missing", Property: "p"}} {
		if err := st.Check(ctx(t), loc); err != nil {
			t.Errorf("Check(%s) = %v", loc, err)
		}
	}
	for _, op := range f.Requests() {
		if op != fakeaws.OpGetSecretValue && op != fakeaws.OpDescribeSecret {
			t.Errorf("Check made a %s call", op)
		}
	}
	if f.Versions("missing") != 0 || f.Versions("exists") != 1 {
		t.Error("Check changed a secret")
	}
}

func TestCheckBadCredentials(t *testing.T) {
	cases := map[string]struct {
		env  []string
		prep func(f *fakeaws.Server)
		want error
		code string
	}{
		"unknown access key": {
			env:  []string{"AWS_ACCESS_KEY_ID=AKIAUNKNOWN000000000"},
			want: secrets.ErrAuth, code: "UnrecognizedClientException",
		},
		"wrong secret key": {
			env:  []string{"AWS_SECRET_ACCESS_KEY=wrong"},
			want: secrets.ErrAuth, code: "InvalidSignatureException",
		},
		"expired": {
			prep: func(f *fakeaws.Server) {
				f.AddCredentials(fakeaws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: fakeaws.SecretAccessKey, Expired: true})
			},
			want: secrets.ErrAuth, code: "ExpiredTokenException",
		},
		"access denied": {
			prep: func(f *fakeaws.Server) {
				f.AddCredentials(fakeaws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: fakeaws.SecretAccessKey, Access: fakeaws.AccessNone})
			},
			want: secrets.ErrPermission, code: "AccessDeniedException",
		},
		"no credentials at all": {
			env:  []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY="},
			want: secrets.ErrAuth,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := fakeaws.New()
			t.Cleanup(f.Close)
			isolate(t, append(f.Env(), c.env...)...)
			if c.prep != nil {
				c.prep(f)
			}
			st, err := New(ctx(t), Options{RetryMaxAttempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			err = st.Check(ctx(t), secrets.Location{Key: "gitlab/runners/ci"})
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if c.code != "" && !strings.Contains(err.Error(), c.code) {
				t.Fatalf("err = %v, want it to name %s", err, c.code)
			}
			if !strings.Contains(err.Error(), `aws secret "gitlab/runners/ci"`) {
				t.Fatalf("err does not name the secret: %v", err)
			}
			// And Put fails the same way, writing nothing.
			err = st.Put(ctx(t), secrets.Location{Key: "gitlab/runners/ci"}, secrets.NewToken(canary))
			if !errors.Is(err, c.want) || strings.Contains(err.Error(), "CANARY") {
				t.Fatalf("Put err = %v", err)
			}
			if f.Versions("gitlab/runners/ci") != 0 {
				t.Fatal("something was written")
			}
		})
	}
}

func TestReadOnlyCredentialsPassCheckButCannotPut(t *testing.T) {
	f, st := setup(t, Options{})
	f.AddCredentials(fakeaws.Credentials{AccessKeyID: fakeaws.AccessKeyID, SecretAccessKey: fakeaws.SecretAccessKey, Access: fakeaws.AccessReadOnly})
	loc := secrets.Location{Key: "gitlab/runners/ro"}
	if err := st.Check(ctx(t), loc); err != nil {
		t.Fatal(err)
	}
	err := st.Put(ctx(t), loc, secrets.NewToken(canary))
	if !errors.Is(err, secrets.ErrPermission) {
		t.Fatalf("err = %v, want ErrPermission", err)
	}
	if !strings.Contains(err.Error(), "secretsmanager:CreateSecret") {
		t.Fatalf("err does not say what was denied: %v", err)
	}
}

func TestTransientFailures(t *testing.T) {
	for _, c := range []struct {
		op     string
		status int
	}{
		{fakeaws.OpGetSecretValue, 500},
		{fakeaws.OpGetSecretValue, 503},
		{fakeaws.OpGetSecretValue, 400}, // ThrottlingException
		{fakeaws.OpCreateSecret, 500},
		{fakeaws.OpCreateSecret, 400},
		{fakeaws.OpPutSecretValue, 503},
		{fakeaws.OpPutSecretValue, 502},
	} {
		f, st := setup(t, Options{})
		if c.op == fakeaws.OpPutSecretValue {
			f.SetSecret("k", "glrt-old")
		}
		f.FailNext(c.op, c.status, 1)
		err := st.Put(ctx(t), secrets.Location{Key: "k"}, secrets.NewToken(canary))
		if !errors.Is(err, secrets.ErrTransient) {
			t.Errorf("%s %d: err = %v, want ErrTransient", c.op, c.status, err)
			continue
		}
		if strings.Contains(err.Error(), "CANARY") {
			t.Errorf("error leaks the token: %v", err)
		}
	}
}

func TestSDKRetriesRecover(t *testing.T) {
	f, st := setup(t, Options{RetryMaxAttempts: 3, RetryMaxBackoff: 10 * time.Millisecond})
	f.FailNext(fakeaws.OpGetSecretValue, 500, 1)
	f.FailNext(fakeaws.OpCreateSecret, 400, 2) // throttled twice
	if err := st.Put(ctx(t), secrets.Location{Key: "k"}, secrets.NewToken("glrt-r")); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Secret("k"); v != "glrt-r" {
		t.Fatalf("value = %q", v)
	}
	// The retried CreateSecret carried the same ClientRequestToken: one version.
	if f.Versions("k") != 1 {
		t.Fatalf("versions = %d", f.Versions("k"))
	}
}

func TestScheduledForDeletion(t *testing.T) {
	f, st := setup(t, Options{})
	f.SetSecret("gone", "glrt-x")
	f.ScheduleDeletion("gone")
	err := st.Put(ctx(t), secrets.Location{Key: "gone"}, secrets.NewToken(canary))
	if err == nil || !strings.Contains(err.Error(), "restore-secret") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, secrets.ErrNotFound) || errors.Is(err, secrets.ErrTransient) {
		t.Fatalf("err wraps the wrong sentinel: %v", err)
	}
	if err := st.Check(ctx(t), secrets.Location{Key: "gone"}); err == nil {
		t.Fatal("Check passed on a secret scheduled for deletion")
	}
}

func TestTimeout(t *testing.T) {
	f, st := setup(t, Options{})
	f.Delay(fakeaws.OpGetSecretValue, 2*time.Second)
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := st.Get(c, secrets.Location{Key: "k"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestEndpointSources(t *testing.T) {
	t.Run("AWS_ENDPOINT_URL", func(t *testing.T) {
		f := fakeaws.New()
		t.Cleanup(f.Close)
		isolate(t, f.Env()...)
		os.Unsetenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
		t.Setenv("AWS_ENDPOINT_URL", f.URL())
		st, err := New(ctx(t), Options{RetryMaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx(t), secrets.Location{Key: "k"}, secrets.NewToken("glrt-e")); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.Secret("k"); !ok {
			t.Fatal("not stored in the fake")
		}
	})
	t.Run("options", func(t *testing.T) {
		f := fakeaws.New()
		t.Cleanup(f.Close)
		isolate(t, "AWS_ACCESS_KEY_ID="+fakeaws.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+fakeaws.SecretAccessKey)
		var calls atomic.Int32
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls.Add(1)
			return http.DefaultTransport.RoundTrip(r)
		})}
		st, err := New(ctx(t), Options{Region: "eu-west-1", EndpointURL: f.URL(), HTTPClient: hc, RetryMaxAttempts: 1})
		if err != nil {
			t.Fatal(err)
		}
		if st.Region() != "eu-west-1" {
			t.Fatalf("region = %s", st.Region())
		}
		if err := st.Put(ctx(t), secrets.Location{Key: "k"}, secrets.NewToken("glrt-o")); err != nil {
			t.Fatal(err)
		}
		if calls.Load() == 0 {
			t.Fatal("the HTTP client was not used")
		}
		if _, ok := f.Secret("k"); !ok {
			t.Fatal("not stored in the fake")
		}
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNoRegion(t *testing.T) {
	isolate(t, "AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y")
	_, err := New(ctx(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "region") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyInputs(t *testing.T) {
	_, st := setup(t, Options{})
	if err := st.Put(ctx(t), secrets.Location{}, secrets.NewToken("x")); err == nil {
		t.Error("empty key accepted")
	}
	if err := st.Put(ctx(t), secrets.Location{Key: "k"}, secrets.Token{}); err == nil {
		t.Error("empty token accepted")
	}
	if st.Backend() != "aws" {
		t.Error("backend name")
	}
}

// TestCanaryNeverInErrors drives every failure path with the canary token
// and checks that no error text carries it.
func TestCanaryNeverInErrors(t *testing.T) {
	var errs []error
	tok := secrets.NewToken(canary)
	run := func(prep func(f *fakeaws.Server), loc secrets.Location) {
		f, st := setup(t, Options{})
		prep(f)
		errs = append(errs, st.Put(ctx(t), loc, tok))
		_, err := st.Get(ctx(t), loc)
		errs = append(errs, err, st.Check(ctx(t), loc), secrets.VerifyStored(ctx(t), st, loc, secrets.NewToken("glrt-other")))
	}
	plain := secrets.Location{Key: "c"}
	prop := secrets.Location{Key: "c", Property: "runner-token"}
	for _, loc := range []secrets.Location{plain, prop} {
		run(func(f *fakeaws.Server) {}, loc)
		run(func(f *fakeaws.Server) { f.SetSecret("c", "not json "+canary) }, loc)
		run(func(f *fakeaws.Server) { f.SetSecret("c", `{"runner-token":7}`) }, loc)
		run(func(f *fakeaws.Server) { f.FailNext("*", 500, 10) }, loc)
		run(func(f *fakeaws.Server) { f.FailNext(fakeaws.OpCreateSecret, 403, 1) }, loc)
		run(func(f *fakeaws.Server) { f.SetSecret("c", "{}"); f.FailNext(fakeaws.OpPutSecretValue, 400, 1) }, loc)
		run(func(f *fakeaws.Server) { f.RemoveCredentials(fakeaws.AccessKeyID) }, loc)
		run(func(f *fakeaws.Server) { f.SetSecret("c", "{}"); f.ScheduleDeletion("c") }, loc)
	}
	// A server message quoting the value (AWS masks it) is redacted.
	f, st := setup(t, Options{})
	f.SetSecret("c", "glrt-old")
	f.FailNextWith(fakeaws.OpPutSecretValue, 400, "ValidationException",
		"1 validation error detected: Value '"+canary+"' at 'secretString' failed to satisfy constraint", 1)
	err := st.Put(ctx(t), plain, tok)
	if err == nil || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("err = %v, want a redacted message", err)
	}
	errs = append(errs, err)

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
