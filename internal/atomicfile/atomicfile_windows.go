//go:build windows

package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
)

// writeFile is renameio's sequence by hand: renameio has no Windows
// support, as no atomic replace is guaranteed there across a crash. The
// rename is MoveFileEx with MOVEFILE_REPLACE_EXISTING (os.Rename), which
// replaces the file in one step on the same volume: readers never see half
// a file; a crash mid-rename is the best effort Windows allows.
func writeFile(path string, data []byte, perm uint32) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(os.FileMode(perm)); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func syncDir(string) error { return nil }

func syncRootDir(*os.Root) error { return nil }

// chmodExact sets what Windows keeps of mode (the read-only bit).
func chmodExact(f *os.File, mode os.FileMode) error {
	if err := f.Chmod(mode); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
