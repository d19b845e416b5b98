package vault

import (
	"errors"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Vault never echoes a token in its errors, so the fake cannot make it do
// so: this proves the last line of defence directly. Whatever text reaches
// a message (a server's error string, a proxy's page) loses every
// credential and token the Store has seen, and the error chain survives.
func TestErrorsAreScrubbed(t *testing.T) {
	env := map[string]string{
		EnvAddr:     "http://127.0.0.1:1",
		EnvToken:    "hvs.CANARY-vault-token",
		EnvSecretID: "CANARY-secret-id",
	}
	s, err := New(Options{Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	s.redactor.Add("glrt-CANARY-xyz")
	err = s.redactor.Errorf("vault secret %q: write: %w (HTTP 400: %s)", "secret/x", secrets.ErrTransient,
		"bad value glrt-CANARY-xyz for token hvs.CANARY-vault-token, secret_id CANARY-secret-id")
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("not scrubbed: %s", err)
	}
	if !errors.Is(err, secrets.ErrTransient) {
		t.Fatalf("the chain is lost: %v", err)
	}
	if got := strings.Count(err.Error(), "[REDACTED]"); got != 3 {
		t.Fatalf("%d redactions in %q, want 3", got, err)
	}
}
