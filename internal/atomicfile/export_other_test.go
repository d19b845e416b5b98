//go:build !linux

package atomicfile

func kernelVersionForTest(string) (int, int, bool) { return 0, 0, false }
