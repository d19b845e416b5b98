// Package remote runs the secrets backends in a helper process,
// runnerctl-secrets, installed next to runnerctl.
//
// Why a second binary: every package a Go binary links runs its init on
// every start. The backends' SDKs (aws-sdk-go-v2 with its SSO, STS and
// sign-in clients for the default credential chain, hashicorp/vault/api)
// cost about 2.2 ms of start-up and 6 MB of binary, measured on
// `runnerctl --version` (hyperfine, 100 runs): 6.7 ms with them linked
// against 4.5 ms without, for a hello-world start of 1.4 ms. render,
// --help and completions would pay that on every run; only init and
// rotate-token need a backend, and they can afford one process start.
//
// The protocol is newline-delimited JSON over the helper's stdin and stdout:
// an "open" request naming the backend and its settings, then check, put
// and get requests, one answer each. Tokens travel only through these
// pipes, never through arguments or the environment. The helper exits when
// its stdin closes, and ignores SIGINT and SIGTERM: a Ctrl-C reaches the
// whole process group, and runnerctl must still be able to store a token it
// has just created (it decides when to stop, and closes the pipe).
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// HelperName is the helper's executable name (plus ".exe" on Windows).
const HelperName = "runnerctl-secrets"

// Protocol is the version of the wire protocol. runnerctl and its helper
// must come from the same release; a mismatch is reported, never guessed
// around.
const Protocol = 1

// Spec says which backend to open, with its settings from runnerctl.yaml.
// Credentials are not here: the helper reads them from its environment, as
// the backend's own tools do (Start passes it the backend's variables).
type Spec struct {
	Backend     string `json:"backend"`
	Mount       string `json:"mount,omitempty"`       // vault: KV v2 mount
	Project     string `json:"project,omitempty"`     // infisical: project slug; gcp: project ID
	Environment string `json:"environment,omitempty"` // infisical: environment slug
	Region      string `json:"region,omitempty"`      // aws
}

// ErrConfig marks a backend that cannot be opened with the given settings
// and environment: the user's input to fix.
var ErrConfig = errors.New("backend configuration")

// Operations.
const (
	opOpen  = "open"
	opCheck = "check"
	opPut   = "put"
	opGet   = "get"
)

type request struct {
	Op       string `json:"op"`
	Protocol int    `json:"protocol,omitempty"`
	Spec     *Spec  `json:"spec,omitempty"`
	Key      string `json:"key,omitempty"`
	Property string `json:"property,omitempty"`
	Token    string `json:"token,omitempty"`
}

type response struct {
	Error *helper.WireError `json:"error,omitempty"`
	Token string            `json:"token,omitempty"`
}

// kinds maps the sentinel errors that callers act on (bootstrap retries
// ErrTransient, for example) to their names on the wire.
var kinds = helper.Kinds{
	{Name: "config", Err: ErrConfig},
	{Name: "auth", Err: secrets.ErrAuth},
	{Name: "permission", Err: secrets.ErrPermission},
	{Name: "not_found", Err: secrets.ErrNotFound},
	{Name: "conflict", Err: secrets.ErrConflict},
	{Name: "transient", Err: secrets.ErrTransient},
}

// OpenFunc opens the backend a Spec names.
type OpenFunc func(ctx context.Context, spec Spec) (secrets.Store, error)

// Serve answers requests from r on w until r ends. The first request must
// be "open". It returns nil at the end of r, and an error when the peer
// breaks the protocol.
func Serve(ctx context.Context, r io.Reader, w io.Writer, open OpenFunc) error {
	var store secrets.Store
	return helper.Serve(r, w, HelperName, func(req request) response { return handle(ctx, &store, req, open) })
}

func handle(ctx context.Context, store *secrets.Store, req request, open OpenFunc) response {
	fail := func(err error) response { return response{Error: kinds.ToWire(err)} }
	if req.Op == opOpen {
		switch {
		case req.Protocol != Protocol:
			return fail(fmt.Errorf("%w: runnerctl speaks protocol %d and %s protocol %d: install both from the same release", ErrConfig, req.Protocol, HelperName, Protocol))
		case req.Spec == nil:
			return fail(fmt.Errorf("%w: open without a backend", ErrConfig))
		case *store != nil:
			return fail(fmt.Errorf("%w: backend already open", ErrConfig))
		}
		s, err := open(ctx, *req.Spec)
		if err != nil {
			return fail(err)
		}
		*store = s
		return response{}
	}
	if *store == nil {
		return fail(fmt.Errorf("%w: %q before open", ErrConfig, req.Op))
	}
	loc := secrets.Location{Key: req.Key, Property: req.Property}
	switch req.Op {
	case opCheck:
		if err := (*store).Check(ctx, loc); err != nil {
			return fail(err)
		}
	case opPut:
		if err := (*store).Put(ctx, loc, secrets.NewToken(req.Token)); err != nil {
			return fail(err)
		}
	case opGet:
		tok, err := (*store).Get(ctx, loc)
		if err != nil {
			return fail(err)
		}
		return response{Token: tok.Reveal()}
	default:
		return fail(fmt.Errorf("%w: unknown operation %q", ErrConfig, req.Op))
	}
	return response{}
}
