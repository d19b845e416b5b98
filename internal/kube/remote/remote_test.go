package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/kube/server"
	"github.com/runnerctl/runnerctl/internal/kube/wire"
	"github.com/runnerctl/runnerctl/internal/validate"
)

type fakeCluster struct {
	calls []string
	err   error
}

func (f *fakeCluster) ForceSync(_ context.Context, ns, name, version, value, manager string) error {
	f.calls = append(f.calls, fmt.Sprintf("forceSync %s/%s %s %s%s", ns, name, version, value, as(manager)))
	return f.err
}

func (f *fakeCluster) SecretHash(_ context.Context, ns, name, key string) (string, error) {
	f.calls = append(f.calls, fmt.Sprintf("secretHash %s/%s %s", ns, name, key))
	return "abc", f.err
}

// as records a field manager in a call, when there is one.
func as(manager string) string {
	if manager == "" {
		return ""
	}
	return " as " + manager
}

func (f *fakeCluster) Restart(_ context.Context, ns, name, at, manager string) error {
	f.calls = append(f.calls, fmt.Sprintf("restart %s/%s %s%s", ns, name, at, as(manager)))
	return f.err
}

func (f *fakeCluster) RolloutStatus(_ context.Context, ns, name string) (Rollout, error) {
	f.calls = append(f.calls, fmt.Sprintf("rolloutStatus %s/%s", ns, name))
	return Rollout{Generation: 2, ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, StatusReplicas: 1}, f.err
}

// pipeClient connects a Client, not yet open, to the helper's server in
// this process.
func pipeClient(t *testing.T, h server.Handlers) *Client {
	return pipeClientSpeaking(t, wire.Protocol, h)
}

// pipeClientSpeaking is pipeClient for a runnerctl that speaks p.
func pipeClientSpeaking(t *testing.T, p helper.Protocol, h server.Handlers) *Client {
	t.Helper()
	reqR, reqW := io.Pipe()
	respR, respW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- server.Serve(context.Background(), reqR, respW, h); respW.Close() }()
	c := &Client{c: p.NewClient(helper.NewConn(HelperName, respR, reqW, func() error { return <-done }, func() {}))}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// otherRelease is the protocol of a runnerctl from another release.
func otherRelease(delta int) helper.Protocol {
	p := wire.Protocol
	p.Version += delta
	return p
}

func TestProtocol(t *testing.T) {
	fc := &fakeCluster{}
	var spec Spec
	h := server.Handlers{Open: func(_ context.Context, s Spec) (server.Cluster, error) { spec = s; return fc, nil }}
	ctx := context.Background()
	old := pipeClientSpeaking(t, otherRelease(+1), h)
	if err := old.c.Open(ctx, wire.Open{Spec: &Spec{}}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "same release") {
		t.Fatalf("protocol mismatch: %v", err)
	}
	c := pipeClient(t, h)
	if err := c.ForceSync(ctx, "ns", "es", "v1", "1", ""); err == nil || !errors.Is(err, ErrConfig) {
		t.Fatalf("a call before open: %v", err)
	}
	if err := c.c.Open(ctx, wire.Open{Spec: &Spec{Kubeconfig: "k", Context: "c"}}); err != nil {
		t.Fatal(err)
	}
	if spec != (Spec{Kubeconfig: "k", Context: "c"}) {
		t.Fatalf("opened %+v", spec)
	}
	if err := c.ForceSync(ctx, "ns", "es", "v1", "1", ""); err != nil {
		t.Fatal(err)
	}
	if h, err := c.SecretHash(ctx, "ns", "s", "runner-token"); err != nil || h != "abc" {
		t.Fatalf("SecretHash = %q, %v", h, err)
	}
	if err := c.Restart(ctx, "ns", "d", "T", "flux-client-side-apply"); err != nil {
		t.Fatal(err)
	}
	if r, err := c.RolloutStatus(ctx, "ns", "d"); err != nil || !r.Complete() {
		t.Fatalf("RolloutStatus = %+v, %v", r, err)
	}
	want := "forceSync ns/es v1 1|secretHash ns/s runner-token|restart ns/d T as flux-client-side-apply|rolloutStatus ns/d"
	if got := strings.Join(fc.calls, "|"); got != want {
		t.Fatalf("calls %s, want %s", got, want)
	}
	fc.err = fmt.Errorf("deployment x: %w", ErrForbidden)
	if err := c.Restart(ctx, "ns", "d", "T", ""); !errors.Is(err, ErrForbidden) || err.Error() != "deployment x: forbidden" {
		t.Fatalf("error across the pipe: %v", err)
	}
}

func TestRolloutComplete(t *testing.T) {
	for _, tc := range []struct {
		r       Rollout
		done    bool
		pending string
	}{
		{Rollout{Generation: 2, ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, StatusReplicas: 1}, false, "not yet seen"},
		{Rollout{Generation: 2, ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2, StatusReplicas: 3}, false, "1 of 2 new replicas"},
		{Rollout{Generation: 2, ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, StatusReplicas: 2}, false, "1 old replicas"},
		{Rollout{Generation: 2, ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 0, StatusReplicas: 1}, false, "0 of 1 updated replicas are available"},
		{Rollout{Generation: 2, ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, StatusReplicas: 1}, true, "nothing"},
	} {
		if tc.r.Complete() != tc.done || !strings.Contains(tc.r.Pending(), tc.pending) {
			t.Errorf("%+v: Complete %v, Pending %q", tc.r, tc.r.Complete(), tc.r.Pending())
		}
	}
}

func TestChartsOnlySession(t *testing.T) {
	opened := false
	var asked ChartQuery
	chart := func(_ context.Context, q ChartQuery) (ChartAnswer, error) {
		asked = q
		if q.Version == "9.9.9" {
			return ChartAnswer{}, fmt.Errorf("chart repository x: %w", ErrUnreachable)
		}
		return ChartAnswer{Found: true, ChartExists: true, Latest: []string{"0.86.0", "0.85.1"}}, nil
	}
	var validated validate.Request
	validateFn := func(_ context.Context, req validate.Request) ([]validate.Problem, error) {
		validated = req
		if len(req.Files) == 0 {
			return nil, fmt.Errorf("%w: nothing to validate", ErrConfig)
		}
		if req.IgnoreMissingSchemas {
			return nil, nil
		}
		return []validate.Problem{{Severity: validate.Error, File: req.Files[0].Path, Field: "spec.x", Message: "unknown field"}}, nil
	}
	h := server.Handlers{Open: func(context.Context, Spec) (server.Cluster, error) {
		opened = true
		return &fakeCluster{}, nil
	}, Chart: chart, Validate: validateFn}
	ctx := context.Background()
	old := pipeClientSpeaking(t, otherRelease(-1), h)
	if err := old.c.Open(ctx, wire.Open{Charts: true}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "same release") {
		t.Fatalf("charts-only open with an old protocol: %v", err)
	}
	c := pipeClient(t, h)
	q := ChartQuery{RepoURL: "https://charts.example.com", Chart: "gitlab-runner", Version: "0.86.0"}
	if _, err := c.ChartVersion(ctx, q); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "before open") {
		t.Fatalf("chartVersion before open: %v", err)
	}
	if err := c.c.Open(ctx, wire.Open{Charts: true, Spec: &Spec{}}); !errors.Is(err, ErrConfig) {
		t.Fatalf("open with a cluster and charts only: %v", err)
	}
	if err := c.c.Open(ctx, wire.Open{Charts: true}); err != nil {
		t.Fatal(err)
	}
	a, err := c.ChartVersion(ctx, q)
	if err != nil || !a.Found || strings.Join(a.Latest, ",") != "0.86.0,0.85.1" || asked != q {
		t.Fatalf("ChartVersion = %+v, %v (asked %+v)", a, err, asked)
	}
	q.Version = "9.9.9"
	if _, err := c.ChartVersion(ctx, q); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("unreachable across the pipe: %v", err)
	}
	req := validate.Request{Files: []validate.File{{Path: "a.yaml", Content: []byte("kind: X\n")}}, Charts: []validate.ChartRequest{{Source: validate.ChartSource{Path: "/c"}}}}
	ps, err := c.Validate(ctx, req)
	if err != nil || len(ps) != 1 || ps[0].File != "a.yaml" || ps[0].Field != "spec.x" || string(validated.Files[0].Content) != "kind: X\n" || validated.Charts[0].Source.Path != "/c" {
		t.Fatalf("Validate = %+v, %v (asked %+v)", ps, err, validated)
	}
	req.IgnoreMissingSchemas = true
	if ps, err := c.Validate(ctx, req); err != nil || len(ps) != 0 {
		t.Fatalf("Validate with no problems = %#v, %v", ps, err)
	}
	if _, err := c.Validate(ctx, validate.Request{}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "nothing to validate") {
		t.Fatalf("a failing validate across the pipe: %v", err)
	}
	if err := c.Restart(ctx, "ns", "d", "T", ""); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "charts-only") {
		t.Fatalf("a cluster operation in a charts-only session: %v", err)
	}
	if err := c.c.Open(ctx, wire.Open{Spec: &Spec{}}); !errors.Is(err, ErrConfig) || opened {
		t.Fatalf("a second open: %v (opened %v)", err, opened)
	}
}

func TestChartVersionAfterClusterOpen(t *testing.T) {
	c := pipeClient(t, server.Handlers{Open: func(context.Context, Spec) (server.Cluster, error) { return &fakeCluster{}, nil }})
	ctx := context.Background()
	if err := c.c.Open(ctx, wire.Open{Spec: &Spec{}}); err != nil {
		t.Fatal(err)
	}
	// No ChartFunc is served: the helper says so.
	if _, err := c.ChartVersion(ctx, ChartQuery{RepoURL: "oci://r/p", Chart: "c", Version: "1"}); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "cannot check charts") {
		t.Fatalf("chartVersion without a ChartFunc: %v", err)
	}
}
