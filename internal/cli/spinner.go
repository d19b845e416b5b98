package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/charmbracelet/bubbles/spinner"

	"github.com/runnerctl/runnerctl/internal/bootstrap"
	"github.com/runnerctl/runnerctl/internal/redact"
)

// stepper reports the steps of a network sequence and is closed when the
// sequence ends.
type stepper interface {
	Step(msg string)
	Close()
}

// progress picks how steps are shown: behind a spinner when stderr is a
// terminal, as plain lines otherwise, not at all with --quiet or JSON.
func progress(f *factory, g *globals) stepper {
	switch {
	case g.quiet || g.output == "json":
		return lines{}
	case isTerminal(f.stderr):
		return redacting{newSpinnerSteps(f.stderr, spinner.MiniDot)}
	}
	return redacting{lines{bootstrap.LineSteps{W: f.stderr}}}
}

// redacting passes every step line through redact.Text: a step may quote
// an error, and an error may quote a URL with its credentials.
type redacting struct{ stepper }

func (r redacting) Step(msg string) { r.stepper.Step(redact.Text(msg)) }

// lines is LineSteps with nothing to close.
type lines struct{ bootstrap.LineSteps }

func (lines) Close() {}

// spinnerSteps shows the step in progress of a network sequence behind a
// spinner, on a terminal; finished steps stay on screen as "• msg" lines,
// as LineSteps prints them everywhere else (pipes, CI logs, files).
type spinnerSteps struct {
	w      io.Writer
	frames []string
	every  time.Duration

	mu    sync.Mutex
	msg   string // the step in progress; "" when none
	frame int

	stop chan struct{}
	done chan struct{}
}

func newSpinnerSteps(w io.Writer, s spinner.Spinner) *spinnerSteps {
	sp := &spinnerSteps{w: w, frames: s.Frames, every: s.FPS, stop: make(chan struct{}), done: make(chan struct{})}
	go sp.animate()
	return sp
}

func (s *spinnerSteps) animate() {
	defer close(s.done)
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.mu.Lock()
			s.frame = (s.frame + 1) % len(s.frames)
			s.drawLocked()
			s.mu.Unlock()
		}
	}
}

// Step ends the step in progress and starts msg.
func (s *spinnerSteps) Step(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finishLocked()
	s.msg = msg
	s.drawLocked()
}

// Close ends the last step and stops the animation; call it before anything
// else is printed to the terminal.
func (s *spinnerSteps) Close() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finishLocked()
}

// drawLocked rewrites the current line: carriage return, erase the line.
func (s *spinnerSteps) drawLocked() {
	if s.msg != "" {
		fmt.Fprintf(s.w, "\r\x1b[2K%s %s", s.frames[s.frame], s.msg)
	}
}

func (s *spinnerSteps) finishLocked() {
	if s.msg != "" {
		fmt.Fprintf(s.w, "\r\x1b[2K• %s\n", s.msg)
		s.msg = ""
	}
}
