// Package redact removes credentials from URLs before they reach a
// message: the user information (user:password@, or a token standing in
// for the user) and the query string (?private_token=…), whether the URL
// is well formed or not. A URL that does not parse is exactly when an
// error wants to quote it, and net/url's own Redacted works only on a URL
// that parsed, and keeps the query.
package redact

import (
	"regexp"
	"strings"
)

// Mask replaces what is removed.
const Mask = "REDACTED"

// URL returns s without its user information and query: everything
// between "://" and the last "@" of the authority becomes REDACTED, and
// everything after the first "?" too. Without "://", an scp-like Git
// address whose user part holds a ":" (user:password@host:path) loses it;
// a plain git@host:path is kept.
func URL(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i+1] + Mask
	}
	if i := strings.Index(s, "://"); i >= 0 {
		auth := s[i+3:]
		end := strings.IndexAny(auth, "/?#")
		if end < 0 {
			end = len(auth)
		}
		if at := strings.LastIndex(auth[:end], "@"); at >= 0 {
			return s[:i+3] + Mask + auth[at:]
		}
		return s
	}
	end := strings.IndexAny(s, "/?#")
	if end < 0 {
		end = len(s)
	}
	if at := strings.LastIndex(s[:end], "@"); at >= 0 && strings.Contains(s[:at], ":") {
		return Mask + s[at:]
	}
	return s
}

// urlish finds what looks like a URL in free text: a scheme and "://" up
// to the next space or quote, or an scp-like user:password@host.
var urlish = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]+|[^\s"'<>@/:` + "`" + `]+:[^\s"'<>@/` + "`" + `]*@[^\s"'<>` + "`" + `]+`)

// Text redacts every URL-like part of msg (see URL): the last line of
// defence for messages that quote a URL they could not parse, such as
// net/url's own errors.
func Text(msg string) string {
	if !strings.ContainsAny(msg, "@?#") {
		return msg
	}
	return urlish.ReplaceAllStringFunc(msg, URL)
}
