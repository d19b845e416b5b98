// Package remote reaches the Kubernetes cluster, and Helm chart
// repositories, through a helper process, runnerctl-kube, installed next to
// runnerctl.
//
// Why a second binary: linking k8s.io/client-go's dynamic client and
// clientcmd alone adds about 4.3 ms to every start of a Go binary (5.8 ms
// against 1.5 ms for hello world; the typed clientset 11.8 ms), and
// runnerctl's start-up budget is 5× hello world. Only `rotate-token
// --kubeconfig/--context` needs the cluster, and it can afford one process
// start. Helm's SDK is heavier still (its pkg/action costs about 15× a
// hello-world start), and only doctor's chart check needs it. This package
// links no Kubernetes or Helm code; packages kube and kube/charts, which
// only runnerctl-kube imports, do.
//
// The protocol follows the secrets helper's (internal/secrets/remote):
// newline-delimited JSON over the helper's stdin and stdout, one answer per
// request. The first request is "open", with the protocol version and
// either a Spec (the kubeconfig and context) or charts: true, a
// charts-only session that needs no kubeconfig and reaches no cluster (what
// `runnerctl doctor` and `runnerctl validate` use). After a cluster open:
// forceSync, secretHash, restart and rolloutStatus; after either open:
// chartVersion, which asks a Helm chart repository (HTTP(S) index.yaml or
// OCI registry) whether a chart version exists, and validate, which
// validates manifests against CRDs and renders charts (package
// validate/engine). The Helm SDK is linked only into the helper (package
// charts), for the same reason as client-go. No secret value
// crosses the pipe: the helper answers a Secret key's SHA-256, never its
// value. The helper exits when its stdin closes and ignores SIGINT and
// SIGTERM (runnerctl decides when to stop).
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// HelperName is the helper's executable name (plus ".exe" on Windows).
const HelperName = "runnerctl-kube"

// Protocol is the version of this wire protocol; runnerctl and
// runnerctl-kube must come from the same release. Version 2 added the
// charts-only open and chartVersion; version 3 added validate; version 4,
// validate's allowDrift (an older helper would report drift as errors).
const Protocol = 4

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
	// ErrUnreachable: a chart repository could not be reached (DNS,
	// connection, TLS, timeout): nothing is known of the chart.
	ErrUnreachable = errors.New("unreachable")
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

// ChartQuery names a chart version in a chart repository: an HTTP(S) Helm
// repository (its index.yaml) or an OCI registry (oci://host/path, the
// chart at oci://host/path/chart).
type ChartQuery struct {
	RepoURL string `json:"repoURL"`
	Chart   string `json:"chart"`
	Version string `json:"version"`
}

// ChartAnswer is what the repository says of a ChartQuery.
type ChartAnswer struct {
	// Found: the exact version exists.
	Found bool `json:"found"`
	// ChartExists: the repository has the chart at all (some version).
	ChartExists bool `json:"chartExists"`
	// Latest: the chart's newest versions, newest first (at most
	// MaxLatest).
	Latest []string `json:"latest,omitempty"`
}

// MaxLatest is how many of the newest versions ChartAnswer.Latest lists.
const MaxLatest = 5

// ChartFunc answers a ChartQuery.
type ChartFunc func(ctx context.Context, q ChartQuery) (ChartAnswer, error)

// ValidateFunc answers a validate request with the problems found.
type ValidateFunc func(ctx context.Context, req validate.Request) ([]validate.Problem, error)

// Handlers are what the helper does: Open connects a cluster; Chart
// answers chartVersion; Validate answers validate. A nil handler makes its
// operation fail.
type Handlers struct {
	Open     OpenFunc
	Chart    ChartFunc
	Validate ValidateFunc
}

// Operations.
const (
	opChartVersion  = "chartVersion"
	opValidate      = "validate"
	opOpen          = "open"
	opForceSync     = "forceSync"
	opSecretHash    = "secretHash"
	opRestart       = "restart"
	opRolloutStatus = "rolloutStatus"
)

type request struct {
	Op       string `json:"op"`
	Protocol int    `json:"protocol,omitempty"`
	Spec     *Spec  `json:"spec,omitempty"`
	// Charts: open a charts-only session (no Spec, no cluster).
	Charts bool `json:"charts,omitempty"`
	// Chart: chartVersion's query.
	Chart *ChartQuery `json:"chart,omitempty"`
	// Validate: validate's request.
	Validate  *validate.Request `json:"validate,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Name      string            `json:"name,omitempty"`
	// Version: forceSync's ExternalSecret API version (v1, v1beta1).
	Version string `json:"version,omitempty"`
	// Key: secretHash's data key.
	Key string `json:"key,omitempty"`
	// Value: forceSync's annotation value; restart's restartedAt.
	Value string `json:"value,omitempty"`
}

type response struct {
	Error   *helper.WireError `json:"error,omitempty"`
	Hash    string            `json:"hash,omitempty"`
	Rollout *Rollout          `json:"rollout,omitempty"`
	Chart   *ChartAnswer      `json:"chart,omitempty"`
	// Problems: validate's answer.
	Problems []validate.Problem `json:"problems,omitempty"`
}

var kinds = helper.Kinds{
	{Name: "config", Err: ErrConfig},
	{Name: "not_found", Err: ErrNotFound},
	{Name: "unauthorized", Err: ErrUnauthorized},
	{Name: "forbidden", Err: ErrForbidden},
	{Name: "unreachable", Err: ErrUnreachable},
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

// Serve answers requests from r on w with h until r ends; the first must
// be open.
func Serve(ctx context.Context, r io.Reader, w io.Writer, h Handlers) error {
	var s session
	return helper.Serve(r, w, HelperName, func(req request) response { return handle(ctx, &s, req, h) })
}

// session is what open established: a cluster, or charts only.
type session struct {
	opened bool
	c      Cluster // nil in a charts-only session
}

func handle(ctx context.Context, s *session, req request, h Handlers) response {
	fail := func(err error) response { return response{Error: kinds.ToWire(err)} }
	if req.Op == opOpen {
		switch {
		case req.Protocol != Protocol:
			return fail(fmt.Errorf("%w: runnerctl speaks protocol %d and %s protocol %d: install both from the same release", ErrConfig, req.Protocol, HelperName, Protocol))
		case s.opened:
			return fail(fmt.Errorf("%w: already open", ErrConfig))
		case req.Charts && req.Spec != nil:
			return fail(fmt.Errorf("%w: open with both a cluster and charts only", ErrConfig))
		case req.Charts:
			s.opened = true
			return response{}
		case req.Spec == nil:
			return fail(fmt.Errorf("%w: open without a cluster", ErrConfig))
		}
		if h.Open == nil {
			return fail(fmt.Errorf("%w: this %s cannot open clusters", ErrConfig, HelperName))
		}
		cl, err := h.Open(ctx, *req.Spec)
		if err != nil {
			return fail(err)
		}
		s.opened, s.c = true, cl
		return response{}
	}
	if !s.opened {
		return fail(fmt.Errorf("%w: %q before open", ErrConfig, req.Op))
	}
	if req.Op == opChartVersion {
		switch {
		case req.Chart == nil:
			return fail(fmt.Errorf("%w: chartVersion without a chart", ErrConfig))
		case h.Chart == nil:
			return fail(fmt.Errorf("%w: this %s cannot check charts", ErrConfig, HelperName))
		}
		a, err := h.Chart(ctx, *req.Chart)
		if err != nil {
			return fail(err)
		}
		return response{Chart: &a}
	}
	if req.Op == opValidate {
		switch {
		case req.Validate == nil:
			return fail(fmt.Errorf("%w: validate without a request", ErrConfig))
		case h.Validate == nil:
			return fail(fmt.Errorf("%w: this %s cannot validate", ErrConfig, HelperName))
		}
		ps, err := h.Validate(ctx, *req.Validate)
		if err != nil {
			return fail(err)
		}
		return response{Problems: ps}
	}
	if s.c == nil {
		return fail(fmt.Errorf("%w: %q in a charts-only session", ErrConfig, req.Op))
	}
	c := s.c
	switch req.Op {
	case opForceSync:
		if err := c.ForceSync(ctx, req.Namespace, req.Name, req.Version, req.Value); err != nil {
			return fail(err)
		}
	case opSecretHash:
		h, err := c.SecretHash(ctx, req.Namespace, req.Name, req.Key)
		if err != nil {
			return fail(err)
		}
		return response{Hash: h}
	case opRestart:
		if err := c.Restart(ctx, req.Namespace, req.Name, req.Value); err != nil {
			return fail(err)
		}
	case opRolloutStatus:
		r, err := c.RolloutStatus(ctx, req.Namespace, req.Name)
		if err != nil {
			return fail(err)
		}
		return response{Rollout: &r}
	default:
		return fail(fmt.Errorf("%w: unknown operation %q", ErrConfig, req.Op))
	}
	return response{}
}
