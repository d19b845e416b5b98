// Package atomicfile replaces a file's content in one step: a reader sees
// the old content or the new, never half of it, and a crash leaves one of
// them. The temporary file is made in the target's own directory (never in
// $TMPDIR: runnerctl's recovery files hold tokens), so a file that a
// killed write leaves behind is ".NAME" followed by digits, next to NAME.
package atomicfile

import "path/filepath"

// WriteFile writes data to path with permissions perm: into a temporary
// file in path's directory, synced, then renamed over path.
func WriteFile(path string, data []byte, perm uint32) error {
	return writeFile(filepath.Clean(path), data, perm)
}

// SyncDir makes the creation, rename or removal of an entry in dir
// durable across a crash of the machine (on Windows, where a directory
// cannot be synced, it does nothing).
func SyncDir(dir string) error { return syncDir(dir) }
