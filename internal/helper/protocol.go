package helper

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

// OpOpen is the operation every session starts with.
const OpOpen = "open"

// Message is a request: a value type whose Op names its operation. Each
// operation has its own request type, and its own answer type, so no field
// means one thing for one operation and another for the next.
type Message interface{ Op() string }

// None is the answer of an operation that returns nothing but success.
type None struct{}

// request and response are the envelope on the pipe.
type request struct {
	Op string `json:"op"`
	// Protocol is the open request's only: the version the client speaks.
	Protocol int             `json:"protocol,omitempty"`
	Body     json.RawMessage `json:"body,omitempty"`
}

type response struct {
	Error *wireError      `json:"error,omitempty"`
	Body  json.RawMessage `json:"body,omitempty"`
}

// Protocol is one helper's wire protocol, as both of its sides know it.
type Protocol struct {
	// Name is the helper's executable name (plus ".exe" on Windows).
	Name string
	// Version: runnerctl and the helper must come from the same release.
	// Bump it whenever the bytes on the pipe change.
	Version int
	// Kinds are the sentinel errors that survive the pipe.
	Kinds Kinds
	// ErrConfig, one of Kinds, marks a request the helper refuses: the
	// user's settings, or a helper of another release.
	ErrConfig error
}

// Client is runnerctl's side of a session with a helper.
type Client struct {
	p    Protocol
	conn *Conn
}

// Start runs the helper at path with env as its whole environment (nil is
// empty, never this process's: see package childenv for how callers build
// it), its stderr going to stderr, and opens the session with open, whose
// Op must be OpOpen. name is how messages call the helper. Close the
// Client when done.
func (p Protocol) Start(ctx context.Context, path, name string, env []string, stderr io.Writer, open Message) (*Client, error) {
	conn, err := startProcess(path, name, env, stderr)
	if err != nil {
		return nil, err
	}
	c := p.NewClient(conn)
	if err := c.Open(ctx, open); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// NewClient speaks p over conn; the session is not open yet (Open). Tests
// connect it to a Server through pipes.
func (p Protocol) NewClient(conn *Conn) *Client { return &Client{p: p, conn: conn} }

// Open sends the open request, with the protocol version.
func (c *Client) Open(ctx context.Context, open Message) error {
	_, err := call[None](ctx, c, open, c.p.Version)
	return err
}

// Call sends req and decodes the answer into a Resp: the answer type of
// req's operation, as the helper's wire package pairs them. A helper's
// error comes back with its message and its sentinel (Kinds).
func Call[Resp any](ctx context.Context, c *Client, req Message) (Resp, error) {
	return call[Resp](ctx, c, req, 0)
}

func call[Resp any](ctx context.Context, c *Client, req Message, version int) (Resp, error) {
	var out Resp
	body, err := json.Marshal(req)
	if err != nil {
		return out, fmt.Errorf("%s: %s: %w", c.p.Name, req.Op(), err)
	}
	var resp response
	if err := c.conn.roundTrip(ctx, request{Op: req.Op(), Protocol: version, Body: body}, &resp); err != nil {
		return out, err
	}
	if resp.Error != nil {
		return out, c.p.Kinds.fromWire(resp.Error)
	}
	if len(resp.Body) == 0 {
		return out, fmt.Errorf("%s: %s answered nothing", c.p.Name, req.Op())
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return out, fmt.Errorf("%s: %s's answer: %w", c.p.Name, req.Op(), err)
	}
	return out, nil
}

// Close ends the helper and waits for it (Conn.Close).
func (c *Client) Close() error { return c.conn.Close() }

// Server is a helper's side of one session: the operations it answers,
// registered with Handle, and whether the session is open.
type Server struct {
	p      Protocol
	ops    map[string]func(context.Context, json.RawMessage) (any, error)
	opened bool
}

// NewServer answers p; register its operations with Handle.
func (p Protocol) NewServer() *Server {
	return &Server{p: p, ops: map[string]func(context.Context, json.RawMessage) (any, error){}}
}

// Handle makes s answer Req's operation with f. Register OpOpen's too:
// the session is open once it has succeeded, and every other operation
// is refused before that.
func Handle[Req Message, Resp any](s *Server, f func(context.Context, Req) (Resp, error)) {
	var zero Req
	op := zero.Op()
	s.ops[op] = func(ctx context.Context, body json.RawMessage) (any, error) {
		var req Req
		if err := json.Unmarshal(body, &req); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", s.p.ErrConfig, op, err)
		}
		return f(ctx, req)
	}
}

// Serve answers requests from r on w until r ends: nil at the end of r, an
// error when the peer breaks the framing. ctx is every operation's.
func (s *Server) Serve(ctx context.Context, r io.Reader, w io.Writer) error {
	return serveLines(r, w, s.p.Name, func(req request) response {
		a, err := s.handle(ctx, req)
		if err == nil {
			var body []byte
			if body, err = json.Marshal(a); err == nil {
				return response{Body: body}
			}
		}
		return response{Error: s.p.Kinds.toWire(err)}
	})
}

func (s *Server) handle(ctx context.Context, req request) (any, error) {
	switch {
	case req.Op == OpOpen && req.Protocol != s.p.Version:
		return nil, fmt.Errorf("%w: runnerctl speaks protocol %d and %s protocol %d: install both from the same release", s.p.ErrConfig, req.Protocol, s.p.Name, s.p.Version)
	case req.Op == OpOpen && s.opened:
		return nil, fmt.Errorf("%w: already open", s.p.ErrConfig)
	case req.Op != OpOpen && !s.opened:
		return nil, fmt.Errorf("%w: %q before open", s.p.ErrConfig, req.Op)
	}
	h, ok := s.ops[req.Op]
	if !ok {
		return nil, fmt.Errorf("%w: unknown operation %q", s.p.ErrConfig, req.Op)
	}
	a, err := h(ctx, req.Body)
	if err == nil && req.Op == OpOpen {
		s.opened = true
	}
	return a, err
}
