// Package kube is a strict fake of the Kubernetes API server for the
// objects rotate-token touches, with the controllers that act on them
// simulated:
//
//   - GET and PATCH /apis/external-secrets.io/{v1,v1beta1}/namespaces/NS/externalsecrets/NAME;
//     a changed annotation (ESO's force-sync) makes the simulated External
//     Secrets Operator read the ExternalSecret's remoteRef from the secrets
//     store (Source) and write it into the target Secret's runner-token.
//   - GET /api/v1/namespaces/NS/secrets/NAME.
//   - GET and PATCH /apis/apps/v1/namespaces/NS/deployments/NAME; a change
//     of the spec bumps metadata.generation and the simulated Deployment
//     controller rolls it out over a few status updates (a surge pod, then
//     the old one gone); when the rollout completes, OnRollout is called
//     (the runner pod starts and contacts GitLab). A Deployment annotated
//     secret.reloader.stakater.com/reload is restarted by a simulated
//     Reloader when one of the Secrets it names changes.
//
// PATCH takes application/merge-patch+json (RFC 7386), and for
// Deployments also application/strategic-merge-patch+json (applied as a
// merge patch: the same for the annotation maps runnerctl changes); other
// patch types get 415, as a real server answers a strategic merge patch of
// a custom resource. Every request needs the bearer token of the
// kubeconfig (401 otherwise); unknown objects and paths get 404, with a
// metav1.Status body as the real server sends.
package kube

import (
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// Token is the bearer token the fake accepts (it is not a runner token).
const Token = "fake-kube-bearer-token"

// Operations, for faults.
const (
	OpGetExternalSecret   = "get-externalsecret"
	OpPatchExternalSecret = "patch-externalsecret"
	OpGetSecret           = "get-secret"
	OpGetDeployment       = "get-deployment"
	OpPatchDeployment     = "patch-deployment"
)

// AllOps are the operations faults may name.
var AllOps = []string{OpGetExternalSecret, OpPatchExternalSecret, OpGetSecret, OpGetDeployment, OpPatchDeployment}

// Controllers that Stall can stop.
const (
	StallESO      = "eso"      // the Secret never changes
	StallRollout  = "rollout"  // a new pod never becomes available
	StallReloader = "reloader" // Reloader is not running
	StallContact  = "contact"  // the runner never contacts GitLab
)

// AllStalls are the controllers Stall may name.
var AllStalls = []string{StallESO, StallRollout, StallReloader, StallContact}

// ReloaderAnnotation is Stakater Reloader's annotation naming Secrets.
const ReloaderAnnotation = "secret.reloader.stakater.com/reload"

type key struct{ ns, name string }

// Server is the fake API server.
type Server struct {
	srv *httptest.Server
	inj *inject.Faults[int] // a fault is the status to answer

	mu          sync.Mutex
	rv          int
	externals   map[key]map[string]any
	esVersions  map[key]string
	secrets     map[key]map[string]any
	deployments map[key]map[string]any
	restarts    map[key]int
	stalls      map[string]bool
	// managers are the field managers of the patches, per
	// "RESOURCE NS/NAME", in order.
	managers map[string][]string

	// Step is the delay between the simulated controllers' updates.
	Step time.Duration
	// Source is the secrets store ESO reads: the value at remoteRef key
	// and property; ok false when there is none.
	Source func(key, property string) (string, bool)
	// OnRollout is called, outside the lock, when a rollout completes.
	OnRollout func(ns, name string)
}

// New starts a fake API server.
func New() *Server {
	s := &Server{
		externals: map[key]map[string]any{}, esVersions: map[key]string{}, secrets: map[key]map[string]any{},
		deployments: map[key]map[string]any{}, restarts: map[key]int{}, stalls: map[string]bool{}, managers: map[string][]string{},
		inj:  inject.New[int]("fake kube", AllOps),
		Step: 20 * time.Millisecond,
	}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the server's address.
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server; delayed answers are cut short.
func (s *Server) Close() {
	s.inj.Close()
	s.srv.Close()
}

// Context is another fake server, reached through kubeconfig context
// Name: a cluster of its own, with its own objects.
type Context struct {
	Name   string
	Server *Server
}

// WriteKubeconfig writes a kubeconfig for the fake to dir/kubeconfig and
// returns its path. Its current context "fake" uses namespace default and
// the right token; context "stale" has a token the server rejects. Each
// of more is one more context, with the right token, for its own server.
func (s *Server) WriteKubeconfig(dir string, more ...Context) (string, error) {
	cluster := func(name string, srv *Server) string {
		return fmt.Sprintf("- name: %s\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n", name, srv.URL(),
			base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.srv.Certificate().Raw})))
	}
	var clusters, contexts strings.Builder
	clusters.WriteString(cluster("fake", s))
	for _, c := range more {
		clusters.WriteString(cluster("cluster-"+c.Name, c.Server))
		fmt.Fprintf(&contexts, "- name: %s\n  context: {cluster: cluster-%s, user: runnerctl, namespace: default}\n", c.Name, c.Name)
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
%susers:
- name: runnerctl
  user:
    token: %s
- name: stale
  user:
    token: stale-token
contexts:
- name: fake
  context: {cluster: fake, user: runnerctl, namespace: default}
- name: stale
  context: {cluster: fake, user: stale, namespace: default}
%scurrent-context: fake
`, clusters.String(), Token, contexts.String())
	p := filepath.Join(dir, "kubeconfig")
	return p, os.WriteFile(p, []byte(cfg), 0o600)
}

func (s *Server) nextRV() string { s.rv++; return fmt.Sprint(s.rv) }

// AddExternalSecret adds an ExternalSecret (a rendered manifest, decoded
// from JSON) and its target Secret, synced from Source as ESO would.
func (s *Server) AddExternalSecret(obj map[string]any) error {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	api, _ := obj["apiVersion"].(string)
	version, ok := strings.CutPrefix(api, "external-secrets.io/")
	if ns == "" || name == "" || !ok || obj["kind"] != "ExternalSecret" {
		return fmt.Errorf("not a namespaced external-secrets.io ExternalSecret")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	meta["resourceVersion"], meta["generation"], meta["uid"] = s.nextRV(), 1, "es-"+name
	k := key{ns, name}
	s.externals[k], s.esVersions[k] = obj, version
	s.secrets[k] = map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata": map[string]any{"name": name, "namespace": ns, "resourceVersion": s.nextRV(), "uid": "secret-" + name},
		"data":     map[string]any{},
	}
	s.syncLocked(k)
	return nil
}

// AddDeployment adds a rolled-out Deployment with one replica; reload
// lists the Secrets Reloader watches for it (none: no Reloader annotation).
func (s *Server) AddDeployment(ns, name string, reload []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	meta := map[string]any{"name": name, "namespace": ns, "generation": 1, "resourceVersion": s.nextRV(), "uid": "deploy-" + name}
	if len(reload) > 0 {
		meta["annotations"] = map[string]any{ReloaderAnnotation: strings.Join(reload, ",")}
	}
	s.deployments[key{ns, name}] = map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
		"spec":   map[string]any{"replicas": 1, "template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": name}}}},
		"status": map[string]any{"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1},
	}
}

// Fail makes every request of op answer status, until Clear.
func (s *Server) Fail(op string, status int) { s.FailNext(op, status, math.MaxInt) }

// FailNext makes the next n requests of op answer status, with the
// metav1.Status body the real server sends (for 403, its RBAC message).
func (s *Server) FailNext(op string, status, n int) { s.inj.Add(op, status, n) }

// Delay holds every answer of op for d, before the server acts. Zero
// removes the delay.
func (s *Server) Delay(op string, d time.Duration) { s.inj.Delay(op, d) }

// Stall stops a simulated controller (StallESO, ...), until Clear.
func (s *Server) Stall(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls[what] = true
}

// Clear removes faults, delays and stalls.
func (s *Server) Clear() {
	s.inj.Clear()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalls = map[string]bool{}
}

// ClearFaults is Clear: stalls are faults of the simulated controllers.
func (s *Server) ClearFaults() { s.Clear() }

// Ops are the operations faults may name (AllOps).
func (s *Server) Ops() []string { return AllOps }

// Restarts counts the restart patches (a new kubectl.kubernetes.io/restartedAt) of Deployment ns/name.
func (s *Server) Restarts(ns, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts[key{ns, name}]
}

// FieldManagers are the field managers of the patches of ns/name, a
// resource (externalsecrets or deployments), in order: the fieldManager
// parameter, else what the API server takes for it, the user agent up to
// its first "/".
func (s *Server) FieldManagers(resource, ns, name string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.managers[resource+" "+ns+"/"+name]...)
}

// Generation is Deployment ns/name's metadata.generation (0: none).
func (s *Server) Generation(ns, name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deployments[key{ns, name}]
	if d == nil {
		return 0
	}
	return toInt(d["metadata"].(map[string]any)["generation"])
}

// SecretValue is Secret ns/name's data[k], decoded (for tests that compare
// it without printing it).
func (s *Server) SecretValue(ns, name, k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[key{ns, name}]
	if sec == nil {
		return "", false
	}
	enc, ok := sec["data"].(map[string]any)[k].(string)
	if !ok {
		return "", false
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	return string(b), err == nil
}

// Requests is the request log, "METHOD PATH STATUS" a line.
func (s *Server) Requests() []string { return s.inj.Requests() }

// syncLocked is ESO's reconcile of ExternalSecret k: the target Secret
// gets the store's value (the rendered template: runner-token from the
// first data entry, and an empty runner-registration-token).
func (s *Server) syncLocked(k key) {
	es := s.externals[k]
	sec := s.secrets[k]
	if es == nil || sec == nil || s.Source == nil {
		return
	}
	spec, _ := es["spec"].(map[string]any)
	data, _ := spec["data"].([]any)
	if len(data) == 0 {
		return
	}
	ref, _ := data[0].(map[string]any)["remoteRef"].(map[string]any)
	rk, _ := ref["key"].(string)
	prop, _ := ref["property"].(string)
	val, ok := s.Source(rk, prop)
	if !ok {
		return
	}
	enc := base64.StdEncoding.EncodeToString([]byte(val))
	d := sec["data"].(map[string]any)
	if d["runner-token"] == enc {
		return
	}
	d["runner-token"], d["runner-registration-token"] = enc, ""
	sec["metadata"].(map[string]any)["resourceVersion"] = s.nextRV()
	// Reloader: restart every Deployment that names this Secret.
	if s.stalls[StallReloader] {
		return
	}
	for dk, dep := range s.deployments {
		ann, _ := dep["metadata"].(map[string]any)["annotations"].(map[string]any)
		list, _ := ann[ReloaderAnnotation].(string)
		for _, n := range strings.Split(list, ",") {
			if dk.ns == k.ns && strings.TrimSpace(n) == k.name {
				tmeta := dep["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
				ta, _ := tmeta["annotations"].(map[string]any)
				if ta == nil {
					ta = map[string]any{}
					tmeta["annotations"] = ta
				}
				ta["reloader.stakater.com/last-reloaded-from"] = fmt.Sprintf("secret %s rv %v", k.name, sec["metadata"].(map[string]any)["resourceVersion"])
				s.specChangedLocked(dk, dep)
			}
		}
	}
}

// specChangedLocked bumps the generation and starts the rollout.
func (s *Server) specChangedLocked(k key, dep map[string]any) {
	meta := dep["metadata"].(map[string]any)
	gen := toInt(meta["generation"]) + 1
	meta["generation"] = gen
	meta["resourceVersion"] = s.nextRV()
	go s.rollout(k, gen)
}

// rollout simulates the Deployment controller for generation gen: it
// observes the spec, adds a surge pod, and (unless stalled) makes it
// available and removes the old one.
func (s *Server) rollout(k key, gen int64) {
	set := func(status map[string]any) bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		dep := s.deployments[k]
		if dep == nil || toInt(dep["metadata"].(map[string]any)["generation"]) != gen {
			return false // superseded
		}
		dep["status"] = status
		dep["metadata"].(map[string]any)["resourceVersion"] = s.nextRV()
		return true
	}
	time.Sleep(s.Step)
	if !set(map[string]any{"observedGeneration": gen, "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1, "unavailableReplicas": 1}) {
		return
	}
	time.Sleep(s.Step)
	s.mu.Lock()
	stalled := s.stalls[StallRollout]
	s.mu.Unlock()
	if stalled {
		return
	}
	if !set(map[string]any{"observedGeneration": gen, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}) {
		return
	}
	s.mu.Lock()
	contact := !s.stalls[StallContact]
	on := s.OnRollout
	s.mu.Unlock()
	if contact && on != nil {
		time.Sleep(s.Step)
		on(k.ns, k.name)
	}
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int:
		return int64(n)
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}

// status writes a metav1.Status failure.
func status(w http.ResponseWriter, code int, reason, msg string, details map[string]any) {
	body := map[string]any{"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": msg, "reason": reason, "code": code}
	if details != nil {
		body["details"] = details
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func reasonOf(code int) string {
	switch code {
	case 400:
		return "BadRequest"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "NotFound"
	case 409:
		return "Conflict"
	case 415:
		return "UnsupportedMediaType"
	case 429:
		return "TooManyRequests"
	case 500:
		return "InternalError"
	case 503:
		return "ServiceUnavailable"
	}
	return "Unknown"
}

type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(c int) { r.code = c; r.ResponseWriter.WriteHeader(c) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w, code: 200}
	s.handle(rec, r)
	s.inj.Log(fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, rec.code))
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+Token {
		status(w, 401, "Unauthorized", "Unauthorized", nil)
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	var (
		group, version, resource, ns, name string
	)
	switch {
	case len(parts) == 6 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "namespaces":
		version, ns, resource, name = "v1", parts[3], parts[4], parts[5]
	case len(parts) == 7 && parts[0] == "apis" && parts[3] == "namespaces":
		group, version, ns, resource, name = parts[1], parts[2], parts[4], parts[5], parts[6]
	default:
		status(w, 404, "NotFound", "the server could not find the requested resource", nil)
		return
	}
	k := key{ns, name}
	var (
		store map[key]map[string]any
		op    string
		kind  string
	)
	switch {
	case group == "" && version == "v1" && resource == "secrets":
		store, kind = s.secrets, "secrets"
		op = map[string]string{http.MethodGet: OpGetSecret}[r.Method]
	case group == "apps" && version == "v1" && resource == "deployments":
		store, kind = s.deployments, "deployments.apps"
		op = map[string]string{http.MethodGet: OpGetDeployment, http.MethodPatch: OpPatchDeployment}[r.Method]
	case group == "external-secrets.io" && (version == "v1" || version == "v1beta1") && resource == "externalsecrets":
		store, kind = s.externals, "externalsecrets.external-secrets.io"
		op = map[string]string{http.MethodGet: OpGetExternalSecret, http.MethodPatch: OpPatchExternalSecret}[r.Method]
	default:
		status(w, 404, "NotFound", "the server could not find the requested resource", nil)
		return
	}
	if op == "" {
		status(w, 405, "MethodNotAllowed", fmt.Sprintf("the server does not allow this method on the requested resource (%s in this fake)", r.Method), nil)
		return
	}
	s.inj.Wait(r.Context(), op)
	s.mu.Lock()
	defer s.mu.Unlock()
	if code, ok := s.inj.Take(op); ok {
		verb := strings.ToLower(r.Method)
		msg := fmt.Sprintf("%s %q is %s: injected by fake-kube", kind, name, strings.ToLower(reasonOf(code)))
		if code == 403 {
			msg = fmt.Sprintf("%s %q is forbidden: User \"runnerctl\" cannot %s resource %q in API group %q in the namespace %q", kind, name, verb, resource, group, ns)
		}
		status(w, code, reasonOf(code), msg, map[string]any{"name": name, "group": group, "kind": resource})
		return
	}
	obj := store[k]
	if obj == nil || (resource == "externalsecrets" && s.esVersions[k] != version) {
		status(w, 404, "NotFound", fmt.Sprintf("%s %q not found", kind, name), map[string]any{"name": name, "group": group, "kind": resource})
		return
	}
	if r.Method == http.MethodPatch {
		ct := r.Header.Get("Content-Type")
		if ct != "application/merge-patch+json" && !(resource == "deployments" && ct == "application/strategic-merge-patch+json") {
			status(w, 415, "UnsupportedMediaType", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/merge-patch+json (got %q)", ct), nil)
			return
		}
		manager := r.URL.Query().Get("fieldManager")
		if manager == "" {
			manager, _, _ = strings.Cut(r.UserAgent(), "/")
		}
		// The API server's own limit (managedFields' manager).
		if len(manager) > 128 {
			status(w, 422, "Invalid", "fieldManager: Too long: may not be more than 128 bytes", nil)
			return
		}
		s.managers[resource+" "+ns+"/"+name] = append(s.managers[resource+" "+ns+"/"+name], manager)
		body, err := io.ReadAll(r.Body)
		var patch map[string]any
		if err == nil {
			err = json.Unmarshal(body, &patch)
		}
		if err != nil {
			status(w, 400, "BadRequest", "invalid merge patch: "+fmt.Sprint(err), nil)
			return
		}
		before := deepCopy(obj)
		merged := mergePatch(obj, patch).(map[string]any)
		// The server owns these.
		for _, f := range []string{"apiVersion", "kind", "status"} {
			merged[f] = before[f]
		}
		bm, mm := before["metadata"].(map[string]any), merged["metadata"].(map[string]any)
		for _, f := range []string{"name", "namespace", "uid", "generation"} {
			mm[f] = bm[f]
		}
		mm["resourceVersion"] = s.nextRV()
		store[k] = merged
		after := deepCopy(merged) // numbers as before's, for comparison
		am := after["metadata"].(map[string]any)
		switch resource {
		case "externalsecrets":
			if !reflect.DeepEqual(bm["annotations"], am["annotations"]) && !s.stalls[StallESO] {
				go func() {
					time.Sleep(s.Step)
					s.mu.Lock()
					defer s.mu.Unlock()
					s.syncLocked(k)
				}()
			}
		case "deployments":
			if !reflect.DeepEqual(before["spec"], after["spec"]) {
				if restartedAt(before) != restartedAt(after) {
					s.restarts[k]++
				}
				s.specChangedLocked(k, merged)
			}
		}
		obj = merged
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(obj)
}

func restartedAt(dep map[string]any) any {
	spec, _ := dep["spec"].(map[string]any)
	tpl, _ := spec["template"].(map[string]any)
	meta, _ := tpl["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	return ann["kubectl.kubernetes.io/restartedAt"]
}

// mergePatch applies an RFC 7386 JSON merge patch.
func mergePatch(target any, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

func deepCopy(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
