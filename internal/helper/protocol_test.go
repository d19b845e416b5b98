package helper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

var errTestConfig = errors.New("test configuration")

var errTestGone = errors.New("gone")

var testProtocol = Protocol{
	Name:      "test-helper",
	Version:   3,
	Kinds:     Kinds{{Name: "config", Err: errTestConfig}, {Name: "gone", Err: errTestGone}},
	ErrConfig: errTestConfig,
}

type testOpen struct {
	Who string `json:"who"`
}

func (testOpen) Op() string { return OpOpen }

type echo struct {
	Say string `json:"say"`
}

func (echo) Op() string { return "echo" }

type echoed struct {
	Heard string `json:"heard"`
}

type unknownOp struct{}

func (unknownOp) Op() string { return "nope" }

// testServer serves testProtocol through pipes to a client speaking p.
// Its echo answers "WHO: SAY", and fails with errTestGone on "gone".
func testServer(t *testing.T, p Protocol) *Client {
	t.Helper()
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		s := testProtocol.NewServer()
		var who string
		Handle(s, func(_ context.Context, o testOpen) (None, error) {
			if o.Who == "" {
				return None{}, fmt.Errorf("%w: nobody", errTestConfig)
			}
			who = o.Who
			return None{}, nil
		})
		Handle(s, func(_ context.Context, e echo) (echoed, error) {
			if e.Say == "gone" {
				return echoed{}, fmt.Errorf("echo %q: %w", e.Say, errTestGone)
			}
			return echoed{Heard: who + ": " + e.Say}, nil
		})
		done <- s.Serve(context.Background(), reqR, respW)
		respW.Close()
	}()
	c := p.NewClient(NewConn(p.Name, respR, reqW, func() error { return <-done }, func() {}))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSession(t *testing.T) {
	ctx := context.Background()
	c := testServer(t, testProtocol)
	if _, err := Call[echoed](ctx, c, echo{Say: "hi"}); !errors.Is(err, errTestConfig) || err.Error() != `test configuration: "echo" before open` {
		t.Fatalf("a call before open: %v", err)
	}
	if err := c.Open(ctx, testOpen{}); !errors.Is(err, errTestConfig) || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("a failed open: %v", err)
	}
	if err := c.Open(ctx, testOpen{Who: "ann"}); err != nil {
		t.Fatalf("open after a failed one: %v", err)
	}
	if err := c.Open(ctx, testOpen{Who: "bob"}); !errors.Is(err, errTestConfig) || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("a second open: %v", err)
	}
	if a, err := Call[echoed](ctx, c, echo{Say: "hi"}); err != nil || a.Heard != "ann: hi" {
		t.Fatalf("echo = %+v, %v", a, err)
	}
	err := func() error { _, err := Call[echoed](ctx, c, echo{Say: "gone"}); return err }()
	if !errors.Is(err, errTestGone) || errors.Is(err, errTestConfig) || err.Error() != `echo "gone": gone` {
		t.Fatalf("an error across the pipe: %v", err)
	}
	if _, err := Call[None](ctx, c, unknownOp{}); !errors.Is(err, errTestConfig) || err.Error() != `test configuration: unknown operation "nope"` {
		t.Fatalf("an unknown operation: %v", err)
	}
}

// The version check's message asks to install both from the same release,
// whichever side is older; it stays worded so across versions, since the
// side that words it may be either.
func TestVersionMismatch(t *testing.T) {
	for _, delta := range []int{-1, +1} {
		p := testProtocol
		p.Version += delta
		c := testServer(t, p)
		err := c.Open(context.Background(), testOpen{Who: "ann"})
		want := fmt.Sprintf("test configuration: runnerctl speaks protocol %d and test-helper protocol 3: install both from the same release", p.Version)
		if !errors.Is(err, errTestConfig) || err.Error() != want {
			t.Errorf("open at version %d: %v, want %q", p.Version, err, want)
		}
	}
}

// An open in the flat shape of the protocols before the envelope (the
// operation's fields beside "op" and "protocol") still gets the version
// message, not a decoding error.
func TestVersionMismatchOfTheOldShape(t *testing.T) {
	s := testProtocol.NewServer()
	Handle(s, func(context.Context, testOpen) (None, error) { return None{}, nil })
	var out strings.Builder
	in := strings.NewReader(`{"op":"open","protocol":2,"spec":{"backend":"vault"}}` + "\n")
	if err := s.Serve(context.Background(), in, &out); err != nil {
		t.Fatal(err)
	}
	want := `{"error":{"kind":"config","message":"test configuration: runnerctl speaks protocol 2 and test-helper protocol 3: install both from the same release"}}` + "\n"
	if out.String() != want {
		t.Fatalf("answer %s, want %s", out.String(), want)
	}
}

// A helper that answers success without a body is out of step with
// runnerctl: Call says so rather than hand back a zero answer.
func TestAnswerWithoutBody(t *testing.T) {
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	go func() {
		_ = serveLines(reqR, respW, "mute", func(request) response { return response{} })
		respW.Close()
	}()
	c := testProtocol.NewClient(NewConn("mute", respR, reqW, func() error { return nil }, func() {}))
	defer c.Close()
	if _, err := Call[echoed](context.Background(), c, echo{Say: "hi"}); err == nil || err.Error() != "test-helper: echo answered nothing" {
		t.Fatalf("an answer without a body: %v", err)
	}
}

func TestNotFound(t *testing.T) {
	x, y := NotFound("runnerctl-x"), NotFound("runnerctl-y")
	err := fmt.Errorf("%w next to runnerctl or on PATH", x)
	if !errors.Is(err, ErrNoHelper) || !errors.Is(err, x) || errors.Is(err, y) || err.Error() != "runnerctl-x not found next to runnerctl or on PATH" {
		t.Fatalf("NotFound: %v", err)
	}
}
