package render_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// fleetSpec is a spec with n runners, every one with a cache, autoscaling
// and a network policy, so the benchmark covers every generated file.
func fleetSpec(n int) string {
	var b strings.Builder
	b.WriteString(`apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
runners:
`)
	for i := range n {
		fmt.Fprintf(&b, `  - name: r%d
    registration: {tags: [t%d]}
    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    autoscaling: {maxReplicas: 4}
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
`, i, i)
	}
	return b.String()
}

// BenchmarkRender measures load + validate + render, what `runnerctl
// render` does besides I/O. Compare the per-op time of runners=200 with
// runners=1: the target is at most 10x; runners=1000 shows it stays linear.
func BenchmarkRender(b *testing.B) {
	for _, n := range []int{1, 200, 1000} {
		b.Run(fmt.Sprintf("runners=%d", n), func(b *testing.B) { benchRender(b, []byte(fleetSpec(n)), 4*n) })
	}
}

// benchRender measures load + validate + render of spec, which gives
// files files.
func benchRender(b *testing.B, spec []byte, files int) {
	ps := mustProfiles(b)
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := config.Parse("runnerctl.yaml", spec)
		if err != nil {
			b.Fatal(err)
		}
		res, err := render.Render(cfg, ps)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Files) != files {
			b.Fatalf("%d files, want %d", len(res.Files), files)
		}
	}
}

// BenchmarkRenderFlux is BenchmarkRender's spec under gitops.engine flux
// (a HelmRelease with the values inline instead of the Application and the
// values file, and more objects per runner). Compare with BenchmarkRender
// at the same size.
func BenchmarkRenderFlux(b *testing.B) {
	for _, n := range []int{1, 200} {
		spec := strings.Replace(fleetSpec(n), `gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}`,
			`gitops: {engine: flux, repoURL: "https://gitlab.example.com/platform/gitops.git", paths: {applications: clusters/prod/runners}}`, 1)
		// Per runner the Flux Kustomization, kustomization.yaml, the
		// HelmRelease, the HelmRepository, the ExternalSecrets (token and
		// cache, one file) and the egress policy; one Namespace for all.
		b.Run(fmt.Sprintf("runners=%d", n), func(b *testing.B) { benchRender(b, []byte(spec), 6*n+1) })
	}
}
