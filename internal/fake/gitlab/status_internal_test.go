package gitlab

import (
	"testing"
	"time"
)

// restStatus follows Ci::Runner#deprecated_rest_status.
func TestRESTStatus(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	for _, tc := range []struct {
		name      string
		created   time.Duration // ago
		contacted *time.Time
		paused    bool
		want      string
	}{
		{"new", time.Hour, nil, false, "never_contacted"},
		{"new paused", time.Hour, nil, true, "never_contacted"},
		{"never contacted for over a week", 8 * 24 * time.Hour, nil, false, "stale"},
		{"recent contact", 30 * 24 * time.Hour, at(time.Minute), false, "online"},
		{"contact just under 2h ago", time.Hour * 3, at(2*time.Hour - time.Second), false, "online"},
		{"contact 3h ago", 30 * 24 * time.Hour, at(3 * time.Hour), false, "offline"},
		{"paused after contact", 30 * 24 * time.Hour, at(time.Minute), true, "paused"},
		{"last contact over a week ago", 30 * 24 * time.Hour, at(8 * 24 * time.Hour), false, "stale"},
	} {
		if got := restStatus(now.Add(-tc.created), tc.contacted, tc.paused, now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
