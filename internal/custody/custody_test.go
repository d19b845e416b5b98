package custody

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const canary = "glrt-CANARY-custody"

// The state directory may be anywhere but inside the repository: not by
// its path, not through a symlink, not relative to a working directory in
// the repository, not in the Git work tree around a repository in a
// subdirectory.
func TestOpenRefusesThePlacesOfTheRepository(t *testing.T) {
	base := t.TempDir()
	work := filepath.Join(base, "work")
	repo := filepath.Join(work, "clusters", "prod")
	for _, d := range []string{filepath.Join(work, ".git"), filepath.Join(repo, "values"), filepath.Join(base, "elsewhere")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(base, "link-into-repo")
	if err := os.Symlink(filepath.Join(repo, "values"), link); err != nil {
		t.Fatal(err)
	}
	t.Chdir(repo)
	for name, dir := range map[string]string{
		"the repository":            repo,
		"inside":                    filepath.Join(repo, "state"),
		"relative":                  "values",
		"symlink":                   link,
		"under a symlink, not made": filepath.Join(link, "new", "deeper"),
		"the work tree around it":   filepath.Join(work, ".runnerctl"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Open(dir, repo)
			if !errors.Is(err, ErrPlace) || !strings.Contains(err.Error(), "--recovery-dir") {
				t.Fatalf("Open(%q): %v", dir, err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(link, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused directory was created: %v", err)
	}
	d, err := Open(filepath.Join(base, "elsewhere", "state [x]*?"), repo)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d.Path())
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state directory %v: %v", fi, err)
	}
}

// A state directory that cannot be made is an error before anything else.
func TestOpenRefusesADirectoryItCannotMake(t *testing.T) {
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(file, "state"), t.TempDir())
	if err == nil || errors.Is(err, ErrPlace) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("got %v", err)
	}
}

func openTemp(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "st*te [a]?"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Kept finds a runner's files, and only that runner's, in a directory
// whose path holds glob characters; files of older versions (location as
// one string) still parse.
func TestKeptFindsOnlyTheRunnersFiles(t *testing.T) {
	d := openTemp(t)
	loc := secrets.Location{Key: "gitlab/ci", Property: "token"}
	for _, k := range []Kept{
		{GitLabURL: "u", Runner: "ci", RunnerID: 9, Location: loc, Token: secrets.NewToken(canary)},
		{GitLabURL: "u", Runner: "ci", RunnerID: 3, Location: loc, Token: secrets.NewToken(canary), Rotation: true},
		{GitLabURL: "u", Runner: "ci-x", RunnerID: 4, Location: loc, Token: secrets.NewToken("glrt-other")},
	} {
		path, err := d.Keep(k, "test")
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", path, fi, err)
		}
	}
	old := `{"runner_name": "ci", "runner_id": 12, "gitlab_url": "u", "location": "gitlab/ci#token", "token": "glrt-old"}`
	if err := os.WriteFile(filepath.Join(d.Path(), "runnerctl-recovery-ci-12.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	kept, err := d.Kept("ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(kept) != 3 || kept[0].RunnerID != 3 || !kept[0].Rotation || kept[1].RunnerID != 9 || kept[2].Location != loc || !kept[2].For("u", 12) {
		t.Fatalf("kept %+v", kept)
	}
	if err := d.Remove(kept[0].Path); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("Remove outside the state directory")
	}
}

func TestIntentsRoundTrip(t *testing.T) {
	d := openTemp(t)
	target := gitlab.Target{Type: "group_type", GroupID: 7, Path: "platform"}
	create, err := d.Begin(Intent{Kind: IntentCreate, GitLabURL: "u", Runner: "ci", Marker: gitlab.NewMarker("0123abcd"), Target: target, Description: "runnerctl ci", Command: "runnerctl init"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Begin(Intent{Kind: IntentRotate, GitLabURL: "u", Runner: "ci", RunnerID: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Begin(Intent{Kind: IntentRotate, GitLabURL: "u", Runner: "ci-x", RunnerID: 6}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Begin(Intent{Kind: IntentCreate, Runner: "ci", Marker: "not-a-marker"}); err == nil {
		t.Error("an intent without a create marker was written")
	}
	ins, err := d.Intents("ci")
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) != 2 || ins[0].Kind != IntentCreate || ins[0].Target != target || ins[0].Marker != create.Marker || ins[0].PID != os.Getpid() ||
		ins[1].Kind != IntentRotate || ins[1].RunnerID != 5 {
		t.Fatalf("intents %+v", ins)
	}
	if !strings.Contains(ins[0].Describe(), "runnerctl init (pid ") {
		t.Errorf("describe: %s", ins[0].Describe())
	}
	if err := d.End(ins[0]); err != nil {
		t.Fatal(err)
	}
	if ins, _ := d.Intents("ci"); len(ins) != 1 {
		t.Fatalf("after End: %+v", ins)
	}
}

// The second taker of a runner's lock learns who holds it; another
// runner's lock is free; once the holder releases it, it can be taken.
// Taking it removes the temporary files a killed write of that runner's
// files left, and no other runner's.
func TestLock(t *testing.T) {
	d := openTemp(t)
	for _, n := range []string{".runnerctl-recovery-ci-7.json123", ".runnerctl-intent-ci-rotate-7.json9", ".runnerctl-recovery-ci-x-7.json5"} {
		if err := os.WriteFile(filepath.Join(d.Path(), n), []byte(canary), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := d.Lock("ci", "0123abcd", "init")
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Lock("ci", "0123abcd", "rotate-token")
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder.Command != "init" || le.Holder.PID != os.Getpid() ||
		!strings.Contains(err.Error(), `another runnerctl init (pid `) {
		t.Fatalf("second lock: %v", err)
	}
	other, err := d.Lock("ci", "ffffffff", "init")
	if err != nil {
		t.Fatalf("another identity: %v", err)
	}
	other()
	unlock()
	again, err := d.Lock("ci", "0123abcd", "rotate-token")
	if err != nil {
		t.Fatal(err)
	}
	again()
	entries, _ := os.ReadDir(d.Path())
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, " ") != ".runnerctl-recovery-ci-x-7.json5 locks" {
		t.Errorf("left: %v", left)
	}
}

func TestIdentity(t *testing.T) {
	loc := secrets.Location{Key: "gitlab/runners/ci", Property: "runner-token"}
	a := Identity("https://GitLab.example.com/gitlab/", "vault|secret", loc)
	if len(a) != 8 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Fatalf("identity %q", a)
	}
	if b := Identity("https://gitlab.example.com/gitlab", "vault|secret", loc); b != a {
		t.Errorf("the same GitLab spelt otherwise: %q != %q", b, a)
	}
	for _, other := range []string{
		Identity("https://gitlab.example.com/", "vault|secret", loc),
		Identity("https://gitlab.example.com/gitlab/", "vault|kv", loc),
		Identity("https://gitlab.example.com/gitlab/", "vault|secret", secrets.Location{Key: loc.Key, Property: "token"}),
	} {
		if other == a {
			t.Errorf("a different place has the same identity %q", a)
		}
	}
}

// Locate judges the place like Open but creates nothing; a directory that
// does not exist holds no kept token and no intent.
func TestLocateChangesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "not", "yet")
	d, err := Locate(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Locate created %s: %v", dir, err)
	}
	kept, err := d.Kept("ci")
	ins, ierr := d.Intents("ci")
	if err != nil || ierr != nil || len(kept)+len(ins) != 0 {
		t.Fatalf("kept %v %v, intents %v %v", kept, err, ins, ierr)
	}
	repo := t.TempDir()
	if _, err := Locate(filepath.Join(repo, "state"), repo); !errors.Is(err, ErrPlace) {
		t.Fatalf("inside the repository: %v", err)
	}
}
