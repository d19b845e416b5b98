package gitlab

import (
	"strings"
	"testing"
)

// Every operation is documented for scripts.
func TestCmdUsageListsEveryOp(t *testing.T) {
	_, list, ok := strings.Cut(CmdUsage, "OP is one of: ")
	if !ok {
		t.Fatal("CmdUsage lists no operations")
	}
	if got, want := list, strings.Join(allOps, ", "); got != want {
		t.Errorf("CmdUsage lists %q, want %q", got, want)
	}
}
