// Package helper runs runnerctl's helper processes (runnerctl-secrets,
// runnerctl-kube) and speaks their wire format, so that each helper's own
// packages hold only their typed messages: one request type and one answer
// type per operation.
//
// On the pipe: newline-delimited JSON over the helper's stdin and stdout,
// one answer per request, calls serialized. A request is {"op", "body"},
// the operation's name and its message; an answer is {"body"} or
// {"error"}. The first request of a session is "open", which alone also
// carries the protocol version: the helper refuses any version but its
// own, with a message that asks to install both from the same release.
// That check keeps its wording across versions, so a helper of another
// release still says so.
//
// What both helpers share lives here: finding the binary (Find,
// ErrNoHelper), starting it with an environment built by the caller
// (Protocol.Start), the connection with its cancellation rules (Conn), the
// envelope and the version handshake (Protocol, Client, Server), and
// errors that keep their sentinel across the pipe (Kinds).
package helper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// ErrNoHelper is what every helper's "not found" error matches, whichever
// helper is missing.
var ErrNoHelper = errors.New("helper not found")

// NotFound is helper name's own sentinel for Find: "NAME not found",
// matching ErrNoHelper too.
func NotFound(name string) error { return &Error{msg: name + " not found", kind: ErrNoHelper} }

// Find locates helper name: next to the running executable first (the
// release archives and `go install ./cmd/...` put it there), then on PATH.
// notFound is the sentinel the error wraps when it is in neither place
// (NotFound(name)).
func Find(name string, notFound error) (string, error) {
	file := name
	if runtime.GOOS == "windows" {
		file += ".exe"
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), file)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%w next to runnerctl or on PATH: install it with runnerctl (go install github.com/runnerctl/runnerctl/cmd/...@latest, or take both from the release archive)", notFound)
	}
	return p, nil
}

// Conn is a connection to a helper process.
type Conn struct {
	name    string // in messages: "runnerctl-secrets (vault)"
	mu      sync.Mutex
	enc     *json.Encoder
	dec     *json.Decoder
	stdin   io.Closer
	wait    func() error
	kill    func()
	broken  error
	closed  bool
	waitErr error
}

// startProcess runs `path serve` with env as its whole environment
// ("NAME=value" entries, built by the caller, which knows what that helper
// needs: see package childenv). A nil env is an empty environment, never this
// process's: runnerctl's environment holds secrets no helper should get
// by accident. The helper's stderr goes to stderr; name is how messages
// call it. Close the Conn when done.
func startProcess(path, name string, env []string, stderr io.Writer) (*Conn, error) {
	// Not exec.CommandContext: a helper must outlive a cancelled ctx long
	// enough to store a token that already exists. roundTrip gives up on a
	// cancelled ctx and kills the helper itself when the pipe is out of step.
	cmd := exec.Command(path, "serve")
	if env == nil {
		env = []string{} // exec.Cmd reads nil as "inherit everything"
	}
	cmd.Env = env
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return NewConn(name, stdout, stdin, cmd.Wait, func() { _ = cmd.Process.Kill() }), nil
}

// NewConn speaks the protocol over r and w; wait reaps the peer, kill stops
// it. Tests connect a Client to a Server through pipes with it.
func NewConn(name string, r io.Reader, w io.WriteCloser, wait func() error, kill func()) *Conn {
	return &Conn{name: name, enc: json.NewEncoder(w), dec: json.NewDecoder(r), stdin: w, wait: wait, kill: kill}
}

// roundTrip sends req and decodes the answer into resp, or gives up with ctx. A
// call cut short leaves the pipe out of step, so the helper is stopped and
// the Conn refuses further calls.
func (c *Conn) roundTrip(ctx context.Context, req, resp any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return c.broken
	}
	done := make(chan error, 1)
	go func() {
		err := c.enc.Encode(req)
		if err == nil {
			err = c.dec.Decode(resp)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			c.broken = fmt.Errorf("%s stopped answering: %w", c.name, err)
			c.kill()
			return c.broken
		}
		return nil
	case <-ctx.Done():
		c.broken = fmt.Errorf("%s: %w", c.name, ctx.Err())
		c.kill()
		return ctx.Err()
	}
}

// Close ends the helper (it exits when its stdin closes) and waits for it.
// Closing again returns the first result.
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.waitErr
	}
	c.closed = true
	_ = c.stdin.Close()
	c.waitErr = c.wait()
	if c.broken != nil {
		c.waitErr = nil // already killed; its exit status says nothing new
	} else {
		c.broken = fmt.Errorf("%s is closed", c.name)
	}
	return c.waitErr
}

// serveLines answers requests from r on w with handle until r ends: nil at the
// end of r, an error when the peer breaks the protocol.
func serveLines[Req, Resp any](r io.Reader, w io.Writer, name string, handle func(Req) Resp) error {
	dec := json.NewDecoder(r)
	enc := json.NewEncoder(w)
	for {
		var req Req
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: read request: %w", name, err)
		}
		if err := enc.Encode(handle(req)); err != nil {
			return fmt.Errorf("%s: write answer: %w", name, err)
		}
	}
}

// wireError is an error as it crosses the pipe.
type wireError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
}

// Kind names a sentinel error on the wire.
type Kind struct {
	Name string
	Err  error
}

// Kinds are the sentinels callers act on (retry, exit 2, ...); a helper's
// package lists its own.
type Kinds []Kind

// toWire sends err with the first kind it matches.
func (ks Kinds) toWire(err error) *wireError {
	w := &wireError{Message: err.Error()}
	for _, k := range ks {
		if errors.Is(err, k.Err) {
			w.Kind = k.Name
			break
		}
	}
	return w
}

// fromWire is the error w describes: its message unchanged, and
// errors.Is-matching the sentinel of its kind.
func (ks Kinds) fromWire(w *wireError) error {
	e := &Error{msg: w.Message}
	for _, k := range ks {
		if k.Name == w.Kind {
			e.kind = k.Err
		}
	}
	return e
}

// Error is a helper's error; it unwraps to the sentinel it carried.
type Error struct {
	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.kind }
