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
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const canary = "glrt-CANARY-4f2a9"

type fakeGitLab struct {
	tokenErr, createErr, deleteErr, getErr, updateErr, resetErr, findErr error
	existing                                                             map[int64]bool
	// infos are existing runners' details; an existing runner without
	// one is an instance runner with run_untagged, as runner() asks.
	infos            map[int64]*gitlab.RunnerInfo
	created, deleted []int64
	resets           []int64
	updates          []update
	projectRunners   map[int64][]int64 // project ID: its runners
	onCreate         func()
	// tokens are the runners' current tokens: what VerifyRunnerToken
	// accepts. markers are the create markers of the runners made here.
	tokens  map[int64]string
	markers map[int64]string
	// others are runners another machine made for the same identity, as
	// FindByIdentity sees them (othersAfterCreate: only once a create ran).
	others, othersAfterCreate []gitlab.Found
	verifies                  int
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
func (f *fakeGitLab) CreateRunner(_ context.Context, _ gitlab.RunnerSpec, marker string) (*gitlab.Created, error) {
	if f.createErr != nil {
		return nil, f.createErr
	}
	id := int64(100 + len(f.created))
	f.created = append(f.created, id)
	f.existing[id] = true
	f.setToken(id, canary)
	if f.markers == nil {
		f.markers = map[int64]string{}
	}
	f.markers[id] = marker
	if f.onCreate != nil {
		f.onCreate()
	}
	return &gitlab.Created{ID: id, Token: secrets.NewToken(canary)}, nil
}

func (f *fakeGitLab) setToken(id int64, tok string) {
	if f.tokens == nil {
		f.tokens = map[int64]string{}
	}
	f.tokens[id] = tok
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
	f.existing[id] = false
	delete(f.tokens, id)
	return nil
}

// ResetToken gives runner id a new token (still carrying the canary).
func (f *fakeGitLab) ResetToken(_ context.Context, id int64) (*gitlab.Created, error) {
	if f.resetErr != nil {
		return nil, f.resetErr
	}
	if !f.existing[id] {
		return nil, fmt.Errorf("runner %d: %w", id, gitlab.ErrNotFound)
	}
	f.resets = append(f.resets, id)
	tok := fmt.Sprintf("%s-reset%d", canary, len(f.resets))
	f.setToken(id, tok)
	return &gitlab.Created{ID: id, Token: secrets.NewToken(tok)}, nil
}

func (f *fakeGitLab) FindByMarker(_ context.Context, _ gitlab.Target, _, marker string) (int64, error) {
	if f.findErr != nil {
		return 0, f.findErr
	}
	for id, m := range f.markers {
		if m == marker && f.existing[id] {
			return id, nil
		}
	}
	return 0, nil
}

func (f *fakeGitLab) FindByIdentity(_ context.Context, _ gitlab.Target, _, identity string) ([]gitlab.Found, error) {
	if f.findErr != nil {
		return nil, f.findErr
	}
	out := slices.Clone(f.others)
	if len(f.created) > 0 {
		out = append(out, f.othersAfterCreate...)
	}
	for id, m := range f.markers {
		if f.existing[id] && gitlab.MarkerIdentity(m) == identity {
			out = append(out, gitlab.Found{ID: id, Marker: m})
		}
	}
	slices.SortFunc(out, func(a, b gitlab.Found) int { return int(a.ID - b.ID) })
	return out, nil
}

func (f *fakeGitLab) VerifyRunnerToken(_ context.Context, tok secrets.Token) (int64, error) {
	f.verifies++
	for id, t := range f.tokens {
		if f.existing[id] && secrets.NewToken(t).Equal(tok) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("verify runner token: %w", gitlab.ErrTokenRefused)
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
	state    *custody.Dir
	begin    func() error
}

const testIdentity = "0123abcd"

func newHarness(t *testing.T) *harness {
	t.Helper()
	// A state directory whose path holds glob characters: no path is ever
	// used as a pattern.
	dir := filepath.Join(t.TempDir(), "state [x]*?")
	state, err := custody.Open(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &harness{gl: &fakeGitLab{existing: map[int64]bool{}}, store: &memStore{}, steps: &recSteps{}, state: state}
}

func (h *harness) run(ctx context.Context, r *config.Runner, recreate bool) (Outcome, error) {
	return Run(ctx, Deps{
		GitLab: h.gl, Store: h.store, Steps: h.steps, State: h.state,
		Files:     Writer(func() error { h.written++; return h.writeErr }),
		RetryWait: 1, Begin: h.begin,
	}, Request{GitLabURL: testGitLab, Runner: r, Location: testLoc, Identity: testIdentity, Recreate: recreate})
}

const testGitLab = "https://gitlab.example.com/"

var testLoc = secrets.Location{Key: "gitlab/ci", Property: "token"}

// keep puts tok in a recovery file for runner id of name, as a run that
// did not finish leaves it.
func (h *harness) keep(t *testing.T, gitlabURL, name string, id int64, tok string) string {
	t.Helper()
	path, err := h.state.Keep(custody.Kept{GitLabURL: gitlabURL, Runner: name, RunnerID: id, Backend: "mem", Location: testLoc, Token: secrets.NewToken(tok)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// recoveryFiles are the state directory's files but its locks.
func (h *harness) recoveryFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(h.state.Path())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Name() != "locks" {
			out = append(out, filepath.Join(h.state.Path(), e.Name()))
		}
	}
	return out
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
	loc := testLoc
	h.keep(t, testGitLab, "ci", 42, canary)
	// Files of other runners and GitLabs are not this run's to take.
	h.keep(t, testGitLab, "ci-x", 43, "glrt-other")
	h.keep(t, "https://other.example.com/", "ci", 44, "glrt-other")
	h.gl.existing[42], h.gl.existing[43], h.gl.existing[44] = true, true, true
	h.gl.setToken(42, canary)
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
	h.keep(t, testGitLab, "ci", 42, "glrt-dead")
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
	h.keep(t, testGitLab, "ci", 7, canary)
	h.store.data = map[string]secrets.Token{testLoc.String(): secrets.NewToken(canary)}
	h.gl.existing[7] = true
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	if _, err := h.run(context.Background(), r, false); err != nil || h.store.puts != 0 {
		t.Fatalf("err %v, puts %d", err, h.store.puts)
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
	if h.gl.verifies != 0 {
		t.Errorf("a token the store already holds needs no check with GitLab; verified %d times", h.gl.verifies)
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

// Begin runs with the runner's lock held and before anything else: when
// it fails, GitLab is not even asked whether the token works.
func TestBeginFailureChangesNothing(t *testing.T) {
	h := newHarness(t)
	h.gl.tokenErr = errors.New("GitLab was asked")
	refused := errors.New("runnerctl.yaml changed")
	var lockErr error
	h.begin = func() error {
		_, lockErr = h.state.Lock("ci", testIdentity, "probe")
		return refused
	}
	if _, err := h.run(context.Background(), runner(), false); !errors.Is(err, refused) {
		t.Fatalf("err = %v, want Begin's", err)
	}
	if !errors.Is(lockErr, custody.ErrLocked) {
		t.Errorf("the runner's lock was not held during Begin: %v", lockErr)
	}
	if len(h.gl.created) != 0 || h.written != 0 || len(h.store.data) != 0 {
		t.Errorf("created %v, written %d, stored %v", h.gl.created, h.written, h.store.data)
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

// Files that cannot be written leave the runner created and its token
// stored; the recovery file stays until a run records the runner, so the
// next run (whose runnerctl.yaml still lacks the ID) uses that runner.
func TestFilesFailureAfterStore(t *testing.T) {
	h := newHarness(t)
	h.writeErr = errors.New("disk full")
	_, err := h.run(context.Background(), runner(), false)
	if err == nil || !strings.Contains(err.Error(), "run `runnerctl init` again") {
		t.Fatalf("error %v", err)
	}
	if _, ok := h.store.data["gitlab/ci#token"]; !ok || len(h.gl.deleted) != 0 {
		t.Error("the stored runner must be kept when only the files fail")
	}
	if files := h.recoveryFiles(t); len(files) != 1 {
		t.Fatalf("recovery files: %v", files)
	}
	h.writeErr = nil
	out, err := h.run(context.Background(), runner(), false)
	if err != nil || out.Created || out.RunnerID != 100 || len(h.gl.created) != 1 {
		t.Fatalf("next run: err %v out %+v created %v", err, out, h.gl.created)
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
}

// A stale recovery file (another run has reset the token since) is never
// stored over the live token: GitLab refuses the kept token, so the file is
// discarded and the stored token stays.
func TestStaleKeptTokenIsDiscarded(t *testing.T) {
	h := newHarness(t)
	h.keep(t, testGitLab, "ci", 7, canary)
	h.store.data = map[string]secrets.Token{testLoc.String(): secrets.NewToken("glrt-rotated-since")}
	h.gl.existing[7] = true
	h.gl.setToken(7, "glrt-rotated-since")
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	if _, err := h.run(context.Background(), r, false); err != nil || h.store.puts != 0 {
		t.Fatalf("err %v, puts %d", err, h.store.puts)
	}
	if got := h.store.data[testLoc.String()]; got.Reveal() != "glrt-rotated-since" {
		t.Error("the live stored token was overwritten")
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("recovery files left: %v", files)
	}
	if !strings.Contains(h.steps.String(), "GitLab no longer accepts the token") {
		t.Errorf("no message about the discarded file:\n%s", h.steps.String())
	}
	h.noCanary(t, nil)
}

// A kept token that GitLab confirms is the runner's current one replaces a
// different (so dead) stored token.
func TestLiveKeptTokenReplacesADeadStoredOne(t *testing.T) {
	h := newHarness(t)
	h.keep(t, testGitLab, "ci", 7, canary)
	h.store.data = map[string]secrets.Token{testLoc.String(): secrets.NewToken("glrt-dead")}
	h.gl.existing[7] = true
	h.gl.setToken(7, canary)
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	if _, err := h.run(context.Background(), r, false); err != nil {
		t.Fatal(err)
	}
	if got := h.store.data[testLoc.String()]; got.Reveal() != canary {
		t.Error("the live kept token was not stored")
	}
	if files := h.recoveryFiles(t); len(files) != 0 || h.written != 1 {
		t.Fatalf("recovery files left: %v, written %d", files, h.written)
	}
}

// GitLab cannot be asked whether the kept token is current: nothing is
// stored, the file stays, the error says to run again.
func TestUnverifiableKeptTokenStays(t *testing.T) {
	h := newHarness(t)
	h.keep(t, testGitLab, "ci", 7, canary)
	h.gl.existing[7] = true
	gl := &unreachableVerify{h.gl}
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	_, err := Run(context.Background(), Deps{GitLab: gl, Store: h.store, Steps: h.steps, State: h.state,
		Files: Writer(func() error { h.written++; return nil })},
		Request{GitLabURL: testGitLab, Runner: r, Location: testLoc, Identity: testIdentity})
	if !errors.Is(err, custody.ErrUnsettled) || h.store.puts != 0 || h.written != 0 {
		t.Fatalf("err %v puts %d written %d", err, h.store.puts, h.written)
	}
	if files := h.recoveryFiles(t); len(files) != 1 {
		t.Fatalf("recovery files: %v", files)
	}
}

type unreachableVerify struct{ *fakeGitLab }

func (unreachableVerify) VerifyRunnerToken(context.Context, secrets.Token) (int64, error) {
	return 0, fmt.Errorf("verify runner token: GitLab answered 502 Bad Gateway (%w)", gitlab.ErrTransient)
}

// An intent left by a run killed while GitLab's create answer was in
// flight: the runner exists (found by the intent's marker), so it is
// adopted with a new token instead of creating a second one.
func TestIntentOfKilledCreateIsAdopted(t *testing.T) {
	h := newHarness(t)
	marker := gitlab.NewMarker(testIdentity)
	h.gl.existing[55] = true
	h.gl.markers = map[int64]string{55: marker}
	h.gl.setToken(55, "glrt-never-seen")
	if _, err := h.state.Begin(custody.Intent{Kind: custody.IntentCreate, GitLabURL: testGitLab, Runner: "ci", Marker: marker, Target: gitlab.Target{Type: "instance_type"}}); err != nil {
		t.Fatal(err)
	}
	r := runner()
	out, err := h.run(context.Background(), r, false)
	if err != nil || out.Created || !out.Adopted || r.RunnerID != 55 || len(h.gl.created) != 0 {
		t.Fatalf("err %v out %+v runner %d created %v", err, out, r.RunnerID, h.gl.created)
	}
	if !slices.Equal(h.gl.resets, []int64{55}) {
		t.Errorf("resets %v, want the adopted runner's", h.gl.resets)
	}
	if got := h.store.data[testLoc.String()]; got.Reveal() != h.gl.tokens[55] {
		t.Error("the stored token is not the adopted runner's current one")
	}
	if files := h.recoveryFiles(t); len(files) != 0 || h.written != 1 {
		t.Fatalf("files left %v, written %d", files, h.written)
	}
	h.noCanary(t, err)
}

// An intent whose create never reached GitLab: nothing to adopt, the file
// goes and one runner is created.
func TestIntentWithoutRunnerIsDropped(t *testing.T) {
	h := newHarness(t)
	if _, err := h.state.Begin(custody.Intent{Kind: custody.IntentCreate, GitLabURL: testGitLab, Runner: "ci", Marker: gitlab.NewMarker(testIdentity)}); err != nil {
		t.Fatal(err)
	}
	out, err := h.run(context.Background(), runner(), false)
	if err != nil || !out.Created || len(h.gl.created) != 1 || len(h.gl.resets) != 0 {
		t.Fatalf("err %v out %+v created %v resets %v", err, out, h.gl.created, h.gl.resets)
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("files left %v", files)
	}
}

// An intent whose runner duplicates the one runnerctl.yaml records is
// deleted.
func TestIntentDuplicateIsDeleted(t *testing.T) {
	h := newHarness(t)
	marker := gitlab.NewMarker(testIdentity)
	h.gl.existing[7], h.gl.existing[55] = true, true
	h.gl.markers = map[int64]string{55: marker}
	h.store.data = map[string]secrets.Token{testLoc.String(): secrets.NewToken("glrt-stored")}
	if _, err := h.state.Begin(custody.Intent{Kind: custody.IntentCreate, GitLabURL: testGitLab, Runner: "ci", Marker: marker}); err != nil {
		t.Fatal(err)
	}
	r := withReg(&config.Runner{Name: "ci", RunnerID: 7})
	if _, err := h.run(context.Background(), r, false); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(h.gl.deleted, []int64{55}) || r.RunnerID != 7 {
		t.Fatalf("deleted %v, runner %d", h.gl.deleted, r.RunnerID)
	}
	if files := h.recoveryFiles(t); len(files) != 0 {
		t.Fatalf("files left %v", files)
	}
}

// Another machine's init created this runner (same identity) and has not
// stored its token yet: this run creates nothing and names the other.
func TestOtherMachineCreatingIsRefused(t *testing.T) {
	h := newHarness(t)
	h.gl.existing[60] = true
	h.gl.others = []gitlab.Found{{ID: 60, Marker: gitlab.NewMarker(testIdentity)}}
	_, err := h.run(context.Background(), runner(), false)
	if !errors.Is(err, ErrConcurrent) || !strings.Contains(err.Error(), "runner 60") || len(h.gl.created) != 0 || h.written != 0 {
		t.Fatalf("err %v created %v written %d", err, h.gl.created, h.written)
	}
}

// Another machine's init created this runner and stored its token where
// this one would: the runner is adopted, nothing is created or reset.
func TestOtherMachineFinishedIsAdopted(t *testing.T) {
	h := newHarness(t)
	h.gl.existing[60] = true
	h.gl.setToken(60, "glrt-theirs")
	h.gl.others = []gitlab.Found{{ID: 60, Marker: gitlab.NewMarker(testIdentity)}}
	h.store.data = map[string]secrets.Token{testLoc.String(): secrets.NewToken("glrt-theirs")}
	r := runner()
	out, err := h.run(context.Background(), r, false)
	if err != nil || out.Created || !out.Adopted || r.RunnerID != 60 || len(h.gl.created)+len(h.gl.resets) != 0 || h.written != 1 {
		t.Fatalf("err %v out %+v created %v resets %v written %d", err, out, h.gl.created, h.gl.resets, h.written)
	}
}

// Two machines created the runner at the same moment: the one with the
// higher ID deletes its runner again, before storing anything.
func TestLostRaceDeletesOwnRunner(t *testing.T) {
	h := newHarness(t)
	h.gl.existing[60] = true
	h.gl.othersAfterCreate = []gitlab.Found{{ID: 60, Marker: gitlab.NewMarker(testIdentity)}}
	out, err := h.run(context.Background(), runner(), false)
	if !errors.Is(err, ErrConcurrent) || out.Created || !slices.Equal(h.gl.deleted, []int64{100}) {
		t.Fatalf("err %v out %+v deleted %v", err, out, h.gl.deleted)
	}
	if h.store.puts != 0 || h.written != 0 || len(h.recoveryFiles(t)) != 0 {
		t.Fatalf("puts %d written %d files %v", h.store.puts, h.written, h.recoveryFiles(t))
	}
	if !strings.Contains(err.Error(), "runnerID: 60") {
		t.Errorf("the message does not name the winner: %v", err)
	}
}

// The winner of such a race (the lower ID) carries on.
func TestWonRaceCarriesOn(t *testing.T) {
	h := newHarness(t)
	h.gl.othersAfterCreate = []gitlab.Found{{ID: 160, Marker: gitlab.NewMarker(testIdentity)}}
	out, err := h.run(context.Background(), runner(), false)
	if err != nil || !out.Created || out.RunnerID != 100 || len(h.gl.deleted) != 0 {
		t.Fatalf("err %v out %+v deleted %v", err, out, h.gl.deleted)
	}
}

// Two runs of one machine for one runner: the second finds the lock held
// and changes nothing.
func TestLockedRunChangesNothing(t *testing.T) {
	h := newHarness(t)
	unlock, err := h.state.Lock("ci", testIdentity, "rotate-token")
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	_, err = h.run(context.Background(), runner(), false)
	var le *custody.LockedError
	if !errors.As(err, &le) || le.Holder.Command != "rotate-token" || len(h.gl.created) != 0 {
		t.Fatalf("err %v created %v", err, h.gl.created)
	}
}
