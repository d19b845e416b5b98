package rotate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/kube/remote"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// site is one cluster of a runner deployed to several, reached through its
// own kube context: its ESO reads its runner's token location, a restart
// rolls out at once (unless stuck) and makes its runner contact GitLab.
// Every call goes to a log shared by the sites, in order.
type site struct {
	name   string
	store  *memStore
	loc    secrets.Location
	id     int64
	log    *siteLog
	secret string
	gen    int64
	stuck  bool
}

type siteLog struct {
	mu      sync.Mutex
	calls   []string
	contact map[int64]time.Time
}

func (l *siteLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

func (l *siteLog) ContactedAt(_ context.Context, id int64) (*time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.contact[id]
	if !ok {
		return nil, nil
	}
	return &t, nil
}

func (s *site) ForceSync(ctx context.Context, ns, name, _, _, _ string) error {
	s.log.add(s.name + " forceSync " + ns + "/" + name)
	tok, err := s.store.Get(ctx, s.loc)
	if err == nil {
		sum := sha256.Sum256([]byte(tok.Reveal()))
		s.secret = hex.EncodeToString(sum[:])
	}
	return nil
}

func (s *site) SecretHash(context.Context, string, string, string) (string, error) {
	return s.secret, nil
}

func (s *site) Restart(_ context.Context, ns, name, _, _ string) error {
	s.log.add(s.name + " restart " + ns + "/" + name)
	s.gen++
	if !s.stuck {
		s.log.mu.Lock()
		s.log.contact[s.id] = time.Now()
		s.log.mu.Unlock()
	}
	return nil
}

func (s *site) RolloutStatus(context.Context, string, string) (remote.Rollout, error) {
	obs := s.gen
	if s.stuck {
		obs = 1
	}
	return remote.Rollout{Generation: s.gen, ObservedGeneration: obs, Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1, StatusReplicas: 1}, nil
}

// fleetTargets are runner build's instances in clusters eu-1 (id 1) and
// us-1 (id 2), each with its own site, grouped as the CLI groups them.
func fleetTargets(e *env) ([]Target, []*site, *siteLog) {
	log := &siteLog{contact: map[int64]time.Time{}}
	var ts []Target
	var sites []*site
	for i, c := range []string{"eu-1", "us-1"} {
		t := target("build@"+c, int64(i+1))
		t.Group, t.Legacy = "build", "build"
		t.Cluster = &ClusterTarget{Namespace: "ci", ExternalSecret: "gitlab-runner-build-token", ESOVersion: "v1", Secret: "gitlab-runner-build-token", Deployment: "gitlab-runner-build"}
		s := &site{name: c, store: e.store, loc: t.Location, id: t.RunnerID, log: log, gen: 1}
		t.Kube = s
		ts, sites = append(ts, t), append(sites, s)
	}
	e.deps.Contacts = log
	return ts, sites, log
}

// Each cluster's runner is rotated through its own cluster, one cluster
// after the other even with room for more at once: all of eu-1's steps
// come before any of us-1's.
func TestGroupRotatesClustersOneByOne(t *testing.T) {
	e := newEnv(t, 1, 2)
	ts, _, log := fleetTargets(e)
	o := opts()
	o.ClusterWait, o.PollInterval, o.Parallel = 2*time.Second, time.Millisecond, 10
	rs := Run(context.Background(), e.deps, o, ts)
	e.noToken(t, rs)
	for _, r := range rs {
		if r.Status != Rotated || !r.Cluster.Done() {
			t.Fatalf("%s: %+v %+v", r.Name, r, r.Cluster)
		}
	}
	e.stored(t, "build@eu-1", 1)
	e.stored(t, "build@us-1", 2)
	want := []string{"eu-1 forceSync ci/gitlab-runner-build-token", "eu-1 restart ci/gitlab-runner-build",
		"us-1 forceSync ci/gitlab-runner-build-token", "us-1 restart ci/gitlab-runner-build"}
	if !slices.Equal(log.calls, want) {
		t.Fatalf("calls %q,\nwant %q", log.calls, want)
	}
}

// The first cluster that does not finish stops the rest of its runner's
// clusters, which are left untouched (skipped, not reset); a runner of
// another group goes on.
func TestGroupStopsAtFirstUnfinished(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(e *env, sites []*site)
		want  Status
	}{
		{"cluster steps", func(_ *env, sites []*site) { sites[0].stuck = true }, Rotated},
		{"store", func(e *env, _ []*site) { e.store.checkErr = errors.New("vault sealed") }, Failed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, 1, 2, 3)
			ts, sites, log := fleetTargets(e)
			tc.setup(e, sites)
			other := target("plain", 3)
			o := opts()
			o.ClusterWait, o.PollInterval = 200*time.Millisecond, time.Millisecond
			rs := Run(context.Background(), e.deps, o, append(ts, other))
			e.noToken(t, rs)
			if rs[0].Status != tc.want {
				t.Fatalf("build@eu-1: %+v", rs[0])
			}
			if rs[1].Status != Skipped || !strings.Contains(rs[1].Detail, "build@eu-1") || !strings.Contains(rs[1].Detail, "nothing changed") {
				t.Fatalf("build@us-1: %+v", rs[1])
			}
			if tok := e.gl.live(2); tok.Reveal() != "glrt-CANARY-2-0" {
				t.Error("build@us-1's token was reset")
			}
			for _, c := range log.calls {
				if strings.HasPrefix(c, "us-1 ") {
					t.Errorf("us-1 was called: %s", c)
				}
			}
			if tc.want == Rotated && rs[2].Status != Rotated {
				t.Errorf("a runner of another group did not go on: %+v", rs[2])
			}
		})
	}
}

// A token an older runnerctl kept under the runner's bare name (before it
// had clusters) is found for the cluster whose runner it is, and stored
// there without a new reset.
func TestInstanceFindsKeptFileOfBareName(t *testing.T) {
	e := newEnv(t, 1, 2)
	ts, _, _ := fleetTargets(e)
	for i := range ts {
		ts[i].Cluster, ts[i].Kube = nil, nil
	}
	// The token runner 1 has now, kept by a rotation under "build".
	live := e.gl.live(1)
	e.keep(t, "build", 1, live, true)
	rs := Run(context.Background(), e.deps, opts(), ts[:1])
	e.noToken(t, rs)
	if rs[0].Status != Rotated || !strings.Contains(rs[0].Detail, "finished an earlier rotation") || e.gl.resets != 0 {
		t.Fatalf("%+v, resets %d", rs[0], e.gl.resets)
	}
	got, err := e.store.Get(context.Background(), ts[0].Location)
	if err != nil || !got.Equal(live) {
		t.Fatalf("build@eu-1's location holds another token (%v)", err)
	}
	if files := e.recoveryFiles(t); len(files) != 0 {
		t.Errorf("left in the state directory: %q", files)
	}
}
