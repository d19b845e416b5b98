//go:build unix

package repofile

import "syscall"

// openFlags opens without blocking: a FIFO put in place of a checked
// regular file returns at once rather than waiting for a writer.
const openFlags = syscall.O_NONBLOCK
