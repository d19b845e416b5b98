//go:build !linux

package atomicfile

import (
	"errors"
	"os"
)

// canSyncFS: outside Linux, each file of a batch is synced on its own.
func canSyncFS() bool { return false }

func syncFS(*os.File) error { return errors.ErrUnsupported }
