package rotate

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const glURL = "https://gitlab.example.com/"

// fakeGitLab holds runner tokens; errs fail the next call of an operation.
type fakeGitLab struct {
	mu      sync.Mutex
	tokens  map[int64]string
	expires map[int64]*time.Time
	errs    map[string][]error // "get", "expiry", "reset"
	resets  int
	n       int
}

func newGitLab(ids ...int64) *fakeGitLab {
	g := &fakeGitLab{tokens: map[int64]string{}, expires: map[int64]*time.Time{}, errs: map[string][]error{}}
	for _, id := range ids {
		g.tokens[id] = fmt.Sprintf("glrt-CANARY-%d-0", id)
	}
	return g
}

func (g *fakeGitLab) fault(op string) error {
	if len(g.errs[op]) == 0 {
		return nil
	}
	err := g.errs[op][0]
	g.errs[op] = g.errs[op][1:]
	return err
}

func (g *fakeGitLab) GetRunner(_ context.Context, id int64) (*gitlab.RunnerInfo, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.fault("get"); err != nil {
		return nil, err
	}
	if _, ok := g.tokens[id]; !ok {
		return nil, fmt.Errorf("runner %d: %w", id, gitlab.ErrNotFound)
	}
	return &gitlab.RunnerInfo{ID: id}, nil
}

func (g *fakeGitLab) TokenExpiresAt(_ context.Context, id int64) (*time.Time, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.fault("expiry"); err != nil {
		return nil, err
	}
	return g.expires[id], nil
}

func (g *fakeGitLab) ResetToken(_ context.Context, id int64) (*gitlab.Created, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.fault("reset"); err != nil {
		return nil, err
	}
	g.resets++
	g.n++
	g.tokens[id] = fmt.Sprintf("glrt-CANARY-%d-%d", id, g.n)
	return &gitlab.Created{ID: id, Token: secrets.NewToken(g.tokens[id]), ExpiresAt: g.expires[id]}, nil
}

// VerifyRunnerToken accepts a runner's current token only.
func (g *fakeGitLab) VerifyRunnerToken(_ context.Context, tok secrets.Token) (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err := g.fault("verify"); err != nil {
		return 0, err
	}
	for id, t := range g.tokens {
		if secrets.NewToken(t).Equal(tok) {
			return id, nil
		}
	}
	return 0, fmt.Errorf("verify runner token: %w", gitlab.ErrTokenRefused)
}

func (g *fakeGitLab) live(id int64) secrets.Token {
	g.mu.Lock()
	defer g.mu.Unlock()
	return secrets.NewToken(g.tokens[id])
}

// memStore is an in-memory secrets manager with injected failures.
type memStore struct {
	mu       sync.Mutex
	data     map[string]secrets.Token
	checkErr error
	putErrs  []error
}

func newStore() *memStore { return &memStore{data: map[string]secrets.Token{}} }

func (s *memStore) Backend() string { return "mem" }
func (s *memStore) Check(context.Context, secrets.Location) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkErr
}
func (s *memStore) Put(_ context.Context, loc secrets.Location, tok secrets.Token) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.putErrs) > 0 {
		err := s.putErrs[0]
		s.putErrs = s.putErrs[1:]
		return err
	}
	s.data[loc.String()] = tok
	return nil
}
func (s *memStore) Get(_ context.Context, loc secrets.Location) (secrets.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.data[loc.String()]
	if !ok {
		return secrets.Token{}, secrets.ErrNotFound
	}
	return t, nil
}

type steps struct {
	mu    sync.Mutex
	lines []string
}

func (s *steps) Step(msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, msg)
}

type env struct {
	gl    *fakeGitLab
	store *memStore
	state *custody.Dir
	deps  Deps
	steps *steps
}

func newEnv(t testing.TB, ids ...int64) *env {
	t.Helper()
	// Glob characters in the state directory's path: never a pattern.
	state, err := custody.Open(filepath.Join(t.TempDir(), "state*[?]"), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{gl: newGitLab(ids...), store: newStore(), state: state, steps: &steps{}}
	e.deps = Deps{GitLab: e.gl, Store: e.store, State: state, Steps: e.steps}
	return e
}

func target(name string, id int64) Target {
	loc := secrets.Location{Key: "gitlab/runners/" + name, Property: "runner-token"}
	return Target{Name: name, RunnerID: id, Location: loc, Identity: custody.Identity(glURL, "mem", loc)}
}

func opts() Options {
	return Options{GitLabURL: glURL, StoreRetry: custody.StoreRetry{Tries: 3, Wait: time.Millisecond}}
}

// keep leaves tok in a recovery file for runner id, as a rotation (or,
// without rotation, an init) that could not store it does.
func (e *env) keep(t *testing.T, name string, id int64, tok secrets.Token, rotation bool) string {
	t.Helper()
	path, err := e.state.Keep(custody.Kept{GitLabURL: glURL, Runner: name, RunnerID: id, Backend: "mem", Location: target(name, id).Location, Rotation: rotation, Token: tok}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// noToken fails when a token shows in any result or step line.
func (e *env) noToken(t *testing.T, rs []Result) {
	t.Helper()
	text := fmt.Sprintf("%+v %v", rs, e.steps.lines)
	if strings.Contains(text, "glrt-") {
		t.Fatalf("a token leaked: %s", text)
	}
}

func (e *env) stored(t *testing.T, name string, id int64) {
	t.Helper()
	got, err := e.store.Get(context.Background(), target(name, id).Location)
	if err != nil || !got.Equal(e.gl.live(id)) {
		t.Fatalf("runner %q: the store does not hold the live token (err %v)", name, err)
	}
}

// recoveryFiles are the state directory's files but its locks: recovery
// files and intents.
func (e *env) recoveryFiles(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(e.state.Path())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range entries {
		if en.Name() != "locks" {
			out = append(out, en.Name())
		}
	}
	return out
}

func TestRotateFleetKeepsOrderAndIsolatesFailures(t *testing.T) {
	e := newEnv(t, 1, 2, 3)
	o := opts()
	o.Parallel = 3
	rs := Run(context.Background(), e.deps, o, []Target{target("a", 1), target("ghost", 9), target("c", 3), target("new", 0)})
	e.noToken(t, rs)
	want := []Status{Rotated, Failed, Rotated, Failed}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("result %d (%s): %s %s, want %s", i, r.Name, r.Status, r.Error, want[i])
		}
	}
	if !errors.Is(rs[1].Err, gitlab.ErrNotFound) || !strings.Contains(rs[1].Error, `runner "ghost": runner 9 does not exist`) {
		t.Errorf("ghost: %v", rs[1].Err)
	}
	if !strings.Contains(rs[3].Error, `runner "new" has no runnerID`) {
		t.Errorf("new: %v", rs[3].Err)
	}
	e.stored(t, "a", 1)
	e.stored(t, "c", 3)
	if len(e.recoveryFiles(t)) != 0 {
		t.Errorf("recovery files left: %v", e.recoveryFiles(t))
	}
}

func TestGetRunnerFailureChangesNothing(t *testing.T) {
	e := newEnv(t, 1)
	e.gl.errs["get"] = []error{errors.New("runner 1: GitLab answered 502 Bad Gateway")}
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	if rs[0].Status != Failed || !strings.Contains(rs[0].Error, "502") || !strings.Contains(rs[0].Error, "nothing was changed") || e.gl.resets != 0 {
		t.Fatalf("%+v resets=%d", rs[0], e.gl.resets)
	}
}

func TestCheckFailureMeansNoReset(t *testing.T) {
	e := newEnv(t, 1)
	e.store.checkErr = fmt.Errorf("mem: %w", secrets.ErrPermission)
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	if rs[0].Status != Failed || !errors.Is(rs[0].Err, secrets.ErrPermission) || e.gl.resets != 0 {
		t.Fatalf("%+v resets=%d", rs[0], e.gl.resets)
	}
	if !strings.Contains(rs[0].Error, "the token was not reset") {
		t.Errorf("error: %s", rs[0].Error)
	}
}

func TestResetFailure(t *testing.T) {
	e := newEnv(t, 1)
	e.gl.errs["reset"] = []error{
		fmt.Errorf("reset token of runner 1: GitLab answered 500 Internal Server Error (%w)", gitlab.ErrUncertain),
		errors.New("reset token of runner 1: forbidden by GitLab (403)"),
	}
	o := opts()
	o.Parallel = 1 // the faults go to the runs in order
	rs := Run(context.Background(), e.deps, o, []Target{target("a", 1), target("a", 1)})
	if rs[0].Status != Failed || !strings.Contains(rs[0].Error, "GitLab may have reset the token without answering") || !strings.Contains(rs[0].Error, "run `runnerctl rotate-token a` again") {
		t.Fatalf("%+v", rs[0])
	}
	if rs[1].Status != Failed || !strings.Contains(rs[1].Error, "403") || !strings.Contains(rs[1].Error, "the token was not reset, nothing was changed") {
		t.Fatalf("%+v", rs[1])
	}
	if _, err := e.store.Get(context.Background(), target("a", 1).Location); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("something was stored: %v", err)
	}
}

func TestStoreTransientThenOK(t *testing.T) {
	e := newEnv(t, 1)
	e.store.putErrs = []error{fmt.Errorf("mem: %w", secrets.ErrTransient), fmt.Errorf("mem: %w", secrets.ErrTransient)}
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	e.noToken(t, rs)
	if rs[0].Status != Rotated {
		t.Fatalf("%+v", rs[0])
	}
	e.stored(t, "a", 1)
	if len(e.recoveryFiles(t)) != 0 {
		t.Errorf("recovery file left")
	}
	if n := strings.Count(strings.Join(e.steps.lines, "\n"), "storing failed"); n != 2 {
		t.Errorf("%d retries reported: %v", n, e.steps.lines)
	}
}

// A permanent store failure keeps the new token (0600) and the next run
// stores it without resetting again.
func TestStorePermanentKeepsTokenAndNextRunStoresIt(t *testing.T) {
	e := newEnv(t, 1)
	e.store.putErrs = []error{fmt.Errorf("mem: %w", secrets.ErrPermission)}
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	e.noToken(t, rs)
	r := rs[0]
	if r.Status != Failed || r.RecoveryFile == "" || !strings.Contains(r.Error, "the old one no longer works") ||
		!strings.Contains(r.Error, "run `runnerctl rotate-token a` again, which stores the kept token without a new reset") {
		t.Fatalf("%+v", r)
	}
	fi, err := os.Stat(r.RecoveryFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("recovery file: %v %v", fi, err)
	}
	resets := e.gl.resets

	rs = Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	e.noToken(t, rs)
	if rs[0].Status != Rotated || !strings.Contains(rs[0].Detail, "finished an earlier rotation") {
		t.Fatalf("%+v", rs[0])
	}
	if e.gl.resets != resets {
		t.Errorf("the re-run reset again")
	}
	e.stored(t, "a", 1)
	if len(e.recoveryFiles(t)) != 0 {
		t.Errorf("recovery file left")
	}
}

// A kept token is stored first, even when the expiry window would skip.
func TestKeptTokenStoredFirst(t *testing.T) {
	e := newEnv(t, 1)
	tok, _ := e.gl.ResetToken(context.Background(), 1)
	resets := e.gl.resets
	e.keep(t, "a", 1, tok.Token, true)
	// init's files (not a rotation) are not picked up.
	e.keep(t, "b", 2, secrets.NewToken("glrt-x"), false)
	o := opts()
	o.IfExpiresWithin = time.Hour
	rs := Run(context.Background(), e.deps, o, []Target{target("a", 1)})
	if rs[0].Status != Rotated || e.gl.resets != resets {
		t.Fatalf("%+v resets %d", rs[0], e.gl.resets-resets)
	}
	e.stored(t, "a", 1)
}

func TestExpiryWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	soon, late := now.Add(24*time.Hour), now.Add(60*24*time.Hour)
	e := newEnv(t, 1, 2, 3)
	e.gl.expires[1] = &soon
	e.gl.expires[2] = &late
	o := opts()
	o.IfExpiresWithin = 720 * time.Hour
	o.Now = func() time.Time { return now }
	rs := Run(context.Background(), e.deps, o, []Target{target("soon", 1), target("late", 2), target("never", 3)})
	if rs[0].Status != Rotated || len(rs[0].Warnings) == 0 {
		t.Errorf("soon: %+v", rs[0])
	}
	if rs[1].Status != Skipped || !strings.Contains(rs[1].Detail, "later than --if-expires-within 720h0m0s") {
		t.Errorf("late: %+v", rs[1])
	}
	if rs[2].Status != Skipped || rs[2].Detail != "no expiry set; skipped" || len(rs[2].Warnings) != 0 {
		t.Errorf("never: %+v", rs[2])
	}
	if e.gl.resets != 1 {
		t.Errorf("%d resets", e.gl.resets)
	}
}

func TestLockHeld(t *testing.T) {
	e := newEnv(t, 1, 2)
	unlock, err := e.state.Lock("a", target("a", 1).Identity, "init")
	if err != nil {
		t.Fatal(err)
	}
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1), target("b", 2)})
	if rs[0].Status != Failed || !errors.Is(rs[0].Err, custody.ErrLocked) || !strings.Contains(rs[0].Error, `another runnerctl init (pid `) ||
		!strings.Contains(rs[0].Error, `is working on runner "a"`) || e.gl.resets != 1 {
		t.Errorf("%+v", rs[0])
	}
	if rs[1].Status != Rotated {
		t.Errorf("%+v", rs[1])
	}
	unlock()
	rs = Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	if rs[0].Status != Rotated {
		t.Errorf("after unlock: %+v", rs[0])
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, 1)
	o := opts()
	o.DryRun = true
	rs := Run(context.Background(), e.deps, o, []Target{target("a", 1)})
	if rs[0].Status != WouldRotate || e.gl.resets != 0 {
		t.Fatalf("%+v", rs[0])
	}
}

func TestParallelBound(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	g := &slowGitLab{fakeGitLab: newGitLab(), enter: func() {
		mu.Lock()
		running++
		peak = max(peak, running)
		mu.Unlock()
	}, leave: func() { mu.Lock(); running--; mu.Unlock() }}
	var ts []Target
	for i := int64(1); i <= 12; i++ {
		g.tokens[i] = "glrt-x"
		ts = append(ts, target(fmt.Sprint("r", i), i))
	}
	e := newEnv(t)
	e.deps.GitLab = g
	o := opts()
	o.Parallel = 3
	rs := Run(context.Background(), e.deps, o, ts)
	for i, r := range rs {
		if r.Status != Rotated || r.RunnerID != int64(i+1) {
			t.Errorf("%d: %+v", i, r)
		}
	}
	if peak != 3 {
		t.Errorf("peak concurrency %d, want 3", peak)
	}
}

type slowGitLab struct {
	*fakeGitLab
	enter, leave func()
}

func (g *slowGitLab) GetRunner(ctx context.Context, id int64) (*gitlab.RunnerInfo, error) {
	g.enter()
	defer g.leave()
	time.Sleep(20 * time.Millisecond)
	return g.fakeGitLab.GetRunner(ctx, id)
}

// A recovery file left by a rotation that another rotation has overtaken
// since (machine B kept its token; machine A rotated after): the kept
// token is dead, so it is discarded, never stored over the live one, and
// as the stored token is the runner's current one there is nothing to do.
func TestStaleKeptTokenIsDiscarded(t *testing.T) {
	e := newEnv(t, 1)
	old, _ := e.gl.ResetToken(context.Background(), 1) // B's reset, never stored
	e.keep(t, "a", 1, old.Token, true)
	live, _ := e.gl.ResetToken(context.Background(), 1) // A's rotation, stored
	e.store.data[target("a", 1).Location.String()] = live.Token
	resets := e.gl.resets
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	e.noToken(t, rs)
	if rs[0].Status != Skipped || !strings.Contains(rs[0].Detail, "another rotation finished since") || e.gl.resets != resets {
		t.Fatalf("%+v resets %d", rs[0], e.gl.resets-resets)
	}
	if len(rs[0].Warnings) != 1 || !strings.Contains(rs[0].Warnings[0], "discarded") {
		t.Errorf("warnings %v", rs[0].Warnings)
	}
	e.stored(t, "a", 1)
	if files := e.recoveryFiles(t); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// A stale kept token, and a stored token that does not work either (the
// runner rotated its own token, say): only a new reset helps, whatever
// the expiry window says.
func TestStaleKeptTokenAndDeadStoreResets(t *testing.T) {
	e := newEnv(t, 1)
	old, _ := e.gl.ResetToken(context.Background(), 1)
	e.keep(t, "a", 1, old.Token, true)
	_, _ = e.gl.ResetToken(context.Background(), 1) // nobody stored this one
	e.store.data[target("a", 1).Location.String()] = secrets.NewToken("glrt-CANARY-dead")
	o := opts()
	o.IfExpiresWithin = time.Hour // no expiry set: would skip
	rs := Run(context.Background(), e.deps, o, []Target{target("a", 1)})
	if rs[0].Status != Rotated {
		t.Fatalf("%+v", rs[0])
	}
	e.stored(t, "a", 1)
	if files := e.recoveryFiles(t); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

// A rotation killed while GitLab's reset request was in flight leaves its
// intent. The next run, even one that would skip by expiry, checks the
// stored token: dead (the reset happened), it resets again; alive (the
// reset never reached GitLab), the intent goes and the window decides.
func TestInterruptedReset(t *testing.T) {
	for _, tc := range []struct {
		name          string
		resetHappened bool
		want          Status
		resets        int
	}{
		{"reset happened", true, Rotated, 2},
		{"reset never reached GitLab", false, Skipped, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1)
			e.store.data[target("a", 1).Location.String()] = e.gl.live(1)
			if _, err := e.state.Begin(custody.Intent{Kind: custody.IntentRotate, GitLabURL: glURL, Runner: "a", RunnerID: 1}); err != nil {
				t.Fatal(err)
			}
			if tc.resetHappened {
				_, _ = e.gl.ResetToken(context.Background(), 1) // the answer that never arrived
			}
			o := opts()
			o.IfExpiresWithin = time.Hour
			rs := Run(context.Background(), e.deps, o, []Target{target("a", 1)})
			if rs[0].Status != tc.want || e.gl.resets != tc.resets {
				t.Fatalf("%+v, %d resets", rs[0], e.gl.resets)
			}
			e.stored(t, "a", 1)
			if files := e.recoveryFiles(t); len(files) != 0 {
				t.Errorf("files left: %v", files)
			}
		})
	}
}

// A lost reset answer leaves the intent: the next run checks instead of
// trusting the expiry window.
func TestUncertainResetKeepsIntent(t *testing.T) {
	e := newEnv(t, 1)
	e.store.data[target("a", 1).Location.String()] = e.gl.live(1)
	e.gl.errs["reset"] = []error{fmt.Errorf("reset token of runner 1: GitLab answered 502 (%w)", gitlab.ErrUncertain)}
	rs := Run(context.Background(), e.deps, opts(), []Target{target("a", 1)})
	if rs[0].Status != Failed {
		t.Fatalf("%+v", rs[0])
	}
	if files := e.recoveryFiles(t); len(files) != 1 || !strings.HasPrefix(files[0], "runnerctl-intent-a-rotate-1") {
		t.Fatalf("files %v", files)
	}
}
