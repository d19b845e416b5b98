//go:build !unix

package repofile

// openFlags: other systems have no FIFO that open would block on.
const openFlags = 0
