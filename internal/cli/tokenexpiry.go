package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of --rotate-within and --rotate-every: the CI template
// (examples/ci/.gitlab-ci.yml) runs rotate-token --all --if-expires-within
// 720h on a schedule, daily or weekly; weekly is the slowest it suggests.
const (
	defaultRotateWithin = 720 * time.Hour
	defaultRotateEvery  = 168 * time.Hour
)

// rotationSchedule is the scheduled rotation that status and doctor judge
// token expiry against.
type rotationSchedule struct {
	within time.Duration // the schedule's --if-expires-within
	every  time.Duration // how often the schedule runs
}

// addRotationFlags adds --rotate-within and --rotate-every to a command,
// bound to s; check them with check.
func addRotationFlags(f *pflag.FlagSet, s *rotationSchedule) {
	f.DurationVar(&s.within, "rotate-within", defaultRotateWithin,
		"the --if-expires-within of your scheduled rotate-token --all: a token expiring within this is rotated by the next run")
	f.DurationVar(&s.every, "rotate-every", defaultRotateEvery,
		"how often the scheduled rotation runs (the CI template suggests daily or weekly): a token expiring sooner may expire before the next run")
}

// check refuses a schedule that cannot keep tokens alive: when the window
// is not longer than the interval between runs, a token can reach its
// expiry between two runs without being inside the window at either.
func (s rotationSchedule) check() error {
	switch {
	case s.every <= 0:
		return usageError{fmt.Errorf("--rotate-every %s: must be positive (how often the scheduled rotation runs)", flagDuration(s.every))}
	case s.within <= s.every:
		return usageError{fmt.Errorf("--rotate-within %s must be longer than --rotate-every %s: a scheduled rotation that runs every %s and rotates only tokens expiring within %s can miss a token, which then expires between two runs",
			flagDuration(s.within), flagDuration(s.every), flagDuration(s.every), flagDuration(s.within))}
	}
	return nil
}

// scheduledCommand is the scheduled rotation as the CI template runs it.
func (s rotationSchedule) scheduledCommand() string {
	return "runnerctl rotate-token --all --if-expires-within " + flagDuration(s.within)
}

// States of a token that status and doctor warn about; the JSON values are
// a contract.
const (
	tokenExpired       = "expired"                      // the runner cannot authenticate
	tokenBeforeNextRun = "expires-before-next-rotation" // rotate it by hand, now
	tokenInWindow      = "in-rotation-window"           // the next scheduled run rotates it
)

// tokenWarning is what status and doctor say about a token that expires
// soon; its JSON names are a contract.
type tokenWarning struct {
	State   string `json:"state"`
	Message string `json:"message"`
	// Command is what to run now (expired, expires-before-next-rotation),
	// or the scheduled rotation that will rotate the token
	// (in-rotation-window).
	Command string `json:"command"`
}

// failed says whether the token can no longer be used.
func (w *tokenWarning) failed() bool { return w.State == tokenExpired }

// fix is the advice of a warning as one sentence.
func (w *tokenWarning) fix() string {
	if w.State == tokenInWindow {
		return "nothing to do while the schedule runs: the next scheduled `" + w.Command + "` rotates it"
	}
	return "run `" + w.Command + "`"
}

// tokenAdvice judges the token of runner name, which expires at (nil:
// never), at time now: nil when there is nothing to say.
func (s rotationSchedule) tokenAdvice(name string, at *time.Time, now time.Time) *tokenWarning {
	if at == nil {
		return nil
	}
	rotateNow := "runnerctl rotate-token " + name
	switch left := at.Sub(now); {
	case left <= 0:
		return &tokenWarning{State: tokenExpired, Command: rotateNow,
			Message: fmt.Sprintf("token expired %s ago: the runner cannot authenticate to GitLab", shortDuration(-left))}
	case left <= s.every:
		return &tokenWarning{State: tokenBeforeNextRun, Command: rotateNow,
			Message: fmt.Sprintf("token expires in %s, before the next scheduled rotation could run (it runs every %s)", shortDuration(left), flagDuration(s.every))}
	case left <= s.within:
		return &tokenWarning{State: tokenInWindow, Command: s.scheduledCommand(),
			Message: fmt.Sprintf("token expires in %s, inside the scheduled rotation's window (%s)", shortDuration(left), flagDuration(s.within))}
	}
	return nil
}

// flagDuration writes d as a user would type it: 720h, 1h30m, 90s.
func flagDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
