// Package charts answers the runnerctl-kube helper's chartVersion: does a
// chart version exist in a Helm chart repository? It links the Helm v4 SDK
// (its repo, getter and registry packages), so, like package kube, only the
// helper imports it: runnerctl itself stays free of Helm (see package
// kube/remote).
//
// Classic HTTP(S) repositories are read through Helm's getter and index
// loader: index.yaml is downloaded into a temporary directory that is
// removed at once, so nothing is written to Helm's cache or configuration in
// the user's home. OCI registries (oci://host/path) are asked for the
// chart's tags through Helm's registry client, anonymously or with the
// credentials `helm registry login` or `docker login` stored (read, never
// written). Both honour HTTPS_PROXY, HTTP_PROXY and NO_PROXY; a custom CA
// or client certificate is not supported (the system's trust store is
// used).
package charts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"

	"github.com/runnerctl/runnerctl/internal/kube/wire"
)

// Timeout bounds one chart check: runnerctl never cuts a helper call
// short, so a repository that does not answer must not hang doctor.
const Timeout = 30 * time.Second

// Checker answers chart queries.
type Checker struct {
	// Timeout of the repository's answer; Timeout when zero.
	Timeout time.Duration
	// OCIClient, when set, is the HTTP client for OCI registries (tests
	// give their TLS server's); Helm's default transport otherwise.
	OCIClient *http.Client
}

// Version implements server.ChartFunc with the default Checker.
func Version(ctx context.Context, q wire.ChartQuery) (wire.ChartAnswer, error) {
	return Checker{}.Version(ctx, q)
}

// Version looks q's chart up in q's repository.
func (c Checker) Version(ctx context.Context, q wire.ChartQuery) (wire.ChartAnswer, error) {
	if q.RepoURL == "" || q.Chart == "" || q.Version == "" {
		return wire.ChartAnswer{}, fmt.Errorf("%w: chart repository, name and version are all needed", wire.ErrConfig)
	}
	u, err := url.Parse(q.RepoURL)
	if err != nil {
		return wire.ChartAnswer{}, fmt.Errorf("%w: chart repository %q: %v", wire.ErrConfig, q.RepoURL, err)
	}
	timeout := c.Timeout
	if timeout == 0 {
		timeout = Timeout
	}
	var versions []string
	switch u.Scheme {
	case "http", "https":
		versions, err = indexVersions(q.RepoURL, q.Chart, timeout)
	case "oci":
		versions, err = c.ociVersions(q.RepoURL, q.Chart, timeout)
	default:
		return wire.ChartAnswer{}, fmt.Errorf("%w: chart repository %q: want https://, http:// or oci://", wire.ErrConfig, q.RepoURL)
	}
	if err != nil {
		return wire.ChartAnswer{}, err
	}
	return answer(versions, q.Version), nil
}

// answer judges versions, newest first.
func answer(versions []string, want string) wire.ChartAnswer {
	a := wire.ChartAnswer{ChartExists: len(versions) > 0, Found: slices.Contains(versions, want)}
	a.Latest = versions[:min(len(versions), wire.MaxLatest)]
	return a
}

// indexVersions downloads repoURL's index.yaml with Helm's HTTP getter and
// lists chart's versions, newest first (Helm sorts the index by semver).
func indexVersions(repoURL, chart string, timeout time.Duration) ([]string, error) {
	idx, err := loadIndex(repoURL, timeout)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, cv := range idx.Entries[chart] {
		if cv != nil && cv.Metadata != nil {
			out = append(out, cv.Version)
		}
	}
	return out, nil
}

// loadIndex downloads and loads repoURL's index.yaml.
func loadIndex(repoURL string, timeout time.Duration) (*repo.IndexFile, error) {
	tmp, err := os.MkdirTemp("", "runnerctl-kube-charts-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	r, err := repo.NewChartRepository(&repo.Entry{Name: "runnerctl", URL: repoURL}, getters(timeout))
	if err != nil {
		return nil, fmt.Errorf("%w: chart repository %q: %v", wire.ErrConfig, repoURL, err)
	}
	r.CachePath = tmp // never Helm's cache in the user's home
	path, err := r.DownloadIndexFile()
	var urlErr *url.Error
	switch {
	case err != nil && (errors.As(err, &urlErr) || strings.HasPrefix(err.Error(), "failed to fetch")):
		return nil, fetchError(repoURL, err)
	case err != nil: // fetched, but Helm could not load it
		return nil, fmt.Errorf("chart repository %s: invalid index.yaml: %v", repoURL, err)
	}
	idx, err := repo.LoadIndexFile(path)
	if err != nil {
		return nil, fmt.Errorf("chart repository %s: invalid index.yaml: %v", repoURL, err)
	}
	return idx, nil
}

func getters(timeout time.Duration) getter.Providers {
	return getter.Getters(getter.WithTimeout(timeout), getter.WithUserAgent(wire.HelperName))
}

// Fetch downloads the packaged chart (.tgz) that q names, from an HTTP(S)
// repository (the URL its index.yaml gives) or an OCI registry, in memory.
func (c Checker) Fetch(ctx context.Context, q wire.ChartQuery) ([]byte, error) {
	if q.RepoURL == "" || q.Chart == "" || q.Version == "" {
		return nil, fmt.Errorf("%w: chart repository, name and version are all needed", wire.ErrConfig)
	}
	timeout := cmp.Or(c.Timeout, Timeout)
	if strings.HasPrefix(q.RepoURL, "oci://") {
		rc, err := c.registryClient(timeout)
		if err != nil {
			return nil, err
		}
		ref := strings.TrimSuffix(strings.TrimPrefix(q.RepoURL, "oci://"), "/") + "/" + q.Chart + ":" + q.Version
		res, err := rc.Pull(ref)
		if err != nil {
			return nil, fetchError("oci://"+ref, err)
		}
		return res.Chart.Data, nil
	}
	idx, err := loadIndex(q.RepoURL, timeout)
	if err != nil {
		return nil, err
	}
	cv, err := idx.Get(q.Chart, q.Version)
	if err != nil || len(cv.URLs) == 0 {
		return nil, &kindError{msg: fmt.Sprintf("chart repository %s has no chart %s version %s", q.RepoURL, q.Chart, q.Version), kind: wire.ErrNotFound}
	}
	u, err := repo.ResolveReferenceURL(q.RepoURL, cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart repository %s: chart URL %q: %v", q.RepoURL, cv.URLs[0], err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("chart repository %s: chart URL %q: %v", q.RepoURL, u, err)
	}
	g, err := getters(timeout).ByScheme(pu.Scheme)
	if err != nil {
		return nil, fmt.Errorf("%w: chart URL %q: %v", wire.ErrConfig, u, err)
	}
	buf, err := g.Get(u)
	if err != nil {
		return nil, fetchError(u, err)
	}
	return buf.Bytes(), nil
}

// ociVersions lists the semver tags of repoURL/chart, newest first.
func (c Checker) ociVersions(repoURL, chart string, timeout time.Duration) ([]string, error) {
	rc, err := c.registryClient(timeout)
	if err != nil {
		return nil, err
	}
	ref := strings.TrimSuffix(strings.TrimPrefix(repoURL, "oci://"), "/") + "/" + chart
	tags, err := rc.Tags(ref)
	if err != nil {
		return nil, fetchError("oci://"+ref, err)
	}
	return tags, nil
}

func (c Checker) registryClient(timeout time.Duration) (*registry.Client, error) {
	hc := c.OCIClient
	if hc == nil {
		hc = &http.Client{Transport: registry.NewTransport(false)}
	}
	hc2 := *hc
	hc2.Timeout = timeout
	// Credentials: Helm's registry config ($HELM_REGISTRY_CONFIG, else
	// Helm's default path), then Docker's; both are only read.
	opts := []registry.ClientOption{registry.ClientOptHTTPClient(&hc2)}
	if p := os.Getenv("HELM_REGISTRY_CONFIG"); p != "" {
		opts = append(opts, registry.ClientOptCredentialsFile(p))
	}
	rc, err := registry.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: OCI registry client: %v", wire.ErrConfig, err)
	}
	return rc, nil
}

// fetchError classifies a download failure: unreachable (the network),
// not found (HTTP 404), or the repository's own error.
func fetchError(where string, err error) error {
	var (
		netErr net.Error
		opErr  *net.OpError
		urlErr *url.Error
	)
	msg := err.Error()
	switch {
	case strings.Contains(msg, " : 404 ") || strings.Contains(msg, "404 Not Found") || strings.Contains(msg, "response status code 404"):
		return &kindError{msg: fmt.Sprintf("%s: HTTP 404: no chart repository there (%v)", where, err), kind: wire.ErrNotFound}
	case errors.As(err, &netErr), errors.As(err, &opErr), errors.As(err, &urlErr):
		return &kindError{msg: fmt.Sprintf("%s: %v", where, err), kind: wire.ErrUnreachable}
	}
	return fmt.Errorf("%s: %w", where, err)
}

type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }
