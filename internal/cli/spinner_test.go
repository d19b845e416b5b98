package cli

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/bubbles/spinner"
)

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSpinnerSteps(t *testing.T) {
	var out syncBuffer
	sp := newSpinnerSteps(&out, spinner.Spinner{Frames: []string{"A", "B"}, FPS: time.Millisecond})
	sp.Step("checking the token")
	// Wait for the animation to draw the second frame at least once.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "\r\x1b[2KB checking the token") {
		if time.Now().After(deadline) {
			t.Fatalf("no animation: %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	sp.Step("creating the runner")
	sp.Close()
	sp.Close() // twice is harmless

	got := out.String()
	for _, want := range []string{
		"\r\x1b[2KA checking the token",
		"\r\x1b[2K• checking the token\n",
		"\r\x1b[2K• creating the runner\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	// Once closed, nothing more is drawn.
	n := len(got)
	time.Sleep(10 * time.Millisecond)
	if len(out.String()) != n {
		t.Errorf("drawing after Close: %q", out.String()[n:])
	}
	// Finished steps end with a newline; the last line is complete.
	if !strings.HasSuffix(got, "\n") {
		t.Errorf("output does not end with a finished line: %q", got)
	}
}
