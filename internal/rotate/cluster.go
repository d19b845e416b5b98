package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Cluster is the runner's cluster, reached through the runnerctl-kube
// helper (kube/remote.Client).
type Cluster interface {
	ForceSync(ctx context.Context, ns, name, version, value, fieldManager string) error
	SecretHash(ctx context.Context, ns, name, key string) (string, error)
	Restart(ctx context.Context, ns, name, restartedAt, fieldManager string) error
	RolloutStatus(ctx context.Context, ns, name string) (remote.Rollout, error)
}

// Contacts reads when a runner last contacted GitLab (gitlab.Client):
// contacted_at of GET /runners/:id, the one thing the wait needs.
type Contacts interface {
	ContactedAt(ctx context.Context, id int64) (*time.Time, error)
}

// ClusterTarget names a runner's objects in the cluster.
type ClusterTarget struct {
	Namespace      string
	ExternalSecret string // ESO ExternalSecret, render.Names.TokenExternalSecret
	ESOVersion     string // its API version: v1 or v1beta1
	Secret         string // the ExternalSecret's target Secret (same name)
	Deployment     string // the chart's Deployment, render.Names.Deployment
	// Reloader: the profile has Stakater Reloader restart the Deployment
	// when the Secret changes; runnerctl does not restart it itself.
	Reloader bool
	// Flux: gitops.engine flux deploys the runner. Flux owns the
	// ExternalSecret (kustomize-controller) and the Deployment
	// (helm-controller); the annotations runnerctl sets on them are then
	// owned by FluxFieldManager, the field manager Flux documents for
	// changes made by hand to the objects it manages.
	Flux bool
	// KubeContext is the kubeconfig context the kubectl commands left to
	// run by hand name ("" names none: the current one). A runner with
	// clusters sets it to its cluster's context, the one runnerctl
	// reached it through: without it, a command copied from the output
	// would go to whatever cluster the current context is, which for all
	// but one cluster of a runner is the wrong one.
	KubeContext string
}

// FluxFieldManager is the field manager that Flux's documentation gives
// kubectl for changes to objects Flux manages (kustomize-controller's
// "Controlling the apply behavior of resources": fields set with kubectl
// are reverted unless this manager owns them; helm-controller's
// "Triggering a reconcile" annotates with it too). kustomize-controller
// takes over, and so undoes, the fields of the kubectl and
// before-first-apply managers and of those its --override-manager flag
// names; helm-controller's drift correction those its own
// --override-manager names (none by default, v1.6.0's main.go).
//
// The restart itself stays the pod template annotation `kubectl rollout
// restart` sets. Flux has no restart of its own: reconcile.fluxcd.io/
// requestedAt only makes helm-controller reconcile, and forceAt (with
// requestedAt) a one-off Helm upgrade that re-applies the same manifests,
// which changes no pod template and restarts nothing. helm-controller's
// drift detection (driftDetection.mode: enabled, as render writes it)
// compares the release's manifests with the cluster by a server-side
// dry-run apply, in which a field that another manager owns and the chart
// does not set is no drift, so the annotation stays.
const FluxFieldManager = "flux-client-side-apply"

// fieldManager is the field manager of the patches for c: Flux's under
// flux, the helper's own ("") otherwise.
func (c *ClusterTarget) fieldManager() string {
	if c.Flux {
		return FluxFieldManager
	}
	return ""
}

// kubectlFlags ends the kubectl commands that change an object, so that
// one run by hand is owned as runnerctl's own patches are.
func (c *ClusterTarget) kubectlFlags() string {
	if c.Flux {
		return " --field-manager=" + FluxFieldManager
	}
	return ""
}

// SecretKey is the key of the runner token in the Secret the chart reads,
// which render writes.
const SecretKey = render.TokenSecretKey

// DefaultClusterWait bounds, per runner, the cluster steps' waits (the
// Secret's refresh, the rollout, the runner's contact) together.
const DefaultClusterWait = 5 * time.Minute

// The cluster steps, in order; ClusterResult.Step is the one reached.
const (
	StepForceSync = "force-sync"
	StepSecret    = "secret"
	StepRestart   = "restart"
	StepRollout   = "rollout"
	StepContact   = "contact"
	StepDone      = "done"
)

// ClusterResult is how far the new token got into the running runner. It
// never holds the token or its hash.
type ClusterResult struct {
	// Step is the step reached: done, or the one that failed.
	Step string `json:"step"`
	// Restarted: runnerctl restarted the Deployment (not with Reloader).
	Restarted bool `json:"restarted,omitempty"`
	// ContactedAt is the runner's first contact seen after the rotation.
	ContactedAt *time.Time `json:"contactedAt,omitempty"`
	// Error says what failed and what remains; "" when done.
	Error string `json:"error,omitempty"`
	// Next are the commands that finish by hand (the CLI reports them as
	// the result's next).
	Next []string `json:"-"`
}

// Done reports whether every cluster step succeeded.
func (c *ClusterResult) Done() bool { return c != nil && c.Step == StepDone }

// ByHand are the commands that get a stored token into the running
// runner, which reads it only at start, when runnerctl has no cluster
// access: refresh the Secret, and restart the Deployment unless Reloader
// does once ESO has refreshed the Secret. Under flux both carry Flux's
// field manager (kubectlFlags): kustomize-controller takes over the
// fields of kubectl's default managers on its next apply, and would undo
// a force-sync annotation made under one of them.
func (c *ClusterTarget) ByHand() []string {
	steps := []string{c.forceSyncCmd()}
	if !c.Reloader {
		steps = append(steps, c.restartCmd())
	}
	return steps
}

// kubectl commands that finish each step by hand.
func (c *ClusterTarget) forceSyncCmd() string {
	return fmt.Sprintf("%s -n %s annotate externalsecret %s force-sync=$(date +%%s) --overwrite%s", c.kubectl(), c.Namespace, c.ExternalSecret, c.kubectlFlags())
}
func (c *ClusterTarget) restartCmd() string {
	return fmt.Sprintf("%s -n %s rollout restart deployment/%s%s", c.kubectl(), c.Namespace, c.Deployment, c.kubectlFlags())
}
func (c *ClusterTarget) statusCmd() string {
	return fmt.Sprintf("%s -n %s rollout status deployment/%s", c.kubectl(), c.Namespace, c.Deployment)
}
func (c *ClusterTarget) logsCmd() string {
	return fmt.Sprintf("%s -n %s logs deployment/%s", c.kubectl(), c.Namespace, c.Deployment)
}

// kubectl starts every command, naming the context when there is one.
func (c *ClusterTarget) kubectl() string {
	if c.KubeContext != "" {
		return "kubectl --context " + c.KubeContext
	}
	return "kubectl"
}

// pollInterval is how often a wait asks again (Options.PollInterval).
const pollInterval = time.Second

// toCluster gets a stored token into the running runner: force ESO to
// refresh the Secret, wait until the Secret holds the token (comparing
// SHA-256 hashes, computed by the helper, never printed), restart the
// Deployment (unless Reloader does), wait for the rollout, and wait until
// the runner has contacted GitLab since rotatedAt.
//
// With Reloader, runnerctl does not restart the Deployment: it waits for
// the rollout Reloader starts (the Deployment's generation grows past the
// one read before the force-sync), then for the contact, so that a
// missing Reloader is reported instead of passing unseen.
func toCluster(ctx context.Context, d Deps, o Options, t Target, tok secrets.Token, rotatedAt time.Time) *ClusterResult {
	c := t.Cluster
	res := &ClusterResult{}
	wait := o.ClusterWait
	if wait <= 0 {
		wait = DefaultClusterWait
	}
	interval := o.PollInterval
	if interval <= 0 {
		interval = pollInterval
	}
	// The waits share one deadline; the helper's calls get the run's ctx,
	// not this one: a call cut short stops the helper, which the other
	// runners share (the helper bounds each request itself).
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	steps := prefixed{d.Steps, t.Name}
	remaining := func(from string) []string {
		var next []string
		switch from {
		case StepForceSync:
			next = append(next, c.forceSyncCmd())
			fallthrough
		case StepSecret, StepRestart:
			if !c.Reloader {
				next = append(next, c.restartCmd())
			}
			fallthrough
		case StepRollout:
			next = append(next, c.statusCmd())
		case StepContact:
			next = append(next, c.logsCmd())
		}
		return next
	}
	fail := func(step string, format string, args ...any) *ClusterResult {
		res.Step, res.Next = step, remaining(step)
		res.Error = "rotated, but " + fmt.Sprintf(format, args...)
		return res
	}
	timedOut := func(err error) bool {
		return errors.Is(err, context.DeadlineExceeded)
	}
	sum := sha256.Sum256([]byte(tok.Reveal()))
	want := hex.EncodeToString(sum[:])

	// The Deployment's generation before anything changes: the rollout
	// waited for is one of a later generation (a restart within the same
	// instant as an earlier one, or a Reloader that never acts, must not
	// pass for a finished rollout).
	r0, err := d.Cluster.RolloutStatus(ctx, c.Namespace, c.Deployment)
	if err != nil {
		return fail(StepForceSync, "the runner was not restarted: %v; remains: refresh the Secret and restart the runner", err)
	}
	gen0 := r0.Generation

	res.Step = StepForceSync
	// A timestamp as ESO documents (force-sync=$(date +%s)), but to the
	// nanosecond: two rotations within a second must still change it.
	steps.Step(fmt.Sprintf("annotating externalsecret %s/%s with force-sync", c.Namespace, c.ExternalSecret))
	if err := d.Cluster.ForceSync(ctx, c.Namespace, c.ExternalSecret, c.ESOVersion, o.Now().UTC().Format(time.RFC3339Nano), c.fieldManager()); err != nil {
		return fail(StepForceSync, "the runner was not restarted: %v; remains: refresh the Secret and restart the runner", err)
	}

	res.Step = StepSecret
	steps.Step(fmt.Sprintf("waiting until secret %s/%s holds the new token", c.Namespace, c.Secret))
	err = poll(waitCtx, interval, func() (bool, error) {
		h, err := d.Cluster.SecretHash(ctx, c.Namespace, c.Secret, SecretKey)
		return h == want, err
	})
	if err != nil {
		if timedOut(err) {
			return fail(StepSecret, "the runner was not restarted: secret %s/%s did not receive the new token within %s (--wait) after the force-sync of externalsecret %s: check `%s -n %s describe externalsecret %s`, then restart the runner",
				c.Namespace, c.Secret, wait, c.ExternalSecret, c.kubectl(), c.Namespace, c.ExternalSecret)
		}
		return fail(StepSecret, "the runner was not restarted: %v", err)
	}

	if !c.Reloader {
		res.Step = StepRestart
		steps.Step(fmt.Sprintf("restarting deployment %s/%s", c.Namespace, c.Deployment))
		if err := d.Cluster.Restart(ctx, c.Namespace, c.Deployment, o.Now().UTC().Format(time.RFC3339Nano), c.fieldManager()); err != nil {
			return fail(StepRestart, "the runner was not restarted: %v; the Secret holds the new token", err)
		}
		res.Restarted = true
	}

	res.Step = StepRollout
	steps.Step(fmt.Sprintf("waiting for the rollout of deployment %s/%s", c.Namespace, c.Deployment))
	var last remote.Rollout
	err = poll(waitCtx, interval, func() (bool, error) {
		r, err := d.Cluster.RolloutStatus(ctx, c.Namespace, c.Deployment)
		last = r
		return err == nil && r.Generation > gen0 && r.Complete(), err
	})
	if err != nil {
		switch {
		case timedOut(err) && c.Reloader && last.Generation <= gen0:
			defer func() { res.Next = []string{c.restartCmd(), c.statusCmd()} }()
			return fail(StepRollout, "Reloader did not restart deployment %s/%s within %s (--wait) after its Secret changed (is Stakater Reloader running in the cluster?): restart it with `%s`",
				c.Namespace, c.Deployment, wait, c.restartCmd())
		case timedOut(err):
			return fail(StepRollout, "the rollout of deployment %s/%s did not complete within %s (--wait): %s; follow it with `%s`",
				c.Namespace, c.Deployment, wait, last.Pending(), c.statusCmd())
		}
		return fail(StepRollout, "the rollout of deployment %s/%s could not be followed: %v", c.Namespace, c.Deployment, err)
	}

	res.Step = StepContact
	steps.Step(fmt.Sprintf("waiting until runner %d contacts GitLab", t.RunnerID))
	// GitLab sends contacted_at to the millisecond. (Its clock, not ours:
	// a GitLab clock far behind this machine's delays the confirmation.)
	since := rotatedAt.Truncate(time.Millisecond)
	var (
		lastContact *time.Time
		lastErr     error // the latest transient failure, if the wait runs out
	)
	err = poll(waitCtx, interval, func() (bool, error) {
		at, err := d.Contacts.ContactedAt(ctx, t.RunnerID)
		if errors.Is(err, gitlab.ErrTransient) {
			// GitLab did not answer this time (a 5xx, a 429, a timeout):
			// not yet, as long as --wait allows.
			lastErr = err
			return false, nil
		}
		if err != nil {
			return false, err
		}
		lastErr, lastContact = nil, at
		return at != nil && !at.Before(since), nil
	})
	if err != nil {
		if timedOut(err) {
			seen := "never"
			if lastContact != nil {
				seen = lastContact.UTC().Format(time.RFC3339)
			}
			if lastErr != nil {
				seen += fmt.Sprintf("; GitLab's last answer: %v", lastErr)
			}
			return fail(StepContact, "runner %d has not contacted GitLab since the rotation (%s) within %s (--wait; last contact: %s), although deployment %s/%s rolled out: check its logs with `%s`",
				t.RunnerID, rotatedAt.UTC().Format(time.RFC3339), wait, seen, c.Namespace, c.Deployment, c.logsCmd())
		}
		return fail(StepContact, "the runner's contact with GitLab could not be checked: %v", err)
	}
	res.Step, res.ContactedAt = StepDone, lastContact
	return res
}

// poll calls done every interval until it reports true, returns an error,
// or ctx ends.
func poll(ctx context.Context, interval time.Duration, done func() (bool, error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		ok, err := done()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}
