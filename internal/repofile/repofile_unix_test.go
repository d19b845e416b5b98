//go:build unix

package repofile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadRefuses: links leading out, FIFOs and devices are never read.
func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("a: 1\n"), 0o644))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("password: x\n"), 0o644))
	root, err := os.OpenRoot(dir)
	must(err)
	defer root.Close()
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link.yaml")))
	if data, err := Read(root, "link.yaml", 1024); err == nil || strings.Contains(err.Error(), "password") {
		t.Errorf("a link leading outside was read: %q, %v", data, err)
	}
	must(os.Symlink("ok.yaml", filepath.Join(dir, "inside.yaml")))
	if _, err := Read(root, "inside.yaml", 1024); err != nil {
		t.Errorf("a link inside the root: %v", err)
	}
	must(syscall.Mkfifo(filepath.Join(dir, "fifo.yaml"), 0o644))
	done := make(chan error, 1)
	go func() { _, err := Read(root, "fifo.yaml", 1024); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Errorf("FIFO: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO blocked")
	}
	if _, err := ReadFile("/dev/zero", 1024); !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/zero: %v", err)
	}
}
