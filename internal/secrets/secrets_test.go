package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestTokenNeverPrints(t *testing.T) {
	tok := NewToken("glrt-CANARY-secret")
	js, _ := json.Marshal(struct{ T Token }{tok})
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "token", tok)
	for _, out := range []string{
		fmt.Sprint(tok), fmt.Sprintf("%v %s %q %x %#v %+v", tok, tok, tok, tok, tok, struct{ T Token }{tok}),
		string(js), logBuf.String(), fmt.Errorf("wrapped: %v", tok).Error(),
	} {
		if strings.Contains(out, "CANARY") {
			t.Errorf("token leaked: %s", out)
		}
	}
	if tok.Reveal() != "glrt-CANARY-secret" || !tok.Equal(NewToken("glrt-CANARY-secret")) || tok.Equal(NewToken("x")) || tok.IsZero() {
		t.Error("Reveal/Equal/IsZero broken")
	}
}

func TestRedactorScrubsAndKeepsTheChain(t *testing.T) {
	var r Redactor
	r.Add("hvs.CANARY-1", "", "abc") // empty and very short values are ignored
	r.Add("glrt-CANARY-2")
	err := r.Errorf("write %q: %w (server said: token hvs.CANARY-1 and glrt-CANARY-2 for abc)", "x", ErrTransient)
	if strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("not scrubbed: %s", err)
	}
	if got := strings.Count(err.Error(), "[REDACTED]"); got != 2 {
		t.Fatalf("%d redactions in %q, want 2", got, err)
	}
	if !strings.Contains(err.Error(), "for abc)") {
		t.Fatalf("a short value was redacted: %s", err)
	}
	if !errors.Is(err, ErrTransient) {
		t.Fatal("the wrapped error is lost")
	}
}
