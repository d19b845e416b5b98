// Package inject is the fault injection the fake servers under
// internal/fake share: per operation, a queue of faults for the next
// requests, a delay for every answer and hooks run before the next request;
// the log of the requests served; and Response, the answer a fake builds
// before writing it, so that a fault can take its place.
//
// What a fault is differs from fake to fake, so Faults takes it as a type
// parameter: a status alone, a status with an error type and message, or a
// kind of fault ("fail", "act then lose the answer", "drop the connection",
// "rate limit with Retry-After") with its values. The package only keeps and
// hands out faults; the fake decides what each one does and when in
// handling a request it asks for one.
package inject

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Faults is a fake's pending faults (of type F), delays and hooks, by
// operation name, and its request log. Its methods are safe for concurrent
// use.
type Faults[F any] struct {
	name string   // for panics: "fake vault"
	ops  []string // nil: any name is an operation

	closing chan struct{}
	once    sync.Once

	mu       sync.Mutex
	faults   map[string][]*pending[F]
	delays   map[string]time.Duration
	hooks    map[string][]func()
	requests []string
}

// pending is a fault with the number of requests it still applies to.
type pending[F any] struct {
	fault F
	left  int
}

// New returns an empty Faults for the fake called name ("fake vault"), whose
// operations are ops. Add, Delay and OnNext panic on another operation
// name, so that a test's typo does not quietly inject nothing; with nil ops
// every name is accepted (for a fake that has a catch-all name such as "*"
// and has always taken any name).
func New[F any](name string, ops []string) *Faults[F] {
	f := &Faults[F]{name: name, ops: slices.Clone(ops), closing: make(chan struct{})}
	f.Clear()
	return f
}

func (f *Faults[F]) mustOp(op string) {
	if f.ops != nil && !slices.Contains(f.ops, op) {
		panic(fmt.Sprintf("%s: unknown operation %q (known: %s)", f.name, op, strings.Join(f.ops, ", ")))
	}
}

// Add makes fault apply to the next n requests of op; n <= 0 adds nothing.
// Faults queue up per operation, in the order they were added: a fault
// applies to its n requests before the next one in the queue does.
func (f *Faults[F]) Add(op string, fault F, n int) {
	f.mustOp(op)
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = append(f.faults[op], &pending[F]{fault: fault, left: n})
}

// Take uses up one request of the first pending fault of op and returns
// that fault; ok is false when op has none. With fallback names, the first
// of op and fallback that has a pending fault gives it: Take(op, "*") lets
// a catch-all queue serve every operation whose own queue is empty.
func (f *Faults[F]) Take(op string, fallback ...string) (fault F, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range append([]string{op}, fallback...) {
		q := f.faults[k]
		if len(q) == 0 {
			continue
		}
		p := q[0]
		p.left--
		if p.left <= 0 {
			f.faults[k] = q[1:]
		}
		return p.fault, true
	}
	return fault, false
}

// Delay makes Wait hold every request of op for d. Zero (or less) removes
// the delay.
func (f *Faults[F]) Delay(op string, d time.Duration) {
	f.mustOp(op)
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.delays, op)
		return
	}
	f.delays[op] = d
}

// Wait holds the caller for the delay of op (with fallback names, of the
// first of op and fallback that has one), cut short when ctx is done (the
// client hung up) or Close is called. It reports whether the delay ran out:
// false tells a fake that waits before acting that nobody is listening any
// more.
func (f *Faults[F]) Wait(ctx context.Context, op string, fallback ...string) bool {
	var d time.Duration
	f.mu.Lock()
	for _, k := range append([]string{op}, fallback...) {
		if d = f.delays[k]; d > 0 {
			break
		}
	}
	f.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-f.closing:
	}
	return false
}

// OnNext queues fn to run once, at the next RunHook of op: a fake calls
// RunHook just before it handles a request of op, so that a test can change
// state between a client's read and its write (a concurrent writer).
func (f *Faults[F]) OnNext(op string, fn func()) {
	f.mustOp(op)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[op] = append(f.hooks[op], fn)
}

// RunHook runs the first queued hook of op, if any, and forgets it. The
// hook runs without any lock held, so it may call the fake's methods.
func (f *Faults[F]) RunHook(op string) {
	f.mu.Lock()
	var fn func()
	if q := f.hooks[op]; len(q) > 0 {
		fn, f.hooks[op] = q[0], q[1:]
	}
	f.mu.Unlock()
	if fn != nil {
		fn()
	}
}

// Clear removes every pending fault, delay and hook. The request log stays.
func (f *Faults[F]) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = map[string][]*pending[F]{}
	f.delays = map[string]time.Duration{}
	f.hooks = map[string][]func(){}
}

// Close cuts short every Wait, current and later: the server is going away.
// It may be called more than once.
func (f *Faults[F]) Close() {
	f.once.Do(func() { close(f.closing) })
}

// Log appends line to the request log.
func (f *Faults[F]) Log(line string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, line)
}

// Requests returns a copy of the request log, in order.
func (f *Faults[F]) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Response is an answer built before it is written, so that a fault can
// replace it, even after the server has acted.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON is a Response with status, v encoded as JSON and a Content-Type
// header of contentType. It panics when v cannot be encoded: a fake's bug.
func JSON(status int, contentType string, v any) *Response {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("inject: encode %T: %v", v, err))
	}
	return &Response{Status: status, Header: http.Header{"Content-Type": {contentType}}, Body: b}
}

// Write sends r: its header fields (each replacing any of the same name
// already set on w), status and body.
func (r *Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range r.Header {
		h[k] = vs
	}
	w.WriteHeader(r.Status)
	if len(r.Body) > 0 {
		_, _ = w.Write(r.Body)
	}
}
