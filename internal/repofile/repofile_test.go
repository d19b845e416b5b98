package repofile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "ok.yaml"), []byte("a: 1\n"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "big.yaml"), make([]byte, 2048), 0o644))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("password: x\n"), 0o644))
	must(os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	root, err := os.OpenRoot(dir)
	must(err)
	defer root.Close()

	if data, err := Read(root, "ok.yaml", 1024); err != nil || string(data) != "a: 1\n" {
		t.Errorf("ok.yaml: %q, %v", data, err)
	}
	if _, err := Read(root, "big.yaml", 1024); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), `"big.yaml" is larger than 1 KiB`) {
		t.Errorf("big.yaml: %v", err)
	}
	if _, err := Read(root, "sub", 1024); !errors.Is(err, ErrNotRegular) {
		t.Errorf("directory: %v", err)
	}
}
