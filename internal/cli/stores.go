package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/remote"
)

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
func openState(f *factory, flag, root string, dryRun bool) (*custody.Dir, error) {
	dir := flag
	if dir == "" {
		dir = custody.DefaultPath(f.getenv)
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
