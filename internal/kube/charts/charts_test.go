package charts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"

	"github.com/runnerctl/runnerctl/internal/kube/wire"
)

// index is a small hand-written Helm repository index: seven gitlab-runner
// versions in no particular order.
func index() string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nentries:\n  gitlab-runner:\n")
	for _, v := range []string{"0.83.0", "0.86.0", "0.80.2", "0.85.1", "0.84.0", "0.81.0", "0.82.3"} {
		fmt.Fprintf(&b, "  - apiVersion: v1\n    name: gitlab-runner\n    version: %s\n    urls:\n    - https://charts.example.com/gitlab-runner-%s.tgz\n", v, v)
	}
	b.WriteString("generated: \"2026-11-18T10:00:00Z\"\n")
	return b.String()
}

// isolate points HOME and Helm's directories at an empty directory and
// checks at the end that nothing was written there.
func isolate(t *testing.T) {
	home := t.TempDir()
	for _, k := range []string{"HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"} {
		t.Setenv(k, home)
	}
	t.Cleanup(func() {
		if ents, _ := os.ReadDir(home); len(ents) > 0 {
			t.Errorf("wrote into the home directory: %v", ents)
		}
	})
}

func TestIndexRepository(t *testing.T) {
	isolate(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/charts/index.yaml":
			_, _ = w.Write([]byte(index()))
		case "/bad/index.yaml":
			_, _ = w.Write([]byte("{not yaml"))
		case "/fail/index.yaml":
			http.Error(w, "down", http.StatusBadGateway)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	newest := []string{"0.86.0", "0.85.1", "0.84.0", "0.83.0", "0.82.3"}

	for _, repo := range []string{srv.URL + "/charts", srv.URL + "/charts/"} {
		a, err := Version(ctx, wire.ChartQuery{RepoURL: repo, Chart: "gitlab-runner", Version: "0.84.0"})
		if err != nil || !a.Found || !a.ChartExists || !slices.Equal(a.Latest, newest) {
			t.Fatalf("%s: found version: %+v, %v", repo, a, err)
		}
	}
	a, err := Version(ctx, wire.ChartQuery{RepoURL: srv.URL + "/charts", Chart: "gitlab-runner", Version: "0.99.0"})
	if err != nil || a.Found || !a.ChartExists || !slices.Equal(a.Latest, newest) {
		t.Fatalf("missing version: %+v, %v", a, err)
	}
	a, err = Version(ctx, wire.ChartQuery{RepoURL: srv.URL + "/charts", Chart: "gitlab-agent", Version: "1.0.0"})
	if err != nil || a.Found || a.ChartExists || len(a.Latest) != 0 {
		t.Fatalf("missing chart: %+v, %v", a, err)
	}
	q := wire.ChartQuery{Chart: "gitlab-runner", Version: "0.86.0"}
	for _, tc := range []struct {
		repo string
		kind error
		msg  string
	}{
		{srv.URL + "/nothing", wire.ErrNotFound, "HTTP 404"},
		{srv.URL + "/bad", nil, "invalid index.yaml"},
		{srv.URL + "/fail", nil, "502"},
		{"http://127.0.0.1:1", wire.ErrUnreachable, "connection refused"},
		{"ftp://example.com/charts", wire.ErrConfig, "want https://"},
		{"", wire.ErrConfig, "all needed"},
	} {
		q.RepoURL = tc.repo
		_, err := Version(ctx, q)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || tc.kind != nil && !errors.Is(err, tc.kind) {
			t.Errorf("%s: %v; want %v with %q", tc.repo, err, tc.kind, tc.msg)
		}
		for _, k := range []error{wire.ErrNotFound, wire.ErrUnreachable, wire.ErrConfig} {
			if k != tc.kind && errors.Is(err, k) {
				t.Errorf("%s: %v is also %v", tc.repo, err, k)
			}
		}
	}
}

func TestOCIRegistry(t *testing.T) {
	isolate(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/", "/v2":
			w.WriteHeader(http.StatusOK)
		case "/v2/charts/gitlab-runner/tags/list":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": "charts/gitlab-runner",
				"tags": []string{"0.85.1", "latest", "0.86.0", "0.84.0", "sha256-abc.sig"}})
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
		}
	}))
	defer srv.Close()
	c := Checker{OCIClient: srv.Client()}
	host := strings.TrimPrefix(srv.URL, "https://")
	ctx := context.Background()
	a, err := c.Version(ctx, wire.ChartQuery{RepoURL: "oci://" + host + "/charts", Chart: "gitlab-runner", Version: "0.86.0"})
	if err != nil || !a.Found || !slices.Equal(a.Latest, []string{"0.86.0", "0.85.1", "0.84.0"}) {
		t.Fatalf("found: %+v, %v", a, err)
	}
	a, err = c.Version(ctx, wire.ChartQuery{RepoURL: "oci://" + host + "/charts/", Chart: "gitlab-runner", Version: "0.99.0"})
	if err != nil || a.Found || !a.ChartExists {
		t.Fatalf("missing version: %+v, %v", a, err)
	}
	_, err = c.Version(ctx, wire.ChartQuery{RepoURL: "oci://" + host + "/other", Chart: "gitlab-runner", Version: "0.86.0"})
	if !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("unknown repository: %v", err)
	}
}

func TestFetchFromIndexRepository(t *testing.T) {
	isolate(t)
	ch, err := loader.LoadDir("../chartcheck/testdata/mini-runner")
	if err != nil {
		t.Fatal(err)
	}
	tgzPath, err := chartutil.Save(ch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := os.ReadFile(tgzPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/charts/index.yaml":
			// A relative URL, as `helm repo index` writes them.
			_, _ = w.Write([]byte("apiVersion: v1\nentries:\n  mini-runner:\n  - apiVersion: v2\n    name: mini-runner\n    version: 0.1.0\n    urls: [pkgs/mini-runner-0.1.0.tgz]\n"))
		case "/charts/pkgs/mini-runner-0.1.0.tgz":
			_, _ = w.Write(tgz)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	got, err := Checker{}.Fetch(ctx, wire.ChartQuery{RepoURL: srv.URL + "/charts", Chart: "mini-runner", Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	back, err := loader.LoadArchive(bytes.NewReader(got))
	if err != nil || back.Name() != "mini-runner" || back.Metadata.Version != "0.1.0" || len(back.Templates) != len(ch.Templates) {
		t.Fatalf("fetched chart: %v, %v", back, err)
	}
	_, err = Checker{}.Fetch(ctx, wire.ChartQuery{RepoURL: srv.URL + "/charts", Chart: "mini-runner", Version: "9.9.9"})
	if !errors.Is(err, wire.ErrNotFound) || !strings.Contains(err.Error(), "no chart mini-runner version 9.9.9") {
		t.Fatalf("missing version: %v", err)
	}
	_, err = Checker{}.Fetch(ctx, wire.ChartQuery{RepoURL: srv.URL + "/nothing", Chart: "mini-runner", Version: "0.1.0"})
	if !errors.Is(err, wire.ErrNotFound) {
		t.Fatalf("missing repository: %v", err)
	}
}
