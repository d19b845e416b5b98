package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/custody"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	kuberemote "github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/rotate"
	"github.com/runnerctl/runnerctl/internal/secrets"
	"github.com/runnerctl/runnerctl/internal/secrets/remote"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// factory is everything a command may touch of the outside world, built
// once at the root (Main, or a test) and handed to every command. Streams,
// the environment and the clock are values; GitLab, the secrets store and
// the kube helper are constructors, called only by the command that needs
// them (render starts no helper process), so that a test replaces one of
// them and keeps the others. Run fills in what a test leaves nil.
type factory struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// now is the clock token expiry is judged by.
	now func() time.Time
	// checkpoint is called at each step of a token's custody; nil in
	// runnerctl (the tests of what a kill leaves behind set it).
	checkpoint custody.Checkpoint

	// gitlab builds a GitLab client; gitlabClient gives it the token and
	// --ca-file.
	gitlab func(gitlab.Options) (*gitlab.Client, error)
	// store opens cfg's secrets backend in the runnerctl-secrets helper.
	store func(ctx context.Context, cfg *config.Config, stderr io.Writer) (store, error)
	// kube opens a cluster in the runnerctl-kube helper.
	kube func(ctx context.Context, c clusterAccess, stderr io.Writer) (cluster, error)
	// chart asks a chart repository, through runnerctl-kube.
	chart func(ctx context.Context, q kuberemote.ChartQuery, stderr io.Writer) (kuberemote.ChartAnswer, error)
	// checkManifests runs validate's schema and chart checks in
	// runnerctl-kube, which links the Kubernetes and Helm code.
	checkManifests func(ctx context.Context, req validate.Request, stderr io.Writer) ([]validate.Problem, error)
	// repo is the git work tree at dir.
	repo func(dir string) uncommitted
}

// store is a secrets backend that holds a helper process until closed.
type store interface {
	secrets.Store
	io.Closer
}

// cluster is a cluster opened in the kube helper, until closed.
type cluster interface {
	rotate.Cluster
	io.Closer
}

// clusterAccess is how rotate-token reaches the cluster: --kubeconfig,
// --context or --in-cluster.
type clusterAccess struct {
	kubeconfig, context string
	inCluster           bool
}

// uncommitted is what doctor needs of git.
type uncommitted interface {
	Uncommitted(ctx context.Context) ([]string, error)
}

// fill sets every dependency a caller left nil to the real one.
func (f *factory) fill() {
	if f.getenv == nil {
		f.getenv = func(string) string { return "" }
	}
	if f.now == nil {
		f.now = time.Now
	}
	if f.gitlab == nil {
		f.gitlab = gitlab.New
	}
	if f.store == nil {
		f.store = newStore
	}
	if f.kube == nil {
		f.kube = newKube
	}
	if f.chart == nil {
		f.chart = helperChartVersion
	}
	if f.checkManifests == nil {
		f.checkManifests = helperValidate
	}
	if f.repo == nil {
		f.repo = func(dir string) uncommitted { return gitops.Git{Dir: dir} }
	}
}

// newStore opens the secrets backend of cfg in the runnerctl-secrets helper
// (package remote says why it is a separate process). Credentials come from
// the environment, of which the helper gets only what its backend needs
// (each backend's usual variables, or the AWS and GCP SDKs' default
// chains), never from runnerctl.yaml or flags: they are secrets too. A
// backend that cannot even be configured is the user's input to fix
// (exit 2), reported before any runner exists.
func newStore(ctx context.Context, cfg *config.Config, stderr io.Writer) (store, error) {
	s := cfg.Secrets
	spec, err := storeSpec(s)
	if err != nil {
		return nil, err
	}
	helper, err := remote.Find()
	if err != nil {
		return nil, err
	}
	c, err := remote.Start(ctx, helper, spec, stderr)
	if err != nil {
		if errors.Is(err, remote.ErrConfig) {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("secrets backend %q: %v", s.Backend, err)}
		}
		return nil, fmt.Errorf("secrets backend %q: %w", s.Backend, err)
	}
	return c, nil
}

// newKube starts the runnerctl-kube helper (package kube/remote says why it
// is a separate process) and opens the cluster c names. A kubeconfig that
// cannot be loaded is the user's input to fix (exit 2).
func newKube(ctx context.Context, c clusterAccess, stderr io.Writer) (cluster, error) {
	helper, err := kuberemote.Find()
	if err != nil {
		return nil, err
	}
	kc, err := kuberemote.Start(ctx, helper, kuberemote.Spec{Kubeconfig: c.kubeconfig, Context: c.context, InCluster: c.inCluster}, stderr)
	if err != nil {
		if errors.Is(err, kuberemote.ErrConfig) {
			return nil, &exitError{code: ExitUsage, msg: fmt.Sprintf("cluster access: %v", err)}
		}
		return nil, fmt.Errorf("cluster access: %w", err)
	}
	return kc, nil
}

// chartTimeout bounds the chart check; the helper gives up on the
// repository first (its own 30 s), so this only catches a hung helper.
const chartTimeout = 45 * time.Second

// helperChartVersion runs the chart check in runnerctl-kube, in a
// charts-only session: the Helm SDK stays out of runnerctl.
func helperChartVersion(ctx context.Context, q kuberemote.ChartQuery, stderr io.Writer) (kuberemote.ChartAnswer, error) {
	path, err := kuberemote.Find()
	if err != nil {
		return kuberemote.ChartAnswer{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, chartTimeout)
	defer cancel()
	c, err := kuberemote.StartCharts(ctx, path, stderr)
	if err != nil {
		return kuberemote.ChartAnswer{}, err
	}
	defer c.Close()
	return c.ChartVersion(ctx, q)
}

// validateTimeout bounds the helper's work: reading CRDs, rendering the
// chart, and fetching it from a repository (which has its own 30 s limit).
const validateTimeout = 2 * time.Minute

// helperValidate runs the request in runnerctl-kube, which links the
// Kubernetes and Helm code.
func helperValidate(ctx context.Context, req validate.Request, stderr io.Writer) ([]validate.Problem, error) {
	path, err := kuberemote.Find()
	if err != nil {
		return nil, fmt.Errorf("%w: validate needs it; install it next to runnerctl (go install ./cmd/... installs both)", err)
	}
	ctx, cancel := context.WithTimeout(ctx, validateTimeout)
	defer cancel()
	c, err := kuberemote.StartCharts(ctx, path, stderr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ps, err := c.Validate(ctx, req)
	if errors.Is(err, kuberemote.ErrConfig) {
		return nil, &exitError{code: ExitUsage, msg: err.Error()}
	}
	return ps, err
}
