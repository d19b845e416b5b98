package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// withHelpers runs the tests with runnerctl-secrets and runnerctl-kube
// built from cmd/ into a directory put first on PATH, where runnerctl finds
// them (helper.Find: next to runnerctl, else on PATH). They are separate
// binaries, as released, rather than more names of this test binary: this
// one then links neither Kubernetes, Helm nor the cloud SDKs, and each of
// the hundreds of runnerctl processes the scripts start pays for none of
// their initialisation (about half of a start under the race detector).
// Built with -race when this binary is.
type withHelpers struct{ m *testing.M }

func (w withHelpers) Run() int {
	dir, err := os.MkdirTemp("", "runnerctl-helpers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "../../cmd/runnerctl-secrets", "../../cmd/runnerctl-kube")
	cmd := exec.Command("go", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "build the helpers for the tests: %v\n", err)
		return 1
	}
	os.Setenv("PATH", dir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	return w.m.Run()
}
