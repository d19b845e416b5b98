package inject_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

var ops = []string{"read", "write"}

// fault is a payload with several fields, as the fakes' are.
type fault struct {
	status int
	msg    string
}

// takeAll drains op's queue, in order.
func takeAll(f *inject.Faults[fault], op string, fallback ...string) []fault {
	var out []fault
	for {
		x, ok := f.Take(op, fallback...)
		if !ok {
			return out
		}
		out = append(out, x)
	}
}

func TestQueueOrderAndCounts(t *testing.T) {
	f := inject.New[fault]("fake test", ops)
	f.Add("read", fault{500, "a"}, 2)
	f.Add("read", fault{503, "b"}, 1)
	f.Add("read", fault{404, "none"}, 0)
	f.Add("read", fault{404, "none"}, -1)
	f.Add("write", fault{429, "c"}, 1)
	want := []fault{{500, "a"}, {500, "a"}, {503, "b"}}
	if got := takeAll(f, "read"); !slices.Equal(got, want) {
		t.Errorf("read faults = %v, want %v", got, want)
	}
	if got := takeAll(f, "write"); !slices.Equal(got, []fault{{429, "c"}}) {
		t.Errorf("write faults = %v", got)
	}
}

func TestStatusPayload(t *testing.T) {
	f := inject.New[int]("fake test", ops)
	if _, ok := f.Take("read"); ok {
		t.Error("a fault without Add")
	}
	f.Add("read", 502, 1)
	if st, ok := f.Take("read"); !ok || st != 502 {
		t.Errorf("Take = %d, %v", st, ok)
	}
}

func TestFallback(t *testing.T) {
	f := inject.New[int]("fake test", nil)
	f.Add("*", 503, 2)
	f.Add("read", 500, 1)
	// The operation's own queue comes first, then the fallback's.
	var got []int
	for range 4 {
		if st, ok := f.Take("read", "*"); ok {
			got = append(got, st)
		}
	}
	if !slices.Equal(got, []int{500, 503, 503}) {
		t.Errorf("faults = %v", got)
	}
	f.Add("*", 503, 1)
	if _, ok := f.Take("write"); ok {
		t.Error("the catch-all served a Take without fallback")
	}
}

func TestUnknownOperation(t *testing.T) {
	f := inject.New[int]("fake test", ops)
	for name, fn := range map[string]func(){
		"Add":    func() { f.Add("raed", 500, 1) },
		"Delay":  func() { f.Delay("raed", time.Second) },
		"OnNext": func() { f.OnNext("raed", func() {}) },
	} {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.Contains(msg, `fake test: unknown operation "raed" (known: read, write)`) {
					t.Errorf("%s: panic %v", name, r)
				}
			}()
			fn()
		}()
	}
	// Without ops, any name goes.
	inject.New[int]("fake test", nil).Add("anything", 500, 1)
}

func TestDelay(t *testing.T) {
	f := inject.New[int]("fake test", nil)
	if !f.Wait(context.Background(), "read") {
		t.Error("Wait without a delay reported a cut")
	}
	f.Delay("read", 50*time.Millisecond)
	start := time.Now()
	if !f.Wait(context.Background(), "read") || time.Since(start) < 50*time.Millisecond {
		t.Error("delay not applied")
	}
	// A fallback's delay applies when op has none.
	f.Delay("*", 50*time.Millisecond)
	start = time.Now()
	f.Wait(context.Background(), "write", "*")
	if time.Since(start) < 50*time.Millisecond {
		t.Error("fallback delay not applied")
	}
	f.Delay("read", time.Minute)
	f.Delay("*", time.Minute)
	f.Delay("read", 0)
	f.Delay("*", -time.Second)
	start = time.Now()
	f.Wait(context.Background(), "read", "*")
	if time.Since(start) > 5*time.Second {
		t.Error("removed delay still applied")
	}
}

func TestWaitCutShort(t *testing.T) {
	f := inject.New[int]("fake test", nil)
	f.Delay("read", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if f.Wait(ctx, "read") {
		t.Error("Wait ran out despite the client hanging up")
	}
	done := make(chan bool)
	go func() { done <- f.Wait(context.Background(), "read") }()
	time.Sleep(10 * time.Millisecond)
	f.Close()
	f.Close() // twice is fine
	select {
	case ok := <-done:
		if ok {
			t.Error("Wait ran out despite Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not cut Wait short")
	}
	if f.Wait(context.Background(), "read") {
		t.Error("Wait after Close ran out")
	}
}

func TestHooks(t *testing.T) {
	f := inject.New[int]("fake test", ops)
	var got []string
	f.OnNext("write", func() { got = append(got, "first") })
	f.OnNext("write", func() {
		// A hook may use the Faults (as a fake's hook calls its server).
		f.Add("write", 500, 1)
		got = append(got, "second")
	})
	f.RunHook("read")
	f.RunHook("write")
	f.RunHook("write")
	f.RunHook("write")
	if !slices.Equal(got, []string{"first", "second"}) {
		t.Errorf("hooks ran: %v", got)
	}
	if _, ok := f.Take("write"); !ok {
		t.Error("the hook's fault is missing")
	}
}

func TestClearKeepsLog(t *testing.T) {
	f := inject.New[int]("fake test", ops)
	f.Log("GET /a 200")
	f.Add("read", 500, 3)
	f.Delay("read", time.Minute)
	ran := false
	f.OnNext("read", func() { ran = true })
	f.Clear()
	if _, ok := f.Take("read"); ok {
		t.Error("a fault survived Clear")
	}
	f.RunHook("read")
	if ran {
		t.Error("a hook survived Clear")
	}
	start := time.Now()
	f.Wait(context.Background(), "read")
	if time.Since(start) > 5*time.Second {
		t.Error("a delay survived Clear")
	}
	f.Log("GET /b 404")
	log := f.Requests()
	if !slices.Equal(log, []string{"GET /a 200", "GET /b 404"}) {
		t.Errorf("Requests = %v", log)
	}
	log[0] = "changed"
	if f.Requests()[0] != "GET /a 200" {
		t.Error("Requests does not return a copy")
	}
}

func TestConcurrentTake(t *testing.T) {
	f := inject.New[int]("fake test", ops)
	f.Add("read", 500, 100)
	var mu sync.Mutex
	taken := 0
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for range 20 {
				if _, ok := f.Take("read"); ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
				f.Log("x")
			}
		})
	}
	wg.Wait()
	if taken != 100 {
		t.Errorf("%d faults taken, want 100", taken)
	}
	if n := len(f.Requests()); n != 200 {
		t.Errorf("%d requests logged, want 200", n)
	}
}

func TestResponseWrite(t *testing.T) {
	rec := httptest.NewRecorder()
	rec.Header().Set("X-Before", "kept")
	rec.Header().Set("Content-Type", "text/plain")
	r := &inject.Response{Status: http.StatusTeapot, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`)}
	r.Write(rec)
	if rec.Code != http.StatusTeapot || rec.Body.String() != "{}" ||
		rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Before") != "kept" {
		t.Errorf("wrote %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	(&inject.Response{Status: http.StatusNoContent}).Write(rec)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Errorf("wrote %d %q", rec.Code, rec.Body)
	}
}

func TestJSON(t *testing.T) {
	r := inject.JSON(http.StatusCreated, "application/json; charset=utf-8", map[string]int{"id": 1})
	if r.Status != http.StatusCreated || string(r.Body) != `{"id":1}` || r.Header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("JSON = %d %v %s", r.Status, r.Header, r.Body)
	}
	defer func() {
		if recover() == nil {
			t.Error("JSON encoded a channel")
		}
	}()
	inject.JSON(http.StatusOK, "application/json", make(chan int))
}
