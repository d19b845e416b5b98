package safetext

import (
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"ubuntu:22.04":                  `"ubuntu:22.04"`,
		"a\x1b[2Jb":                     `"a\x1b[2Jb"`,
		"right\u202eleft":               `"right\u202eleft"`,
		strings.Repeat("x", 10<<20):     `"` + strings.Repeat("x", MaxExcerpt) + `"... (10485760 bytes)`,
		strings.Repeat("é", MaxExcerpt): `"` + strings.Repeat("é", MaxExcerpt/2) + `"... (120 bytes)`,
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%.20q...) = %s, want %s", in, got, want)
		}
	}
}

func TestTerminal(t *testing.T) {
	for in, want := range map[string]string{
		"plain\n\tindented":     "plain\n\tindented",
		"red \x1b[31mtext":      `red \x1b[31mtext`,
		"bidi \u202eevil":       `bidi \u202eevil`,
		"bad \xff byte":         `bad \xff byte`,
		"replacement \uFFFD ok": "replacement \uFFFD ok",
		"carriage\rreturn":      `carriage\rreturn`,
		"c1 \u009b control":     `c1 \u009b control`,
	} {
		if got := Terminal(in); got != want {
			t.Errorf("Terminal(%q) = %q, want %q", in, got, want)
		}
	}
	if BadRune("two\nlines", false) != 3 || BadRune("two\nlines", true) != -1 {
		t.Error("BadRune does not tell single-line from multi-line text")
	}
}

func TestClip(t *testing.T) {
	if got := Clip("short \x1b", 100); got != `short \x1b` {
		t.Errorf("Clip escapes %q", got)
	}
	if got := Clip(strings.Repeat("é", 100), 11); got != "ééééé..." {
		t.Errorf("Clip cuts to %q", got)
	}
}
