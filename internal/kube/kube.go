// Package kube is runnerctl-kube, the helper process through which
// runnerctl reaches Kubernetes clusters and Helm charts (Main), and its
// cluster side: it loads a kubeconfig with clientcmd and talks to the API
// server with client-go's dynamic client, using explicit
// GroupVersionResources so that no discovery request is needed.
//
// The rule of this folder: a package lives under internal/kube when it
// runs only inside runnerctl-kube, or is the pipe to it. Inside the
// helper: this package, server (the session), charts (chart versions),
// engine (validate's request), kubeschema, chartcheck and tplreads (what
// engine drives); they link client-go, Helm or Kubernetes' types, and
// runnerctl must not (remote says why). The pipe: wire (one typed message
// per operation, imported by both sides) and remote (runnerctl's client);
// neither links Kubernetes or Helm. What runnerctl itself runs stays
// outside, even when it serves validation: package validate's cheap
// checks, the claims and the request it sends; so does code only tests
// run (validate/upstream finds the upstream CRDs for runnerctl's scripts
// as well as for kubeschema's tests). Outside internal/kube, only
// cmd/runnerctl-kube and tests import its helper-side packages.
package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/runnerctl/runnerctl/internal/kube/charts"
	"github.com/runnerctl/runnerctl/internal/kube/engine"
	"github.com/runnerctl/runnerctl/internal/kube/server"
	"github.com/runnerctl/runnerctl/internal/kube/wire"
)

// ForceSyncAnnotation is the annotation whose change makes External
// Secrets Operator refresh an ExternalSecret at once (ESO's FAQ: `kubectl
// annotate es my-es force-sync=$(date +%s) --overwrite`; any metadata
// change triggers a reconcile, and this is the documented key).
const ForceSyncAnnotation = "force-sync"

// RestartedAtAnnotation is the pod template annotation `kubectl rollout
// restart` sets to the current time (RFC 3339).
const RestartedAtAnnotation = "kubectl.kubernetes.io/restartedAt"

var (
	secretsGVR     = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

func externalSecretsGVR(version string) schema.GroupVersionResource {
	if version == "" {
		version = "v1"
	}
	return schema.GroupVersionResource{Group: "external-secrets.io", Version: version, Resource: "externalsecrets"}
}

// Cluster is server.Cluster over client-go.
type Cluster struct {
	dyn dynamic.Interface
}

// Open loads spec's kubeconfig and context (clientcmd's loading rules:
// the file named, else $KUBECONFIG, else ~/.kube/config), or the in-cluster
// config (the pod's service account) with spec.InCluster.
func Open(_ context.Context, spec wire.Spec) (server.Cluster, error) {
	var (
		cfg *rest.Config
		err error
	)
	if spec.InCluster {
		if spec.Kubeconfig != "" || spec.Context != "" {
			return nil, fmt.Errorf("%w: in-cluster config with a kubeconfig or context", wire.ErrConfig)
		}
		cfg, err = rest.InClusterConfig()
	} else {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if spec.Kubeconfig != "" {
			rules.ExplicitPath = spec.Kubeconfig
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: spec.Context}
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: kubeconfig: %v", wire.ErrConfig, err)
	}
	cfg.UserAgent = "runnerctl-kube"
	// Bound every request: runnerctl never cuts a call short (that would
	// stop this helper), so a hung API server must not hang a rotation.
	cfg.Timeout = 30 * time.Second
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", wire.ErrConfig, err)
	}
	return &Cluster{dyn: dyn}, nil
}

// wrap maps API errors to the protocol's sentinels, naming the object.
func wrap(err error, what string) error {
	var kind error
	switch {
	case apierrors.IsNotFound(err):
		kind = wire.ErrNotFound
	case apierrors.IsUnauthorized(err):
		kind = wire.ErrUnauthorized
	case apierrors.IsForbidden(err):
		kind = wire.ErrForbidden
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
	return &kindError{msg: fmt.Sprintf("%s: %v", what, err), kind: kind}
}

type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func mergePatch(v any) ([]byte, error) { return json.Marshal(v) }

// ForceSync implements server.Cluster with a JSON merge patch of the
// annotation, owned by fieldManager ("" lets the API server name the
// manager after the user agent, runnerctl-kube).
func (c *Cluster) ForceSync(ctx context.Context, ns, name, version, value, fieldManager string) error {
	patch, err := mergePatch(map[string]any{"metadata": map[string]any{"annotations": map[string]string{ForceSyncAnnotation: value}}})
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(externalSecretsGVR(version)).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return wrap(err, fmt.Sprintf("annotate externalsecret %s/%s", ns, name))
	}
	return nil
}

// SecretHash implements server.Cluster. The value is hashed here and never
// leaves this process.
func (c *Cluster) SecretHash(ctx context.Context, ns, name, key string) (string, error) {
	u, err := c.dyn.Resource(secretsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", wrap(err, fmt.Sprintf("read secret %s/%s", ns, name))
	}
	enc, ok, err := unstructured.NestedString(u.Object, "data", key)
	if err != nil || !ok || enc == "" {
		return "", nil
	}
	// data values are base64 in JSON; hash the decoded bytes.
	var raw []byte
	if err := json.Unmarshal([]byte(`"`+enc+`"`), &raw); err != nil {
		return "", fmt.Errorf("read secret %s/%s: data[%q] is not base64", ns, name, key)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// Restart implements server.Cluster as `kubectl rollout restart` does, but
// with a JSON merge patch (the same change as kubectl's strategic one for
// this map), owned by fieldManager as ForceSync's.
func (c *Cluster) Restart(ctx context.Context, ns, name, restartedAt, fieldManager string) error {
	patch, err := mergePatch(map[string]any{"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{RestartedAtAnnotation: restartedAt}}}}})
	if err != nil {
		return err
	}
	_, err = c.dyn.Resource(deploymentsGVR).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: fieldManager})
	if err != nil {
		return wrap(err, fmt.Sprintf("restart deployment %s/%s", ns, name))
	}
	return nil
}

// RolloutStatus implements server.Cluster.
func (c *Cluster) RolloutStatus(ctx context.Context, ns, name string) (wire.Rollout, error) {
	u, err := c.dyn.Resource(deploymentsGVR).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return wire.Rollout{}, wrap(err, fmt.Sprintf("read deployment %s/%s", ns, name))
	}
	i64 := func(fields ...string) int64 {
		v, _, _ := unstructured.NestedInt64(u.Object, fields...)
		return v
	}
	r := wire.Rollout{
		Generation:         u.GetGeneration(),
		ObservedGeneration: i64("status", "observedGeneration"),
		Replicas:           1,
		UpdatedReplicas:    int32(i64("status", "updatedReplicas")),
		AvailableReplicas:  int32(i64("status", "availableReplicas")),
		StatusReplicas:     int32(i64("status", "replicas")),
	}
	if v, ok, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); ok {
		r.Replicas = int32(v)
	}
	return r, nil
}

// Main is runnerctl-kube: it serves one cluster (or, in a charts-only
// session, chart checks through package charts and validation through
// package engine) on stdin and stdout until stdin closes, and returns the
// exit code.
func Main() int {
	if len(os.Args) != 2 || os.Args[1] != "serve" {
		fmt.Fprintf(os.Stderr, "%s is runnerctl's helper for cluster access and chart checks; runnerctl starts it (%s serve).\n", wire.HelperName, wire.HelperName)
		return 2
	}
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := server.Serve(context.Background(), os.Stdin, os.Stdout, server.Handlers{
		Open: Open, Chart: charts.Version, Validate: engine.Engine{Fetch: charts.Checker{}.Fetch}.Validate,
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
