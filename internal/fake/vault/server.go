package vault

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// Operation names, for FailNext, Delay and OnNext.
const (
	OpLogin        = "login"        // PUT/POST /v1/auth/<approle mount>/login
	OpLookup       = "lookup"       // GET /v1/auth/token/lookup-self
	OpMounts       = "mounts"       // GET /v1/sys/internal/ui/mounts/<path>
	OpCapabilities = "capabilities" // PUT/POST /v1/sys/capabilities-self
	OpRead         = "read"         // GET /v1/<mount>/data/<key>, /metadata/<key> (and KV v1 reads)
	OpWrite        = "write"        // PUT/POST /v1/<mount>/data/<key> (and KV v1 writes)
)

var allOps = []string{OpLogin, OpLookup, OpMounts, OpCapabilities, OpRead, OpWrite}

// Capabilities a policy rule can grant.
const (
	CapCreate = "create"
	CapRead   = "read"
	CapUpdate = "update"
	CapPatch  = "patch"
	CapDelete = "delete"
	CapList   = "list"
	CapSudo   = "sudo"
	CapDeny   = "deny"
)

// RootPolicy is the policy name that allows everything, as Vault's "root".
const RootPolicy = "root"

type rule struct {
	path string
	caps []string
}

type token struct {
	value    string
	accessor string
	policies []string
	created  time.Time
	path     string
}

type approle struct {
	mount    string
	roleID   string
	secretID string
	policies []string
}

type kvVersion struct {
	data      map[string]any
	created   time.Time
	deleted   *time.Time
	destroyed bool
}

type kvSecret struct {
	versions []*kvVersion // versions[i] is version i+1
	created  time.Time
	updated  time.Time
}

func (k *kvSecret) current() int { return len(k.versions) }

type mount struct {
	path     string // with a trailing slash: "secret/"
	version  int    // 1 or 2
	uuid     string
	accessor string
	v2       map[string]*kvSecret
	v1       map[string]map[string]any
}

// Server is a running fake Vault.
type Server struct {
	srv *httptest.Server
	// inj holds the injected faults (a fault is the status to fail with),
	// delays and hooks, and the request log.
	inj *inject.Faults[int]

	mu        sync.Mutex
	namespace string
	tokens    map[string]*token
	policies  map[string][]rule
	approles  []*approle
	auths     map[string]bool // enabled AppRole mounts, "approle"
	mounts    map[string]*mount
}

// New starts a fake Vault with a KV version 2 engine at "secret/" (as a dev
// server has) and AppRole enabled at "approle". It has no token: add them
// with SetToken.
func New() *Server {
	s := &Server{
		inj:      inject.New[int]("fake vault", allOps),
		tokens:   map[string]*token{},
		policies: map[string][]rule{},
		auths:    map[string]bool{"approle": true},
		mounts:   map[string]*mount{},
	}
	s.MountKV("secret", 2)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is Vault's address, for VAULT_ADDR.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server; delayed answers are cut short.
func (s *Server) Close() {
	s.inj.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// MountKV enables a KV engine of version 1 or 2 at path ("secret",
// "kv/team"). An existing mount at path is replaced, with its data.
func (s *Server) MountKV(path string, version int) {
	if version != 1 && version != 2 {
		panic(fmt.Sprintf("fake vault: KV version %d", version))
	}
	p := strings.Trim(path, "/") + "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mounts[p] = &mount{
		path:     p,
		version:  version,
		uuid:     randomID(),
		accessor: "kv_" + randomHex(4),
		v2:       map[string]*kvSecret{},
		v1:       map[string]map[string]any{},
	}
}

// Unmount disables the engine at path.
func (s *Server) Unmount(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mounts, strings.Trim(path, "/")+"/")
}

// SetPolicy adds a rule to the named policy: caps on path, where path is
// exact, ends with "*" (a prefix glob) or has "+" segments, as in Vault's
// HCL policies. Rules for the same path replace each other.
func (s *Server) SetPolicy(name, path string, caps ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rules := slices.DeleteFunc(s.policies[name], func(r rule) bool { return r.path == path })
	s.policies[name] = append(rules, rule{path: path, caps: slices.Clone(caps)})
}

// SetToken adds a valid token with the given policies (RootPolicy for a
// root token). Every token also has Vault's "default" policy, which lets it
// look itself up and ask its capabilities.
func (s *Server) SetToken(tok string, policies ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addToken(tok, "auth/token/create", policies)
}

func (s *Server) addToken(tok, path string, policies []string) {
	s.tokens[tok] = &token{
		value:    tok,
		accessor: randomHex(12),
		policies: append([]string{"default"}, policies...),
		created:  time.Now(),
		path:     path,
	}
}

// RevokeToken makes tok invalid.
func (s *Server) RevokeToken(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, tok)
}

// SetAppRole lets role roleID with secretID log in at the AppRole mount
// ("approle" unless mount says otherwise) and get a token with policies.
func (s *Server) SetAppRole(mount, roleID, secretID string, policies ...string) {
	if mount == "" {
		mount = "approle"
	}
	mount = strings.Trim(mount, "/")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auths[mount] = true
	s.approles = append(s.approles, &approle{mount: mount, roleID: roleID, secretID: secretID, policies: policies})
}

// RequireNamespace makes the server answer only requests whose
// X-Vault-Namespace is ns (an Enterprise namespace); "" accepts only
// requests without one (the root namespace), which is the default.
func (s *Server) RequireNamespace(ns string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.namespace = strings.Trim(ns, "/")
}

// Secret returns the current version of the secret at path, which starts
// with the mount ("secret/gitlab/runners/ci"), its data with values printed
// as strings, and its current version. ok is false when there is no secret
// or its current version is deleted or destroyed (version is still set).
func (s *Server) Secret(path string) (data map[string]string, version int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, key := s.findMount(strings.Trim(path, "/"))
	if m == nil {
		return nil, 0, false
	}
	if m.version == 1 {
		d, found := m.v1[key]
		if !found {
			return nil, 0, false
		}
		return stringify(d), 0, true
	}
	sec := m.v2[key]
	if sec == nil || sec.current() == 0 {
		return nil, 0, false
	}
	v := sec.versions[sec.current()-1]
	if v.deleted != nil || v.destroyed {
		return nil, sec.current(), false
	}
	return stringify(v.data), sec.current(), true
}

// PutSecret writes a new version of the KV v2 secret at path (mount
// included), as another client would, and returns the version. It fails the
// test's expectations loudly (panics) when path is under no KV v2 mount.
func (s *Server) PutSecret(path string, data map[string]string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, key := s.findMount(strings.Trim(path, "/"))
	if m == nil || m.version != 2 || key == "" {
		panic(fmt.Sprintf("fake vault: %q is not under a KV v2 mount", path))
	}
	d := make(map[string]any, len(data))
	for k, v := range data {
		d[k] = v
	}
	return m.put(key, d).current()
}

// DeleteSecret soft-deletes the current version of the KV v2 secret at
// path, as "vault kv delete" does: reads answer 404 with its metadata and
// the next write must use the deleted version as cas.
func (s *Server) DeleteSecret(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, key := s.findMount(strings.Trim(path, "/"))
	if m == nil || m.version != 2 || m.v2[key] == nil {
		return
	}
	sec := m.v2[key]
	now := time.Now()
	sec.versions[sec.current()-1].deleted = &now
}

// Ops names the operations faults and delays take.
func (s *Server) Ops() []string { return slices.Clone(allOps) }

// Requests lists the requests served, as "METHOD /v1/path status", in order.
func (s *Server) Requests() []string { return s.inj.Requests() }

// FailNext makes the next n requests of op fail with status and the body
// Vault (or the proxy in front of it) sends with that status, without
// acting. Faults queue up per operation, in the order they were added.
func (s *Server) FailNext(op string, status, n int) { s.inj.Add(op, status, n) }

// Delay holds every answer of op for d, after the server has acted (Vault
// goes on when a client hangs up). Zero removes the delay.
func (s *Server) Delay(op string, d time.Duration) { s.inj.Delay(op, d) }

// OnNext runs fn once, just before the server handles the next request of
// op: a test uses it to change state between a client's read and its write
// (a concurrent writer). fn may call the Server's other methods.
func (s *Server) OnNext(op string, fn func()) { s.inj.OnNext(op, fn) }

// ClearFaults removes every pending fault, delay and hook.
func (s *Server) ClearFaults() { s.inj.Clear() }

// findMount returns the mount with the longest path that prefixes p, and
// the rest of p. s.mu must be held.
func (s *Server) findMount(p string) (*mount, string) {
	var best *mount
	for mp, m := range s.mounts {
		if (p+"/" == mp || strings.HasPrefix(p, mp)) && (best == nil || len(mp) > len(best.path)) {
			best = m
		}
	}
	if best == nil {
		return nil, ""
	}
	if p+"/" == best.path {
		return best, ""
	}
	return best, strings.TrimPrefix(p, best.path)
}

// put appends a version to key; s.mu must be held.
func (m *mount) put(key string, data map[string]any) *kvSecret {
	now := time.Now().UTC()
	sec := m.v2[key]
	if sec == nil {
		sec = &kvSecret{created: now}
		m.v2[key] = sec
	}
	sec.versions = append(sec.versions, &kvVersion{data: maps.Clone(data), created: now})
	sec.updated = now
	return sec
}

func stringify(d map[string]any) map[string]string {
	out := make(map[string]string, len(d))
	for k, v := range d {
		if str, ok := v.(string); ok {
			out[k] = str
		} else {
			out[k] = fmt.Sprint(v)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// randomID is a UUID-shaped random string, as Vault's request and mount IDs.
func randomID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
