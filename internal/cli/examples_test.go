package cli

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestExamplesUpToDate renders every example and fails when its committed
// output differs (regenerate with: go run ./cmd/runnerctl render --config
// examples/NAME/runnerctl.yaml).
func TestExamplesUpToDate(t *testing.T) {
	specs, err := filepath.Glob("../../examples/*/runnerctl.yaml")
	if err != nil || len(specs) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, spec := range specs {
		t.Run(filepath.Base(filepath.Dir(spec)), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run([]string{"render", "--check", "--config", spec}, env{
				stdin: &bytes.Buffer{}, stdout: &stdout, stderr: &stderr,
				getenv: func(string) string { return "" },
			})
			if code != ExitOK {
				t.Fatalf("render --check exited %d:\n%s%s", code, stdout.String(), stderr.String())
			}
		})
	}
}
