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
// The protocol is package helper's: an open request naming the backend and
// its settings (Spec), then check, put and get requests, one answer each. Tokens travel only through these
// pipes, never through arguments or the environment. The helper exits when
// its stdin closes, and ignores SIGINT and SIGTERM: a Ctrl-C reaches the
// whole process group, and runnerctl must still be able to store a token it
// has just created (it decides when to stop, and closes the pipe).
package remote

import (
	"context"
	"errors"
	"io"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// HelperName is the helper's executable name (plus ".exe" on Windows).
const HelperName = "runnerctl-secrets"

// Version is the wire protocol's version. runnerctl and its helper must
// come from the same release; a mismatch is reported, never guessed
// around. Version 2: one typed message per operation in package helper's
// envelope.
const Version = 2

// Spec says which backend to open, with its settings from runnerctl.yaml:
// the open request. Credentials are not here: the helper reads them from
// its environment, as the backend's own tools do (Start passes it the
// backend's variables). Answer: helper.None.
type Spec struct {
	Backend     string `json:"backend"`
	Mount       string `json:"mount,omitempty"`       // vault: KV v2 mount
	Project     string `json:"project,omitempty"`     // infisical: project slug; gcp: project ID
	Environment string `json:"environment,omitempty"` // infisical: environment slug
	Region      string `json:"region,omitempty"`      // aws
}

// Op implements helper.Message.
func (Spec) Op() string { return helper.OpOpen }

// ErrConfig marks a backend that cannot be opened with the given settings
// and environment: the user's input to fix.
var ErrConfig = errors.New("backend configuration")

// check proves that a location can be written, changing nothing. Answer:
// helper.None.
type check struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}

func (check) Op() string { return "check" }

// put stores Token at a location; the token crosses the pipe, never
// arguments or the environment. Answer: helper.None.
type put struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
	Token    string `json:"token"`
}

func (put) Op() string { return "put" }

// get reads the token at a location. Answer: token.
type get struct {
	Key      string `json:"key"`
	Property string `json:"property,omitempty"`
}

func (get) Op() string { return "get" }

type token struct {
	Token string `json:"token"`
}

// protocol is runnerctl-secrets' protocol for package helper. Its kinds
// map the sentinel errors that callers act on (bootstrap retries
// ErrTransient, for example) to their names on the wire.
var protocol = helper.Protocol{
	Name:    HelperName,
	Version: Version,
	Kinds: helper.Kinds{
		{Name: "config", Err: ErrConfig},
		{Name: "auth", Err: secrets.ErrAuth},
		{Name: "permission", Err: secrets.ErrPermission},
		{Name: "not_found", Err: secrets.ErrNotFound},
		{Name: "conflict", Err: secrets.ErrConflict},
		{Name: "transient", Err: secrets.ErrTransient},
	},
	ErrConfig: ErrConfig,
}

// OpenFunc opens the backend a Spec names.
type OpenFunc func(ctx context.Context, spec Spec) (secrets.Store, error)

// Serve answers requests from r on w until r ends. The first request must
// be the open (a Spec). It returns nil at the end of r, and an error when
// the peer breaks the protocol.
func Serve(ctx context.Context, r io.Reader, w io.Writer, open OpenFunc) error {
	s := protocol.NewServer()
	var store secrets.Store
	helper.Handle(s, func(ctx context.Context, spec Spec) (helper.None, error) {
		st, err := open(ctx, spec)
		if err != nil {
			return helper.None{}, err
		}
		store = st
		return helper.None{}, nil
	})
	helper.Handle(s, func(ctx context.Context, m check) (helper.None, error) {
		return helper.None{}, store.Check(ctx, secrets.Location{Key: m.Key, Property: m.Property})
	})
	helper.Handle(s, func(ctx context.Context, m put) (helper.None, error) {
		return helper.None{}, store.Put(ctx, secrets.Location{Key: m.Key, Property: m.Property}, secrets.NewToken(m.Token))
	})
	helper.Handle(s, func(ctx context.Context, m get) (token, error) {
		tok, err := store.Get(ctx, secrets.Location{Key: m.Key, Property: m.Property})
		return token{Token: tok.Reveal()}, err
	})
	return s.Serve(ctx, r, w)
}
