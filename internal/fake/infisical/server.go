package infisical

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
	OpLogin   = "login"   // POST /api/v1/auth/universal-auth/login
	OpProject = "project" // GET /api/v1/projects/slug/:slug
	OpFolders = "folders" // GET and POST /api/v1/folders
	OpRead    = "read"    // GET /api/v3/secrets/raw/:secretName
	OpCreate  = "create"  // POST /api/v3/secrets/raw/:secretName
	OpUpdate  = "update"  // PATCH /api/v3/secrets/raw/:secretName
)

var allOps = []string{OpLogin, OpProject, OpFolders, OpRead, OpCreate, OpUpdate}

// Project roles of a machine identity.
const (
	RoleAdmin    = "admin"     // everything
	RoleMember   = "member"    // read and write secrets and folders
	RoleViewer   = "viewer"    // read secrets, list folders
	RoleNoAccess = "no-access" // a member without any permission
)

const orgID = "6f1e0c8a-0000-4000-8000-00000000000a"

type secret struct {
	id      string
	key     string
	value   string
	comment string
	version int
	created time.Time
	updated time.Time
}

type folder struct {
	id       string
	name     string
	parent   *folder
	children map[string]*folder
	secrets  map[string]*secret
	created  time.Time
}

func newFolder(name string, parent *folder) *folder {
	return &folder{id: randomID(), name: name, parent: parent, children: map[string]*folder{}, secrets: map[string]*secret{}, created: time.Now().UTC()}
}

type environment struct {
	id   string
	slug string
	name string
	root *folder
}

type project struct {
	id      string
	slug    string
	name    string
	envs    []*environment
	created time.Time
}

func (p *project) env(slug string) *environment {
	for _, e := range p.envs {
		if e.slug == slug {
			return e
		}
	}
	return nil
}

type identity struct {
	id           string
	clientID     string
	clientSecret string
	roles        map[string]string // project ID -> role
}

type accessToken struct {
	identity *identity
	expires  time.Time
}

// Server is a running fake Infisical.
type Server struct {
	srv *httptest.Server
	// inj holds the injected faults (a fault is the status to fail with),
	// delays and hooks, and the request log.
	inj *inject.Faults[int]

	mu         sync.Mutex
	projects   map[string]*project // by slug
	identities map[string]*identity
	tokens     map[string]*accessToken
	tokenTTL   time.Duration
}

// New starts a fake Infisical with no project and no identity.
func New() *Server {
	s := &Server{
		inj:        inject.New[int]("fake infisical", allOps),
		projects:   map[string]*project{},
		identities: map[string]*identity{},
		tokens:     map[string]*accessToken{},
		tokenTTL:   2592000 * time.Second, // Infisical's default: 30 days
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the site URL, without /api: what INFISICAL_API_URL may hold (the
// client appends /api, as Infisical's SDKs do).
func (s *Server) URL() string { return s.srv.URL }

// Client returns an HTTP client for the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server; delayed answers are cut short.
func (s *Server) Close() {
	s.inj.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// AddProject creates a project with the given environment slugs (dev,
// staging and prod when none is given, as Infisical does) and returns its
// ID.
func (s *Server) AddProject(slug string, envs ...string) string {
	if len(envs) == 0 {
		envs = []string{"dev", "staging", "prod"}
	}
	p := &project{id: randomID(), slug: slug, name: slug, created: time.Now().UTC()}
	for _, e := range envs {
		p.envs = append(p.envs, &environment{id: randomID(), slug: e, name: e, root: newFolder("root", nil)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[slug] = p
	return p.id
}

// AddIdentity adds a machine identity with universal auth credentials.
func (s *Server) AddIdentity(clientID, clientSecret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.identities[clientID] = &identity{id: randomID(), clientID: clientID, clientSecret: clientSecret, roles: map[string]string{}}
}

// Grant makes the identity a member of the project with role ("" removes
// the membership).
func (s *Server) Grant(clientID, projectSlug, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, p := s.identities[clientID], s.projects[projectSlug]
	if id == nil || p == nil {
		panic(fmt.Sprintf("fake infisical: no identity %q or project %q", clientID, projectSlug))
	}
	if role == "" {
		delete(id.roles, p.id)
		return
	}
	if !slices.Contains([]string{RoleAdmin, RoleMember, RoleViewer, RoleNoAccess}, role) {
		panic(fmt.Sprintf("fake infisical: unknown role %q", role))
	}
	id.roles[p.id] = role
}

// SetTokenTTL sets the lifetime of access tokens issued from now on (0:
// they never expire, as with an access token TTL of 0).
func (s *Server) SetTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// ExpireTokens makes every access token issued so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expires = time.Now().Add(-time.Second)
	}
}

// SetSecret writes a secret as another client would, creating the folders
// of path, and returns its version.
func (s *Server) SetSecret(projectSlug, env, path, name, value string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.mustEnv(projectSlug, env)
	f := e.root
	for _, seg := range segments(path) {
		if f.children[seg] == nil {
			f.children[seg] = newFolder(seg, f)
		}
		f = f.children[seg]
	}
	return f.put(name, value).version
}

// DeleteSecret removes a secret.
func (s *Server) DeleteSecret(projectSlug, env, path, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.mustEnv(projectSlug, env).find(path); f != nil {
		delete(f.secrets, name)
	}
}

// DeleteFolder removes a folder and what is under it.
func (s *Server) DeleteFolder(projectSlug, env, path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.mustEnv(projectSlug, env).find(path); f != nil && f.parent != nil {
		delete(f.parent.children, f.name)
	}
}

// Secret returns a secret's value and version.
func (s *Server) Secret(projectSlug, env, path, name string) (value string, version int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.mustEnv(projectSlug, env).find(path)
	if f == nil || f.secrets[name] == nil {
		return "", 0, false
	}
	sec := f.secrets[name]
	return sec.value, sec.version, true
}

// FolderExists reports whether the folder at path exists.
func (s *Server) FolderExists(projectSlug, env, path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustEnv(projectSlug, env).find(path) != nil
}

// Ops names the operations faults and delays take.
func (s *Server) Ops() []string { return slices.Clone(allOps) }

// Requests lists the requests served, as "METHOD /path status", in order.
func (s *Server) Requests() []string { return s.inj.Requests() }

// FailNext makes the next n requests of op fail with status and the body
// Infisical (or the proxy in front of it) sends with that status, without
// acting. Faults queue up per operation, in the order they were added.
func (s *Server) FailNext(op string, status, n int) { s.inj.Add(op, status, n) }

// Delay holds every answer of op for d, after the server has acted. Zero
// removes the delay.
func (s *Server) Delay(op string, d time.Duration) { s.inj.Delay(op, d) }

// OnNext runs fn once, just before the server handles the next request of
// op: a test uses it to change state between a client's read and its write.
// fn may call the Server's other methods.
func (s *Server) OnNext(op string, fn func()) { s.inj.OnNext(op, fn) }

// ClearFaults removes every pending fault, delay and hook.
func (s *Server) ClearFaults() { s.inj.Clear() }

// mustEnv is for the test helpers; s.mu must be held.
func (s *Server) mustEnv(projectSlug, env string) *environment {
	p := s.projects[projectSlug]
	if p == nil || p.env(env) == nil {
		panic(fmt.Sprintf("fake infisical: no project %q with environment %q", projectSlug, env))
	}
	return p.env(env)
}

// folder returns environment env and its folder at path; f is nil when
// either is missing.
func (p *project) folder(env, path string) (e *environment, f *folder) {
	if e = p.env(env); e != nil {
		f = e.find(path)
	}
	return e, f
}

// find returns the folder at path ("/", "/a/b"), or nil.
func (e *environment) find(path string) *folder {
	f := e.root
	for _, seg := range segments(path) {
		if f = f.children[seg]; f == nil {
			return nil
		}
	}
	return f
}

func (f *folder) path() string {
	if f.parent == nil {
		return "/"
	}
	p := f.parent.path()
	if p == "/" {
		return "/" + f.name
	}
	return p + "/" + f.name
}

func (f *folder) put(key, value string) *secret {
	now := time.Now().UTC()
	sec := f.secrets[key]
	if sec == nil {
		sec = &secret{id: randomID(), key: key, created: now}
		f.secrets[key] = sec
	}
	sec.value = value
	sec.version++
	sec.updated = now
	return sec
}

func segments(path string) []string {
	var out []string
	for _, s := range strings.Split(path, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
