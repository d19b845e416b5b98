package gitops

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/repofile"
)

// MaxScanEntries bounds GeneratedDirs: a GitOps repository of a few
// thousand files is scanned whole in milliseconds, and a monorepo far
// larger than that stops the scan rather than every render's speed.
const MaxScanEntries = 100_000

// GeneratedDirs lists the directories of root that hold files runnerctl
// generated (gitlab-runner-*.yaml starting with render.Header), wherever
// they are. When gitops.paths changes, the files at the old paths are
// found this way and pruned with the rest: NewPlan takes these
// directories as managed ones.
//
// The scan follows no symlink, skips .git and every directory below root
// that holds its own runnerctl.yaml (another configuration's files), and
// reads at most the header of each candidate. It stops after limit
// directory entries; complete then says false and the directories found
// so far are returned.
func GeneratedDirs(root string, limit int) (dirs []string, complete bool, err error) {
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, err
	}
	defer r.Close()
	fsys := r.FS()
	seen := 0
	found := map[string]bool{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if seen++; seen > limit {
			return fs.SkipAll
		}
		if d.IsDir() {
			if strings.EqualFold(d.Name(), ".git") {
				return fs.SkipDir
			}
			if p != "." {
				if _, err := fs.Stat(fsys, path.Join(p, "runnerctl.yaml")); err == nil {
					return fs.SkipDir
				}
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(d.Name(), render.FilePrefix) || path.Ext(p) != ".yaml" {
			return nil
		}
		if found[path.Dir(p)] {
			return nil // one generated file is enough: 10,000 runners' files are not read twice
		}
		if generatedHeader(r, p) {
			found[path.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	for dir := range found {
		dirs = append(dirs, dir)
	}
	slices.Sort(dirs)
	return dirs, seen <= limit, nil
}

// generatedHeader reads no more of the file p than render.Header's length
// (and never blocks on a FIFO put in its place).
func generatedHeader(r *os.Root, p string) bool {
	head, err := repofile.Head(r, p, len(render.Header))
	return err == nil && Generated(head)
}
