package remote

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

	"github.com/runnerctl/runnerctl/internal/secrets"
)

// ErrNoHelper: runnerctl-secrets is neither next to runnerctl nor on PATH.
var ErrNoHelper = errors.New(HelperName + " not found")

// Find locates the helper: next to the running executable first (the
// release archives and `go install ./cmd/...` put it there), then on PATH.
func Find() (string, error) {
	name := HelperName
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	p, err := exec.LookPath(HelperName)
	if err != nil {
		return "", fmt.Errorf("%w next to runnerctl or on PATH: install it with runnerctl (go install github.com/runnerctl/runnerctl/cmd/...@latest, or take both from the release archive)", ErrNoHelper)
	}
	return p, nil
}

// Client is a secrets.Store served by the helper process. Calls are
// serialized: the helper answers one request at a time.
type Client struct {
	backend string
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

// Start runs the helper at path, with this process's environment (the
// backends' credentials live there), and opens spec's backend. The
// helper's stderr goes to stderr. Close the Client when done.
func Start(ctx context.Context, path string, spec Spec, stderr io.Writer) (*Client, error) {
	// Not exec.CommandContext: the helper must outlive a cancelled ctx
	// long enough to store a token that already exists.
	cmd := exec.Command(path, "serve")
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
		return nil, fmt.Errorf("start %s: %w", HelperName, err)
	}
	c := newClient(spec.Backend, stdout, stdin, cmd.Wait, func() { _ = cmd.Process.Kill() })
	if err := c.open(ctx, spec); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(backend string, r io.Reader, w io.WriteCloser, wait func() error, kill func()) *Client {
	return &Client{backend: backend, enc: json.NewEncoder(w), dec: json.NewDecoder(r), stdin: w, wait: wait, kill: kill}
}

func (c *Client) open(ctx context.Context, spec Spec) error {
	_, err := c.call(ctx, request{Op: opOpen, Protocol: Protocol, Spec: &spec})
	return err
}

// call sends one request and waits for its answer or for ctx. A call cut
// short by ctx leaves the pipe out of step, so the helper is stopped and
// the Client refuses further calls.
func (c *Client) call(ctx context.Context, req request) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return response{}, c.broken
	}
	type result struct {
		resp response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		if r.err = c.enc.Encode(req); r.err == nil {
			r.err = c.dec.Decode(&r.resp)
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != nil {
			c.broken = fmt.Errorf("%s (%s) stopped answering: %w", HelperName, c.backend, r.err)
			c.kill()
			return response{}, c.broken
		}
		if r.resp.Error != nil {
			return response{}, fromWire(r.resp.Error)
		}
		return r.resp, nil
	case <-ctx.Done():
		c.broken = fmt.Errorf("%s (%s): %w", HelperName, c.backend, ctx.Err())
		c.kill()
		return response{}, ctx.Err()
	}
}

// Backend names the backend.
func (c *Client) Backend() string { return c.backend }

// Check proves that loc can be written, changing nothing.
func (c *Client) Check(ctx context.Context, loc secrets.Location) error {
	_, err := c.call(ctx, request{Op: opCheck, Key: loc.Key, Property: loc.Property})
	return err
}

// Put stores tok at loc.
func (c *Client) Put(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	_, err := c.call(ctx, request{Op: opPut, Key: loc.Key, Property: loc.Property, Token: tok.Reveal()})
	return err
}

// Get reads the token at loc.
func (c *Client) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	resp, err := c.call(ctx, request{Op: opGet, Key: loc.Key, Property: loc.Property})
	if err != nil {
		return secrets.Token{}, err
	}
	return secrets.NewToken(resp.Token), nil
}

// Close ends the helper (it exits when its stdin closes) and waits for it.
// Closing again returns the first result.
func (c *Client) Close() error {
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
	}
	if c.broken == nil {
		c.broken = fmt.Errorf("%s (%s) is closed", HelperName, c.backend)
	}
	return c.waitErr
}
