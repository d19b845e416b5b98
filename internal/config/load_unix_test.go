//go:build unix

package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/repofile"
)

// TestLoadRefuses: runnerctl.yaml is a regular file of at most 1 MiB
// inside its directory; devices, FIFOs, links leading out and oversized
// files are refused quickly, without reading them (issue 13, items 3, 4).
func TestLoadRefuses(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$hashhash:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(minimal+"# "+strings.Repeat("x", config.MaxFileSize)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "runnerctl.yaml")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": `read config "/dev/zero": is not a regular file`,
		fifo:        "is not a regular file",
		big:         "is larger than 1 MiB",
		link:        "path escapes from parent",
	} {
		done := make(chan error, 1)
		go func() { _, err := config.Load(path); done <- err }()
		select {
		case err := <-done:
			var re *config.ReadError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "hash") {
				t.Errorf("%s: %v, want a ReadError containing %q", path, err, want)
			}
			if path == fifo && !errors.Is(err, repofile.ErrNotRegular) {
				t.Errorf("%s: %v does not wrap ErrNotRegular", path, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: Load did not return", path)
		}
	}
}
