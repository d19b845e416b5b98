// Package wire is the protocol between runnerctl and runnerctl-kube: one
// request type and one answer type per operation, the protocol version and
// the sentinel errors that cross the pipe. Both sides import it: runnerctl
// through package kube/remote, the helper through package kube/server. It
// links no Kubernetes or Helm code, so runnerctl can.
//
// The session starts with Open: a cluster (Spec), or charts only (no
// kubeconfig read, no cluster reached: what doctor and validate use).
// After a cluster open: ForceSync, SecretHash, Restart and RolloutStatus.
// After either: ChartQuery (does a chart version exist?) and Validate. No
// secret value crosses the pipe: the helper answers a Secret key's
// SHA-256, never its value. The envelope and the version check are package
// helper's.
package wire

import (
	"errors"
	"fmt"

	"github.com/runnerctl/runnerctl/internal/helper"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// HelperName is the helper's executable name (plus ".exe" on Windows).
const HelperName = "runnerctl-kube"

// Version is the protocol's version; runnerctl and runnerctl-kube must
// come from the same release. Version 2 added the charts-only open and
// chartVersion; version 3, validate; version 4, validate's allowDrift (an
// older helper would report drift as errors); version 5, one typed message
// per operation in package helper's envelope; version 6, the field manager
// of forceSync's and restart's patches (an older helper would patch as
// itself, which Flux may revert).
const Version = 6

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

// Protocol is runnerctl-kube's protocol for package helper.
var Protocol = helper.Protocol{
	Name:    HelperName,
	Version: Version,
	Kinds: helper.Kinds{
		{Name: "config", Err: ErrConfig},
		{Name: "not_found", Err: ErrNotFound},
		{Name: "unauthorized", Err: ErrUnauthorized},
		{Name: "forbidden", Err: ErrForbidden},
		{Name: "unreachable", Err: ErrUnreachable},
	},
	ErrConfig: ErrConfig,
}

// Open starts a session: with a cluster (Spec) or charts only (Charts),
// never both. Answer: helper.None.
type Open struct {
	Spec   *Spec `json:"spec,omitempty"`
	Charts bool  `json:"charts,omitempty"`
}

// Op implements helper.Message.
func (Open) Op() string { return helper.OpOpen }

// Spec says how to reach the cluster: a kubeconfig file ("" follows
// $KUBECONFIG and ~/.kube/config) and a context ("" is the kubeconfig's
// current context); or, with InCluster, the pod's service account.
type Spec struct {
	Kubeconfig string `json:"kubeconfig,omitempty"`
	Context    string `json:"context,omitempty"`
	InCluster  bool   `json:"inCluster,omitempty"`
}

// ForceSync sets the force-sync annotation of ExternalSecret Namespace/Name
// (external-secrets.io/APIVersion: v1, v1beta1) to Value, which makes
// External Secrets Operator refresh it at once. Answer: helper.None.
type ForceSync struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	APIVersion string `json:"apiVersion,omitempty"`
	Value      string `json:"value"`
	// FieldManager owns the change; "" is the helper's own name.
	FieldManager string `json:"fieldManager,omitempty"`
}

// Op implements helper.Message.
func (ForceSync) Op() string { return "forceSync" }

// SecretHash asks for the hex SHA-256 of Secret Namespace/Name's
// data[Key]. Answer: SecretHashAnswer.
type SecretHash struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Key       string `json:"key"`
}

// Op implements helper.Message.
func (SecretHash) Op() string { return "secretHash" }

// SecretHashAnswer is the hash; "" when the key is absent.
type SecretHashAnswer struct {
	Hash string `json:"hash"`
}

// Restart restarts Deployment Namespace/Name as `kubectl rollout restart`
// does, with RestartedAt as the pod template annotation's value. Answer:
// helper.None.
type Restart struct {
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	RestartedAt string `json:"restartedAt"`
	// FieldManager owns the change; "" is the helper's own name.
	FieldManager string `json:"fieldManager,omitempty"`
}

// Op implements helper.Message.
func (Restart) Op() string { return "restart" }

// RolloutStatus reads Deployment Namespace/Name's rollout state. Answer:
// Rollout.
type RolloutStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// Op implements helper.Message.
func (RolloutStatus) Op() string { return "rolloutStatus" }

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

// ChartQuery asks whether a chart version exists in a chart repository:
// an HTTP(S) Helm repository (its index.yaml) or an OCI registry
// (oci://host/path, the chart at oci://host/path/chart). Answer:
// ChartAnswer.
type ChartQuery struct {
	RepoURL string `json:"repoURL"`
	Chart   string `json:"chart"`
	Version string `json:"version"`
}

// Op implements helper.Message.
func (ChartQuery) Op() string { return "chartVersion" }

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

// Validate validates manifests against CRDs and Kubernetes' types, and
// renders charts against profile claims. Answer: Problems.
type Validate struct {
	validate.Request
}

// Op implements helper.Message.
func (Validate) Op() string { return "validate" }

// Problems are what Validate found; none: valid.
type Problems struct {
	Problems []validate.Problem `json:"problems,omitempty"`
}
