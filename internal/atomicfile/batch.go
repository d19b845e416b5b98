package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// Many files at once. WriteFile syncs each file and then renames it, one
// file after the other; for thousands of files those syncs, one disk flush
// each, are nearly all of the time. A Batch keeps every guarantee of
// WriteFile and splits its steps: PrepareAll writes each file under its
// temporary name and makes it durable (concurrently, and for a large batch
// on Linux with one flush of the file system for all of them), then the
// caller commits each file (renames it over its target) in the order it
// chooses, and syncs each directory once per step where WriteFile's caller
// would sync it once per file. Readers see each target's old content or
// its new one, never a mix; a process killed at any point leaves each
// target old or new, plus at most temporary files named as WriteFile
// names them (".NAME" followed by digits, next to NAME).
//
// Everything happens inside an os.Root: no path, through ".." or a
// symlink, leaves it.

// Entry is one file of a batch.
type Entry struct {
	Path string // relative to the root
	Data []byte
	Perm uint32 // less the umask; an existing file keeps its own
	// New says that the caller knows no file is at Path: its mode is not
	// looked up (one system call less a file, for a fresh tree of
	// thousands). Should one be there after all, it gets Perm.
	New bool
}

// Batch is a set of files written and synced under temporary names, each
// ready to replace its target in one step. Close it.
type Batch struct {
	root    *os.Root
	dirs    map[string]*os.Root // each target directory, opened once
	pending []*Pending
}

// Pending is a file of a batch, written and synced, not yet in place.
type Pending struct {
	dir       *os.Root
	tmp, name string // in dir
	path      string // relative to the batch's root
	done      bool
}

// Path is the target's path, relative to the root.
func (p *Pending) Path() string { return p.path }

// flushTogetherMin is the size of a batch from which PrepareAll makes the
// files durable with one flush of the whole file system (Linux's syncfs)
// instead of one per file: cheaper for many files, dearer for a few when
// other programs have much unwritten data on the same file system.
const flushTogetherMin = 64

// PrepareAll writes entries under temporary names, with at most workers
// of them in flight at once, and makes them durable. The result lists them
// in the order of entries. When any fails, it removes every temporary file
// it made and returns the error of the first failed entry (by position,
// whatever the scheduling): no target has changed then.
func PrepareAll(root *os.Root, entries []Entry, workers int) (_ *Batch, err error) {
	b := &Batch{root: root, dirs: map[string]*os.Root{}, pending: make([]*Pending, len(entries))}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.Close())
		}
	}()
	for _, e := range entries {
		dir := filepath.Dir(filepath.Clean(e.Path))
		if _, ok := b.dirs[dir]; !ok {
			d, err := root.OpenRoot(dir)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", filepath.ToSlash(e.Path), err)
			}
			b.dirs[dir] = d
		}
	}
	// For one flush: the file system's handle is opened before writing, so
	// that syncfs reports the write-back errors of this batch's files.
	var fsys *os.File
	if len(entries) >= flushTogetherMin && canSyncFS() {
		if fsys, err = root.Open("."); err != nil {
			return nil, err
		}
		defer fsys.Close()
	}
	errs := make([]error, len(entries))
	workers = max(1, min(workers, len(entries)))
	next := make(chan int)
	stop := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				e := &entries[i]
				clean := filepath.Clean(e.Path)
				p := &Pending{dir: b.dirs[filepath.Dir(clean)], name: filepath.Base(clean), path: clean}
				if errs[i] = p.write(e.Data, e.Perm, e.New, fsys == nil); errs[i] != nil {
					once.Do(func() { close(stop) })
					continue
				}
				b.pending[i] = p
			}
		})
	}
feed:
	for i := range entries {
		select {
		case next <- i:
		case <-stop:
			break feed // the batch fails: write no more
		}
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.ToSlash(entries[i].Path), err)
		}
	}
	if fsys != nil {
		if err := syncFS(fsys); err != nil {
			return nil, fmt.Errorf("flush the %d files written: %w", len(entries), err)
		}
	}
	return b, nil
}

// write makes p's temporary file with data; fresh says no target exists;
// sync says whether to sync it here (otherwise the batch flushes the file
// system once for all).
func (p *Pending) write(data []byte, perm uint32, fresh, sync bool) (err error) {
	mode := os.FileMode(perm) & fs.ModePerm
	exact := false
	if !fresh {
		switch fi, err := p.dir.Lstat(p.name); {
		case err == nil && fi.Mode().IsRegular():
			mode, exact = fi.Mode()&fs.ModePerm, true
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	var f *os.File
	for attempt := 0; ; attempt++ {
		p.tmp = "." + p.name + strconv.FormatUint(rand.Uint64()>>1, 10)
		f, err = p.dir.OpenFile(p.tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || attempt == 100 {
			return err
		}
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = p.dir.Remove(p.tmp)
		}
	}()
	if exact {
		if err = chmodExact(f, mode); err != nil {
			return err
		}
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	// Without a sync (this one, or the batch's flush), a crash of the
	// machine after the rename may leave the target empty: the rename can
	// reach the disk before the data.
	if sync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	return f.Close()
}

// Pending lists the batch's files, in the order PrepareAll was given them.
func (b *Batch) Pending() []*Pending { return slices.Clone(b.pending) }

// Commit renames the temporary file over the target, in one step. The
// rename is durable once the target's directory is synced (Batch.SyncDir).
func (p *Pending) Commit() error {
	if p.done {
		return fmt.Errorf("%s: already committed or discarded", p.path)
	}
	if err := p.dir.Rename(p.tmp, p.name); err != nil {
		return err
	}
	p.done = true
	return nil
}

// discard removes the temporary file of a file not committed.
func (p *Pending) discard() error {
	if p == nil || p.done {
		return nil
	}
	p.done = true
	if err := p.dir.Remove(p.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary file %s: %w", filepath.ToSlash(filepath.Join(filepath.Dir(p.path), p.tmp)), err)
	}
	return nil
}

// SyncDir makes the creation, rename or removal of entries in dir
// (relative to the root) durable across a crash of the machine; on
// Windows, where a directory cannot be synced, it does nothing.
func (b *Batch) SyncDir(dir string) error {
	dir = filepath.Clean(dir)
	if d, ok := b.dirs[dir]; ok {
		return syncRootDir(d)
	}
	return SyncDirIn(b.root, dir)
}

// Close removes the temporary files of the files not committed (a failed
// or abandoned batch) and releases the directories.
func (b *Batch) Close() error {
	var errs []error
	for _, p := range b.pending {
		errs = append(errs, p.discard())
	}
	for _, d := range b.dirs {
		errs = append(errs, d.Close())
	}
	b.dirs = nil
	return errors.Join(errs...)
}

// SyncDirIn makes the creation, rename or removal of entries in dir
// (relative to root) durable across a crash of the machine; on Windows,
// where a directory cannot be synced, it does nothing.
func SyncDirIn(root *os.Root, dir string) error {
	d, err := root.OpenRoot(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return syncRootDir(d)
}
