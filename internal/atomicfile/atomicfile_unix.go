//go:build !windows

package atomicfile

import (
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

func writeFile(path string, data []byte, perm uint32) error {
	return renameio.WriteFile(path, data, os.FileMode(perm), renameio.WithTempDir(filepath.Dir(path)))
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

func syncRootDir(d *os.Root) error {
	f, err := d.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// chmodExact gives f exactly mode, whatever the umask.
func chmodExact(f *os.File, mode os.FileMode) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Mode().Perm() == mode {
		return nil
	}
	return f.Chmod(mode)
}
