package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/kube/remote"
)

// memCluster: ESO copies the store's token into the Secret on force-sync
// (unless noSync); a restart bumps the generation and completes at once
// (unless stuck); the completed rollout makes the runner contact GitLab.
type memCluster struct {
	mu       sync.Mutex
	store    *memStore
	secret   string // hash
	gen      int64
	restarts int
	calls    []string
	noSync   bool
	stuck    bool
	reloader bool // simulated Reloader restarts on a Secret change
	contact  *time.Time
	noCall   bool // contact never happens
	// contactErrs fail the next contact reads, one each.
	contactErrs  []error
	contactCalls int
}

// managed ends a call's record with the patch's field manager, if any.
func managed(fieldManager string) string {
	if fieldManager == "" {
		return ""
	}
	return " as " + fieldManager
}

func (m *memCluster) ForceSync(ctx context.Context, ns, name, version, value, fieldManager string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, "forceSync "+ns+"/"+name+" "+version+managed(fieldManager))
	if m.noSync {
		return nil
	}
	tok, err := m.store.Get(ctx, target("a", 1).Location)
	if err != nil {
		return nil
	}
	sum := sha256.Sum256([]byte(tok.Reveal()))
	if h := hex.EncodeToString(sum[:]); h != m.secret {
		m.secret = h
		if m.reloader {
			m.rollLocked()
		}
	}
	return nil
}

func (m *memCluster) rollLocked() {
	m.gen++
	if !m.stuck && !m.noCall {
		now := time.Now()
		m.contact = &now
	}
}

func (m *memCluster) SecretHash(_ context.Context, ns, name, key string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, "secretHash "+ns+"/"+name+" "+key)
	return m.secret, nil
}

func (m *memCluster) Restart(_ context.Context, ns, name, at, fieldManager string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, "restart "+ns+"/"+name+managed(fieldManager))
	m.restarts++
	m.rollLocked()
	return nil
}

func (m *memCluster) RolloutStatus(_ context.Context, ns, name string) (remote.Rollout, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obs := m.gen
	if m.stuck {
		obs = 1
	}
	return remote.Rollout{Generation: m.gen, ObservedGeneration: obs, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, StatusReplicas: 1}, nil
}

func (m *memCluster) ContactedAt(_ context.Context, id int64) (*time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.contactCalls++
	if len(m.contactErrs) > 0 {
		err := m.contactErrs[0]
		m.contactErrs = m.contactErrs[1:]
		return nil, err
	}
	return m.contact, nil
}

func clusterEnv(t *testing.T, reloader bool) (*env, *memCluster, Target, Options) {
	e := newEnv(t, 1)
	old := time.Now().Add(-time.Hour)
	m := &memCluster{store: e.store, gen: 1, reloader: reloader, contact: &old}
	e.deps.Cluster, e.deps.Contacts = m, m
	tg := target("a", 1)
	tg.Cluster = &ClusterTarget{Namespace: "ns", ExternalSecret: "gitlab-runner-a-token", ESOVersion: "v1", Secret: "gitlab-runner-a-token", Deployment: "gitlab-runner-a", Reloader: reloader}
	o := opts()
	o.ClusterWait, o.PollInterval = 300*time.Millisecond, time.Millisecond
	return e, m, tg, o
}

func TestClusterHappyPath(t *testing.T) {
	e, m, tg, o := clusterEnv(t, false)
	rs := Run(context.Background(), e.deps, o, []Target{tg})
	e.noToken(t, rs)
	c := rs[0].Cluster
	if rs[0].Status != Rotated || !c.Done() || !c.Restarted || c.ContactedAt == nil || m.restarts != 1 {
		t.Fatalf("%+v %+v restarts %d", rs[0], c, m.restarts)
	}
	if got := fmt.Sprint(m.calls[:3]); got != "[forceSync ns/gitlab-runner-a-token v1 secretHash ns/gitlab-runner-a-token runner-token restart ns/gitlab-runner-a]" {
		t.Fatalf("calls %s", got)
	}
	if strings.Contains(fmt.Sprintf("%+v", c), m.secret) {
		t.Fatal("the hash shows in the result")
	}
}

func TestClusterFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reloader bool
		set      func(*memCluster)
		step     string
		msg      string
		next     string
	}{
		{"secret", false, func(m *memCluster) { m.noSync = true }, StepSecret, "did not receive the new token within 300ms", "rollout restart"},
		{"rollout", false, func(m *memCluster) { m.stuck = true }, StepRollout, "the Deployment controller has not yet seen the new spec", "rollout status"},
		{"contact", false, func(m *memCluster) { m.noCall = true }, StepContact, "runner 1 has not contacted GitLab since the rotation", "logs deployment/gitlab-runner-a"},
		{"no reloader", true, func(m *memCluster) { m.reloader = false }, StepRollout, "Reloader did not restart deployment ns/gitlab-runner-a", "rollout restart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, m, tg, o := clusterEnv(t, tc.reloader)
			tc.set(m)
			rs := Run(context.Background(), e.deps, o, []Target{tg})
			e.noToken(t, rs)
			c := rs[0].Cluster
			if rs[0].Status != Rotated || c.Done() || c.Step != tc.step || !strings.HasPrefix(c.Error, "rotated, but ") ||
				!strings.Contains(c.Error, tc.msg) || !strings.Contains(strings.Join(c.Next, "\n"), tc.next) {
				t.Fatalf("%+v", c)
			}
			e.stored(t, "a", 1)
			if tc.reloader && m.restarts != 0 {
				t.Fatal("runnerctl restarted a Reloader runner")
			}
		})
	}
}

func TestClusterReloader(t *testing.T) {
	e, m, tg, o := clusterEnv(t, true)
	rs := Run(context.Background(), e.deps, o, []Target{tg})
	if c := rs[0].Cluster; !c.Done() || c.Restarted || m.restarts != 0 {
		t.Fatalf("%+v restarts %d", c, m.restarts)
	}
}

func TestClusterAfterKeptToken(t *testing.T) {
	e, m, tg, o := clusterEnv(t, false)
	tok, _ := e.gl.ResetToken(context.Background(), 1)
	e.keep(t, "a", 1, tok.Token, true)
	rs := Run(context.Background(), e.deps, o, []Target{tg})
	if !rs[0].Cluster.Done() || m.restarts != 1 {
		t.Fatalf("%+v %+v", rs[0], rs[0].Cluster)
	}
	e.stored(t, "a", 1)
}

// A transient failure while waiting for the runner's contact (a 502, a
// timeout) is "not yet": the wait goes on, and the contact is confirmed.
func TestClusterContactSurvivesTransientErrors(t *testing.T) {
	e, m, tg, o := clusterEnv(t, false)
	transient := fmt.Errorf("runner 1: GitLab answered 502 Bad Gateway (%w)", gitlab.ErrTransient)
	m.contactErrs = []error{transient, transient}
	rs := Run(context.Background(), e.deps, o, []Target{tg})
	if c := rs[0].Cluster; !c.Done() || m.contactCalls < 3 {
		t.Fatalf("%+v, %d contact reads", c, m.contactCalls)
	}
}

// A failure that waiting cannot cure (the token may not read the runner)
// ends the wait at once.
func TestClusterContactPermanentError(t *testing.T) {
	e, m, tg, o := clusterEnv(t, false)
	m.contactErrs = []error{fmt.Errorf("runner 1: %w", gitlab.ErrUnauthorized)}
	rs := Run(context.Background(), e.deps, o, []Target{tg})
	if c := rs[0].Cluster; c.Done() || c.Step != StepContact || !strings.Contains(c.Error, "could not be checked") || m.contactCalls != 1 {
		t.Fatalf("%+v, %d contact reads", c, m.contactCalls)
	}
}

// TestClusterFlux: under gitops.engine flux, the force-sync and the
// restart are the same patches, owned by Flux's field manager for changes
// made by hand, and the commands left to finish by hand say so too.
func TestClusterFlux(t *testing.T) {
	e, m, tg, o := clusterEnv(t, false)
	tg.Cluster.Flux = true
	rs := Run(context.Background(), e.deps, o, []Target{tg})
	if c := rs[0].Cluster; !c.Done() || !c.Restarted || m.restarts != 1 {
		t.Fatalf("%+v restarts %d", c, m.restarts)
	}
	want := "[forceSync ns/gitlab-runner-a-token v1 as flux-client-side-apply secretHash ns/gitlab-runner-a-token runner-token restart ns/gitlab-runner-a as flux-client-side-apply]"
	if got := fmt.Sprint(m.calls[:3]); got != want {
		t.Fatalf("calls %s\nwant  %s", got, want)
	}

	e, m, tg, o = clusterEnv(t, false)
	tg.Cluster.Flux = true
	m.noSync = true
	rs = Run(context.Background(), e.deps, o, []Target{tg})
	c := rs[0].Cluster
	if c.Step != StepSecret || len(c.Next) != 2 {
		t.Fatalf("%+v", c)
	}
	if want := "kubectl -n ns rollout restart deployment/gitlab-runner-a --field-manager=flux-client-side-apply"; c.Next[0] != want {
		t.Errorf("next %q, want %q", c.Next[0], want)
	}
	// A cluster's runner of a runner with clusters: the commands go to its
	// cluster's context, not the current one.
	e, m, tg, o = clusterEnv(t, false)
	tg.Cluster.Flux = true
	tg.Cluster.KubeContext = "prod-us"
	m.noSync = true
	rs = Run(context.Background(), e.deps, o, []Target{tg})
	if c := rs[0].Cluster; len(c.Next) != 2 || c.Next[0] != "kubectl --context prod-us -n ns rollout restart deployment/gitlab-runner-a --field-manager=flux-client-side-apply" ||
		c.Next[1] != "kubectl --context prod-us -n ns rollout status deployment/gitlab-runner-a" {
		t.Errorf("next with a context: %q", c.Next)
	}
	// Without Flux, kubectl's own managers.
	e, m, tg, o = clusterEnv(t, false)
	m.noSync = true
	rs = Run(context.Background(), e.deps, o, []Target{tg})
	if next := strings.Join(rs[0].Cluster.Next, "\n"); strings.Contains(next, "field-manager") {
		t.Errorf("ArgoCD runner's next commands name a field manager: %s", next)
	}
}
