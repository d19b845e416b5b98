package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// ErrNoHelper: runnerctl-kube is neither next to runnerctl nor on PATH.
var ErrNoHelper = errors.New(HelperName + " not found")

// Find locates the helper as the secrets helper is found: next to the
// running executable first (`go install ./cmd/...` and the release archives
// put it there), then on PATH.
func Find() (string, error) {
	name := HelperName
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			p := filepath.Join(filepath.Dir(exe), name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p, nil
			}
		}
	}
	p, err := exec.LookPath(HelperName)
	if err != nil {
		return "", fmt.Errorf("%w next to runnerctl or on PATH: install it with runnerctl (go install github.com/runnerctl/runnerctl/cmd/...@latest, or take both from the release archive)", ErrNoHelper)
	}
	return p, nil
}

// Client is a Cluster served by the helper process. Calls are serialized.
type Client struct {
	mu      sync.Mutex
	enc     *json.Encoder
	dec     *json.Decoder
	stdin   io.Closer
	wait    func() error
	kill    func()
	broken  error
	closed  bool
	waitErr error
}

// Start runs the helper at path and opens the cluster spec names. The
// helper's stderr goes to stderr. Close the Client when done.
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
	cmd := exec.Command(path, "serve")
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", HelperName, err)
	}
	c := newClient(stdout, stdin, cmd.Wait, func() { _ = cmd.Process.Kill() })
	if _, err := c.call(ctx, open); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func newClient(r io.Reader, w io.WriteCloser, wait func() error, kill func()) *Client {
	return &Client{enc: json.NewEncoder(w), dec: json.NewDecoder(r), stdin: w, wait: wait, kill: kill}
}

// call sends one request and waits for its answer or for ctx; a call cut
// short leaves the pipe out of step, so the helper is stopped.
func (c *Client) call(ctx context.Context, req request) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return response{}, c.broken
	}
	type result struct {
		resp response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		if r.err = c.enc.Encode(req); r.err == nil {
			r.err = c.dec.Decode(&r.resp)
		}
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != nil {
			c.broken = fmt.Errorf("%s stopped answering: %w", HelperName, r.err)
			c.kill()
			return response{}, c.broken
		}
		if r.resp.Error != nil {
			return response{}, fromWire(r.resp.Error)
		}
		return r.resp, nil
	case <-ctx.Done():
		c.broken = fmt.Errorf("%s: %w", HelperName, ctx.Err())
		c.kill()
		return response{}, ctx.Err()
	}
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

// Close ends the helper (it exits when its stdin closes) and waits for it.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.waitErr
	}
	c.closed = true
	_ = c.stdin.Close()
	c.waitErr = c.wait()
	if c.broken != nil {
		c.waitErr = nil
	} else {
		c.broken = fmt.Errorf("%s is closed", HelperName)
	}
	return c.waitErr
}
