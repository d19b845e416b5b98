// Package backends opens the secrets backends by name. It links every
// backend's SDK, so only the runnerctl-secrets helper imports it (see
// package remote for why).
package backends

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/aws"
	"github.com/runnerctl/runnerctl/internal/secrets/gcp"
	"github.com/runnerctl/runnerctl/internal/secrets/infisical"
	"github.com/runnerctl/runnerctl/internal/secrets/remote"
	"github.com/runnerctl/runnerctl/internal/secrets/vault"
)

// Open builds the backend spec names, with credentials from getenv (the
// AWS SDK reads the process environment itself). A backend that cannot be
// configured gives an error wrapping remote.ErrConfig, unless it is a
// credentials problem (secrets.ErrAuth).
func Open(ctx context.Context, spec remote.Spec, getenv func(string) string) (secrets.Store, error) {
	var (
		store secrets.Store
		err   error
	)
	switch spec.Backend {
	case config.BackendVault:
		store, err = vault.New(vault.Options{Mount: spec.Mount, Getenv: getenv})
	case config.BackendInfisical:
		store, err = infisical.New(infisical.Options{ProjectSlug: spec.Project, Environment: spec.Environment, Getenv: getenv})
	case config.BackendAWS:
		store, err = aws.New(ctx, aws.Options{Region: spec.Region})
	case config.BackendGCP:
		store, err = gcp.New(ctx, gcp.Options{Project: spec.Project, Getenv: getenv})
	default:
		return nil, fmt.Errorf("%w: unknown secrets backend %q", remote.ErrConfig, spec.Backend)
	}
	if err != nil && !errors.Is(err, secrets.ErrAuth) && !errors.Is(err, remote.ErrConfig) {
		err = &configError{err}
	}
	return store, err
}

// configError marks err as the user's configuration to fix, keeping its
// message as it is.
type configError struct{ err error }

func (e *configError) Error() string   { return e.err.Error() }
func (e *configError) Unwrap() []error { return []error{e.err, remote.ErrConfig} }

// Main is runnerctl-secrets: it serves one backend on stdin and stdout
// until stdin closes, and returns the exit code.
func Main() int {
	if len(os.Args) != 2 || os.Args[1] != "serve" {
		fmt.Fprintf(os.Stderr, "%s is runnerctl's helper for secrets backends; runnerctl starts it (%s serve).\n", remote.HelperName, remote.HelperName)
		return 2
	}
	// runnerctl decides when to stop: it closes stdin (see package remote).
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	open := func(ctx context.Context, spec remote.Spec) (secrets.Store, error) {
		return Open(ctx, spec, os.Getenv)
	}
	if err := remote.Serve(context.Background(), os.Stdin, os.Stdout, open); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
