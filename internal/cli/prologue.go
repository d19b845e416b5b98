package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
)

// The prologue of the commands that read runnerctl.yaml: load it with its
// profiles, render it, and compare the files with a repository. render,
// validate, status and doctor share it, so they agree on what the spec
// produces and on which files are runnerctl's.

// loaded is a configuration with its repository and profiles.
type loaded struct {
	cfg      *config.Config
	root     string // directory of the configuration file
	profiles *profile.Set
}

// load reads the configuration and the profiles it refers to. A missing or
// unreadable runnerctl.yaml, a broken one and a broken profile file are all
// invalid input: exit 2.
func load(g *globals) (*loaded, error) {
	l := &loaded{root: filepath.Dir(g.configPath)}
	var perr error
	checkProfiles := func(cfg *config.Config) []config.FieldError {
		if !filepath.IsLocal(cfg.ProfilesDir) {
			return nil // reported by validation; never read outside the repository
		}
		l.profiles, perr = profile.LoadIn(l.root, cfg.ProfilesDir)
		if perr != nil {
			return []config.FieldError{{Path: "profilesDir", Msg: perr.Error()}}
		}
		return render.Check(cfg, l.profiles)
	}
	cfg, err := config.Load(g.configPath, checkProfiles)
	if err != nil {
		var coded interface{ ExitCode() int }
		if !errors.As(err, &coded) {
			// The file named by --config cannot be read: invalid input
			// (exit 2), never the 1 that render --check and status use for
			// "out of date".
			return nil, usageError{err}
		}
		return nil, err
	}
	l.cfg = cfg
	// What render holds grows with the GitLab runners, one set of files
	// each: a runner's clusters count one by one.
	fitGC(os.Getenv, len(cfg.Instances()))
	return l, nil
}

// loadRendered loads the configuration and renders it.
func loadRendered(g *globals) (*loaded, *render.Result, error) {
	l, err := load(g)
	if err != nil {
		return nil, nil, err
	}
	res, err := render.Render(l.cfg, l.profiles)
	if err != nil {
		return nil, nil, err
	}
	return l, res, nil
}

// plan compares files with the repository at dest. force compares whoever
// wrote a file (render --force and --check, status). complete is false
// only when the repository was looked through and found too large to look
// through whole for generated files left at old gitops.paths; it says so
// even when the plan then fails, as render warns before its error.
func (l *loaded) plan(files []render.File, dest string, force bool) (plan *gitops.Plan, complete bool, err error) {
	managed, complete, err := managedDirs(l.cfg, dest)
	if err != nil {
		return nil, true, err
	}
	plan, err = gitops.NewPlan(dest, files, managed, force)
	return plan, complete, err
}

// managedDirs are the directories where render prunes generated files that
// the spec no longer produces: the configured ones, and every other
// directory of the repository holding runnerctl's files, where a change of
// gitops.paths left them.
// render and status (which compares like render --check) use it; complete
// is false when the repository was too large to look through whole.
func managedDirs(cfg *config.Config, dest string) (dirs []string, complete bool, err error) {
	p := cfg.GitOps.Paths
	dirs = []string{p.Applications, p.Manifests, p.Values}
	found, complete, err := gitops.GeneratedDirs(dest, gitops.MaxScanEntries)
	if err != nil {
		return nil, false, fmt.Errorf("look for generated files in %q: %w", dest, err)
	}
	return append(dirs, found...), complete, nil
}
