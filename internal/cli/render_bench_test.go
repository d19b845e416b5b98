package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"
)

// fleetSpec is a spec with n runners in namespace ns, each with a cache,
// autoscaling and a network policy (four files per runner). The runners
// share their settings through a YAML merge key, as a fleet that size
// must to stay within runnerctl.yaml's 1 MiB.
func fleetSpec(n int, ns string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
runners:
  - &runner
    name: r0
    namespace: %s
    registration: {tags: [fleet]}
    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    autoscaling: {maxReplicas: 4}
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
`, ns)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - {<<: *runner, name: r%d}\n", i)
	}
	return []byte(b.String())
}

// BenchmarkRenderWrite is `runnerctl render --out DIR` in-process, with the
// process's garbage collector settings: load, render, the checks of the
// generated files, plan and the atomic, synced writes. create writes into
// a new directory; update rewrites every file of the previous run (the
// runners move to another namespace, which every file names). Targets
// (issue 13): 10,000 runners in at most 3 s and 256 MB, and at most 12x
// the time of 1,000. files/s counts the files written; peak-MB is the most
// memory the Go runtime held from the system (heap and stacks, not
// returned) during the runs: the part of the process's RSS it decides.
//
//	go test ./internal/cli -run '^$' -bench 'RenderWrite/runners=1000$' -benchtime 3x -count 5
func BenchmarkRenderWrite(b *testing.B) {
	for _, n := range []int{1000, 4000, 10000} {
		for _, mode := range []string{"create", "update"} {
			b.Run(fmt.Sprintf("runners=%d/%s", n, mode), func(b *testing.B) {
				benchRenderWrite(b, n, mode == "update")
			})
		}
	}
}

func benchRenderWrite(b *testing.B, n int, update bool) {
	dir := b.TempDir()
	specs := [2]string{filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")}
	for i, ns := range []string{"ci-a", "ci-b"} {
		if err := os.WriteFile(specs[i], fleetSpec(n, ns), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	run := func(spec, out string) {
		var stderr bytes.Buffer
		e := &factory{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
		if code := Run([]string{"render", "--quiet", "--config", spec, "--out", out}, e); code != 0 {
			b.Fatalf("render exited %d: %s", code, stderr.String())
		}
	}
	out := filepath.Join(dir, "out")
	if update {
		run(specs[1], out)
	}
	// What earlier runs left for the disk (deleted trees above all) would
	// otherwise be written during, and billed to, this one's flushes.
	flushDisk()
	restore := cliGC()
	defer restore()
	peak := samplePeak()
	i := 0
	for b.Loop() {
		if !update {
			out = filepath.Join(dir, fmt.Sprintf("out%d", i)) // each run a new tree
		}
		run(specs[i%2], out)
		i++
	}
	b.ReportMetric(float64(4*n*i)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(peak())/(1<<20), "peak-MB")
}

// cliGC applies runnerctl's garbage collector settings (tuneGC), starting
// from a collected heap, and returns what restores the test's own.
func cliGC() (restore func()) {
	runtime.GC()
	debug.FreeOSMemory()
	percent := debug.SetGCPercent(100)
	limit := debug.SetMemoryLimit(-1)
	tuneGC(func(string) string { return "" })
	return func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	}
}

// samplePeak samples, every millisecond until peak is called, the memory
// the Go runtime holds from the system and has not returned, and returns
// the most it saw.
func samplePeak() (peak func() uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	var most uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			most = max(most, samples[0].Value.Uint64()-samples[1].Value.Uint64())
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(stop)
		wg.Wait()
		return most
	}
}
