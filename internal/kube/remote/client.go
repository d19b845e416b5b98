package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// ErrNoHelper: runnerctl-kube is neither next to runnerctl nor on PATH.
var ErrNoHelper = errors.New(HelperName + " not found")

// Find locates the helper as the secrets helper is found: next to
// runnerctl, else on PATH.
func Find() (string, error) { return helper.Find(HelperName, ErrNoHelper) }

// Client is a Cluster served by the helper process.
type Client struct {
	conn *helper.Conn
}

// Start runs the helper at path and opens the cluster spec names. The
// helper gets this process's environment without runnerctl's secrets
// (Env); its stderr goes to stderr. Close the Client when done.
func Start(ctx context.Context, path string, spec Spec, stderr io.Writer) (*Client, error) {
	return start(ctx, path, request{Op: opOpen, Protocol: Protocol, Spec: &spec}, stderr)
}

// StartCharts runs the helper at path for chart checks only: no
// kubeconfig is read and no cluster is reached; the cluster operations
// fail. Close the Client when done.
func StartCharts(ctx context.Context, path string, stderr io.Writer) (*Client, error) {
	return start(ctx, path, request{Op: opOpen, Protocol: Protocol, Charts: true}, stderr)
}

func start(ctx context.Context, path string, open request, stderr io.Writer) (*Client, error) {
	conn, err := helper.Start(path, HelperName, Env(os.Environ()), stderr)
	if err != nil {
		return nil, err
	}
	c := &Client{conn: conn}
	if _, err := c.call(ctx, open); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(r io.Reader, w io.WriteCloser, wait func() error, kill func()) *Client {
	return &Client{conn: helper.NewConn(HelperName, r, w, wait, kill)}
}

// call sends one request and returns its answer, or the helper's error
// with its sentinel.
func (c *Client) call(ctx context.Context, req request) (response, error) {
	var resp response
	if err := c.conn.Call(ctx, req, &resp); err != nil {
		return response{}, err
	}
	if resp.Error != nil {
		return response{}, kinds.FromWire(resp.Error)
	}
	return resp, nil
}

// ForceSync implements Cluster.
func (c *Client) ForceSync(ctx context.Context, ns, name, version, value string) error {
	_, err := c.call(ctx, request{Op: opForceSync, Namespace: ns, Name: name, Version: version, Value: value})
	return err
}

// SecretHash implements Cluster.
func (c *Client) SecretHash(ctx context.Context, ns, name, key string) (string, error) {
	resp, err := c.call(ctx, request{Op: opSecretHash, Namespace: ns, Name: name, Key: key})
	return resp.Hash, err
}

// Restart implements Cluster.
func (c *Client) Restart(ctx context.Context, ns, name, restartedAt string) error {
	_, err := c.call(ctx, request{Op: opRestart, Namespace: ns, Name: name, Value: restartedAt})
	return err
}

// RolloutStatus implements Cluster.
func (c *Client) RolloutStatus(ctx context.Context, ns, name string) (Rollout, error) {
	resp, err := c.call(ctx, request{Op: opRolloutStatus, Namespace: ns, Name: name})
	if err != nil {
		return Rollout{}, err
	}
	if resp.Rollout == nil {
		return Rollout{}, fmt.Errorf("%s: rolloutStatus answered without a rollout", HelperName)
	}
	return *resp.Rollout, nil
}

// ChartVersion asks the chart repository whether q's version exists.
func (c *Client) ChartVersion(ctx context.Context, q ChartQuery) (ChartAnswer, error) {
	resp, err := c.call(ctx, request{Op: opChartVersion, Chart: &q})
	if err != nil {
		return ChartAnswer{}, err
	}
	if resp.Chart == nil {
		return ChartAnswer{}, fmt.Errorf("%s: chartVersion answered without a chart", HelperName)
	}
	return *resp.Chart, nil
}

// Validate asks the helper to validate req; the answer lists the problems
// found (none: valid).
func (c *Client) Validate(ctx context.Context, req validate.Request) ([]validate.Problem, error) {
	resp, err := c.call(ctx, request{Op: opValidate, Validate: &req})
	if err != nil {
		return nil, err
	}
	return resp.Problems, nil
}

// Close ends the helper (it exits when its stdin closes) and waits for it.
func (c *Client) Close() error { return c.conn.Close() }
