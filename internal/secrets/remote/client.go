package remote

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// ErrNoHelper: runnerctl-secrets is neither next to runnerctl nor on PATH.
var ErrNoHelper = helper.NotFound(HelperName)

// Find locates the helper: next to runnerctl, else on PATH.
func Find() (string, error) { return helper.Find(HelperName, ErrNoHelper) }

// Client is a secrets.Store served by the helper process.
type Client struct {
	backend string
	c       *helper.Client
}

// Start runs the helper at path and opens spec's backend. The helper gets
// the part of this process's environment that backend needs (Env): its
// credentials live there, the GitLab token and other backends' do not go.
// The helper's stderr goes to stderr. Close the Client when done.
func Start(ctx context.Context, path string, spec Spec, stderr io.Writer) (*Client, error) {
	c, err := protocol.Start(ctx, path, helperLabel(spec.Backend), Env(os.Environ(), spec.Backend), stderr, spec)
	if err != nil {
		return nil, err
	}
	return &Client{backend: spec.Backend, c: c}, nil
}

func helperLabel(backend string) string { return fmt.Sprintf("%s (%s)", HelperName, backend) }

// Backend names the backend.
func (c *Client) Backend() string { return c.backend }

// Check proves that loc can be written, changing nothing.
func (c *Client) Check(ctx context.Context, loc secrets.Location) error {
	_, err := helper.Call[helper.None](ctx, c.c, check{Key: loc.Key, Property: loc.Property})
	return err
}

// Put stores tok at loc.
func (c *Client) Put(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	_, err := helper.Call[helper.None](ctx, c.c, put{Key: loc.Key, Property: loc.Property, Token: tok.Reveal()})
	return err
}

// Get reads the token at loc.
func (c *Client) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	a, err := helper.Call[token](ctx, c.c, get{Key: loc.Key, Property: loc.Property})
	if err != nil {
		return secrets.Token{}, err
	}
	return secrets.NewToken(a.Token), nil
}

// Close ends the helper (it exits when its stdin closes) and waits for it.
func (c *Client) Close() error { return c.c.Close() }
