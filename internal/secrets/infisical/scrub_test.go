package infisical

import (
	"errors"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Infisical never echoes credentials in its errors, so the fake cannot
// make it do so: this proves the last line of defence directly.
func TestErrorsAreScrubbed(t *testing.T) {
	env := map[string]string{
		EnvClientID:     "client-id",
		EnvClientSecret: "CANARY-client-secret",
	}
	s, err := New(Options{ProjectSlug: "p", Environment: "prod", Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	s.redactor.Add("glrt-CANARY-xyz", "eyJ.CANARY-access-token")
	err = s.redactor.Errorf("%s: create: %w (HTTP 500: %s)", "infisical secret \"/x/NAME\"", secrets.ErrTransient,
		"value glrt-CANARY-xyz with token eyJ.CANARY-access-token and secret CANARY-client-secret")
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("not scrubbed: %s", err)
	}
	if !errors.Is(err, secrets.ErrTransient) {
		t.Fatalf("the chain is lost: %v", err)
	}
}

func TestAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"":                               "https://app.infisical.com/api",
		"https://eu.infisical.com":       "https://eu.infisical.com/api",
		"https://infisical.example/api":  "https://infisical.example/api",
		"https://infisical.example/api/": "https://infisical.example/api",
		"http://10.0.0.1:8080/":          "http://10.0.0.1:8080/api",
	} {
		got, err := apiBase(in)
		if err != nil || got != want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"app.infisical.com", "ftp://x", "https://"} {
		if _, err := apiBase(bad); err == nil {
			t.Errorf("apiBase(%q): no error", bad)
		}
	}
}
