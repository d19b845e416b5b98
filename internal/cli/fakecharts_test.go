package cli

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rogpeppe/go-internal/testscript"
)

// fakeChartIndex is a small hand-written Helm repository index: three
// gitlab-runner versions, out of order (Helm sorts them), and another chart.
const fakeChartIndex = `apiVersion: v1
entries:
  gitlab-runner:
  - apiVersion: v1
    name: gitlab-runner
    version: 0.85.1
    appVersion: v18.5.1
    digest: 0000000000000000000000000000000000000000000000000000000000000002
    urls:
    - https://charts.example.com/gitlab-runner-0.85.1.tgz
    created: "2026-10-20T10:00:00Z"
  - apiVersion: v1
    name: gitlab-runner
    version: 0.86.0
    appVersion: v18.6.0
    digest: 0000000000000000000000000000000000000000000000000000000000000003
    urls:
    - https://charts.example.com/gitlab-runner-0.86.0.tgz
    created: "2026-11-18T10:00:00Z"
  - apiVersion: v1
    name: gitlab-runner
    version: 0.84.0
    appVersion: v18.4.0
    digest: 0000000000000000000000000000000000000000000000000000000000000001
    urls:
    - https://charts.example.com/gitlab-runner-0.84.0.tgz
    created: "2026-09-18T10:00:00Z"
  gitlab-agent:
  - apiVersion: v2
    name: gitlab-agent
    version: 2.1.0
    urls:
    - https://charts.example.com/gitlab-agent-2.1.0.tgz
generated: "2026-11-18T10:00:00Z"
`

// newFakeChartRepo serves fakeChartIndex at /index.yaml and under any
// prefix (/sub/index.yaml), an invalid index at /broken/index.yaml, and
// 404 for everything else. It counts the requests it answers.
func newFakeChartRepo(requests *atomic.Int64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch {
		case r.URL.Path == "/broken/index.yaml":
			_, _ = w.Write([]byte("entries: [this is not an index\n"))
		case r.URL.Path == "/index.yaml" || r.URL.Path == "/sub/index.yaml":
			w.Header().Set("Content-Type", "application/x-yaml")
			_, _ = w.Write([]byte(fakeChartIndex))
		default:
			http.NotFound(w, r)
		}
	}))
}

var fakeChartRepos sync.Map // *testscript.TestScript → *atomic.Int64

// cmdFakeCharts runs a fake Helm chart repository for a script:
//
//	fake-charts start        serve it; sets FAKE_CHARTS_URL (http://, no
//	                         trailing slash): /index.yaml holds gitlab-runner
//	                         0.84.0, 0.85.1 and 0.86.0; /broken/ an invalid
//	                         index; any other path is 404
//	fake-charts requests N   it has answered exactly N requests (since reset)
//	fake-charts reset        zero the count
func cmdFakeCharts(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: fake-charts start | requests N | reset")
	}
	switch args[0] {
	case "start":
		n := new(atomic.Int64)
		srv := newFakeChartRepo(n)
		fakeChartRepos.Store(ts, n)
		ts.Defer(func() { fakeChartRepos.Delete(ts); srv.Close() })
		ts.Setenv("FAKE_CHARTS_URL", srv.URL)
	case "requests":
		if len(args) != 2 {
			ts.Fatalf("usage: fake-charts requests N")
		}
		v, ok := fakeChartRepos.Load(ts)
		if !ok {
			ts.Fatalf("fake-charts requests: no fake-charts start")
		}
		want, err := strconv.ParseInt(args[1], 10, 64)
		ts.Check(err)
		if got := v.(*atomic.Int64).Load(); got != want {
			ts.Fatalf("fake chart repository answered %d requests, want %d", got, want)
		}
	case "reset":
		v, ok := fakeChartRepos.Load(ts)
		if !ok {
			ts.Fatalf("fake-charts reset: no fake-charts start")
		}
		v.(*atomic.Int64).Store(0)
	default:
		ts.Fatalf("fake-charts: unknown subcommand %q", args[0])
	}
}
