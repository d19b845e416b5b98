// Package remote is runnerctl's client of runnerctl-kube, the helper that
// reaches the Kubernetes cluster and Helm chart repositories: one typed
// method per operation of package wire, over package helper's pipe.
//
// Why a second binary: linking k8s.io/client-go's dynamic client and
// clientcmd alone adds about 4.3 ms to every start of a Go binary (5.8 ms
// against 1.5 ms for hello world; the typed clientset 11.8 ms), and
// runnerctl's start-up budget is 5× hello world. Only `rotate-token
// --kubeconfig/--context` needs the cluster, and it can afford one process
// start. Helm's SDK is heavier still (its pkg/action costs about 15× a
// hello-world start), and only doctor's chart check and validate need it.
// This package links no Kubernetes or Helm code; everything that does
// lives in the other packages under internal/kube, which only
// runnerctl-kube imports.
//
// The helper exits when its stdin closes and ignores SIGINT and SIGTERM
// (runnerctl decides when to stop).
package remote

import (
	"context"
	"io"
	"os"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/kube/wire"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// HelperName is the helper's executable name (plus ".exe" on Windows).
const HelperName = wire.HelperName

// The protocol's types and sentinels, under the names runnerctl's
// commands use (package wire holds them, for both sides).
type (
	Spec        = wire.Spec
	Rollout     = wire.Rollout
	ChartQuery  = wire.ChartQuery
	ChartAnswer = wire.ChartAnswer
)

// Sentinel errors that callers act on; they survive the process boundary.
var (
	ErrConfig       = wire.ErrConfig
	ErrNotFound     = wire.ErrNotFound
	ErrUnauthorized = wire.ErrUnauthorized
	ErrForbidden    = wire.ErrForbidden
	ErrUnreachable  = wire.ErrUnreachable
)

// ErrNoHelper: runnerctl-kube is neither next to runnerctl nor on PATH.
var ErrNoHelper = helper.NotFound(HelperName)

// Find locates the helper as the secrets helper is found: next to
// runnerctl, else on PATH.
func Find() (string, error) { return helper.Find(HelperName, ErrNoHelper) }

// Cluster is what the helper does in a cluster; Client implements it.
type Cluster interface {
	ForceSync(ctx context.Context, ns, name, version, value, fieldManager string) error
	SecretHash(ctx context.Context, ns, name, key string) (string, error)
	Restart(ctx context.Context, ns, name, restartedAt, fieldManager string) error
	RolloutStatus(ctx context.Context, ns, name string) (Rollout, error)
}

var _ Cluster = (*Client)(nil)

// Client is a session with the helper process.
type Client struct {
	c *helper.Client
}

// Start runs the helper at path and opens the cluster spec names. The
// helper gets this process's environment without runnerctl's secrets
// (Env); its stderr goes to stderr. Close the Client when done.
func Start(ctx context.Context, path string, spec Spec, stderr io.Writer) (*Client, error) {
	return start(ctx, path, wire.Open{Spec: &spec}, stderr)
}

// StartCharts runs the helper at path for chart checks and validation
// only: no kubeconfig is read and no cluster is reached; the cluster
// operations fail. Close the Client when done.
func StartCharts(ctx context.Context, path string, stderr io.Writer) (*Client, error) {
	return start(ctx, path, wire.Open{Charts: true}, stderr)
}

func start(ctx context.Context, path string, open wire.Open, stderr io.Writer) (*Client, error) {
	c, err := wire.Protocol.Start(ctx, path, HelperName, Env(os.Environ()), stderr, open)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// ForceSync implements Cluster.
func (c *Client) ForceSync(ctx context.Context, ns, name, version, value, fieldManager string) error {
	_, err := helper.Call[helper.None](ctx, c.c, wire.ForceSync{Namespace: ns, Name: name, APIVersion: version, Value: value, FieldManager: fieldManager})
	return err
}

// SecretHash implements Cluster.
func (c *Client) SecretHash(ctx context.Context, ns, name, key string) (string, error) {
	a, err := helper.Call[wire.SecretHashAnswer](ctx, c.c, wire.SecretHash{Namespace: ns, Name: name, Key: key})
	return a.Hash, err
}

// Restart implements Cluster.
func (c *Client) Restart(ctx context.Context, ns, name, restartedAt, fieldManager string) error {
	_, err := helper.Call[helper.None](ctx, c.c, wire.Restart{Namespace: ns, Name: name, RestartedAt: restartedAt, FieldManager: fieldManager})
	return err
}

// RolloutStatus implements Cluster.
func (c *Client) RolloutStatus(ctx context.Context, ns, name string) (Rollout, error) {
	return helper.Call[wire.Rollout](ctx, c.c, wire.RolloutStatus{Namespace: ns, Name: name})
}

// ChartVersion asks the chart repository whether q's version exists.
func (c *Client) ChartVersion(ctx context.Context, q ChartQuery) (ChartAnswer, error) {
	return helper.Call[wire.ChartAnswer](ctx, c.c, q)
}

// Validate asks the helper to validate req; the answer lists the problems
// found (none: valid).
func (c *Client) Validate(ctx context.Context, req validate.Request) ([]validate.Problem, error) {
	a, err := helper.Call[wire.Problems](ctx, c.c, wire.Validate{Request: req})
	return a.Problems, err
}

// Close ends the helper (it exits when its stdin closes) and waits for it.
func (c *Client) Close() error { return c.c.Close() }
