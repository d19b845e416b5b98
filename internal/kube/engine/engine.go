// Package engine answers the runnerctl-kube helper's Validate request:
// objects against CRDs and Kubernetes' types (package kubeschema), and
// chart renderings against profile claims (package chartcheck). Like them,
// it runs only inside the helper.
package engine

import (
	"bytes"
	"context"
	"fmt"
	"os"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/runnerctl/runnerctl/internal/kube/chartcheck"
	"github.com/runnerctl/runnerctl/internal/kube/kubeschema"
	"github.com/runnerctl/runnerctl/internal/kube/wire"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// FetchFunc downloads a packaged chart from a chart repository.
type FetchFunc func(ctx context.Context, q wire.ChartQuery) ([]byte, error)

// Engine runs validate requests.
type Engine struct {
	Fetch FetchFunc
}

// Validate implements server.ValidateFunc. A chart that cannot be loaded
// or fetched is an error of the request (the command fails with its
// message), not a problem of the user's files.
func (e Engine) Validate(ctx context.Context, req validate.Request) ([]validate.Problem, error) {
	v := kubeschema.New()
	v.IgnoreMissing = req.IgnoreMissingSchemas
	v.AllowDrift = req.AllowDrift
	var ps []validate.Problem
	for _, f := range req.CRDs {
		ps = append(ps, v.AddCRDs(f.Path, f.Content)...)
	}
	for _, f := range req.Files {
		ps = append(ps, v.File(ctx, f.Path, f.Content)...)
	}
	// Runners usually share one chart: fetch each source once.
	charts := map[validate.ChartSource]*chart.Chart{}
	for _, c := range req.Charts {
		ch, ok := charts[c.Source]
		if !ok {
			var err error
			if ch, err = e.load(ctx, c.Source); err != nil {
				return nil, err
			}
			charts[c.Source] = ch
		}
		ps = append(ps, chartcheck.Check(ctx, ch, c.Input)...)
	}
	validate.Sort(ps)
	return ps, nil
}

func (e Engine) load(ctx context.Context, src validate.ChartSource) (*chart.Chart, error) {
	if src.Path != "" {
		if _, err := os.Stat(src.Path); err != nil {
			return nil, fmt.Errorf("%w: chart %s: %v", wire.ErrConfig, src.Path, err)
		}
		ch, err := loader.Load(src.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: chart %s: %v", wire.ErrConfig, src.Path, err)
		}
		return ch, nil
	}
	if e.Fetch == nil {
		return nil, fmt.Errorf("%w: this %s cannot fetch charts", wire.ErrConfig, wire.HelperName)
	}
	data, err := e.Fetch(ctx, wire.ChartQuery{RepoURL: src.RepoURL, Chart: src.Chart, Version: src.Version})
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", src, err)
	}
	ch, err := loader.LoadArchive(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("chart %s: %v", src, err)
	}
	return ch, nil
}
