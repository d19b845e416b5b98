// Package secrets stores runner tokens in a secrets manager, exactly where
// the rendered ExternalSecret reads them. One sub-package per backend; each
// implements Store. Nothing in this package or below ever prints, logs or
// puts a token into an error.
package secrets

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Token is a runner authentication token (glrt-...). It never shows its
// value through fmt, JSON or text marshalling: only Reveal does, and only
// code that sends it to GitLab or a secrets manager may call it.
type Token struct{ value string }

// NewToken wraps a token value.
func NewToken(v string) Token { return Token{value: v} }

// Reveal returns the token's value.
func (t Token) Reveal() string { return t.value }

// IsZero reports whether the token is empty.
func (t Token) IsZero() bool { return t.value == "" }

// Equal compares two tokens in constant time.
func (t Token) Equal(o Token) bool {
	return subtle.ConstantTimeCompare([]byte(t.value), []byte(o.value)) == 1
}

const redacted = "[REDACTED]"

func (t Token) String() string               { return redacted }
func (t Token) GoString() string             { return redacted }
func (t Token) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(redacted)) }
func (t Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Location is where one token lives: the remoteRef key and property the
// rendered ExternalSecret uses (config.Config.TokenRef).
type Location struct {
	Key      string
	Property string
}

func (l Location) String() string {
	if l.Property == "" {
		return l.Key
	}
	return l.Key + "#" + l.Property
}

// Store is a secrets manager holding runner tokens.
type Store interface {
	// Backend names the backend in messages: "vault", "infisical", ...
	Backend() string
	// Check proves, before any runner is created, that the credentials
	// work and that loc can be written. It must not change any secret.
	Check(ctx context.Context, loc Location) error
	// Put stores tok at loc, creating what is missing (folders, secrets).
	// Where the backend supports it, a concurrent change is detected and
	// reported as ErrConflict instead of being overwritten blindly.
	Put(ctx context.Context, loc Location, tok Token) error
	// Get reads the token at loc; ErrNotFound when there is none.
	Get(ctx context.Context, loc Location) (Token, error)
}

// Errors every backend maps its own failures to, so that callers can decide
// what to retry. Backends wrap them with the backend's own message.
var (
	// ErrNotFound: nothing stored at the location.
	ErrNotFound = errors.New("secret not found")
	// ErrPermission: the credentials are valid but not allowed to do this.
	ErrPermission = errors.New("permission denied")
	// ErrAuth: the credentials are missing, invalid or expired.
	ErrAuth = errors.New("authentication failed")
	// ErrConflict: someone else changed the secret at the same time.
	ErrConflict = errors.New("concurrent modification")
	// ErrTransient: worth retrying (5xx, 429, timeouts).
	ErrTransient = errors.New("temporary failure")
)

// VerifyStored reads loc back and compares it with tok, without ever
// printing either value.
func VerifyStored(ctx context.Context, s Store, loc Location, tok Token) error {
	got, err := s.Get(ctx, loc)
	if err != nil {
		return fmt.Errorf("%s: read back %q: %w", s.Backend(), loc, err)
	}
	if !got.Equal(tok) {
		return fmt.Errorf("%s: read back %q: the stored value differs from the token just written", s.Backend(), loc)
	}
	return nil
}

// Redactor removes known secret values from messages: a backend adds every
// credential and token it handles, and builds its errors with Errorf, so
// that whatever text reaches an error (a server's message, a proxy's page)
// never carries one. It is safe for concurrent use.
type Redactor struct {
	mu     sync.Mutex
	values []string
}

// Add registers values that must never show in a message.
func (r *Redactor) Add(values ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.values = append(r.values, values...)
}

// Scrub replaces every registered value in msg by [REDACTED].
func (r *Redactor) Scrub(msg string) string {
	r.mu.Lock()
	values := slices.Clone(r.values)
	r.mu.Unlock()
	for _, v := range values {
		// Very short values would blank out ordinary words; no credential
		// is that short.
		if len(v) >= 4 {
			msg = strings.ReplaceAll(msg, v, redacted)
		}
	}
	return msg
}

// Errorf formats like fmt.Errorf; the text is scrubbed, and the chain of
// wrapped errors kept for errors.Is.
func (r *Redactor) Errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return &redactedError{msg: r.Scrub(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
