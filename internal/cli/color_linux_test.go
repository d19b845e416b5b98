package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's two ends: what is written to tty can
// be read from master.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skipf("pty number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open pty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return master, tty
}

// TestColorsOnlyOnTerminals runs profiles show (its warning is colored) with
// stdout and stderr on a terminal or in a file: colors reach a terminal
// only, and never with NO_COLOR or --no-color.
func TestColorsOnlyOnTerminals(t *testing.T) {
	const red = "\x1b[1;31m"
	run := func(t *testing.T, stdoutTTY, stderrTTY bool, getenv map[string]string, extra ...string) string {
		master, tty := openPTY(t)
		file, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer file.Close()
		var fromTTY bytes.Buffer
		done := make(chan struct{})
		go func() { _, _ = io.Copy(&fromTTY, master); close(done) }()
		e := &factory{stdin: strings.NewReader(""), stdout: file, stderr: file, getenv: func(k string) string { return getenv[k] }}
		if stdoutTTY {
			e.stdout = tty
		}
		if stderrTTY {
			e.stderr = tty
		}
		args := append([]string{"profiles", "show", "privileged-dind", "--config", filepath.Join(t.TempDir(), "none.yaml")}, extra...)
		if code := Run(args, e); code != ExitOK {
			t.Fatalf("exit %d", code)
		}
		tty.Close()
		master.SetReadDeadline(time.Now().Add(2 * time.Second)) // in case closing tty does not end the copy
		<-done
		inFile, _ := os.ReadFile(file.Name())
		if stdoutTTY {
			return fromTTY.String()
		}
		return string(inFile)
	}
	for _, tc := range []struct {
		name                 string
		stdoutTTY, stderrTTY bool
		getenv               map[string]string
		extra                []string
		wantColor            bool
	}{
		{"both on a terminal", true, true, nil, nil, true},
		{"stdout into a file, stderr on a terminal", false, true, nil, nil, false},
		{"NO_COLOR", true, true, map[string]string{"NO_COLOR": "1"}, nil, false},
		{"--no-color", true, true, nil, []string{"--no-color"}, false},
		{"RUNNERCTL_NO_COLOR", true, true, map[string]string{"RUNNERCTL_NO_COLOR": "true"}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, tc.stdoutTTY, tc.stderrTTY, tc.getenv, tc.extra...)
			if !strings.Contains(out, "WARNING: ") {
				t.Fatalf("no warning in the output:\n%s", out)
			}
			if got := strings.Contains(out, red); got != tc.wantColor {
				t.Errorf("colored: %v, want %v:\n%q", got, tc.wantColor, out)
			}
		})
	}
}
