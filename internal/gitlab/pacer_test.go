package gitlab

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func answer(status int, h ...string) *http.Response {
	r := &http.Response{StatusCode: status, Header: http.Header{}}
	for i := 0; i+1 < len(h); i += 2 {
		r.Header.Set(h[i], h[i+1])
	}
	return r
}

func TestPacerLearnsTheLimit(t *testing.T) {
	p := newPacer()
	if p.lim.Limit() != rate.Inf {
		t.Fatalf("a new pacer paces at %v, want no pace until GitLab names a limit", p.lim.Limit())
	}
	p.observe(answer(200), p.send())
	if p.lim.Limit() != rate.Inf || p.held() != 0 {
		t.Fatalf("an answer without headers changed the pace (%v) or holds (%v)", p.lim.Limit(), p.held())
	}
	// 600 a minute: 10 a second, paced with headroom.
	p.observe(answer(200, "RateLimit-Limit", "600", "RateLimit-Remaining", "12", "RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)), p.send())
	if got, want := float64(p.lim.Limit()), 10*headroom; got != want {
		t.Errorf("pace %v a second, want %v", got, want)
	}
	if p.held() != 0 {
		t.Errorf("a window with requests left holds requests for %v", p.held())
	}
}

func TestPacerHoldsUntilTheWindowResets(t *testing.T) {
	p := newPacer()
	reset := time.Now().Add(time.Hour).Unix()
	p.observe(answer(200, "RateLimit-Limit", "600", "RateLimit-Remaining", "0", "RateLimit-Reset", strconv.FormatInt(reset, 10)), p.send())
	if h := p.held(); h < 59*time.Minute || h > time.Hour {
		t.Fatalf("a used-up window holds requests for %v, want until its reset, in an hour", h)
	}
	// A hold blocks Wait, which gives up with its context.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(ctx); err == nil {
		t.Error("Wait returned during a hold")
	}
	// Nor does a window with requests left, counting those sent since.
	r := newPacer()
	seq := r.send()
	r.send()
	r.observe(answer(200, "RateLimit-Remaining", "2", "RateLimit-Reset", strconv.FormatInt(reset, 10)), seq)
	if r.held() != 0 {
		t.Errorf("one request left, one in flight: held %v", r.held())
	}
	r.send()
	if r.held() < time.Minute {
		t.Errorf("no request left, two in flight: held %v, want until the reset", r.held())
	}
	// A window that ended long ago holds nothing.
	q := newPacer()
	q.observe(answer(200, "RateLimit-Remaining", "0", "RateLimit-Reset", strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)), q.send())
	if q.held() != 0 {
		t.Errorf("a past reset holds requests for %v", q.held())
	}
}

func TestPacerHoldsAfterA429(t *testing.T) {
	p := newPacer()
	p.observe(answer(http.StatusTooManyRequests, "Retry-After", "30"), p.send())
	if h := p.held(); h < 29*time.Second || h > 30*time.Second {
		t.Errorf("after a 429 with Retry-After 30, holds for %v", h)
	}
	if p.throttled != 1 {
		t.Errorf("throttled %d, want 1", p.throttled)
	}
	// The refused request's own retry waits at least the hold, which
	// another request's later 429 may have lengthened.
	p.observe(answer(http.StatusTooManyRequests, "Retry-After", "45"), p.send())
	if w := p.retryBackoff(0, 0, 0, answer(http.StatusTooManyRequests, "Retry-After", "1")); w < 44*time.Second {
		t.Errorf("retry after %v, want at least the 45s hold", w)
	}
	// Other retries are not held back by it.
	if w := p.retryBackoff(0, 0, 0, answer(http.StatusBadGateway)); w > time.Second {
		t.Errorf("a 502's retry waits %v", w)
	}
}

type answerWith int

func (a answerWith) RoundTrip(*http.Request) (*http.Response, error) { return answer(int(a)), nil }

// Before the first answer, which may name a limit, one request goes alone.
func TestPacerProbesFirst(t *testing.T) {
	p := newPacer()
	if err := p.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Wait(cancelled); err == nil {
		t.Fatal("a second request went before the first answer")
	}
	req, err := http.NewRequest(http.MethodGet, "http://gitlab.invalid/api/v4/runners/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (observed{next: answerWith(200), p: p}).RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatalf("after the first answer: %v", err)
		}
	}
}
