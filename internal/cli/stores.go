package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/runnerctl/runnerctl/internal/config"
	kuberemote "github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/remote"
)

// store is a secrets backend that holds a helper process until closed.
type store interface {
	secrets.Store
	io.Closer
}

// newStore opens the secrets backend of cfg in the runnerctl-secrets helper
// (package remote says why it is a separate process). Credentials come from
// the environment, of which the helper gets only what its backend needs
// (each backend's usual variables, or the AWS and GCP SDKs' default
// chains), never from runnerctl.yaml or flags: they are secrets too. A backend that cannot even be configured is the
// user's input to fix (exit 2), reported before any runner exists.
func newStore(ctx context.Context, cfg *config.Config, stderr io.Writer) (store, error) {
	s := cfg.Secrets
	spec := remote.Spec{Backend: s.Backend}
	switch {
	case s.Backend == config.BackendVault && s.Vault != nil:
		spec.Mount = s.Vault.Mount
	case s.Backend == config.BackendInfisical && s.Infisical != nil:
		spec.Project, spec.Environment = s.Infisical.ProjectSlug, s.Infisical.Environment
	case s.Backend == config.BackendAWS && s.AWS != nil:
		spec.Region = s.AWS.Region
	case s.Backend == config.BackendGCP && s.GCP != nil:
		spec.Project = s.GCP.Project
	default:
		return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("secrets.backend: %q has no settings in runnerctl.yaml", s.Backend)}
	}
	helper, err := remote.Find()
	if err != nil {
		return nil, err
	}
	c, err := remote.Start(ctx, helper, spec, stderr)
	if err != nil {
		if errors.Is(err, remote.ErrConfig) {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("secrets backend %q: %v", s.Backend, err)}
		}
		return nil, fmt.Errorf("secrets backend %q: %w", s.Backend, err)
	}
	return c, nil
}

// newKube starts the runnerctl-kube helper (package kube/remote says why it
// is a separate process) and opens the cluster spec names. A kubeconfig
// that cannot be loaded is the user's input to fix (exit 2).
func newKube(ctx context.Context, spec kuberemote.Spec, stderr io.Writer) (*kuberemote.Client, error) {
	helper, err := kuberemote.Find()
	if err != nil {
		return nil, err
	}
	c, err := kuberemote.Start(ctx, helper, spec, stderr)
	if err != nil {
		if errors.Is(err, kuberemote.ErrConfig) {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("cluster access: %v", err)}
		}
		return nil, fmt.Errorf("cluster access: %w", err)
	}
	return c, nil
}
