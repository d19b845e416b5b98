// Package server is runnerctl-kube's side of package wire: it answers each
// operation with the handler that does the work (package kube's cluster
// over client-go, package kube/charts, package kube/engine) and keeps the
// session's rules: a cluster operation needs a cluster open, a charts-only
// session reaches none. It links no Kubernetes or Helm code itself, so its
// tests and package kube/remote's run without them.
package server

import (
	"context"
	"fmt"
	"io"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/kube/wire"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// Cluster is what the helper does in the cluster.
type Cluster interface {
	// ForceSync sets the force-sync annotation of ExternalSecret
	// (external-secrets.io/VERSION) ns/name to value.
	ForceSync(ctx context.Context, ns, name, version, value, fieldManager string) error
	// SecretHash is the hex SHA-256 of Secret ns/name's data[key]; "" when
	// the key is absent.
	SecretHash(ctx context.Context, ns, name, key string) (string, error)
	// Restart restarts Deployment ns/name as `kubectl rollout restart`
	// does, with restartedAt as the annotation's value.
	Restart(ctx context.Context, ns, name, restartedAt, fieldManager string) error
	// RolloutStatus reads Deployment ns/name's rollout state.
	RolloutStatus(ctx context.Context, ns, name string) (wire.Rollout, error)
}

// OpenFunc connects to the cluster a Spec names.
type OpenFunc func(ctx context.Context, spec wire.Spec) (Cluster, error)

// ChartFunc answers a ChartQuery.
type ChartFunc func(ctx context.Context, q wire.ChartQuery) (wire.ChartAnswer, error)

// ValidateFunc answers a validate request with the problems found.
type ValidateFunc func(ctx context.Context, req validate.Request) ([]validate.Problem, error)

// Handlers are what the helper does: Open connects a cluster; Chart
// answers ChartQuery; Validate answers Validate. A nil handler makes its
// operation fail.
type Handlers struct {
	Open     OpenFunc
	Chart    ChartFunc
	Validate ValidateFunc
}

// Serve answers requests from r on w with h until r ends; the first must
// be Open.
func Serve(ctx context.Context, r io.Reader, w io.Writer, h Handlers) error {
	s := wire.Protocol.NewServer()
	var cluster Cluster // nil in a charts-only session
	helper.Handle(s, func(ctx context.Context, o wire.Open) (helper.None, error) {
		switch {
		case o.Charts && o.Spec != nil:
			return helper.None{}, fmt.Errorf("%w: open with both a cluster and charts only", wire.ErrConfig)
		case o.Charts:
			return helper.None{}, nil
		case o.Spec == nil:
			return helper.None{}, fmt.Errorf("%w: open without a cluster", wire.ErrConfig)
		case h.Open == nil:
			return helper.None{}, fmt.Errorf("%w: this %s cannot open clusters", wire.ErrConfig, wire.HelperName)
		}
		c, err := h.Open(ctx, *o.Spec)
		if err != nil {
			return helper.None{}, err
		}
		cluster = c
		return helper.None{}, nil
	})
	helper.Handle(s, func(ctx context.Context, q wire.ChartQuery) (wire.ChartAnswer, error) {
		if h.Chart == nil {
			return wire.ChartAnswer{}, fmt.Errorf("%w: this %s cannot check charts", wire.ErrConfig, wire.HelperName)
		}
		return h.Chart(ctx, q)
	})
	helper.Handle(s, func(ctx context.Context, v wire.Validate) (wire.Problems, error) {
		if h.Validate == nil {
			return wire.Problems{}, fmt.Errorf("%w: this %s cannot validate", wire.ErrConfig, wire.HelperName)
		}
		ps, err := h.Validate(ctx, v.Request)
		return wire.Problems{Problems: ps}, err
	})
	// open is the cluster of a cluster session.
	open := func(m helper.Message) (Cluster, error) {
		if cluster == nil {
			return nil, fmt.Errorf("%w: %q in a charts-only session", wire.ErrConfig, m.Op())
		}
		return cluster, nil
	}
	helper.Handle(s, func(ctx context.Context, m wire.ForceSync) (helper.None, error) {
		c, err := open(m)
		if err == nil {
			err = c.ForceSync(ctx, m.Namespace, m.Name, m.APIVersion, m.Value, m.FieldManager)
		}
		return helper.None{}, err
	})
	helper.Handle(s, func(ctx context.Context, m wire.SecretHash) (wire.SecretHashAnswer, error) {
		c, err := open(m)
		if err != nil {
			return wire.SecretHashAnswer{}, err
		}
		hash, err := c.SecretHash(ctx, m.Namespace, m.Name, m.Key)
		return wire.SecretHashAnswer{Hash: hash}, err
	})
	helper.Handle(s, func(ctx context.Context, m wire.Restart) (helper.None, error) {
		c, err := open(m)
		if err == nil {
			err = c.Restart(ctx, m.Namespace, m.Name, m.RestartedAt, m.FieldManager)
		}
		return helper.None{}, err
	})
	helper.Handle(s, func(ctx context.Context, m wire.RolloutStatus) (wire.Rollout, error) {
		c, err := open(m)
		if err != nil {
			return wire.Rollout{}, err
		}
		return c.RolloutStatus(ctx, m.Namespace, m.Name)
	})
	return s.Serve(ctx, r, w)
}
