package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/gitlab"
)

func TestShortDurations(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{now, "0s ago"},
		{now.Add(-45 * time.Second), "45s ago"},
		{now.Add(-3*time.Minute - 59*time.Second), "3m ago"},
		{now.Add(-5 * time.Hour), "5h ago"},
		{now.Add(-47 * time.Hour), "47h ago"},
		{now.Add(-49 * time.Hour), "2d ago"},
		{now.Add(-400 * 24 * time.Hour), "400d ago"},
		{now.Add(90 * time.Minute), "in 1h"},
		{now.Add(720 * time.Hour), "in 30d"},
	} {
		if got := ago(now, tc.at); got != tc.want {
			t.Errorf("ago(now, now%+v) = %q, want %q", tc.at.Sub(now), got, tc.want)
		}
	}
	past, future := now.Add(-26*time.Hour), now.Add(time.Minute)
	for _, tc := range []struct {
		at   *time.Time
		want string
	}{{nil, "never"}, {&past, "expired 26h ago"}, {&now, "expired 0s ago"}, {&future, "in 1m"}} {
		if got := tokenExpiry(now, tc.at); got != tc.want {
			t.Errorf("tokenExpiry(%v) = %q, want %q", tc.at, got, tc.want)
		}
	}
}

func statusRows(now time.Time) []statusRow {
	contacted := now.Add(-3 * time.Minute)
	expires := now.Add(30 * 24 * time.Hour)
	one, two, three := int64(1), int64(22), int64(333)
	ci := statusRow{Name: "ci", RunnerID: &one, FilesUpToDate: true}
	ci.setGitLab(&gitlab.Status{ID: 1, Status: "online", ContactedAt: &contacted, Version: "18.9.0", TokenExpiresAt: &expires}, nil)
	web := statusRow{Name: "web-long-name", RunnerID: &two, PendingFiles: []pendingFile{{"values/x.yaml", "update"}, {"manifests/y.yaml", "create"}}}
	web.setGitLab(&gitlab.Status{ID: 22, Status: "never_contacted", Paused: true}, nil)
	gone := statusRow{Name: "gone", RunnerID: &three, FilesUpToDate: true}
	gone.setGitLab(nil, fmt.Errorf("runner 333: %w", gitlab.ErrNotFound))
	return []statusRow{ci, web, gone, {Name: "new", Status: statusNotCreated, FilesUpToDate: true}}
}

func TestStatusTable(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var b strings.Builder
	if err := writeStatusTable(&b, statusRows(now), now, false); err != nil {
		t.Fatal(err)
	}
	want := `NAME           ID   GITLAB             PAUSED  LAST CONTACT  VERSION  TOKEN EXPIRES  FILES
ci             1    online             no      3m ago        18.9.0   in 30d         up to date
web-long-name  22   never_contacted    yes     never         -        never          2 out of date
gone           333  missing in GitLab  -       -             -        -              up to date
new            -    not created        -       -             -        -              up to date
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

// With colors, every cell of a painted column carries escape codes of the
// same length, so that the columns stay aligned once the codes are gone.
func TestStatusTableColorStaysAligned(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	var plain, colored strings.Builder
	if err := writeStatusTable(&plain, statusRows(now), now, false); err != nil {
		t.Fatal(err)
	}
	if err := writeStatusTable(&colored, statusRows(now), now, true); err != nil {
		t.Fatal(err)
	}
	got := colored.String()
	if !strings.Contains(got, colorGreen+"online"+colorReset) || !strings.Contains(got, colorRed+"missing in GitLab"+colorReset) {
		t.Errorf("no colors in:\n%q", got)
	}
	stripped := got
	for _, c := range []string{colorNone, colorGreen, colorYellow, colorRed, colorReset} {
		stripped = strings.ReplaceAll(stripped, c, "")
	}
	// Stripped, every line has its cells at the same columns.
	lines := strings.Split(strings.TrimSuffix(stripped, "\n"), "\n")
	want := cellStarts(lines[0])
	if len(want) != 8 {
		t.Fatalf("header %q: %d cells", lines[0], len(want))
	}
	for _, l := range lines[1:] {
		if got := cellStarts(l); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("colored table misaligned:\n%s", stripped)
			break
		}
	}
}

// cellStarts are the indexes where a table cell begins: at 0, or after two
// or more spaces.
func cellStarts(line string) []int {
	var out []int
	for i := range line {
		if line[i] != ' ' && (i == 0 || (i >= 2 && line[i-1] == ' ' && line[i-2] == ' ')) {
			out = append(out, i)
		}
	}
	return out
}

func TestStatusProblems(t *testing.T) {
	now := time.Now()
	rows := statusRows(now)
	var got []string
	for i := range rows {
		got = append(got, rows[i].problem())
	}
	want := []string{"", "files out of date", "missing in GitLab", "not created"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("problems %q, want %q", got, want)
	}
}

// fakeReader answers RunnerStatus after a pause, counting how many calls
// run at once.
type fakeReader struct {
	mu            sync.Mutex
	running, peak int
	checkErr      error
}

func (f *fakeReader) CheckReadToken(context.Context) error { return f.checkErr }

func (f *fakeReader) RunnerStatus(ctx context.Context, id int64) (*gitlab.Status, error) {
	f.mu.Lock()
	f.running++
	f.peak = max(f.peak, f.running)
	f.mu.Unlock()
	time.Sleep(5 * time.Millisecond)
	f.mu.Lock()
	f.running--
	f.mu.Unlock()
	switch id % 3 {
	case 0:
		return nil, fmt.Errorf("runner %d: %w", id, gitlab.ErrNotFound)
	case 1:
		return nil, errors.New("GitLab answered 500")
	}
	return &gitlab.Status{ID: id, Status: "online"}, nil
}

func TestAskGitLabBoundedAndInOrder(t *testing.T) {
	rows := make([]statusRow, 40)
	for i := range rows {
		id := int64(i + 1)
		rows[i] = statusRow{Name: fmt.Sprintf("r%d", i), RunnerID: &id}
	}
	rows[5].RunnerID, rows[5].Status = nil, statusNotCreated
	f := &fakeReader{}
	if err := askGitLab(context.Background(), f, rows); err != nil {
		t.Fatal(err)
	}
	if f.peak > statusParallel || f.peak < 2 {
		t.Errorf("%d requests at once, want 2..%d", f.peak, statusParallel)
	}
	for i, r := range rows {
		want := map[int]string{0: statusMissing, 1: statusError, 2: "online"}[(i+1)%3]
		if i == 5 {
			want = statusNotCreated
		}
		if r.Status != want || r.Name != fmt.Sprintf("r%d", i) {
			t.Errorf("row %d: %s %s, want r%d %s", i, r.Name, r.Status, i, want)
		}
		if (r.Status == statusError) != (r.Error != "") {
			t.Errorf("row %d: status %s with error %q", i, r.Status, r.Error)
		}
	}
}

func TestAskGitLabStopsOnTokenError(t *testing.T) {
	f := &fakeReader{checkErr: &gitlab.ReadScopeError{Have: []string{"create_runner"}}}
	id := int64(1)
	rows := []statusRow{{Name: "ci", RunnerID: &id}}
	err := askGitLab(context.Background(), f, rows)
	var se *gitlab.ReadScopeError
	if !errors.As(err, &se) || f.peak != 0 {
		t.Errorf("err %v after %d requests, want a ReadScopeError and none", err, f.peak)
	}
}

func TestStatusNamedRunners(t *testing.T) {
	spec := `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/ops/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
runners: [{name: shared}, {name: frontend}, {name: payments}]
`
	cfg := filepath.Join(t.TempDir(), "runnerctl.yaml")
	if err := os.WriteFile(cfg, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errOut strings.Builder
		e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
		code := Run(append([]string{"status", "--offline", "-o", "json", "--config", cfg}, args...), e)
		return code, out.String(), errOut.String()
	}
	names := func(out string) []string {
		var rows []statusRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatalf("%v:\n%s", err, out)
		}
		var n []string
		for _, r := range rows {
			n = append(n, r.Name)
		}
		return n
	}
	// Nothing rendered yet: every runner's files are out of date.
	code, out, _ := run()
	if got := names(out); code != ExitFailure || !slices.Equal(got, []string{"shared", "frontend", "payments"}) {
		t.Errorf("status: exit %d, runners %q", code, got)
	}
	code, out, _ = run("payments", "shared")
	if got := names(out); code != ExitFailure || !slices.Equal(got, []string{"shared", "payments"}) {
		t.Errorf("status payments shared: exit %d, runners %q (want spec order)", code, got)
	}
	code, out, errOut := run("shared", "nope")
	if code != ExitUsage || out != "" || !strings.Contains(errOut, `no runner named "nope" in runnerctl.yaml (runners: shared, frontend, payments)`) {
		t.Errorf("status shared nope: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
