package custody

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Each cluster's runner of a runner with clusters is kept, intended and
// locked under its instance ID NAME@CLUSTER: the files of one runner's
// clusters, and of a plain runner of the same name, never mix, and a
// cluster whose name extends another's (eu-1, eu-1-2) finds only its own.
func TestInstanceIDsKeepClustersApart(t *testing.T) {
	d := openTemp(t)
	keep := func(runner string, id int64) string {
		t.Helper()
		p, err := d.Keep(Kept{GitLabURL: "https://gitlab.example.com", Runner: runner, RunnerID: id, Backend: "vault",
			Location: secrets.Location{Key: "gitlab/runners/" + runner}, Token: secrets.NewToken(canary)}, "store it")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	keep("build", 7)
	keep("build@eu-1", 41)
	keep("build@eu-1-2", 43)
	keep("build@us-1", 42)
	ids := func(runner string, more ...string) []int64 {
		t.Helper()
		ks, err := d.Kept(runner, more...)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, k := range ks {
			out = append(out, k.RunnerID)
		}
		return out
	}
	for _, c := range []struct {
		runner string
		more   []string
		want   []int64
	}{
		{"build", nil, []int64{7}},
		{"build@eu-1", nil, []int64{41}},
		{"build@us-1", nil, []int64{42}},
		// Files under the bare name too, as a caller that looks for one
		// runner ID of a cluster asks (files of a runnerctl from before
		// clusters); the same name twice lists its files once.
		{"build@eu-1", []string{"build"}, []int64{7, 41}},
		{"build", []string{"build"}, []int64{7}},
	} {
		if got := ids(c.runner, c.more...); !slices.Equal(got, c.want) {
			t.Errorf("Kept(%q, %q) = %v, want %v", c.runner, c.more, got, c.want)
		}
	}

	marker := gitlab.NewMarker("0123abcd")
	in, err := d.Begin(Intent{Kind: IntentCreate, GitLabURL: "https://gitlab.example.com", Runner: "build@eu-1", Marker: marker, Description: "runnerctl build (eu-1)"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(filepath.Base(in.Path), "build@eu-1-create-") {
		t.Errorf("intent file %s is not named for the instance", in.Path)
	}
	for runner, want := range map[string]int{"build@eu-1": 1, "build": 0, "build@us-1": 0, "build@eu-1-2": 0} {
		got, err := d.Intents(runner)
		if err != nil || len(got) != want {
			t.Errorf("Intents(%q) = %d intents (%v), want %d", runner, len(got), err, want)
		}
	}

	// Two clusters of one runner lock apart; the same instance twice does not.
	unlockEU, err := d.Lock("build@eu-1", "aaaa0001", "test")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockEU()
	unlockUS, err := d.Lock("build@us-1", "aaaa0002", "test")
	if err != nil {
		t.Fatalf("the lock of build@us-1 is held by build@eu-1's: %v", err)
	}
	unlockUS()
	if _, err := d.Lock("build@eu-1", "aaaa0001", "test"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), `runner "build@eu-1"`) {
		t.Errorf("second lock of build@eu-1: %v", err)
	}

	// A killed write of build@eu-1's recovery file is swept when its lock
	// is taken, and build@eu-1-2's is left alone.
	unlockEU()
	tmpEU := filepath.Join(d.Path(), ".runnerctl-recovery-build@eu-1-41.json123")
	tmpOther := filepath.Join(d.Path(), ".runnerctl-recovery-build@eu-1-2-43.json123")
	for _, p := range []string{tmpEU, tmpOther} {
		if err := os.WriteFile(p, []byte("half"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := d.Lock("build@eu-1", "aaaa0001", "test")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if _, err := os.Stat(tmpEU); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("build@eu-1's temporary file stayed: %v", err)
	}
	if _, err := os.Stat(tmpOther); err != nil {
		t.Errorf("build@eu-1-2's temporary file was swept: %v", err)
	}
}
