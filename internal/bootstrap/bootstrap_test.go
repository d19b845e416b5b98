package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const canary = "glrt-CANARY-4f2a9"

type fakeGitLab struct {
	tokenErr, createErr, deleteErr, getErr, updateErr error
	existing                                          map[int64]bool
	// infos are existing runners' details; an existing runner without
	// one is an instance runner with run_untagged, as runner() asks.
	infos            map[int64]*gitlab.RunnerInfo
	created, deleted []int64
	updates          []update
	projectRunners   map[int64][]int64 // project ID: its runners
	onCreate         func()
}

type update struct {
	id   int64
	spec gitlab.RunnerSpec
}

func (f *fakeGitLab) CheckToken(context.Context) error { return f.tokenErr }

// Resolve puts every group at ID 7 and every project at ID 9.
func (f *fakeGitLab) Resolve(_ context.Context, s config.Scope) (gitlab.Target, error) {
	t := gitlab.Target{Type: s.Type + "_type", Path: s.Path}
	switch s.Type {
	case config.ScopeGroup:
		t.GroupID = 7
	case config.ScopeProject:
		t.ProjectID = 9
	}
	return t, nil
}
func (f *fakeGitLab) CreateRunner(context.Context, gitlab.RunnerSpec, string) (*gitlab.Created, error) {
	if f.createErr != nil {
		return nil, f.createErr
	}
	id := int64(100 + len(f.created))
	f.created = append(f.created, id)
	if f.onCreate != nil {
		f.onCreate()
	}
	return &gitlab.Created{ID: id, Token: secrets.NewToken(canary)}, nil
}
func (f *fakeGitLab) GetRunner(_ context.Context, id int64) (*gitlab.RunnerInfo, error) {
	if f.getErr != nil {
		return nil, f.getErr
	}
	if !f.existing[id] {
		return nil, fmt.Errorf("runner %d: %w", id, gitlab.ErrNotFound)
	}
	if info, ok := f.infos[id]; ok {
		c := *info
		return &c, nil
	}
	return &gitlab.RunnerInfo{ID: id, Type: "instance_type", RunUntagged: true}, nil
}

// UpdateRunner records the update and applies it, as GitLab would.
func (f *fakeGitLab) UpdateRunner(_ context.Context, id int64, spec gitlab.RunnerSpec) error {
	if f.updateErr != nil {
		return f.updateErr
	}
	f.updates = append(f.updates, update{id, spec})
	info, _ := f.GetRunner(context.Background(), id)
	info.Description, info.TagList, info.RunUntagged, info.AccessLevel = spec.Description, spec.Tags, spec.RunUntagged, spec.AccessLevel
	info.MaximumTimeout, info.Paused, info.MaintenanceNote = spec.MaximumTimeout, spec.Paused, spec.MaintenanceNote
	if spec.Target.Type == "project_type" {
		info.Locked = spec.Locked
	}
	if f.infos == nil {
		f.infos = map[int64]*gitlab.RunnerInfo{}
	}
	f.infos[id] = info
	return nil
}

func (f *fakeGitLab) HasProjectRunner(_ context.Context, projectID, id int64) (bool, error) {
	return slices.Contains(f.projectRunners[projectID], id), nil
}
func (f *fakeGitLab) DeleteRunner(_ context.Context, id int64) error {
	if f.deleteErr != nil {
		return f.deleteErr
	}
	f.deleted = append(f.deleted, id)
	return nil
}

// memStore is an in-memory Store with scripted failures.
type memStore struct {
	data     map[string]secrets.Token
	checkErr error
	getErr   error
	putErrs  []error // consumed one per Put
	puts     int
	ctxErrAt int // Put number whose ctx must be live
}

func (m *memStore) Backend() string                               { return "mem" }
func (m *memStore) Check(context.Context, secrets.Location) error { return m.checkErr }
func (m *memStore) Get(_ context.Context, l secrets.Location) (secrets.Token, error) {
	if m.getErr != nil {
		return secrets.Token{}, m.getErr
	}
	t, ok := m.data[l.String()]
	if !ok {
		return secrets.Token{}, secrets.ErrNotFound
	}
	return t, nil
}
func (m *memStore) Put(ctx context.Context, l secrets.Location, t secrets.Token) error {
	m.puts++
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(m.putErrs) > 0 {
		err := m.putErrs[0]
		m.putErrs = m.putErrs[1:]
		if err != nil {
			return err
		}
	}
	if m.data == nil {
		m.data = map[string]secrets.Token{}
	}
	m.data[l.String()] = t
	return nil
}

type recSteps struct{ bytes.Buffer }

func (r *recSteps) Step(msg string) { r.WriteString(msg + "\n") }

type harness struct {
	gl       *fakeGitLab
	store    *memStore
	steps    *recSteps
	written  int
	writeErr error
	recDir   string
}

func newHarness(t *testing.T) *harness {
	return &harness{gl: &fakeGitLab{existing: map[int64]bool{}}, store: &memStore{}, steps: &recSteps{}, recDir: t.TempDir()}
}

func (h *harness) run(ctx context.Context, r *config.Runner, recreate bool) (Outcome, error) {
	return Run(ctx, Deps{
		GitLab: h.gl, Store: h.store, Steps: h.steps,
		Recovery:  Recovery{Dir: h.recDir, RepoRoot: "/nonexistent-repo"},
		Files:     Writer(func() error { h.written++; return h.writeErr }),
		RetryWait: 1,
	}, Request{GitLabURL: "https://gitlab.example.com/", Runner: r, Location: secrets.Location{Key: "gitlab/ci", Property: "token"}, Recreate: recreate})
}

func (h *harness) recoveryFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(h.recDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// noCanary checks that the token never reached an error or a step line.
func (h *harness) noCanary(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("error leaks the token: %v", err)
	}
	if strings.Contains(h.steps.String(), canary) {
		t.Errorf("progress output leaks the token")
	}
}

func runner() *config.Runner { return withReg(&config.Runner{Name: "ci"}) }

func withReg(r *config.Runner) *config.Runner {
	untagged := true
	r.Registration = &config.Registration{Scope: config.Scope{Type: config.ScopeInstance}, RunUntagged: &untagged}
	return r
}

func TestCreateStoreWrite(t *testing.T) {
	h := newHarness(t)
	r := runner()
	out, err := h.run(context.Background(), r, false)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Created || out.RunnerID != 100 || r.RunnerID != 100 {
		t.Errorf("outcome %+v, runner id %d", out, r.RunnerID)
	}
	if got := h.store.data["gitlab/ci#token"]; !got.Equal(secrets.NewToken(canary)) {
		t.Error("token not stored at its location")
	}
	if h.written != 1 || len(h.recoveryFiles(t)) != 0 {
		t.Errorf("written %d times, recovery files %v", h.written, h.recoveryFiles(t))
	}
	h.noCanary(t, err)
}

func TestTransientStoreFailuresAreRetried(t *testing.T) {
	h := newHarness(t)
	h.store.putErrs = []error{fmt.Errorf("vault: %w", secrets.ErrTransient), fmt.Errorf("vault: %w", secrets.ErrTransient)}
	if _, err := h.run(context.Background(), runner(), false); err != nil {
		t.Fatal(err)
	}
	if h.store.puts != 3 || len(h.gl.deleted) != 0 {
		t.Errorf("puts %d deleted %v", h.store.puts, h.gl.deleted)
	}
}

func TestStoreFailureRollsBack(t *testing.T) {
	h := newHarness(t)
	h.store.putErrs = []error{fmt.Errorf("vault: %w", secrets.ErrPermission)}
	_, err := h.run(context.Background(), runner(), false)
	var fe *FailureError
	if !errors.As(err, &fe) || !errors.Is(err, secrets.ErrPermission) {
		t.Fatalf("error %v", err)
	}
	if len(h.gl.deleted) != 1 || h.gl.deleted[0] != 100 {
		t.Errorf("runner not rolled back: deleted %v", h.gl.deleted)
	}
	if h.written != 0 || len(h.recoveryFiles(t)) != 0 {
		t.Errorf("written %d, recovery %v after a clean rollback", h.written, h.recoveryFiles(t))
	}
	if !strings.Contains(err.Error(), "deleted again") {
		t.Errorf("message: %v", err)
	}
	h.noCanary(t, err)
}

// A rollback whose DELETE answer was lost is retried by the client and then
// finds the runner gone: that is a successful rollback, not a failure.
func TestRollbackOfAnAlreadyDeletedRunner(t *testing.T) {
	h := newHarness(t)
	h.store.putErrs = []error{fmt.Errorf("vault: %w", secrets.ErrPermission)}
	h.gl.deleteErr = fmt.Errorf("runner 100: %w", gitlab.ErrNotFound)
	_, err := h.run(context.Background(), runner(), false)
	if err == nil || !strings.Contains(err.Error(), "deleted again") {
		t.Fatalf("error %v", err)
	}
	if h.written != 0 || len(h.recoveryFiles(t)) != 0 {
		t.Errorf("written %d, recovery %v after a clean rollback", h.written, h.recoveryFiles(t))
	}
}

func TestRollbackFailureLeavesRecoveryFile(t *testing.T) {
	h := newHarness(t)
	h.store.putErrs = []error{fmt.Errorf("vault: %w", secrets.ErrAuth)}
	h.gl.deleteErr = errors.New("delete runner 100: GitLab answered 500")
	_, err := h.run(context.Background(), runner(), false)
	files := h.recoveryFiles(t)
	if err == nil || len(files) != 1 {
		t.Fatalf("err %v, recovery files %v", err, files)
	}
	info, statErr := os.Stat(files[0])
	if statErr != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("recovery file mode %v (%v)", info.Mode(), statErr)
	}
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), canary) || !strings.Contains(string(data), `"runner_id": 100`) {
		t.Errorf("recovery file lacks the token or id:\n%s", data)
	}
	if !strings.Contains(err.Error(), files[0]) || !strings.Contains(err.Error(), "run `runnerctl init` again") {
		t.Errorf("error does not say how to finish: %v", err)
	}
	// runnerctl.yaml records the runner, so that no later run creates a
	// second one.
	if h.written != 1 {
		t.Errorf("files written %d times, want 1", h.written)
	}
	h.noCanary(t, err)
}

// The run after a failed store and a failed rollback stores the kept token
// into the recorded runner's place and removes the file.
func TestNextRunStoresTheKeptToken(t *testing.T) {
	h := newHarness(t)
	h.store.putErrs = []error{fmt.Errorf("vault: %w", secrets.ErrAuth)}
	h.gl.deleteErr = errors.New("GitLab answered 500")
	r := runner()
	if _, err := h.run(context.Background(), r, false); err == nil || r.RunnerID != 100 {
		t.Fatalf("first run: %v, runner id %d", err, r.RunnerID)
	}
	h.gl.existing[100] = true
	out, err := h.run(context.Background(), r, false)
	if err != nil || out.Created || len(h.gl.created) != 1 {
		t.Fatalf("second run: %v %+v, created %v", err, out, h.gl.created)
	}
	if tok := h.store.data["gitlab/ci#token"]; tok.Reveal() != canary {
		t.Fatal("the kept token was not stored")
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
	h.noCanary(t, err)
}

// A run killed between creating the runner and storing its token leaves
// only the recovery file; the next run (runnerctl.yaml without the ID)
// adopts that runner instead of creating a second one.
func TestKilledRunIsAdopted(t *testing.T) {
	h := newHarness(t)
	rec := Recovery{Dir: h.recDir}
	loc := secrets.Location{Key: "gitlab/ci", Property: "token"}
	if _, err := rec.Save("https://gitlab.example.com/", "ci", 42, "mem", loc, secrets.NewToken(canary)); err != nil {
		t.Fatal(err)
	}
	// Files of other runners and GitLabs are not this run's to take.
	if _, err := rec.Save("https://gitlab.example.com/", "ci-x", 43, "mem", loc, secrets.NewToken("glrt-other")); err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Save("https://other.example.com/", "ci", 44, "mem", loc, secrets.NewToken("glrt-other")); err != nil {
		t.Fatal(err)
	}
	h.gl.existing[42], h.gl.existing[43], h.gl.existing[44] = true, true, true
	r := runner()
	out, err := h.run(context.Background(), r, false)
	if err != nil || out.Created || out.RunnerID != 42 || r.RunnerID != 42 || len(h.gl.created) != 0 || h.written != 1 {
		t.Fatalf("err %v out %+v created %v written %d", err, out, h.gl.created, h.written)
	}
	if tok := h.store.data[loc.String()]; tok.Reveal() != canary {
		t.Fatal("the kept token was not stored")
	}
	if files := h.recoveryFiles(t); len(files) != 2 {
		t.Fatalf("want only the other runners' files left, got %v", files)
	}
	h.noCanary(t, err)
}

// A kept token whose runner is gone is useless: its file is removed and a
// new runner is created.
func TestRecoveryFileOfDeletedRunnerIsDropped(t *testing.T) {
	h := newHarness(t)
	loc := secrets.Location{Key: "gitlab/ci", Property: "token"}
	if _, err := (Recovery{Dir: h.recDir}).Save("https://gitlab.example.com/", "ci", 42, "mem", loc, secrets.NewToken("glrt-dead")); err != nil {
		t.Fatal(err)
	}
	out, err := h.run(context.Background(), runner(), false)
	if err != nil || !out.Created || out.RunnerID != 100 {
		t.Fatalf("err %v out %+v", err, out)
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
	if !strings.Contains(h.steps.String(), "its runner (id 42) no longer exists") {
		t.Errorf("steps do not say why the file went:\n%s", h.steps.String())
	}
}

// A token stored by hand makes the kept copy redundant: it is removed once
// the stored one is confirmed equal.
func TestStoredByHandRemovesTheKeptCopy(t *testing.T) {
	h := newHarness(t)
	loc := secrets.Location{Key: "gitlab/ci", Property: "token"}
	if _, err := (Recovery{Dir: h.recDir}).Save("https://gitlab.example.com/", "ci", 7, "mem", loc, secrets.NewToken(canary)); err != nil {
		t.Fatal(err)
	}
	h.store.data = map[string]secrets.Token{loc.String(): secrets.NewToken(canary)}
	h.gl.existing[7] = true
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	if _, err := h.run(context.Background(), r, false); err != nil || h.store.puts != 0 {
		t.Fatalf("err %v, puts %d", err, h.store.puts)
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
}

func TestCheckFailureCreatesNothing(t *testing.T) {
	for name, setup := range map[string]func(h *harness){
		"gitlab token": func(h *harness) { h.gl.tokenErr = gitlab.ErrUnauthorized },
		"backend":      func(h *harness) { h.store.checkErr = fmt.Errorf("vault: %w", secrets.ErrAuth) },
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			setup(h)
			if _, err := h.run(context.Background(), runner(), false); err == nil {
				t.Fatal("no error")
			}
			if len(h.gl.created) != 0 || h.written != 0 {
				t.Errorf("created %v written %d", h.gl.created, h.written)
			}
		})
	}
}

func TestCancelledBeforeCreate(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.run(ctx, runner(), false)
	if err == nil || len(h.gl.created) != 0 {
		t.Fatalf("err %v created %v", err, h.gl.created)
	}
}

// Ctrl-C right after the runner is created must not stop the token from
// being stored.
func TestCancelledAfterCreateStillStores(t *testing.T) {
	h := newHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	h.gl.onCreate = cancel
	if _, err := h.run(ctx, runner(), false); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.store.data["gitlab/ci#token"]; !ok {
		t.Error("token not stored after an interrupt following the create")
	}
}

func TestExistingRunner(t *testing.T) {
	h := newHarness(t)
	h.gl.existing[7] = true
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})

	// A runner whose token is not where the ExternalSecret reads it (renamed,
	// or the layout changed) is refused: no file would give it a token.
	_, err := h.run(context.Background(), r, false)
	if err == nil || !strings.Contains(err.Error(), `mem has no token at "gitlab/ci#token"`) || h.written != 0 || len(h.gl.created) != 0 {
		t.Fatalf("token missing: err %v, written %d, created %v", err, h.written, h.gl.created)
	}
	h.store.data = map[string]secrets.Token{"gitlab/ci#token": secrets.NewToken("glrt-stored")}
	h.store.getErr = fmt.Errorf("mem: %w", secrets.ErrPermission)
	if _, err := h.run(context.Background(), r, false); !errors.Is(err, secrets.ErrPermission) || h.written != 0 {
		t.Fatalf("unreadable store: err %v, written %d", err, h.written)
	}
	h.store.getErr = nil

	out, err := h.run(context.Background(), r, false)
	if err != nil || out.Created || len(h.gl.created) != 0 || h.written != 1 {
		t.Fatalf("err %v out %+v created %v written %d", err, out, h.gl.created, h.written)
	}

	gone := withReg(&config.Runner{Name: "ci", RunnerID: 8})
	if _, err := h.run(context.Background(), gone, false); err == nil || !strings.Contains(err.Error(), "--recreate") {
		t.Fatalf("missing runner without --recreate: %v", err)
	}
	if out, err := h.run(context.Background(), gone, true); err != nil || !out.Created {
		t.Fatalf("--recreate: %v %+v", err, out)
	}
}

func TestFilesFailureAfterStore(t *testing.T) {
	h := newHarness(t)
	h.writeErr = errors.New("disk full")
	_, err := h.run(context.Background(), runner(), false)
	if err == nil || !strings.Contains(err.Error(), "runnerID: 100") {
		t.Fatalf("error %v", err)
	}
	if _, ok := h.store.data["gitlab/ci#token"]; !ok || len(h.gl.deleted) != 0 {
		t.Error("the stored runner must be kept when only the files fail")
	}
}

func TestRecoveryDirInsideRepoRefused(t *testing.T) {
	repo := t.TempDir()
	_, err := Recovery{Dir: filepath.Join(repo, "tmp"), RepoRoot: repo}.Save("u", "ci", 1, "vault", secrets.Location{Key: "k"}, secrets.NewToken(canary))
	if err == nil || !strings.Contains(err.Error(), "inside the repository") {
		t.Fatalf("got %v", err)
	}
}

// A stored token that differs from the kept one is not overwritten: which
// one is current is the user's call, so the file stays and a warning says
// so.
func TestDifferentStoredTokenLeavesTheKeptCopy(t *testing.T) {
	h := newHarness(t)
	loc := secrets.Location{Key: "gitlab/ci", Property: "token"}
	if _, err := (Recovery{Dir: h.recDir}).Save("https://gitlab.example.com/", "ci", 7, "mem", loc, secrets.NewToken(canary)); err != nil {
		t.Fatal(err)
	}
	h.store.data = map[string]secrets.Token{loc.String(): secrets.NewToken("glrt-rotated-since")}
	h.gl.existing[7] = true
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	if _, err := h.run(context.Background(), r, false); err != nil || h.store.puts != 0 {
		t.Fatalf("err %v, puts %d", err, h.store.puts)
	}
	if files := h.recoveryFiles(t); len(files) != 1 {
		t.Fatalf("recovery files: %v", files)
	}
	if !strings.Contains(h.steps.String(), "warning: mem holds a different token") {
		t.Errorf("no warning:\n%s", h.steps.String())
	}
	h.noCanary(t, nil)
}
