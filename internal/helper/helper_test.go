package helper

import (
	"context"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// Started as a helper (`serve`), the test binary answers every request
// with its own environment.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "serve" {
		if err := serveLines(os.Stdin, os.Stdout, "env-helper", func(struct{}) []string { return os.Environ() }); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The helper's environment is exactly the one given: nothing of runnerctl's
// own comes along, and nil means empty, not inherited.
func TestStartGivesExactlyEnv(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITLAB_TOKEN", "glpat-not-for-helpers")
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"given", []string{"HELPER_TEST_A=1", "HELPER_TEST_B="}},
		{"nil", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := startProcess(exe, "env-helper", tc.env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got []string
			if err := c.roundTrip(context.Background(), struct{}{}, &got); err != nil {
				t.Fatal(err)
			}
			if runtime.GOOS == "windows" {
				// os/exec adds SYSTEMROOT there, which Windows needs.
				got = slices.DeleteFunc(got, func(kv string) bool { return strings.HasPrefix(strings.ToUpper(kv), "SYSTEMROOT=") })
			}
			want := tc.env
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("the helper's environment:\n got %q\nwant %q", got, want)
			}
		})
	}
}
