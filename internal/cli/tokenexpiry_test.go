package cli

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestFlagDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		720 * time.Hour:              "720h",
		90 * time.Minute:             "1h30m",
		90 * time.Second:             "1m30s",
		time.Hour + time.Second:      "1h0m1s",
		0:                            "0s",
		-168 * time.Hour:             "-168h",
		1500 * time.Millisecond:      "1.5s",
		24*time.Hour + 5*time.Minute: "24h5m",
	} {
		if got := flagDuration(d); got != want {
			t.Errorf("flagDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestRotationScheduleCheck: a window not longer than the interval between
// runs lets a token expire unseen, so it is a usage error naming both
// flags.
func TestRotationScheduleCheck(t *testing.T) {
	for _, tc := range []struct {
		within, every time.Duration
		want          string // "" valid
	}{
		{720 * time.Hour, 168 * time.Hour, ""},
		{720 * time.Hour, 24 * time.Hour, ""},
		{169 * time.Hour, 168 * time.Hour, ""},
		{168 * time.Hour, 168 * time.Hour, "--rotate-within 168h must be longer than --rotate-every 168h"},
		{24 * time.Hour, 168 * time.Hour, "--rotate-within 24h must be longer than --rotate-every 168h"},
		{-time.Hour, 168 * time.Hour, "--rotate-within -1h must be longer than --rotate-every 168h"},
		{720 * time.Hour, 0, "--rotate-every 0s: must be positive"},
	} {
		err := rotationSchedule{within: tc.within, every: tc.every}.check()
		var usage usageError
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v/%v: %v, want valid", tc.within, tc.every, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &usage)):
			t.Errorf("%v/%v: %v, want a usage error with %q", tc.within, tc.every, err, tc.want)
		}
	}
}

// TestTokenAdvice walks a token's remaining life across the boundaries of
// a rotation scheduled daily with a 240h window.
func TestTokenAdvice(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := rotationSchedule{within: 240 * time.Hour, every: 24 * time.Hour}
	for _, tc := range []struct {
		left  time.Duration
		state string // "" nothing to say
		msg   string
		cmd   string
	}{
		{240*time.Hour + time.Second, "", "", ""},
		{240 * time.Hour, tokenInWindow, "token expires in 10d, inside the scheduled rotation's window (240h)", "runnerctl rotate-token --all --if-expires-within 240h"},
		{24*time.Hour + time.Second, tokenInWindow, "token expires in 24h, inside the scheduled rotation's window (240h)", "runnerctl rotate-token --all --if-expires-within 240h"},
		{24 * time.Hour, tokenBeforeNextRun, "token expires in 24h, before the next scheduled rotation could run (it runs every 24h)", "runnerctl rotate-token web"},
		{time.Second, tokenBeforeNextRun, "token expires in 1s, before the next scheduled rotation could run (it runs every 24h)", "runnerctl rotate-token web"},
		{0, tokenExpired, "token expired 0s ago: the runner cannot authenticate to GitLab", "runnerctl rotate-token web"},
		{-50 * time.Hour, tokenExpired, "token expired 2d ago: the runner cannot authenticate to GitLab", "runnerctl rotate-token web"},
	} {
		at := now.Add(tc.left)
		w := s.tokenAdvice("web", &at, now)
		if tc.state == "" {
			if w != nil {
				t.Errorf("%v left: %+v, want nothing", tc.left, w)
			}
			continue
		}
		if w == nil || w.State != tc.state || w.Message != tc.msg || w.Command != tc.cmd || w.failed() != (tc.state == tokenExpired) {
			t.Errorf("%v left: %+v, want %s %q %q", tc.left, w, tc.state, tc.msg, tc.cmd)
		}
	}
	if w := s.tokenAdvice("web", nil, now); w != nil {
		t.Errorf("a token that never expires: %+v", w)
	}
}

// An expired token makes status fail, with the command that fixes it.
func TestStatusExpiredTokenIsAProblem(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := rotationSchedule{within: defaultRotateWithin, every: defaultRotateEvery}
	rows := statusRows(now)
	past, soon := now.Add(-time.Hour), now.Add(time.Hour)
	rows[0].TokenWarning = s.tokenAdvice(rows[0].Name, &past, now)
	rows[1].TokenWarning = s.tokenAdvice(rows[1].Name, &soon, now)
	if p := rows[0].problem(); p != "token expired" {
		t.Errorf("problem of an expired token: %q", p)
	}
	if p := rows[1].problem(); p != "files out of date" {
		t.Errorf("a token expiring soon is a warning, not a problem: %q", p)
	}
	if h := hint(rows, nil); h != "; run `runnerctl rotate-token ci`; run `runnerctl render` and commit the result" {
		t.Errorf("hint %q", h)
	}
}
