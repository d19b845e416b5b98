package gitlab

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer owns the client's answer to GitLab's rate limits, for every
// request of the client, so that runners rotated in parallel share one
// budget (GitLab counts per token, and a client has one token).
//
// GitLab throttles per token in fixed windows (Rack::Attack) and says so in
// RateLimit-* headers: RateLimit-Limit is the quota per minute, and
// RateLimit-Remaining and RateLimit-Reset (Unix time) describe the current
// window. Self-managed GitLab sends them only with a 429; GitLab.com's
// front-end on every answer. So the pacer:
//
//   - spaces requests at headroom times RateLimit-Limit/60 a second once it
//     has seen the header (golang.org/x/time/rate, burst 1: an even pace
//     puts at most the quota in any window, even one that GitLab's clock
//     places differently, with headroom left for jitter);
//   - holds every request until RateLimit-Reset once the current window is
//     used up: its RateLimit-Remaining, as of the latest answer, less the
//     requests sent since that answer's request (in flight, or answered
//     out of order), and which GitLab counts after it. That catches what an
//     even pace cannot: the requests sent at once before the limit was
//     known, and another client spending the same token's quota;
//   - after a 429 (GitLab refused before doing anything), holds every
//     request as long as GitLab asks (throttleWait), and the client retries
//     the refused one after the same wait (retryBackoff), POSTs included.
//
// Until GitLab's first answer, which may name a limit, requests go one at
// a time: a fleet's first --parallel requests at once could be more than a
// window allows. If GitLab names no limit, nothing is paced and --parallel
// bounds a fleet.
//
// The pacer is the client library's limiter (its Wait runs before each
// request, outside the HTTP timeout: a request held here was not sent, so
// a long hold never makes a reset ErrUncertain) and it reads every answer
// in the transport, retries included. The library's own limiter is not
// used: it sizes itself once, from the first answer, at two thirds of
// RateLimit-Limit, and would cap a fleet at two thirds of what GitLab allows.
type pacer struct {
	lim *rate.Limiter
	// learned is closed at the first answer; until then, the one request
	// holding probe is the only one sent.
	learned   chan struct{}
	probe     chan struct{}
	learnOnce sync.Once

	mu        sync.Mutex
	perMinute int64     // the last RateLimit-Limit seen; 0: none yet
	until     time.Time // no request before this (a 429)
	throttled int       // 429s seen
	sent      int64     // requests sent; each one's number is its seq
	// The latest window GitLab described: its RateLimit-Reset (Unix
	// time), and the RateLimit-Remaining of the answer to request seq.
	window, windowSeq, windowLeft int64
}

// headroom is the fraction of GitLab's quota the pacer uses. Requests
// spaced evenly at the full quota fit a window exactly, and a request that
// leaves a few milliseconds late would make the next window's count one
// too many; 5% below leaves room for that and costs 5% of the time.
const headroom = 0.95

func newPacer() *pacer {
	// Burst 1 from the start: rate.Limiter refuses a wait for more than
	// its burst once a rate is set.
	return &pacer{lim: rate.NewLimiter(rate.Inf, 1), learned: make(chan struct{}), probe: make(chan struct{}, 1)}
}

// probeWait bounds the wait for the first answer: a probe that never
// reached the transport (it cannot say so) must not hold the others for
// ever. The HTTP timeout's default.
const probeWait = 30 * time.Second

// awaitFirstAnswer lets one request through before the first answer, and
// holds the others until it comes.
func (p *pacer) awaitFirstAnswer(ctx context.Context) error {
	select {
	case <-p.learned:
		return nil
	default:
	}
	t := time.NewTimer(probeWait)
	defer t.Stop()
	select {
	case p.probe <- struct{}{}:
	case <-p.learned:
	case <-t.C:
		p.learn()
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// learn ends the first-answer wait.
func (p *pacer) learn() { p.learnOnce.Do(func() { close(p.learned) }) }

// Wait holds a request until GitLab's limit allows it (the client
// library's RateLimiter).
func (p *pacer) Wait(ctx context.Context) error {
	if err := p.awaitFirstAnswer(ctx); err != nil {
		return err
	}
	for {
		if hold := p.held(); hold > 0 {
			t := time.NewTimer(hold)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
			continue
		}
		if err := p.lim.Wait(ctx); err != nil {
			return err
		}
		// A 429, or the answer that used the window up, may have come
		// while this one waited for its turn.
		if p.held() == 0 {
			return nil
		}
	}
}

// send numbers a request about to be sent.
func (p *pacer) send() (seq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent++
	return p.sent
}

// observe reads the rate limit headers of the answer to request seq.
func (p *pacer) observe(resp *http.Response, seq int64) {
	h := resp.Header
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, err := strconv.ParseInt(h.Get("RateLimit-Limit"), 10, 64); err == nil && l > 0 && l != p.perMinute {
		p.perMinute = l
		p.lim.SetLimit(rate.Limit(float64(l) / 60 * headroom))
	}
	left, errL := strconv.ParseInt(h.Get("RateLimit-Remaining"), 10, 64)
	reset, errR := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64)
	if errL == nil && errR == nil && reset > 0 && (reset > p.window || reset == p.window && seq > p.windowSeq) {
		p.window, p.windowSeq, p.windowLeft = reset, seq, left
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		p.throttled++
		if until := time.Now().Add(throttleWait(resp)); until.After(p.until) {
			p.until = until
		}
	}
}

// held is how long requests are held from now: after a 429, or while the
// current window is used up.
func (p *pacer) held() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	hold := p.until.Sub(now)
	if end := time.Unix(p.window, 0); p.window > 0 && now.Before(end) && p.windowLeft-(p.sent-p.windowSeq) <= 0 {
		hold = max(hold, end.Sub(now))
	}
	return max(hold, 0)
}

// retryBackoff is the client's wait before a retry (see retryWait): after
// a 429, at least as long as the pacer holds every request, which a later
// 429 of another request may have lengthened, and then the retry's turn in
// the pace: the library retries without asking its limiter again, and the
// retries of a burst refused together would otherwise go out together.
func (p *pacer) retryBackoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	w := retryWait(lo, hi, attempt, resp)
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return w
	}
	w = max(w, p.held())
	at := time.Now().Add(w)
	return w + p.lim.ReserveN(at, 1).DelayFrom(at)
}

// observed is the transport that shows the pacer every answer, those of
// retries included (the library's limiter sees only first attempts).
type observed struct {
	next http.RoundTripper
	p    *pacer
}

func (o observed) RoundTrip(req *http.Request) (*http.Response, error) {
	seq := o.p.send()
	resp, err := o.next.RoundTrip(req)
	if resp != nil {
		o.p.observe(resp, seq)
		o.p.learn()
	} else {
		// No answer: let another request try.
		select {
		case <-o.p.probe:
		default:
		}
	}
	return resp, err
}
