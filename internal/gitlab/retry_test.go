package gitlab

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestRetryWait(t *testing.T) {
	now := time.Now()
	resp := func(status int, h ...string) *http.Response {
		r := &http.Response{StatusCode: status, Header: http.Header{}}
		for i := 0; i+1 < len(h); i += 2 {
			r.Header.Set(h[i], h[i+1])
		}
		return r
	}
	for _, tc := range []struct {
		name     string
		resp     *http.Response
		attempt  int
		min, max time.Duration
	}{
		{"Retry-After seconds", resp(429, "Retry-After", "3"), 0, 3 * time.Second, 3*time.Second + retryJitter},
		{"Retry-After date", resp(429, "Retry-After", now.Add(5*time.Second).UTC().Format(http.TimeFormat)), 0, 3 * time.Second, 5*time.Second + retryJitter},
		{"RateLimit-Reset later than Retry-After", resp(429, "Retry-After", "1", "RateLimit-Reset", strconv.FormatInt(now.Add(10*time.Second).Unix(), 10)), 0, 8 * time.Second, 10*time.Second + retryJitter},
		{"no header", resp(429), 3, minRateLimitWait, minRateLimitWait + retryJitter},
		{"capped", resp(429, "Retry-After", "7200"), 0, maxRateLimitWait, maxRateLimitWait + retryJitter},
		{"5xx first retry", resp(502), 0, 700 * time.Millisecond, 900 * time.Millisecond},
		{"5xx third retry", resp(503), 2, 2100 * time.Millisecond, 2700 * time.Millisecond},
		{"network error", nil, 1, 1400 * time.Millisecond, 1800 * time.Millisecond},
	} {
		if got := retryWait(0, 0, tc.attempt, tc.resp); got < tc.min || got > tc.max {
			t.Errorf("%s: waits %v, want %v to %v", tc.name, got, tc.min, tc.max)
		}
	}
}
