package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

const canary = "glrt-CANARY-remote-7f3a"

// memStore is an in-memory Store whose failures the tests choose.
type memStore struct {
	mu     sync.Mutex
	data   map[string]string
	fail   map[string]error // by operation
	block  chan struct{}    // when set, Get waits for it
	checks int
}

func newMemStore() *memStore {
	return &memStore{data: map[string]string{}, fail: map[string]error{}}
}

func (m *memStore) Backend() string { return "mem" }

func (m *memStore) Check(_ context.Context, loc secrets.Location) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checks++
	return m.fail["check"]
}

func (m *memStore) Put(_ context.Context, loc secrets.Location, tok secrets.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail["put"]; err != nil {
		return err
	}
	m.data[loc.String()] = tok.Reveal()
	return nil
}

func (m *memStore) Get(_ context.Context, loc secrets.Location) (secrets.Token, error) {
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail["get"]; err != nil {
		return secrets.Token{}, err
	}
	v, ok := m.data[loc.String()]
	if !ok {
		return secrets.Token{}, fmt.Errorf("mem: %q: %w", loc, secrets.ErrNotFound)
	}
	return secrets.NewToken(v), nil
}

// pipeClient connects a Client to Serve over in-memory pipes.
func pipeClient(t *testing.T, m *memStore, openErr error) (*Client, error) {
	t.Helper()
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	served := make(chan error, 1)
	go func() {
		served <- Serve(context.Background(), reqR, respW, func(_ context.Context, spec Spec) (secrets.Store, error) {
			if spec.Backend != "mem" || spec.Mount != "kv" {
				return nil, fmt.Errorf("%w: got spec %+v", ErrConfig, spec)
			}
			if openErr != nil {
				return nil, openErr
			}
			return m, nil
		})
		_ = respW.Close()
	}()
	c := newClient("mem", protocol, respR, reqW, func() error { return <-served }, func() { _ = reqW.Close(); _ = respR.Close() })
	err := c.c.Open(context.Background(), Spec{Backend: "mem", Mount: "kv"})
	t.Cleanup(func() { _ = c.Close() })
	return c, err
}

func TestRoundTrip(t *testing.T) {
	m := newMemStore()
	c, err := pipeClient(t, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	loc := secrets.Location{Key: "gitlab/runners/ci", Property: "runner-token"}
	if err := c.Check(ctx, loc); err != nil || m.checks != 1 {
		t.Fatalf("Check: %v (checks %d)", err, m.checks)
	}
	if _, err := c.Get(ctx, loc); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("Get before Put: %v, want ErrNotFound", err)
	}
	if err := c.Put(ctx, loc, secrets.NewToken(canary)); err != nil {
		t.Fatal(err)
	}
	if got := m.data[loc.String()]; got != canary {
		t.Fatalf("stored %q", got)
	}
	tok, err := c.Get(ctx, loc)
	if err != nil || tok.Reveal() != canary {
		t.Fatalf("Get: %v", err)
	}
	if c.Backend() != "mem" {
		t.Fatalf("Backend() = %q", c.Backend())
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Callers decide on retries and rollback by the sentinel errors: they must
// survive the process boundary, with the backend's message unchanged.
func TestErrorKindsCrossTheWire(t *testing.T) {
	for _, k := range protocol.Kinds {
		t.Run(k.Name, func(t *testing.T) {
			m := newMemStore()
			m.fail["put"] = fmt.Errorf("mem: write %q: %w", "x", k.Err)
			c, err := pipeClient(t, m, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Put(context.Background(), secrets.Location{Key: "x"}, secrets.NewToken(canary))
			if !errors.Is(err, k.Err) {
				t.Fatalf("got %v, want errors.Is %v", err, k.Err)
			}
			for _, other := range protocol.Kinds {
				if other.Err != k.Err && errors.Is(err, other.Err) {
					t.Fatalf("%v also matches %v", err, other.Err)
				}
			}
			if want := m.fail["put"].Error(); err.Error() != want {
				t.Fatalf("message %q, want %q", err, want)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatal("the token leaked into the error")
			}
		})
	}
	t.Run("unclassified", func(t *testing.T) {
		m := newMemStore()
		m.fail["check"] = errors.New("mem: something odd")
		c, _ := pipeClient(t, m, nil)
		err := c.Check(context.Background(), secrets.Location{Key: "x"})
		if err == nil || err.Error() != "mem: something odd" {
			t.Fatalf("got %v", err)
		}
		for _, k := range protocol.Kinds {
			if errors.Is(err, k.Err) {
				t.Fatalf("an unclassified error matches %v", k.Err)
			}
		}
	})
}

func TestOpenErrors(t *testing.T) {
	_, err := pipeClient(t, newMemStore(), fmt.Errorf("mem: %w: VAULT_ADDR is not set", ErrConfig))
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "VAULT_ADDR is not set") {
		t.Fatalf("open: %v", err)
	}
	_, err = pipeClient(t, newMemStore(), fmt.Errorf("mem: %w: no credentials", secrets.ErrAuth))
	if !errors.Is(err, secrets.ErrAuth) || errors.Is(err, ErrConfig) {
		t.Fatalf("open: %v", err)
	}
}

func TestProtocolErrors(t *testing.T) {
	m := newMemStore()
	ctx := context.Background()
	c, err := pipeClient(t, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.c.Open(ctx, Spec{Backend: "mem", Mount: "kv"}); !errors.Is(err, ErrConfig) {
		t.Fatalf("second open: %v", err)
	}
	if _, err := helper.Call[helper.None](ctx, c.c, deleteOp{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"delete"`) {
		t.Fatalf("unknown op: %v", err)
	}

	// A helper from another release says so instead of misreading requests.
	other := protocol
	other.Version++
	c2 := pipeClientUnopened(t, m, other)
	err = c2.c.Open(ctx, Spec{Backend: "mem", Mount: "kv"})
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "same release") {
		t.Fatalf("protocol mismatch: %v", err)
	}
	if _, err := c2.Get(ctx, secrets.Location{Key: "x"}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "before open") {
		t.Fatalf("get before open: %v", err)
	}
}

// deleteOp is an operation the helper does not know.
type deleteOp struct{}

func (deleteOp) Op() string { return "delete" }

// newClient is a Client speaking p over r and w, not yet open.
func newClient(backend string, p helper.Protocol, r io.Reader, w io.WriteCloser, wait func() error, kill func()) *Client {
	return &Client{backend: backend, c: p.NewClient(helper.NewConn(helperLabel(backend), r, w, wait, kill))}
}

func pipeClientUnopened(t *testing.T, m *memStore, p helper.Protocol) *Client {
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	go func() {
		_ = Serve(context.Background(), reqR, respW, func(context.Context, Spec) (secrets.Store, error) { return m, nil })
		_ = respW.Close()
	}()
	c := newClient("mem", p, respR, reqW, func() error { return nil }, func() { _ = reqW.Close(); _ = respR.Close() })
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A cancelled call stops the helper: the pipe is out of step, and an
// answer arriving later must not be taken for the next request's.
func TestCancelledCallBreaksTheClient(t *testing.T) {
	m := newMemStore()
	m.block = make(chan struct{})
	defer close(m.block)
	c, err := pipeClient(t, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Get(ctx, secrets.Location{Key: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get: %v", err)
	}
	if err := c.Check(context.Background(), secrets.Location{Key: "x"}); err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("a call after a cancelled one: %v", err)
	}
}

// The real process path: the test binary plays the helper when started as
// one (`serve`; no variable can tell it: the helper's environment is
// filtered). It serves "mem", and "vault" to see that backend's
// environment; the key "environ" reads the helper's environment.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == "serve" {
		store := newMemStore()
		err := Serve(context.Background(), os.Stdin, os.Stdout, func(_ context.Context, spec Spec) (secrets.Store, error) {
			if spec.Backend != "mem" && spec.Backend != config.BackendVault {
				return nil, fmt.Errorf("%w: unknown backend %q", ErrConfig, spec.Backend)
			}
			return environStore{store}, nil
		})
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// environStore answers Get of the key "environ" with the process's
// environment, one entry a line.
type environStore struct{ *memStore }

func (e environStore) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	if loc.Key == "environ" {
		return secrets.NewToken(strings.Join(os.Environ(), "\n")), nil
	}
	return e.memStore.Get(ctx, loc)
}

func TestProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	ctx := context.Background()
	if _, err := Start(ctx, exe, Spec{Backend: "nope"}, &stderr); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Start with an unknown backend: %v", err)
	}
	c, err := Start(ctx, exe, Spec{Backend: "mem"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	loc := secrets.Location{Key: "k"}
	if err := c.Put(ctx, loc, secrets.NewToken(canary)); err != nil {
		t.Fatal(err)
	}
	if tok, err := c.Get(ctx, loc); err != nil || tok.Reveal() != canary {
		t.Fatalf("Get: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v (helper exits 0 when its stdin closes)", err)
	}
	if strings.Contains(stderr.String(), canary) {
		t.Fatal("the helper printed the token")
	}
}

func TestFindOnPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("executables need .exe there")
	}
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	if _, err := Find(); !errors.Is(err, ErrNoHelper) || !strings.Contains(err.Error(), "go install") {
		t.Fatalf("Find without a helper: %v", err)
	}
	want := filepath.Join(dir, HelperName)
	if err := os.WriteFile(want, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Find()
	if err != nil || got != want {
		t.Fatalf("Find = %q, %v", got, err)
	}
}

// The helper process gets the configured backend's variables and what it
// needs to reach the network; never the GitLab token, nor another
// backend's credentials.
func TestProcessEnvironment(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GITLAB_TOKEN", "glpat-not-for-helpers")
	t.Setenv("VAULT_TOKEN", "hvs.for-vault-only")
	t.Setenv("VAULT_ADDR", "https://vault.example.com")
	t.Setenv("INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "for-infisical-only")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "for-aws-only")
	t.Setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
	t.Setenv("RUNNERCTL_TEST_UNRELATED", "1")
	for _, tc := range []struct {
		backend   string
		want, not []string
	}{
		{config.BackendVault,
			[]string{"VAULT_TOKEN=hvs.for-vault-only", "VAULT_ADDR=https://vault.example.com", "HTTPS_PROXY=http://proxy.example.com:3128"},
			[]string{"GITLAB_TOKEN", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY", "RUNNERCTL_TEST_UNRELATED"}},
		{"mem",
			[]string{"HTTPS_PROXY=http://proxy.example.com:3128"},
			[]string{"GITLAB_TOKEN", "VAULT_TOKEN", "VAULT_ADDR", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET", "AWS_SECRET_ACCESS_KEY", "RUNNERCTL_TEST_UNRELATED"}},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			c, err := Start(context.Background(), exe, Spec{Backend: tc.backend}, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tok, err := c.Get(context.Background(), secrets.Location{Key: "environ"})
			if err != nil {
				t.Fatal(err)
			}
			env := strings.Split(tok.Reveal(), "\n")
			for _, w := range tc.want {
				if !slices.Contains(env, w) {
					t.Errorf("the helper lacks %s", w)
				}
			}
			for _, kv := range env {
				name, _, _ := strings.Cut(kv, "=")
				if slices.Contains(tc.not, name) {
					t.Errorf("the helper got %s", name)
				}
			}
		})
	}
}
