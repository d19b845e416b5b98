package atomicfile

import (
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// canSyncFS reports whether syncfs(2) can stand in for a sync of each
// file: it writes out and waits for all of the file system's data, and
// from Linux 5.8 on it also reports the write-back errors of files written
// since the handle it is given was opened, as fsync would. Older kernels
// drop those errors, so each file is synced instead.
var canSyncFS = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	major, minor, ok := kernelVersion(unix.ByteSliceToString(u.Release[:]))
	return ok && (major > 5 || major == 5 && minor >= 8)
})

// kernelVersion reads "6.8.0-45-generic" (or "5.8-rc1") as 6 and 8.
func kernelVersion(release string) (major, minor int, ok bool) {
	a, rest, _ := strings.Cut(release, ".")
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		rest = rest[:i]
	}
	x, err1 := strconv.Atoi(a)
	y, err2 := strconv.Atoi(rest)
	return x, y, err1 == nil && err2 == nil
}

// syncFS flushes the file system holding f.
func syncFS(f *os.File) error {
	return unix.Syncfs(int(f.Fd()))
}
