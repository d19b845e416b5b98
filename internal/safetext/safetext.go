// Package safetext keeps what users wrote, or what a file held, from
// reaching a terminal or a log as more than a short, escaped excerpt.
//
// runnerctl echoes input in its error messages so that users find what to
// fix. Echoed whole, a 10 MB value floods CI logs, and a file that was never
// meant to be read (a link to a credentials file) would be copied into
// them; echoed raw, control characters and bidirectional overrides rewrite
// what a terminal shows. Every echo goes through Quote, every message that
// may carry text from outside through Terminal.
package safetext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxExcerpt is the most bytes of one value that an error message repeats:
// enough to recognize a name, a URL or a path, too little to carry a
// file's content.
const MaxExcerpt = 60

// Quote returns s quoted as Go does (%q: control characters, invalid UTF-8
// and bidirectional controls escaped), cut to MaxExcerpt bytes at a rune
// boundary; a cut value says how long it was.
func Quote(s string) string {
	if len(s) <= MaxExcerpt {
		return strconv.Quote(s)
	}
	cut := MaxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}

// Terminal escapes, in a message about to be printed, every character that
// would act on the terminal or on the reading order rather than show up:
// control characters other than newline and tab, and Unicode format
// characters (bidirectional overrides and isolates among them). Invalid
// UTF-8 is escaped too. Text without any of them is returned as is.
func Terminal(s string) string {
	if i := BadRune(s, true); i < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case unsafeRune(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// BadRune returns the byte offset of the first character of s that Terminal
// would escape (newlines and tabs count when multiline is false), or -1.
func BadRune(s string, multiline bool) int {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return i
		}
		if multiline && (r == '\n' || r == '\t') {
			continue
		}
		if unsafeRune(r) {
			return i
		}
	}
	return -1
}

// unsafeRune: C0 and C1 controls and DEL (unicode.Cc), and format
// characters (unicode.Cf: the bidirectional embeddings, overrides and
// isolates, zero-width joiners, the byte order mark).
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// Clip makes a message from a parser or library safe to print: escaped as
// Terminal escapes it, and cut to at most max bytes (at a rune boundary,
// "..." marking the cut). Some messages repeat what they could not parse
// at any length.
func Clip(msg string, max int) string {
	msg = Terminal(msg)
	if len(msg) <= max {
		return msg
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "..."
}
