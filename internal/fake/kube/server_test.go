package kube_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	fakekube "github.com/runnerctl/runnerctl/internal/fake/kube"
	"github.com/runnerctl/runnerctl/internal/kube"
	"github.com/runnerctl/runnerctl/internal/kube/remote"
)

// The runnerctl-kube side (client-go's dynamic client, clientcmd) against
// the fake: the same requests the helper sends to a real API server.

const testValue = "glrt-test-value"

func externalSecret(ns, name string) map[string]any {
	return map[string]any{
		"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"data": []any{map[string]any{"secretKey": "runnerToken",
			"remoteRef": map[string]any{"key": "gitlab/runners/ci", "property": "runner-token"}}}},
	}
}

type store struct {
	mu sync.Mutex
	v  string
}

func (s *store) get(key, prop string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.v, key == "gitlab/runners/ci" && prop == "runner-token" && s.v != ""
}

func (s *store) set(v string) { s.mu.Lock(); s.v = v; s.mu.Unlock() }

func setup(t *testing.T) (*fakekube.Server, remote.Cluster, *store) {
	t.Helper()
	s := fakekube.New()
	t.Cleanup(s.Close)
	st := &store{v: "old"}
	s.Source = st.get
	if err := s.AddExternalSecret(externalSecret("ns", "gitlab-runner-ci-token")); err != nil {
		t.Fatal(err)
	}
	s.AddDeployment("ns", "gitlab-runner-ci", nil)
	p, err := s.WriteKubeconfig(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.Open(context.Background(), remote.Spec{Kubeconfig: p})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, st
}

func hash(v string) string { h := sha256.Sum256([]byte(v)); return hex.EncodeToString(h[:]) }

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 5s", what)
		}
	}
}

func TestForceSyncCopiesFromStore(t *testing.T) {
	s, c, st := setup(t)
	ctx := context.Background()
	h, err := c.SecretHash(ctx, "ns", "gitlab-runner-ci-token", "runner-token")
	if err != nil || h != hash("old") {
		t.Fatalf("SecretHash = %q, %v; want the hash of the stored value", h, err)
	}
	st.set(testValue)
	if err := c.ForceSync(ctx, "ns", "gitlab-runner-ci-token", "v1", "1", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "secret synced", func() bool {
		h, err := c.SecretHash(ctx, "ns", "gitlab-runner-ci-token", "runner-token")
		return err == nil && h == hash(testValue)
	})
	// The same annotation value again changes nothing: no reconcile.
	st.set("newer")
	if err := c.ForceSync(ctx, "ns", "gitlab-runner-ci-token", "v1", "1", ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * s.Step)
	if v, _ := s.SecretValue("ns", "gitlab-runner-ci-token", "runner-token"); v != testValue {
		t.Fatal("an unchanged annotation made ESO sync")
	}
	// An absent key hashes to "".
	if h, err := c.SecretHash(ctx, "ns", "gitlab-runner-ci-token", "nope"); err != nil || h != "" {
		t.Fatalf("SecretHash of an absent key = %q, %v", h, err)
	}
	// v1beta1 is another resource: not found here.
	if err := c.ForceSync(ctx, "ns", "gitlab-runner-ci-token", "v1beta1", "2", ""); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("v1beta1 ForceSync: %v, want ErrNotFound", err)
	}
}

func TestRestartRollsOut(t *testing.T) {
	s, c, _ := setup(t)
	ctx := context.Background()
	var contacted sync.WaitGroup
	contacted.Add(1)
	s.OnRollout = func(ns, name string) { contacted.Done() }
	r, err := c.RolloutStatus(ctx, "ns", "gitlab-runner-ci")
	if err != nil || !r.Complete() || r.Generation != 1 {
		t.Fatalf("initial rollout %+v, %v", r, err)
	}
	if err := c.Restart(ctx, "ns", "gitlab-runner-ci", "2026-01-01T00:00:00Z", ""); err != nil {
		t.Fatal(err)
	}
	if got := s.Restarts("ns", "gitlab-runner-ci"); got != 1 {
		t.Fatalf("restarts = %d", got)
	}
	r, _ = c.RolloutStatus(ctx, "ns", "gitlab-runner-ci")
	if r.Generation != 2 || r.Complete() {
		t.Fatalf("right after the restart: %+v; want generation 2, not complete", r)
	}
	eventually(t, "rollout complete", func() bool {
		r, err := c.RolloutStatus(ctx, "ns", "gitlab-runner-ci")
		return err == nil && r.Generation == 2 && r.Complete()
	})
	contacted.Wait()
	// The same restartedAt is no change: no new generation.
	if err := c.Restart(ctx, "ns", "gitlab-runner-ci", "2026-01-01T00:00:00Z", ""); err != nil {
		t.Fatal(err)
	}
	if g := s.Generation("ns", "gitlab-runner-ci"); g != 2 {
		t.Fatalf("generation %d after an identical patch", g)
	}
}

func TestErrors(t *testing.T) {
	s, c, _ := setup(t)
	ctx := context.Background()
	if _, err := c.RolloutStatus(ctx, "ns", "nope"); !errors.Is(err, remote.ErrNotFound) || !strings.Contains(err.Error(), `deployments.apps "nope" not found`) {
		t.Fatalf("unknown deployment: %v", err)
	}
	s.Fail(fakekube.OpPatchDeployment, 403)
	if err := c.Restart(ctx, "ns", "gitlab-runner-ci", "x", ""); !errors.Is(err, remote.ErrForbidden) {
		t.Fatalf("forbidden restart: %v", err)
	}
	s.Clear()
	if err := c.Restart(ctx, "ns", "gitlab-runner-ci", "x", ""); err != nil {
		t.Fatal(err)
	}
}

// rawClient talks to the fake without client-go, to check its strictness.
func raw(t *testing.T, s *fakekube.Server, method, path, ctype, auth, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL()+path, bytes.NewBufferString(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestStrict(t *testing.T) {
	s, _, _ := setup(t)
	es := "/apis/external-secrets.io/v1/namespaces/ns/externalsecrets/gitlab-runner-ci-token"
	for _, tc := range []struct {
		method, path, ctype, auth, body string
		code                            int
		reason                          string
	}{
		{"GET", es, "", "", "", 401, "Unauthorized"},
		{"GET", es, "", "wrong", "", 401, "Unauthorized"},
		{"GET", es, "", fakekube.Token, "", 200, ""},
		{"GET", "/api/v1/namespaces/ns/secrets/other", "", fakekube.Token, "", 404, "NotFound"},
		{"GET", "/apis/apps/v1/namespaces/ns/statefulsets/x", "", fakekube.Token, "", 404, "NotFound"},
		{"GET", "/apis", "", fakekube.Token, "", 404, "NotFound"},
		{"PATCH", es, "application/strategic-merge-patch+json", fakekube.Token, `{}`, 415, "UnsupportedMediaType"},
		{"PATCH", es, "application/json-patch+json", fakekube.Token, `[]`, 415, "UnsupportedMediaType"},
		{"PATCH", es, "application/merge-patch+json", fakekube.Token, `not json`, 400, "BadRequest"},
		{"PATCH", "/api/v1/namespaces/ns/secrets/gitlab-runner-ci-token", "application/merge-patch+json", fakekube.Token, `{}`, 405, "MethodNotAllowed"},
		{"DELETE", es, "", fakekube.Token, "", 405, "MethodNotAllowed"},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/gitlab-runner-ci", "application/strategic-merge-patch+json", fakekube.Token, `{}`, 200, ""},
	} {
		code, body := raw(t, s, tc.method, tc.path, tc.ctype, tc.auth, tc.body)
		if code != tc.code {
			t.Errorf("%s %s (%s): %d, want %d", tc.method, tc.path, tc.ctype, code, tc.code)
			continue
		}
		if tc.reason != "" && (body["kind"] != "Status" || body["reason"] != tc.reason || body["status"] != "Failure") {
			t.Errorf("%s %s: body %v, want a Status with reason %s", tc.method, tc.path, body, tc.reason)
		}
	}
	// A patch cannot change what the server owns.
	code, body := raw(t, s, "PATCH", es, "application/merge-patch+json", fakekube.Token, `{"metadata":{"name":"x","uid":"y"},"status":{"a":1}}`)
	meta, _ := body["metadata"].(map[string]any)
	if code != 200 || meta["name"] != "gitlab-runner-ci-token" || body["status"] != nil {
		t.Fatalf("patch of server-owned fields: %d %v", code, body)
	}
}

// TestFieldManagers: the helper's patches carry the field manager asked
// for (Flux's, under gitops.engine flux), else the API server names the
// manager after the helper's user agent.
func TestFieldManagers(t *testing.T) {
	s, c, _ := setup(t)
	ctx := context.Background()
	if err := c.ForceSync(ctx, "ns", "gitlab-runner-ci-token", "v1", "1", ""); err != nil {
		t.Fatal(err)
	}
	if err := c.ForceSync(ctx, "ns", "gitlab-runner-ci-token", "v1", "2", "flux-client-side-apply"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(ctx, "ns", "gitlab-runner-ci", "x", "flux-client-side-apply"); err != nil {
		t.Fatal(err)
	}
	if got := s.FieldManagers("externalsecrets", "ns", "gitlab-runner-ci-token"); fmt.Sprint(got) != "[runnerctl-kube flux-client-side-apply]" {
		t.Errorf("ExternalSecret patched by %q", got)
	}
	if got := s.FieldManagers("deployments", "ns", "gitlab-runner-ci"); fmt.Sprint(got) != "[flux-client-side-apply]" {
		t.Errorf("Deployment patched by %q", got)
	}
	if err := c.Restart(ctx, "ns", "gitlab-runner-ci", "y", strings.Repeat("m", 129)); err == nil {
		t.Error("a field manager longer than the API server allows was accepted")
	}
}
