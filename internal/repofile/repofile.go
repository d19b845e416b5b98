// Package repofile reads the files runnerctl takes from a repository:
// runnerctl.yaml, hardening profiles, the GitLab CA file, manifests given to
// validate. Each is read through an os.Root, so a path or a symlink that
// leads outside the directory it was opened in is refused, and only regular
// files are read: a FIFO would block runnerctl for ever, a device such as
// /dev/zero would feed it without end. Reads stop at a limit, so memory
// stays bounded whatever a merge request commits.
package repofile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is a path that names a FIFO, socket, device or directory.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is a file over the reader's limit.
var ErrTooLarge = errors.New("too large")

// Error is a refusal to read one file; Name is the path as the caller
// gave it.
type Error struct {
	Name  string
	Limit int64 // with ErrTooLarge
	Err   error
}

func (e *Error) Error() string {
	if errors.Is(e.Err, ErrTooLarge) || errors.Is(e.Err, ErrNotRegular) {
		return fmt.Sprintf("%q %s", e.Name, e.Reason())
	}
	return fmt.Sprintf("cannot read %q inside the repository: %s", e.Name, e.Reason())
}

// Reason says why the file was not read, without naming it.
func (e *Error) Reason() string {
	switch {
	case errors.Is(e.Err, ErrTooLarge):
		return fmt.Sprintf("is larger than %s, the most runnerctl reads", Size(e.Limit))
	case errors.Is(e.Err, ErrNotRegular):
		return "is not a regular file (a directory, FIFO, socket or device); runnerctl reads only regular files"
	case Escapes(e.Err):
		return escapeReason
	}
	return e.Err.Error()
}

// escapeReason explains os.Root's refusal.
const escapeReason = "path escapes from parent (a symlink or .. leads outside the repository; runnerctl reads only files inside it)"

// Escapes says whether err is os.Root's refusal of a path leading out of
// it. The os package does not export that error; its text is stable.
func Escapes(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}

// Explain is err with os.Root's refusal spelt out for users.
func Explain(err error) error {
	if Escapes(err) {
		return errors.New(escapeReason)
	}
	return err
}

func (e *Error) Unwrap() error { return e.Err }

// Size says n bytes the way limits are documented: 1 MiB, 64 KiB.
func Size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Read returns the content of the regular file name (forward or OS
// slashes) inside root, at most limit bytes. A symlink is followed only
// while it stays inside root. The file's type is checked before it is
// opened, and opened without blocking, so that a FIFO swapped in between
// cannot hang the read either.
func Read(root *os.Root, name string, limit int64) ([]byte, error) {
	rel := filepath.FromSlash(name)
	info, err := root.Stat(rel)
	if err != nil {
		return nil, &Error{Name: name, Err: unwrapPath(err)}
	}
	if !info.Mode().IsRegular() {
		return nil, &Error{Name: name, Err: ErrNotRegular}
	}
	if info.Size() > limit {
		return nil, &Error{Name: name, Limit: limit, Err: ErrTooLarge}
	}
	f, err := root.OpenFile(rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, &Error{Name: name, Err: unwrapPath(err)}
	}
	defer f.Close()
	info, err = f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		return nil, &Error{Name: name, Err: ErrNotRegular}
	}
	data, err := readSized(io.LimitReader(f, limit+1), info.Size())
	if err != nil {
		return nil, &Error{Name: name, Err: unwrapPath(err)}
	}
	if int64(len(data)) > limit {
		return nil, &Error{Name: name, Limit: limit, Err: ErrTooLarge}
	}
	return data, nil
}

// readSized reads r to its end into a buffer of size bytes (and one more,
// which only a file grown since its size was taken fills): a plan holds
// the files it read, 40,000 of them for 10,000 runners, and io.ReadAll's
// grown buffers would add a third to them.
func readSized(r io.Reader, size int64) ([]byte, error) {
	data := make([]byte, 0, max(size, 0)+1)
	for {
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		switch {
		case err == io.EOF:
			return data, nil
		case err != nil:
			return nil, err
		case len(data) == cap(data):
			data = append(data, 0)[:len(data)]
		}
	}
}

// ReadFile reads the regular file at path, a symlink being followed only
// while it stays inside the file's own directory (for runnerctl.yaml, the
// repository root).
func ReadFile(path string, limit int64) ([]byte, error) {
	root, err := os.OpenRoot(filepath.Dir(path))
	if err != nil {
		return nil, &Error{Name: path, Err: unwrapPath(err)}
	}
	defer root.Close()
	data, err := Read(root, filepath.Base(path), limit)
	var re *Error
	if errors.As(err, &re) {
		re.Name = path
	}
	return data, err
}

// unwrapPath drops the "openat PATH:" of a *PathError: messages name the
// path once, as the user wrote it.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Head returns the first n bytes of the regular file name inside root
// (fewer when the file is shorter), under the same rules as Read.
func Head(root *os.Root, name string, n int) ([]byte, error) {
	rel := filepath.FromSlash(name)
	f, err := root.OpenFile(rel, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, &Error{Name: name, Err: unwrapPath(err)}
	}
	defer f.Close()
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		return nil, &Error{Name: name, Err: ErrNotRegular}
	}
	buf := make([]byte, n)
	got, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, &Error{Name: name, Err: unwrapPath(err)}
	}
	return buf[:got], nil
}
