package rotate

import (
	"context"
	"fmt"
	"testing"
	"time"

	fakegitlab "github.com/runnerctl/runnerctl/internal/fake/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// BenchmarkRotateFleet rotates 50 runners through the real GitLab client
// against the fake GitLab, every request of a rotation (GET /runners/:id,
// the GraphQL expiry query, the reset) held 100 ms, with an in-memory
// store. It runs the fleet once one runner at a time, then at the default
// parallelism, and reports the ratio (the target: at most 0.15).
//
//	go test ./internal/rotate -run '^$' -bench RotateFleet -benchtime 1x
func BenchmarkRotateFleet(b *testing.B) {
	const runners, latency = 50, 100 * time.Millisecond
	srv, err := fakegitlab.Start(fakegitlab.Options{TokenPrefix: "CANARYbench"})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	srv.AddToken("glpat-bench", "api")
	gl, err := gitlab.New(gitlab.Options{URL: srv.URL(), Token: secrets.NewToken("glpat-bench")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var targets []Target
	for i := range runners {
		c, err := gl.CreateRunner(ctx, gitlab.RunnerSpec{Target: gitlab.Target{Type: "instance_type"}, RunUntagged: true}, gitlab.NewMarker(""))
		if err != nil {
			b.Fatal(err)
		}
		targets = append(targets, target(fmt.Sprintf("r%d", i), c.ID))
	}
	for _, op := range []string{fakegitlab.OpGetRunner, fakegitlab.OpGraphQL, fakegitlab.OpResetToken} {
		srv.Delay(op, latency)
	}
	e := newEnv(b)
	deps := Deps{GitLab: gl, Store: newStore(), State: e.state, Steps: &steps{}}
	fleet := func(parallel int) time.Duration {
		start := time.Now()
		for _, r := range Run(ctx, deps, Options{GitLabURL: srv.URL(), Parallel: parallel}, targets) {
			if r.Status != Rotated {
				b.Fatalf("%s: %s %s", r.Name, r.Status, r.Error)
			}
		}
		return time.Since(start)
	}

	sequential := fleet(1)
	b.ResetTimer()
	var total time.Duration
	for b.Loop() {
		total += fleet(DefaultParallel)
	}
	parallel := total / time.Duration(b.N)
	b.ReportMetric(sequential.Seconds(), "sequential-s")
	b.ReportMetric(parallel.Seconds(), "parallel-s")
	b.ReportMetric(parallel.Seconds()/sequential.Seconds(), "ratio")
}
