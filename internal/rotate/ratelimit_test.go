package rotate

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// rateLimitedFleet is a fake GitLab with n runners, the targets to rotate
// them, and a client for each run (a fresh one is a new runnerctl, which
// knows nothing of the limit yet).
type rateLimitedFleet struct {
	srv     *fakegitlab.Server
	targets []Target
}

func newRateLimitedFleet(tb testing.TB, n int) *rateLimitedFleet {
	tb.Helper()
	srv, err := fakegitlab.Start(fakegitlab.Options{TokenPrefix: "CANARYbench"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	srv.AddToken("glpat-bench", "api")
	gl := fleetClient(tb, srv)
	f := &rateLimitedFleet{srv: srv}
	for i := range n {
		c, err := gl.CreateRunner(context.Background(), gitlab.RunnerSpec{Target: gitlab.Target{Type: "instance_type"}, RunUntagged: true}, gitlab.NewMarker(""))
		if err != nil {
			tb.Fatal(err)
		}
		f.targets = append(f.targets, target(fmt.Sprintf("r%d", i), c.ID))
	}
	return f
}

func fleetClient(tb testing.TB, srv *fakegitlab.Server) *gitlab.Client {
	tb.Helper()
	gl, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-bench")})
	if err != nil {
		tb.Fatal(err)
	}
	return gl
}

// rotate rotates the fleet once with a new client, fails tb unless every
// runner was rotated, and says how many requests GitLab answered (429s
// apart) and how many it throttled.
func (f *rateLimitedFleet) rotate(tb testing.TB, e *env, parallel int) (answered, throttled int) {
	tb.Helper()
	gl := fleetClient(tb, f.srv)
	before := len(f.srv.Requests())
	deps := Deps{GitLab: gl, Store: e.store, State: e.state, Steps: &steps{}}
	for _, r := range Run(context.Background(), deps, Options{GitLabURL: f.srv.URL(), Parallel: parallel}, f.targets) {
		if r.Status != Rotated {
			tb.Fatalf("%s: %s %s", r.Name, r.Status, r.Error)
		}
	}
	for _, line := range f.srv.Requests()[before:] {
		if strings.HasSuffix(line, " 429") {
			throttled++
		} else {
			answered++
		}
	}
	if throttled != gl.Throttled() {
		tb.Errorf("the fake throttled %d requests, the client saw %d", throttled, gl.Throttled())
	}
	return answered, throttled
}

// A fleet rotated against a strict rate limit never exceeds it: the
// client learns the limit from GitLab's headers and paces every runner's
// requests by it. (Small and fast: 10 runners need 30 requests, a second
// and a half at 20 a second; unpaced, --parallel 10 sends them in a tenth
// of that, and the fake records the excess.)
func TestRotateFleetKeepsToTheRateLimit(t *testing.T) {
	f := newRateLimitedFleet(t, 10)
	if err := f.srv.SetRateLimit(fakegitlab.RateLimitPolicy{Limit: 20, Strict: true}); err != nil {
		t.Fatal(err)
	}
	f.srv.DelayAll(5 * time.Millisecond)
	answered, _ := f.rotate(t, newEnv(t), 10)
	if vs := f.srv.RateLimitViolations(); len(vs) > 0 {
		t.Errorf("%d requests exceeded GitLab's rate limit, the first: %s", len(vs), vs[0])
	}
	// GET /runners/:id, the GraphQL expiry, the reset: the store's
	// requests go to the secrets manager, not GitLab.
	if want := 3 * len(f.targets); answered != want {
		t.Errorf("GitLab answered %d requests for %d runners, want %d", answered, len(f.targets), want)
	}
}

// BenchmarkRotateFleetRateLimited rotates a fleet against a fake GitLab that
// answers in 100 ms and throttles as GitLab does (fixed one-second windows,
// RateLimit-* headers on every answer), with --parallel 20, far above what
// the limit allows (the limit times the latency: 5 requests in flight).
// The ideal time is the requests GitLab must answer (3 a runner) over the
// limit; ratio is the run's time over that (the target: at most
// 1.1), with no request throttled.
//
//	go test ./internal/rotate -run '^$' -bench RotateFleetRateLimited -benchtime 1x
//
// The default is 200 runners at 50 requests a second (12 s ideal); the
// issue's 1,000 runners at 10 a second (300 s) with
// RUNNERCTL_BENCH_FLEET=1000x10.
func BenchmarkRotateFleetRateLimited(b *testing.B) {
	runners, rps := 200, 50
	if v := os.Getenv("RUNNERCTL_BENCH_FLEET"); v != "" {
		if _, err := fmt.Sscanf(v, "%dx%d", &runners, &rps); err != nil {
			b.Fatalf("RUNNERCTL_BENCH_FLEET=%q: want RUNNERSxRPS: %v", v, err)
		}
	}
	const latency, parallel = 100 * time.Millisecond, 20
	f := newRateLimitedFleet(b, runners)
	f.srv.DelayAll(latency)
	e := newEnv(b)

	b.ResetTimer()
	var total time.Duration
	var answered, throttled int
	for b.Loop() {
		// A fresh limit each run: the windows of the run before are
		// forgotten, as they would be by the time a schedule runs again.
		if err := f.srv.SetRateLimit(fakegitlab.RateLimitPolicy{Limit: rps}); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		a, th := f.rotate(b, e, parallel)
		total += time.Since(start)
		answered, throttled = answered+a, throttled+th
	}
	elapsed := total.Seconds() / float64(b.N)
	ideal := float64(answered) / float64(b.N) / float64(rps)
	b.ReportMetric(elapsed, "s/fleet")
	b.ReportMetric(ideal, "ideal-s/fleet")
	b.ReportMetric(elapsed/ideal, "ratio")
	b.ReportMetric(float64(answered)/float64(b.N*runners), "requests/runner")
	b.ReportMetric(float64(throttled)/float64(b.N), "throttled/fleet")
}
