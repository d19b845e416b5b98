package cli

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// withHelpers runs the tests with runnerctl-secrets and runnerctl-kube
// built from cmd/ into a directory put first on PATH, where runnerctl finds
// them (helper.Find: next to runnerctl, else on PATH). They are separate
// binaries, as released, rather than more names of this test binary: this
// one then links neither Kubernetes, Helm nor the cloud SDKs, and each of
// the hundreds of runnerctl processes the scripts start pays for none of
// their initialisation (about half of a start under the race detector).
//
// runnerctl-secrets is built with -race when this binary is; runnerctl-kube
// never is. Under the race detector one `validate --crds` of a runner took
// 11.4 s instead of 1.7 s (compiling the CRD schemas is most of it), and
// the scripts run validate, status and doctor dozens of times: that was
// most of this package's 8 minutes under -race. The code that runs inside
// runnerctl-kube is tested under -race by its own packages (internal/kube).
type withHelpers struct{ m *testing.M }

func (w withHelpers) Run() int {
	dir, err := os.MkdirTemp("", "runnerctl-helpers-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	builds := [][]string{{"../../cmd/runnerctl-kube"}, {"../../cmd/runnerctl-secrets"}}
	if raceEnabled {
		builds[1] = append([]string{"-race"}, builds[1]...)
	}
	for _, b := range builds {
		cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, b...)...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build the helpers for the tests: %v\n", err)
			return 1
		}
	}
	os.Setenv("PATH", dir+string(filepath.ListSeparator)+os.Getenv("PATH"))
	waitBoundParallel()
	return w.m.Run()
}

// waitBoundParallel lets more scripts run at once than there are
// processors, unless -parallel was given. A script spends most of its time
// waiting: for the processes it starts, for a fake's delays, for a lock,
// a retry or a deadline (the package used about 4.5 minutes of processor
// time in 7 minutes on 2 cores). With -parallel at its default, GOMAXPROCS,
// two waiting scripts held both slots. At 8x the package takes 3.7 minutes
// and keeps both processors about 85% busy (4x: 3.9 minutes).
func waitBoundParallel() {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(8*runtime.GOMAXPROCS(0)))
	}
}
