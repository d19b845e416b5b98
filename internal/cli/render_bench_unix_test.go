//go:build unix

package cli

import "syscall"

// flushDisk writes out everything the system has not written yet.
func flushDisk() { syscall.Sync() }
