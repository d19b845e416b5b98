package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
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
	spec, err := storeSpec(s)
	if err != nil {
		return nil, err
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

// storeSpec is what opens cfg's secrets backend in the helper.
func storeSpec(s config.Secrets) (remote.Spec, error) {
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
		return spec, &exitError{code: ExitUsage, msg: fmt.Sprintf("secrets.backend: %q has no settings in runnerctl.yaml", s.Backend)}
	}
	return spec, nil
}

// runnerIdentity names runner r by where its token lives: the GitLab, the
// secrets manager (backend and the settings that tell one store of it from
// another) and the location (custody.Identity).
func runnerIdentity(cfg *config.Config, loc secrets.Location) (string, error) {
	spec, err := storeSpec(cfg.Secrets)
	if err != nil {
		return "", err
	}
	store := strings.Join([]string{spec.Backend, spec.Mount, spec.Project, spec.Environment, spec.Region}, "|")
	return custody.Identity(cfg.GitLab.URL, store, loc), nil
}

// openState opens the state directory given by --recovery-dir (flag, or
// "" for the default) for the repository at root, before anything is
// created: a place inside the repository is the user's to fix (exit 2). A
// dry run only locates it: it creates nothing, not even the directory.
func openState(e env, flag, root string, dryRun bool) (*custody.Dir, error) {
	dir := flag
	if dir == "" {
		dir = custody.DefaultPath(e.getenv)
	}
	open := custody.Open
	if dryRun {
		open = custody.Locate
	}
	d, err := open(dir, root)
	if errors.Is(err, custody.ErrPlace) {
		return nil, &exitError{code: ExitUsage, msg: err.Error() + "; nothing was changed"}
	}
	if err != nil {
		return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("--recovery-dir: %v; nothing was changed", err)}
	}
	return d, nil
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
