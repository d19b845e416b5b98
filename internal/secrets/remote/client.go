package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// ErrNoHelper: runnerctl-secrets is neither next to runnerctl nor on PATH.
var ErrNoHelper = errors.New(HelperName + " not found")

// Find locates the helper: next to runnerctl, else on PATH.
func Find() (string, error) { return helper.Find(HelperName, ErrNoHelper) }

// Client is a secrets.Store served by the helper process.
type Client struct {
	backend string
	conn    *helper.Conn
}

// Start runs the helper at path and opens spec's backend. The helper gets
// the part of this process's environment that backend needs (Env): its
// credentials live there, the GitLab token and other backends' do not go.
// The helper's stderr goes to stderr. Close the Client when done.
func Start(ctx context.Context, path string, spec Spec, stderr io.Writer) (*Client, error) {
	conn, err := helper.Start(path, helperLabel(spec.Backend), Env(os.Environ(), spec.Backend), stderr)
	if err != nil {
		return nil, err
	}
	c := &Client{backend: spec.Backend, conn: conn}
	if err := c.open(ctx, spec); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func helperLabel(backend string) string { return fmt.Sprintf("%s (%s)", HelperName, backend) }

func newClient(backend string, r io.Reader, w io.WriteCloser, wait func() error, kill func()) *Client {
	return &Client{backend: backend, conn: helper.NewConn(helperLabel(backend), r, w, wait, kill)}
}

func (c *Client) open(ctx context.Context, spec Spec) error {
	_, err := c.call(ctx, request{Op: opOpen, Protocol: Protocol, Spec: &spec})
	return err
}

// call sends one request and returns its answer, or the helper's error
// with its sentinel.
func (c *Client) call(ctx context.Context, req request) (response, error) {
	var resp response
	if err := c.conn.Call(ctx, req, &resp); err != nil {
		return response{}, err
	}
	if resp.Error != nil {
		return response{}, kinds.FromWire(resp.Error)
	}
	return resp, nil
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
func (c *Client) Close() error { return c.conn.Close() }
