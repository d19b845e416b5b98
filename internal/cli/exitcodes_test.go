package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExitCodesOfBadInput: every command reports input it cannot use
// (a runnerctl.yaml that is missing, an unknown subcommand or name, a bad
// flag) with exit 2, as DESIGN.md's contract says, and never with 1, which
// render --check, status and doctor use for "not up to date" or "a check
// failed".
func TestExitCodesOfBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "runnerctl.yaml")
	for _, args := range [][]string{
		{"render", "--config", missing},
		{"render", "--check", "--config", missing},
		{"status", "--offline", "--config", missing},
		{"doctor", "--offline", "--config", missing},
		{"rotate-token", "--all", "--config", missing},
		{"profiles", "nosuch"},
		{"profiles", "show", "nosuch"},
		{"completion", "nosh"},
		{"version", "extra"},
		{"nosuch"},
		{"status", "--bogus"},
		{"version", "-o", "yaml"},
	} {
		var out, errOut strings.Builder
		e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
		if code := Run(args, e); code != ExitUsage {
			t.Errorf("runnerctl %s: exit %d, want %d; stderr %q", strings.Join(args, " "), code, ExitUsage, errOut.String())
		} else if !strings.HasPrefix(errOut.String(), "runnerctl: ") {
			t.Errorf("runnerctl %s: stderr %q, want a runnerctl: message", strings.Join(args, " "), errOut.String())
		}
	}
}

// TestErrorsAreEscaped: an error repeating what the user typed (cobra's
// "unknown flag") cannot color, clear or reorder the terminal.
func TestErrorsAreEscaped(t *testing.T) {
	code, _, stderr := runQuiet("--\x1b[2Jred", "render")
	if code != ExitUsage || strings.ContainsAny(stderr, "\x1b") || !strings.Contains(stderr, `unknown flag: --\x1b[2Jred`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = runQuiet("profiles", "show", "bidi\u202eevil")
	if code != ExitUsage || strings.Contains(stderr, "\u202e") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestGroupCommandsPrintHelp: a command group alone prints its help and
// succeeds.
func TestGroupCommandsPrintHelp(t *testing.T) {
	for _, group := range []string{"profiles", "completion"} {
		var out, errOut strings.Builder
		e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
		if code := Run([]string{group}, e); code != ExitOK || !strings.Contains(out.String(), "Available Commands:") {
			t.Errorf("runnerctl %s: exit %d, stdout %q, stderr %q", group, code, out.String(), errOut.String())
		}
	}
}

// TestRenderStdoutJSON: render --stdout -o json gives the files as JSON,
// with the same content as the text stream.
func TestRenderStdoutJSON(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "runnerctl.yaml")
	spec := "apiVersion: runnerctl.dev/v1alpha1\nkind: Config\ngitlab: {url: \"https://gitlab.example.com/\"}\n" +
		"gitops: {repoURL: \"https://gitlab.example.com/ops/gitops.git\"}\nsecrets: {backend: vault, store: {name: vault}}\nrunners: [{name: ci}]\n"
	if err := os.WriteFile(cfg, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		var out, errOut strings.Builder
		e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
		if code := Run(append([]string{"render", "--stdout", "--config", cfg}, args...), e); code != ExitOK {
			t.Fatalf("render --stdout %q: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	var files []struct{ Path, Content string }
	if err := json.Unmarshal([]byte(run("-o", "json")), &files); err != nil {
		t.Fatal(err)
	}
	if len(files) < 3 {
		t.Fatalf("%d files", len(files))
	}
	text := run()
	for _, f := range files {
		if !strings.Contains(text, "# Source: "+f.Path+"\n"+f.Content) {
			t.Errorf("%s: JSON content differs from the text stream", f.Path)
		}
	}
}
