package redact

import (
	"net/url"
	"strings"
	"testing"
)

const secret = "SECRETPW"

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:SECRETPW@[::1":                             "http://REDACTED@[::1",
		"https://gitlab.example.com/?private_token=SECRETPW": "https://gitlab.example.com/?REDACTED",
		"https://SECRETPW@gitlab.com/group/p.git":            "https://REDACTED@gitlab.com/group/p.git",
		"user:SECRETPW@host:x.git":                           "REDACTED@host:x.git",
		"git@gitlab.com:group/p.git":                         "git@gitlab.com:group/p.git",
		"https://gitlab.example.com/gitlab/":                 "https://gitlab.example.com/gitlab/",
		"https://host/a@b":                                   "https://host/a@b",
		"https://u:p@w@host/x?y#z":                           "https://REDACTED@host/x?REDACTED",
		"ht tp://u:SECRETPW@ host":                           "ht tp://REDACTED@ host",
		"":                                                   "",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// Text cleans what net/url's errors and runnerctl's own messages quote.
func TestText(t *testing.T) {
	_, err := url.Parse("http://u:SECRETPW@[::1")
	for _, msg := range []string{
		err.Error(),
		`gitlab.url: "https://x.example.com/?private_token=glpat-SECRETPW" must not contain a query`,
		`gitops.repoURL: "user:SECRETPW@host:x.git" must start with https://`,
		`vault: VAULT_ADDR "http://root:SECRETPW@vault:8200": bad port`,
		"GET https://SECRETPW@gitlab.com/api/v4/runners: dial tcp: lookup gitlab.com: no such host",
	} {
		got := Text(msg)
		if strings.Contains(got, secret) {
			t.Errorf("Text(%q) = %q: the secret is still there", msg, got)
		}
		if !strings.Contains(got, Mask) {
			t.Errorf("Text(%q) = %q: nothing says what was removed", msg, got)
		}
	}
	for _, plain := range []string{"runner \"ci\" (id 4): no token stored", "runner@home is fine", "see https://docs.gitlab.com/runner/"} {
		if got := Text(plain); got != plain {
			t.Errorf("Text(%q) = %q, want it unchanged", plain, got)
		}
	}
}
