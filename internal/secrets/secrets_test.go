package secrets

import (
	"bytes"
	"encoding/json"
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
