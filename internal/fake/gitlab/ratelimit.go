package gitlab

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RateLimitPolicy is a rate limit the fake enforces on every API request
// (REST and GraphQL), the way GitLab's Rack::Attack throttles do
// (lib/gitlab/rack_attack.rb): a fixed window of Period, aligned to Unix
// time, per personal access token (requests without one share a key per
// client address, like the unauthenticated throttle), counting every
// request, throttled ones included. A request over Limit gets 429, text/plain
// "Retry later\n", and the throttle's headers with Retry-After. Unlike
// self-managed GitLab, which sends the RateLimit-* headers only with a 429,
// every answer carries them while a policy is set (as GitLab.com's
// front-end does): a client must cope with both.
type RateLimitPolicy struct {
	// Limit is the number of requests a window allows; 0 removes the policy.
	Limit int
	// Period is the window, in whole seconds (Rack::Attack's period is an
	// integer); 0 means one second.
	Period time.Duration
	// Strict records every request over the limit (RateLimitViolations), so
	// that a test can fail a run that exceeded it, not only count 429s.
	Strict bool
}

// Violation is one request over the limit, recorded in strict mode.
type Violation struct {
	At       time.Time
	Request  string // "METHOD PATH"
	Observed int    // the request's number in its window
	Limit    int
}

func (v Violation) String() string {
	return fmt.Sprintf("%s %s: request %d of a window that allows %d", v.At.UTC().Format("15:04:05.000"), v.Request, v.Observed, v.Limit)
}

// throttle is the fake's rate limiter state.
type throttle struct {
	mu         sync.Mutex
	policy     RateLimitPolicy
	windows    map[string]window // by key
	throttled  int
	violations []Violation
}

type window struct {
	n     int64 // Unix time / period
	count int
}

// SetRateLimit sets (or, with a zero Limit, removes) the rate limit and
// forgets the windows counted so far, the violations and the throttled count.
func (s *Server) SetRateLimit(p RateLimitPolicy) error {
	if p.Limit < 0 {
		return fmt.Errorf("fake gitlab: rate limit %d: must not be negative", p.Limit)
	}
	if p.Period == 0 {
		p.Period = time.Second
	}
	if p.Period < time.Second || p.Period%time.Second != 0 {
		return fmt.Errorf("fake gitlab: rate limit period %s: must be whole seconds", p.Period)
	}
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	s.rl.policy = p
	s.rl.windows = map[string]window{}
	s.rl.throttled = 0
	s.rl.violations = nil
	return nil
}

// Throttled is how many requests the rate limit answered with 429.
func (s *Server) Throttled() int {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	return s.rl.throttled
}

// RateLimitViolations are the requests over the limit, in strict mode.
func (s *Server) RateLimitViolations() []Violation {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	return append([]Violation(nil), s.rl.violations...)
}

// DelayAll holds every answer of every operation for d (zero removes the
// delays): a GitLab that answers in d.
func (s *Server) DelayAll(d time.Duration) {
	for _, op := range allOps {
		s.inj.Delay(op, d)
	}
}

// limit counts r against the rate limit. It returns the RateLimit-*
// headers every answer carries (nil without a policy), and the 429 answer
// when r is over the limit.
func (s *Server) limit(r *http.Request, line string) (http.Header, *response) {
	s.rl.mu.Lock()
	defer s.rl.mu.Unlock()
	p := s.rl.policy
	if p.Limit == 0 {
		return nil, nil
	}
	now := time.Now()
	period := int64(p.Period / time.Second)
	key := throttleKey(r)
	w := s.rl.windows[key]
	if n := now.Unix() / period; w.n != n {
		w = window{n: n}
	}
	w.count++
	s.rl.windows[key] = w

	// Gitlab::RackAttack.throttled_response_headers: the limit per minute
	// (rounded up), the window's count, what is left, and its end.
	reset := (w.n + 1) * period
	h := http.Header{}
	h.Set("RateLimit-Name", "throttle_authenticated_api")
	h.Set("RateLimit-Limit", strconv.FormatInt((int64(p.Limit)*60+period-1)/period, 10))
	h.Set("RateLimit-Observed", strconv.Itoa(w.count))
	h.Set("RateLimit-Remaining", strconv.Itoa(max(p.Limit-w.count, 0)))
	h.Set("RateLimit-Reset", strconv.FormatInt(reset, 10))
	h.Set("RateLimit-ResetTime", time.Unix(reset, 0).UTC().Format(http.TimeFormat))
	if w.count <= p.Limit {
		return h, nil
	}
	s.rl.throttled++
	if p.Strict {
		s.rl.violations = append(s.rl.violations, Violation{At: now, Request: line, Observed: w.count, Limit: p.Limit})
	}
	// retry_after = period - (now % period), in whole seconds.
	h.Set("Retry-After", strconv.FormatInt(period-now.Unix()%period, 10))
	return h, textResponse(http.StatusTooManyRequests, "text/plain", "Retry later\n")
}

// throttleKey is whom a request counts against: its personal access token,
// or its client's address when it has none.
func throttleKey(r *http.Request) string {
	tok := r.Header.Get("PRIVATE-TOKEN")
	if tok == "" {
		tok = r.URL.Query().Get("private_token")
	}
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok != "" {
		return "token:" + strings.TrimSpace(tok)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// withHeaders adds the rate limit's headers to resp.
func withHeaders(resp *response, h http.Header) *response {
	if resp == nil || h == nil {
		return resp
	}
	if resp.Header == nil {
		resp.Header = http.Header{}
	}
	for k, vs := range h {
		resp.Header[k] = vs
	}
	return resp
}
