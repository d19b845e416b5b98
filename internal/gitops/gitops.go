// Package gitops writes generated files into the user's repository safely:
// atomically, never outside the repository (not through "..", not through
// symlinks), never over a file runnerctl did not generate unless forced,
// and pruning generated files that the spec no longer produces.
package gitops

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/diff"
	"golang.org/x/sync/errgroup"

	"github.com/runnerctl/runnerctl/internal/atomicfile"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/repofile"
)

// MaxFileSize bounds what a plan reads of a file in the repository: a
// generated file is at most a few hundred kilobytes (the CA Secret, 512 KiB
// of certificates at most), so a larger one is not runnerctl's, and is not
// read whole into memory.
const MaxFileSize = 4 << 20

// Action is what happens to one file.
type Action string

// Actions, as shown to users.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Delete    Action = "delete"
)

// Change is one planned file operation.
type Change struct {
	Path   string // relative, forward slashes
	Action Action
	Old    []byte // current content (update, delete)
	New    []byte // wanted content (create, update, unchanged)
}

// Plan is every change needed to bring a repository in line with a render.
type Plan struct {
	root    string
	Changes []Change
}

// ConflictError lists files in the way that runnerctl did not generate.
type ConflictError struct{ Problems []string }

func (e *ConflictError) Error() string {
	return "refusing to overwrite:\n  " + strings.Join(e.Problems, "\n  ") +
		"\nmove them away, or run again with --force to replace them"
}

// NewPlan compares the wanted files with what root holds. managedDirs are
// the output directories: any generated file there that is not wanted any
// more is pruned. Nothing is written.
func NewPlan(root string, files []render.File, managedDirs []string, force bool) (*Plan, error) {
	p := &Plan{root: root}
	r, err := os.OpenRoot(root)
	if errors.Is(err, fs.ErrNotExist) {
		// A new output directory (render --out): everything is created.
		for _, f := range files {
			p.Changes = append(p.Changes, Change{Path: f.Path, Action: Create, New: f.Content})
		}
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open repository %q: %w", root, err)
	}
	defer r.Close()

	wanted := map[string]bool{}
	for _, f := range files {
		wanted[f.Path] = true
		if !filepath.IsLocal(filepath.FromSlash(f.Path)) {
			return nil, fmt.Errorf("generated path %q is outside the repository", f.Path)
		}
	}
	// Each file is looked at on its own, several at once (a render of
	// 10,000 runners reads 40,000 files back), each into its own slot: the
	// plan, its conflicts and its first error are those of looking at the
	// files in order.
	type look struct {
		change   Change
		conflict string
		err      error
	}
	looks := make([]look, len(files))
	var g errgroup.Group
	g.SetLimit(readWorkers)
	for i := range files {
		g.Go(func() error {
			l := &looks[i]
			l.change, l.conflict, l.err = inspect(r, files[i], force)
			return nil
		})
	}
	_ = g.Wait() // each file's error is in its slot
	var conflicts []string
	for _, l := range looks {
		switch {
		case l.err != nil:
			return nil, l.err
		case l.conflict != "":
			conflicts = append(conflicts, l.conflict)
		default:
			p.Changes = append(p.Changes, l.change)
		}
	}
	if len(conflicts) > 0 {
		return nil, &ConflictError{Problems: conflicts}
	}
	for _, dir := range slices.Compact(slices.Sorted(slices.Values(managedDirs))) {
		stale, err := staleFiles(r, dir, wanted)
		if err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, stale...)
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return p, nil
}

// readWorkers is how many files NewPlan looks at at once: reading files
// back is system calls more than processor time.
const readWorkers = 8

// inspect compares generated file f with what r holds: the change it
// needs, or why runnerctl must not make it (a conflict, which --force
// overrides), or an error.
func inspect(r *os.Root, f render.File, force bool) (Change, string, error) {
	c := Change{Path: f.Path, Action: Create, New: f.Content}
	info, err := r.Lstat(filepath.FromSlash(f.Path))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return c, "", fmt.Errorf("%s: cannot be written inside the repository (a directory on the way may be a symlink leading outside): %w", f.Path, err)
	case info.Mode()&fs.ModeSymlink != 0:
		if !force {
			return c, fmt.Sprintf("%s: is a symlink; runnerctl does not write through links", f.Path), nil
		}
		c.Action = Update
	case !info.Mode().IsRegular():
		return c, "", fmt.Errorf("%q exists and is not a regular file", f.Path)
	default:
		old, err := repofile.Read(r, f.Path, MaxFileSize)
		if err != nil {
			return c, "", fmt.Errorf("read %q: %w", f.Path, err)
		}
		c.Old, c.Action = old, Update
		if bytes.Equal(old, f.Content) {
			// The same bytes: keep one copy of them, not two.
			c.Old, c.Action = f.Content, Unchanged
		} else if !Generated(old) && !force {
			return c, fmt.Sprintf("%s: exists and was not generated by runnerctl", f.Path), nil
		}
	}
	return c, "", nil
}

// staleFiles finds generated files in dir (not below it) that are not wanted.
func staleFiles(r *os.Root, dir string, wanted map[string]bool) ([]Change, error) {
	entries, err := fs.ReadDir(r.FS(), dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", dir, err)
	}
	var out []Change
	for _, e := range entries {
		rel := path.Join(dir, e.Name())
		if !e.Type().IsRegular() || path.Ext(rel) != ".yaml" || wanted[rel] {
			continue
		}
		old, err := repofile.Read(r, rel, MaxFileSize)
		if err != nil {
			return nil, fmt.Errorf("read %q: %w", rel, err)
		}
		if Generated(old) {
			out = append(out, Change{Path: rel, Action: Delete, Old: old})
		}
	}
	return out, nil
}

// Generated reports whether content carries runnerctl's header.
func Generated(content []byte) bool {
	return bytes.HasPrefix(content, []byte(render.Header))
}

// Pending returns the changes that modify something.
func (p *Plan) Pending() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action != Unchanged {
			out = append(out, c)
		}
	}
	return out
}

// Apply carries the plan out under the repository lock (LockRepository,
// waiting up to ApplyWait for another writer to finish), in an order that
// keeps a stopped run harmless (see ApplyOrder), and every file replaced
// atomically: a reader, or a run killed at any point, sees each file's old
// content or its new one, never a mix. Directories are created through os.Root, which
// refuses any path that escapes the repository.
//
// First every new content is written and synced under a temporary name
// (".NAME" followed by digits) next to its file, concurrently; a failure
// there (a read-only directory, a full disk) changes nothing. Then, in
// ApplyOrder, the temporary files are renamed over their files and pruned
// files removed, and each directory is synced once per step, which makes
// the step durable across a crash of the machine before the next begins.
func (p *Plan) Apply() error {
	l, err := LockRepository(p.root, "", ApplyWait)
	if err != nil {
		return err
	}
	defer l.Unlock()
	return p.apply()
}

// ApplyWait is how long Apply waits for the repository lock. Its caller
// (init) has created a runner and stored its token by then: waiting for a
// render to finish is better than stopping with the files unwritten.
const ApplyWait = 30 * time.Second

// ApplyLocked is Apply for a caller that holds the repository lock of the
// plan's root, taken before NewPlan (render: the plan then cannot be made
// from another writer's half-done work, nor be overtaken by it).
func (p *Plan) ApplyLocked(l *Lock) error {
	if l == nil || !l.covers(p.root) {
		return fmt.Errorf("write %q: the repository lock held is not this repository's", p.root)
	}
	return p.apply()
}

func (p *Plan) apply() error {
	if err := os.MkdirAll(p.root, 0o755); err != nil {
		return fmt.Errorf("create output directory %q: %w", p.root, err)
	}
	r, err := os.OpenRoot(p.root)
	if err != nil {
		return fmt.Errorf("open repository %q: %w", p.root, err)
	}
	defer r.Close()
	p.sweep(r)
	steps := ApplyOrder(p.Pending())
	var writes []atomicfile.Entry
	for _, step := range steps {
		for _, c := range step {
			if c.Action != Delete {
				writes = append(writes, atomicfile.Entry{Path: filepath.FromSlash(c.Path), Data: c.New, Perm: 0o644, New: c.Action == Create})
			}
		}
	}
	created, err := p.mkdirs(r, writes)
	if err != nil {
		return err
	}
	batch, err := atomicfile.PrepareAll(r, writes, writeWorkers)
	if err != nil {
		return fmt.Errorf("write %w (no file was changed)", err)
	}
	defer batch.Close() // removes what a failed step left
	pending := batch.Pending()
	total := len(p.Pending())
	next, done := 0, 0
	for _, step := range steps {
		dirs := map[string]bool{}
		for _, c := range step {
			rel := filepath.FromSlash(c.Path)
			dirs[filepath.Dir(rel)] = true
			if c.Action == Delete {
				if err := r.Remove(rel); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return &PartialError{Path: c.Path, Action: c.Action, Done: done, Total: total, Err: err}
				}
			} else {
				if err := pending[next].Commit(); err != nil {
					return &PartialError{Path: c.Path, Action: c.Action, Done: done, Total: total, Err: err}
				}
				next++
			}
			done++
		}
		for _, dir := range slices.Sorted(maps.Keys(dirs)) {
			if err := batch.SyncDir(dir); err != nil {
				return &PartialError{Path: filepath.ToSlash(dir) + "/", Action: "sync", Done: done, Total: total, Err: err}
			}
		}
	}
	// A directory made by this run is an entry of its parent: sync the
	// parents too, or a crash could lose the directory with its files.
	for _, dir := range created {
		if dir == "." {
			if err := atomicfile.SyncDir(filepath.Dir(p.root)); err != nil {
				return fmt.Errorf("sync the directory of %q: %w", p.root, err)
			}
			continue
		}
		if err := atomicfile.SyncDirIn(r, filepath.Dir(dir)); err != nil {
			return fmt.Errorf("sync directory %q: %w", filepath.Dir(dir), err)
		}
	}
	return nil
}

// temporary reports whether name is what a killed write of a generated
// file leaves next to it: "." + its name + the digits of atomicfile's
// temporary files (at least 10; a random 63-bit number has fewer once in
// a billion times).
func temporary(name string) bool {
	rest, ok := strings.CutPrefix(name, "."+render.FilePrefix)
	i := strings.LastIndex(rest, ".yaml")
	if !ok || i < 0 || len(rest)-i-len(".yaml") < 10 {
		return false
	}
	for _, c := range rest[i+len(".yaml"):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// sweep removes, from the directories of the plan's files, the temporary
// files that a killed write left (best effort). The caller holds the
// repository lock: no other runnerctl is writing them.
func (p *Plan) sweep(r *os.Root) {
	dirs := map[string]bool{}
	for _, c := range p.Changes {
		dirs[path.Dir(c.Path)] = true
	}
	for dir := range dirs {
		entries, err := fs.ReadDir(r.FS(), dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Type().IsRegular() && temporary(e.Name()) {
				_ = r.Remove(filepath.Join(filepath.FromSlash(dir), e.Name()))
			}
		}
	}
}

// writeWorkers is how many files Apply writes and syncs at once: enough
// for the file system to flush many syncs together, few enough not to
// exhaust file descriptors or flood a slow disk.
const writeWorkers = 16

// mkdirs creates the directories of writes (each once) and returns those
// it created, parents before children ("." for the root itself when Apply
// made it: a new --out directory).
func (p *Plan) mkdirs(r *os.Root, writes []atomicfile.Entry) ([]string, error) {
	var created []string
	seen := map[string]bool{}
	for _, w := range writes {
		dir := filepath.Dir(w.Path)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		var missing []string
		for d := dir; d != "."; d = filepath.Dir(d) {
			if _, err := r.Lstat(d); errors.Is(err, fs.ErrNotExist) {
				missing = append(missing, d)
			} else {
				break
			}
		}
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create directory for %q: %w (no file was changed)", filepath.ToSlash(w.Path), err)
		}
		if _, err := r.Stat(dir); err != nil {
			return nil, fmt.Errorf("write %q: %w (no file was changed)", filepath.ToSlash(w.Path), err)
		}
		slices.Reverse(missing)
		created = append(created, missing...)
	}
	return created, nil
}

// ApplyOrder groups changes into the steps Apply takes, one after the
// other, each sorted by path:
//
//  1. delete the files that deploy runners gone from the spec
//     (render.Deploys: Applications, ApplicationSets, Flux
//     Kustomizations), so that the engine stops deploying them while their
//     values and manifests are still there;
//  2. write the values and manifests;
//  3. write the files that deploy, now that everything they refer to is
//     there;
//  4. delete the values and manifests no longer wanted, now that nothing
//     written refers to them.
//
// A run stopped between two steps leaves nothing deploying from a file
// that is not written yet or already deleted: neither a removed runner's
// Application, nor the ApplicationSet that still lists a cluster whose
// files a fleet loses (deleted before the ApplicationSet was rewritten,
// that cluster's generated Application would fail on its missing values
// until the next render).
func ApplyOrder(changes []Change) [][]Change {
	steps := make([][]Change, 4)
	for _, c := range changes {
		content := c.New
		if c.Action == Delete {
			content = c.Old
		}
		deploys := render.Deploys(content)
		switch {
		case c.Action == Unchanged:
		case deploys && c.Action == Delete:
			steps[0] = append(steps[0], c)
		case !deploys && c.Action != Delete:
			steps[1] = append(steps[1], c)
		case deploys:
			steps[2] = append(steps[2], c)
		default:
			steps[3] = append(steps[3], c)
		}
	}
	for _, s := range steps {
		slices.SortFunc(s, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	}
	return slices.DeleteFunc(steps, func(s []Change) bool { return len(s) == 0 })
}

// PartialError: Apply stopped after changing some files. Each file is
// either as before or as planned; Done of the Total pending changes were
// made, in ApplyOrder's order.
type PartialError struct {
	Path   string
	Action Action
	Done   int
	Total  int
	Err    error
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%s %s: %v; stopped after %d of %d changes (every file is either as before or as rendered, and no Application refers to a missing file): fix the cause and run render again",
		e.Action, e.Path, e.Err, e.Done, e.Total)
}

func (e *PartialError) Unwrap() error { return e.Err }

// WriteFile atomically writes rel (relative to root), refusing to leave root.
func WriteFile(root, rel string, content []byte) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		return fmt.Errorf("open repository %q: %w", root, err)
	}
	defer r.Close()
	return writeIn(r, root, rel, content)
}

// writeIn creates rel's directories through the os.Root (which refuses any
// path escaping it, through ".." or symlinks), then replaces the file
// atomically (atomicfile): readers see the old or the new content.
func writeIn(r *os.Root, root, rel string, content []byte) error {
	if err := r.MkdirAll(filepath.Dir(rel), 0o755); err != nil {
		return fmt.Errorf("create directory for %q: %w", rel, err)
	}
	if _, err := r.Stat(filepath.Dir(rel)); err != nil {
		return fmt.Errorf("write %q: %w", rel, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(root, rel), content, 0o644); err != nil {
		return fmt.Errorf("write %q: %w", rel, err)
	}
	return nil
}

// Diff is a unified diff of every pending change, a/ for what is on disk
// and b/ for what runnerctl would write.
func (p *Plan) Diff() []byte {
	var b bytes.Buffer
	for _, c := range p.Pending() {
		oldName, newName := "a/"+c.Path, "b/"+c.Path
		switch c.Action {
		case Create:
			oldName = "/dev/null"
		case Delete:
			newName = "/dev/null"
		}
		b.Write(diff.Diff(oldName, c.Old, newName, c.New))
	}
	return b.Bytes()
}
