// Package remote reaches the Kubernetes cluster through a helper process,
// runnerctl-kube, installed next to runnerctl.
//
// Why a second binary: linking k8s.io/client-go's dynamic client and
// clientcmd alone adds about 4.3 ms to every start of a Go binary (5.8 ms
// against 1.5 ms for hello world; the typed clientset 11.8 ms), and
// runnerctl's start-up budget is 5× hello world. Only `rotate-token
// --kubeconfig/--context` needs the cluster, and it can afford one process
// start. This package links no Kubernetes code; package kube, which only
// runnerctl-kube imports, does.
//
// The protocol follows the secrets helper's (internal/secrets/remote):
// newline-delimited JSON over the helper's stdin and stdout, one answer per
// request. The first request is "open" with the kubeconfig and context;
// then forceSync, secretHash, restart and rolloutStatus. No secret value
// crosses the pipe: the helper answers a Secret key's SHA-256, never its
// value. The helper exits when its stdin closes and ignores SIGINT and
// SIGTERM (runnerctl decides when to stop).
package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// HelperName is the helper's executable name (plus ".exe" on Windows).
const HelperName = "runnerctl-kube"

// Protocol is the version of this wire protocol; runnerctl and
// runnerctl-kube must come from the same release.
const Protocol = 1

// Spec says how to reach the cluster: a kubeconfig file ("" follows
// $KUBECONFIG and ~/.kube/config) and a context ("" is the kubeconfig's
// current context); or, with InCluster, the pod's service account.
type Spec struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	InCluster  bool   `json:"inCluster,omitempty"`
}

// Sentinel errors that callers act on; they survive the process boundary.
var (
	ErrConfig       = errors.New("cluster configuration")
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Rollout is a Deployment's rollout state, as `kubectl rollout status`
// judges it.
type Rollout struct {
	Generation         int64 `json:"generation"`
	ObservedGeneration int64 `json:"observedGeneration"`
	Replicas           int32 `json:"replicas"` // spec.replicas (default 1)
	UpdatedReplicas    int32 `json:"updatedReplicas"`
	AvailableReplicas  int32 `json:"availableReplicas"`
	StatusReplicas     int32 `json:"statusReplicas"` // status.replicas, old pods included
}

// Complete reports whether the rollout is done: the controller has seen
// the latest spec, and every desired replica is updated and available,
// with no old replica left (kubectl's DeploymentStatusViewer).
func (r Rollout) Complete() bool {
	return r.ObservedGeneration >= r.Generation &&
		r.UpdatedReplicas == r.Replicas &&
		r.StatusReplicas == r.UpdatedReplicas &&
		r.AvailableReplicas == r.UpdatedReplicas
}

// Pending says what the rollout still waits for.
func (r Rollout) Pending() string {
	switch {
	case r.ObservedGeneration < r.Generation:
		return "the Deployment controller has not yet seen the new spec"
	case r.UpdatedReplicas < r.Replicas:
		return fmt.Sprintf("%d of %d new replicas have been updated", r.UpdatedReplicas, r.Replicas)
	case r.StatusReplicas > r.UpdatedReplicas:
		return fmt.Sprintf("%d old replicas are pending termination", r.StatusReplicas-r.UpdatedReplicas)
	case r.AvailableReplicas < r.UpdatedReplicas:
		return fmt.Sprintf("%d of %d updated replicas are available", r.AvailableReplicas, r.UpdatedReplicas)
	}
	return "nothing"
}

// Operations.
const (
	opOpen          = "open"
	opForceSync     = "forceSync"
	opSecretHash    = "secretHash"
	opRestart       = "restart"
	opRolloutStatus = "rolloutStatus"
)

type request struct {
	Op        string `json:"op"`
	Protocol  int    `json:"protocol,omitempty"`
	Spec      *Spec  `json:"spec,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// Version: forceSync's ExternalSecret API version (v1, v1beta1).
	Version string `json:"version,omitempty"`
	// Key: secretHash's data key.
	Key string `json:"key,omitempty"`
	// Value: forceSync's annotation value; restart's restartedAt.
	Value string `json:"value,omitempty"`
}

type response struct {
	Error   *wireError `json:"error,omitempty"`
	Hash    string     `json:"hash,omitempty"`
	Rollout *Rollout   `json:"rollout,omitempty"`
}

type wireError struct {
	Kind    string `json:"kind,omitempty"`
	Message string `json:"message"`
}

var kinds = []struct {
	name string
	err  error
}{
	{"config", ErrConfig},
	{"not_found", ErrNotFound},
	{"unauthorized", ErrUnauthorized},
	{"forbidden", ErrForbidden},
}

func toWire(err error) *wireError {
	w := &wireError{Message: err.Error()}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			w.Kind = k.name
			break
		}
	}
	return w
}

// Error is the helper's error; it unwraps to the sentinel it carried.
type Error struct {
	msg  string
	kind error
}

func (e *Error) Error() string { return e.msg }
func (e *Error) Unwrap() error { return e.kind }

func fromWire(w *wireError) error {
	e := &Error{msg: w.Message}
	for _, k := range kinds {
		if k.name == w.Kind {
			e.kind = k.err
		}
	}
	return e
}

// Cluster is what the helper does in the cluster.
type Cluster interface {
	// ForceSync sets the force-sync annotation of ExternalSecret
	// (external-secrets.io/VERSION) ns/name to value.
	ForceSync(ctx context.Context, ns, name, version, value string) error
	// SecretHash is the hex SHA-256 of Secret ns/name's data[key]; "" when
	// the key is absent.
	SecretHash(ctx context.Context, ns, name, key string) (string, error)
	// Restart restarts Deployment ns/name as `kubectl rollout restart`
	// does, with restartedAt as the annotation's value.
	Restart(ctx context.Context, ns, name, restartedAt string) error
	// RolloutStatus reads Deployment ns/name's rollout state.
	RolloutStatus(ctx context.Context, ns, name string) (Rollout, error)
}

// OpenFunc connects to the cluster a Spec names.
type OpenFunc func(ctx context.Context, spec Spec) (Cluster, error)

// Serve answers requests from r on w until r ends; the first must be open.
func Serve(ctx context.Context, r io.Reader, w io.Writer, open OpenFunc) error {
	dec := json.NewDecoder(r)
	enc := json.NewEncoder(w)
	var c Cluster
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: read request: %w", HelperName, err)
		}
		if err := enc.Encode(handle(ctx, &c, req, open)); err != nil {
			return fmt.Errorf("%s: write answer: %w", HelperName, err)
		}
	}
}

func handle(ctx context.Context, c *Cluster, req request, open OpenFunc) response {
	fail := func(err error) response { return response{Error: toWire(err)} }
	if req.Op == opOpen {
		switch {
		case req.Protocol != Protocol:
			return fail(fmt.Errorf("%w: runnerctl speaks protocol %d and %s protocol %d: install both from the same release", ErrConfig, req.Protocol, HelperName, Protocol))
		case req.Spec == nil:
			return fail(fmt.Errorf("%w: open without a cluster", ErrConfig))
		case *c != nil:
			return fail(fmt.Errorf("%w: cluster already open", ErrConfig))
		}
		cl, err := open(ctx, *req.Spec)
		if err != nil {
			return fail(err)
		}
		*c = cl
		return response{}
	}
	if *c == nil {
		return fail(fmt.Errorf("%w: %q before open", ErrConfig, req.Op))
	}
	switch req.Op {
	case opForceSync:
		if err := (*c).ForceSync(ctx, req.Namespace, req.Name, req.Version, req.Value); err != nil {
			return fail(err)
		}
	case opSecretHash:
		h, err := (*c).SecretHash(ctx, req.Namespace, req.Name, req.Key)
		if err != nil {
			return fail(err)
		}
		return response{Hash: h}
	case opRestart:
		if err := (*c).Restart(ctx, req.Namespace, req.Name, req.Value); err != nil {
			return fail(err)
		}
	case opRolloutStatus:
		r, err := (*c).RolloutStatus(ctx, req.Namespace, req.Name)
		if err != nil {
			return fail(err)
		}
		return response{Rollout: &r}
	default:
		return fail(fmt.Errorf("%w: unknown operation %q", ErrConfig, req.Op))
	}
	return response{}
}
