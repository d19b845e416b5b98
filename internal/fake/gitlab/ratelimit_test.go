package gitlab_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	fake "github.com/runnerctl/runnerctl/internal/fake/gitlab"
)

// TestRateLimitPolicy checks the throttle's answers: headers on every
// answer while a policy is set, GitLab's 429 over the limit, the strict
// record, and GraphQL counted like REST.
func TestRateLimitPolicy(t *testing.T) {
	s := newServer(t, fake.Options{})
	// An hour's window: no test run crosses one between two requests
	// (or hardly ever; the assertions below say which window they saw).
	if err := s.SetRateLimit(fake.RateLimitPolicy{Limit: 2, Period: time.Hour, Strict: true}); err != nil {
		t.Fatal(err)
	}
	first := raw(t, s, http.MethodGet, "api/v4/runners/all", auth(adminToken), "")
	if first.status != http.StatusOK {
		t.Fatalf("first request: %d %s", first.status, first.body)
	}
	for k, want := range map[string]string{"RateLimit-Limit": "1" /* per minute, rounded up: ceil(2*60/3600) */, "RateLimit-Observed": "1", "RateLimit-Remaining": "1", "RateLimit-Name": "throttle_authenticated_api"} {
		if got := first.header.Get(k); got != want {
			t.Errorf("first answer: %s = %q, want %q", k, got, want)
		}
	}
	reset, err := strconv.ParseInt(first.header.Get("RateLimit-Reset"), 10, 64)
	if err != nil || reset%3600 != 0 || reset <= time.Now().Unix() {
		t.Errorf("RateLimit-Reset %q: want the end of the current hour", first.header.Get("RateLimit-Reset"))
	}
	if got, want := first.header.Get("RateLimit-ResetTime"), time.Unix(reset, 0).UTC().Format(http.TimeFormat); got != want {
		t.Errorf("RateLimit-ResetTime = %q, want %q", got, want)
	}
	if first.header.Get("Retry-After") != "" {
		t.Errorf("a request within the limit got Retry-After %q", first.header.Get("Retry-After"))
	}
	if len(s.RateLimitViolations()) != 0 {
		t.Fatalf("violations within the limit: %v", s.RateLimitViolations())
	}

	gq := raw(t, s, http.MethodPost, "api/graphql", jsonAuth(adminToken), `{"query":"query($id: CiRunnerID!) { runner(id: $id) { tokenExpiresAt } }","variables":{"id":"gid://gitlab/Ci::Runner/1"}}`)
	if gq.status != http.StatusOK || gq.header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("GraphQL, the second request: %d, RateLimit-Remaining %q, want 200 and 0", gq.status, gq.header.Get("RateLimit-Remaining"))
	}

	over := raw(t, s, http.MethodPost, "api/v4/runners/1/reset_authentication_token", auth(adminToken), "")
	if over.status != http.StatusTooManyRequests || string(over.body) != "Retry later\n" || over.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("third request: %d %q (%s), want 429 \"Retry later\\n\" text/plain", over.status, over.body, over.header.Get("Content-Type"))
	}
	if over.header.Get("RateLimit-Observed") != "3" || over.header.Get("RateLimit-Remaining") != "0" {
		t.Errorf("429: Observed %q Remaining %q, want 3 and 0", over.header.Get("RateLimit-Observed"), over.header.Get("RateLimit-Remaining"))
	}
	if ra, err := strconv.Atoi(over.header.Get("Retry-After")); err != nil || ra < 1 || ra > 3600 {
		t.Errorf("429: Retry-After %q, want 1 to 3600 seconds", over.header.Get("Retry-After"))
	}
	vs := s.RateLimitViolations()
	if len(vs) != 1 || vs[0].Request != "POST /api/v4/runners/1/reset_authentication_token" || vs[0].Observed != 3 || s.Throttled() != 1 {
		t.Errorf("violations %v, throttled %d: want the reset, request 3, throttled 1", vs, s.Throttled())
	}

	// Without a policy, no headers.
	if err := s.SetRateLimit(fake.RateLimitPolicy{}); err != nil {
		t.Fatal(err)
	}
	if r := raw(t, s, http.MethodGet, "api/v4/runners/all", auth(adminToken), ""); r.header.Get("RateLimit-Limit") != "" || r.status != http.StatusOK {
		t.Errorf("without a policy: %d, RateLimit-Limit %q", r.status, r.header.Get("RateLimit-Limit"))
	}
	if err := s.SetRateLimit(fake.RateLimitPolicy{Limit: 1, Period: 1500 * time.Millisecond}); err == nil {
		t.Error("a period of 1.5s was accepted")
	}
}
