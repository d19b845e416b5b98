package render_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// benchFleetSpec is a spec with runners × clusters GitLab runners: each
// runner (as rich as BenchmarkRender's: cache, autoscaling, network
// policy) deployed to every cluster, every third cluster overriding
// concurrency, resources, tags and node selector. clusters 0 gives one
// runner without clusters: a single runner's render, the benchmark's
// reference. overrides false leaves every cluster as the runner defines
// it: the same runners deployed everywhere.
func benchFleetSpec(runners, clusters int, overrides bool) string {
	var b strings.Builder
	b.WriteString(`apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
`)
	if clusters > 0 {
		b.WriteString("clusters:\n")
		for c := range clusters {
			fmt.Fprintf(&b, "  - {name: c%d, destination: {server: \"https://c%d.k8s.example.com\"}}\n", c, c)
		}
	}
	b.WriteString("runners:\n")
	for i := range runners {
		fmt.Fprintf(&b, `  - name: r%d
    registration: {tags: [t%d]}
    cache: {s3: {serverAddress: "minio:9000", bucketName: cache, credentials: {accessKey: {key: cache, property: a}, secretKey: {key: cache, property: s}}}}
    autoscaling: {maxReplicas: 4}
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
`, i, i)
		if clusters > 0 {
			b.WriteString("    clusters:\n")
		}
		for c := range clusters {
			fmt.Fprintf(&b, "      - name: c%d\n", c)
			if overrides && c%3 == 1 {
				b.WriteString("        concurrent: 8\n        tags: [big]\n        nodeSelector: {pool: big}\n        resources: {requests: {cpu: 500m, memory: 512Mi}}\n")
			}
		}
	}
	return b.String()
}

// BenchmarkRenderFleet measures load + validate + render of a fleet of 5
// runners on 20 clusters (100 GitLab runners, 5 ApplicationSets), with and
// without per-cluster overrides, against one runner without clusters, as
// BenchmarkRender does. Compare each fleet's ns/op with the single
// runner's: the target of issue 16 is at most 10x (docs/performance.md,
// Fleets, has the numbers).
func BenchmarkRenderFleet(b *testing.B) {
	ps := mustProfiles(b)
	for _, c := range []struct {
		name              string
		runners, clusters int
		overrides         bool
		files             int
	}{
		{"single", 1, 0, false, 4},
		// Per runner: the ApplicationSet, and per cluster 3 files.
		{"runners=5,clusters=20", 5, 20, true, 5 * (1 + 20*3)},
		{"runners=5,clusters=20,no-overrides", 5, 20, false, 5 * (1 + 20*3)},
	} {
		spec := []byte(benchFleetSpec(c.runners, c.clusters, c.overrides))
		b.Run(c.name, func(b *testing.B) {
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
				if len(res.Files) != c.files {
					b.Fatalf("%d files, want %d", len(res.Files), c.files)
				}
			}
		})
	}
}
