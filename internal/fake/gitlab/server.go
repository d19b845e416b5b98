package gitlab

import (
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// Options configure a Server.
type Options struct {
	// PathPrefix is where GitLab lives on the host, for self-managed GitLab
	// under a sub-path: with "/gitlab" the API is at /gitlab/api/v4. Empty
	// means the root. A trailing slash is ignored.
	PathPrefix string
	// TLS serves HTTPS with a self-signed certificate; CACertPEM returns it.
	TLS bool
	// TokenPrefix goes after "glrt-" in every runner token the server
	// issues ("glrt-<TokenPrefix>-<random>"), so a test can grep outputs for
	// a planted canary. Empty gives "glrt-<random>".
	TokenPrefix string
	// RunnerTokenExpiresIn, when positive, gives every runner token issued
	// (on create and on reset) a token_expires_at that far in the future, as
	// GitLab does when a runner token expiration interval is configured.
	// Zero means tokens never expire (token_expires_at null, GitLab's default).
	RunnerTokenExpiresIn time.Duration
}

// Operation names, for FailNext, LoseResponse, RateLimit and Delay.
const (
	OpTokenSelf    = "token_self"    // GET /personal_access_tokens/self
	OpGetGroup     = "get_group"     // GET /groups/:id
	OpGetProject   = "get_project"   // GET /projects/:id
	OpCreateRunner = "create_runner" // POST /user/runners
	OpGetRunner    = "get_runner"    // GET /runners/:id
	OpUpdateRunner = "update_runner" // PUT /runners/:id
	OpDeleteRunner = "delete_runner" // DELETE /runners/:id
	OpResetToken   = "reset_token"   // POST /runners/:id/reset_authentication_token
	OpListRunners  = "list_runners"  // GET /runners, /runners/all, /groups/:id/runners, /projects/:id/runners
	OpVerifyRunner = "verify_runner" // POST /runners/verify (runner token, no PAT)
	OpGraphQL      = "graphql"       // POST /api/graphql (only the runner's tokenExpiresAt)
)

var allOps = []string{OpTokenSelf, OpGetGroup, OpGetProject, OpCreateRunner, OpGetRunner,
	OpUpdateRunner, OpDeleteRunner, OpResetToken, OpListRunners, OpVerifyRunner, OpGraphQL}

// Runner is what the fake stores about a runner.
type Runner struct {
	ID              int64
	RunnerType      string // instance_type, group_type or project_type
	GroupID         int64  // group_type only
	ProjectID       int64  // project_type only
	Description     string
	Paused          bool
	Locked          bool
	RunUntagged     bool
	TagList         []string
	AccessLevel     string // not_protected or ref_protected
	MaximumTimeout  int64  // seconds; 0 means none was set (null)
	MaintenanceNote string
	// Token is the current runner authentication token.
	Token          string
	TokenExpiresAt *time.Time
	// OldTokens are tokens this runner had before a reset: none of them is
	// valid any more.
	OldTokens []string
	CreatedAt time.Time
	CreatorID int64
	// Updates counts the PUT /runners/:id requests that succeeded.
	Updates int
	// Deleted runners stay here for inspection; the API answers 404 for them.
	Deleted bool
	// ContactedAt and Managers: see SetRunnerContact (status.go).
	ContactedAt *time.Time
	Managers    []Manager
}

func (r *Runner) clone() Runner {
	c := *r
	c.TagList = slices.Clone(r.TagList)
	c.OldTokens = slices.Clone(r.OldTokens)
	c.Managers = slices.Clone(r.Managers)
	if r.TokenExpiresAt != nil {
		t := *r.TokenExpiresAt
		c.TokenExpiresAt = &t
	}
	return c
}

// TokenOptions describe a personal access token and the user it belongs to.
type TokenOptions struct {
	// Scopes of the token: api, read_api, create_runner, manage_runner,
	// read_user, ...
	Scopes []string
	// Admin: the user is an administrator, and owns every group and project
	// the server knows (AddToken's tokens are such).
	Admin bool
	// OwnedGroups (non-admin): groups the user owns; ownership extends to
	// their subgroups and projects.
	OwnedGroups []int64
	// MaintainedProjects (non-admin): projects where the user is a maintainer.
	MaintainedProjects []int64
	// ExpiresAt is the token's expiry date; a past date makes GitLab answer
	// 401 invalid_token. Nil: no expiry.
	ExpiresAt *time.Time
	// Revoked tokens are answered 401 invalid_token.
	Revoked bool
	// Name of the token; default "runnerctl-test".
	Name string
}

type pat struct {
	id        int64
	userID    int64
	value     string
	opts      TokenOptions
	createdAt time.Time
}

type group struct {
	id        int64
	fullPath  string
	createdAt time.Time
}

type project struct {
	id        int64
	fullPath  string
	createdAt time.Time
}

type faultKind int

const (
	// faultPass lets a request through untouched: FailAfter queues it
	// before its failure, so that the requests in between pass.
	faultPass faultKind = iota
	faultFail
	faultLose
	faultRateLimit
)

type fault struct {
	kind       faultKind
	status     int // faultFail: the status; faultLose: 0 aborts the connection
	retryAfter int
}

// Server is a running fake GitLab.
type Server struct {
	opts   Options
	prefix string
	srv    *httptest.Server
	inj    *inject.Faults[fault]
	rl     throttle // the rate limit policy (SetRateLimit)

	mu         sync.Mutex
	tokens     map[string]*pat
	groups     map[int64]*group
	projects   map[int64]*project
	runners    map[int64]*Runner
	nextRunner int64
	nextPAT    int64
	nextUser   int64
	// nextManager numbers the runner managers verify records (from 1000,
	// clear of SetRunnerContact's, which take the runner's ID).
	nextManager int64
	creates     int
}

// New starts a fake GitLab. It panics on invalid options; Start returns an
// error instead.
func New(opts Options) *Server {
	s, err := Start(opts)
	if err != nil {
		panic(err)
	}
	return s
}

// Start starts a fake GitLab, for callers that prefer an error to a panic
// (a testscript command, for instance).
func Start(opts Options) (*Server, error) {
	prefix := strings.TrimRight(opts.PathPrefix, "/")
	if prefix != "" && !strings.HasPrefix(prefix, "/") {
		return nil, fmt.Errorf("fake gitlab: PathPrefix %q must start with /", opts.PathPrefix)
	}
	if strings.ContainsAny(prefix, "?#% ") {
		return nil, fmt.Errorf("fake gitlab: PathPrefix %q must be a plain path", opts.PathPrefix)
	}
	if strings.ContainsAny(opts.TokenPrefix, "/?#% \t\n") {
		return nil, fmt.Errorf("fake gitlab: TokenPrefix %q must be a plain word", opts.TokenPrefix)
	}
	s := &Server{
		opts:        opts,
		prefix:      prefix,
		inj:         inject.New[fault]("fake gitlab", allOps),
		tokens:      map[string]*pat{},
		groups:      map[int64]*group{},
		projects:    map[int64]*project{},
		runners:     map[int64]*Runner{},
		nextRunner:  1,
		nextPAT:     1,
		nextUser:    2, // user 1 is the administrator, "root"
		nextManager: 1000,
	}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	// A client that does not trust the certificate is a normal test case:
	// keep its handshake errors out of the test output.
	s.srv.Config.ErrorLog = log.New(handshakeFilter{os.Stderr}, "", log.LstdFlags)
	if opts.TLS {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	return s, nil
}

type handshakeFilter struct{ w io.Writer }

func (f handshakeFilter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "TLS handshake error") {
		return len(p), nil
	}
	return f.w.Write(p)
}

// URL is GitLab's base URL, with the path prefix and a trailing slash
// (https://127.0.0.1:1234/gitlab/): what a user would give runnerctl.
func (s *Server) URL() string { return s.srv.URL + s.prefix + "/" }

// CACertPEM returns the server's self-signed certificate as PEM, to trust it
// (runnerctl --ca-file). Nil without TLS.
func (s *Server) CACertPEM() []byte {
	if !s.opts.TLS {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.srv.Certificate().Raw})
}

// Client returns an HTTP client that trusts the server (TLS or not).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close stops the server; delayed answers are cut short.
func (s *Server) Close() {
	s.inj.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// AddToken adds a personal access token of an administrator who owns every
// group and project, with the given scopes.
func (s *Server) AddToken(value string, scopes ...string) {
	s.AddTokenWith(value, TokenOptions{Scopes: scopes, Admin: true})
}

// AddTokenWith adds a personal access token described by o.
func (s *Server) AddTokenWith(value string, o TokenOptions) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o.Scopes = slices.Clone(o.Scopes)
	o.OwnedGroups = slices.Clone(o.OwnedGroups)
	o.MaintainedProjects = slices.Clone(o.MaintainedProjects)
	if o.Name == "" {
		o.Name = "runnerctl-test"
	}
	p := &pat{id: s.nextPAT, value: value, opts: o, createdAt: time.Now().UTC()}
	s.nextPAT++
	if o.Admin {
		p.userID = 1
	} else {
		p.userID = s.nextUser
		s.nextUser++
	}
	s.tokens[value] = p
}

// RevokeToken revokes a personal access token: GitLab then answers 401.
func (s *Server) RevokeToken(value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.tokens[value]; ok {
		p.opts.Revoked = true
	}
}

// AddGroup adds a (private) group with its full path ("my-org/platform").
func (s *Server) AddGroup(id int64, fullPath string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.groups[id] = &group{id: id, fullPath: strings.Trim(fullPath, "/"), createdAt: time.Now().UTC()}
}

// AddProject adds a (private) project with its path with namespace
// ("my-org/my-app").
func (s *Server) AddProject(id int64, pathWithNamespace string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[id] = &project{id: id, fullPath: strings.Trim(pathWithNamespace, "/"), createdAt: time.Now().UTC()}
}

// Runners returns a copy of every runner created, deleted ones included,
// in ID order.
func (s *Server) Runners() []Runner {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Runner, 0, len(s.runners))
	for _, r := range s.sortedRunners() {
		out = append(out, r.clone())
	}
	return out
}

// Runner returns a copy of runner id.
func (s *Server) Runner(id int64) (Runner, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[id]
	if !ok {
		return Runner{}, false
	}
	return r.clone(), true
}

// SetRunnerTokenExpiresAt changes when runner id's current token expires
// (nil: never), to test rotation policies.
func (s *Server) SetRunnerTokenExpiresAt(id int64, t *time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[id]
	if !ok {
		return false
	}
	if t == nil {
		r.TokenExpiresAt = nil
	} else {
		u := t.UTC()
		r.TokenExpiresAt = &u
	}
	return true
}

// TokenValid reports whether token is the current, unexpired token of a
// runner that exists: what POST /runners/verify checks.
func (s *Server) TokenValid(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.runnerByToken(token) != nil
}

// Ops names the operations faults and delays take.
func (s *Server) Ops() []string { return slices.Clone(allOps) }

// Requests returns every request the server answered, in order, as
// "METHOD PATH STATUS" (the path as sent, with any prefix, without the
// query): "POST /api/v4/user/runners 201". A connection aborted by
// LoseConnection shows "aborted" as its status.
func (s *Server) Requests() []string { return s.inj.Requests() }

// CreateCount is how many runners the server really created, including
// those whose answer was lost.
func (s *Server) CreateCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creates
}

// FailNext makes the next n requests of op fail with status and the body
// GitLab (or the proxy in front of it) sends with that status, without
// acting. Faults queue up per operation, in the order they were added.
func (s *Server) FailNext(op string, status, n int) {
	s.FailAfter(op, status, n, 0)
}

// FailAfter is FailNext for the n requests of op that follow the next
// after ones, which pass: a fault aimed at a later step of a sequence
// that uses op more than once.
func (s *Server) FailAfter(op string, status, n, after int) {
	if n > 0 {
		s.inj.Add(op, fault{kind: faultPass}, after)
	}
	s.inj.Add(op, fault{kind: faultFail, status: status}, n)
}

// LoseResponse makes the next n requests of op act (really create, delete,
// reset...) and then answer 502 Bad Gateway, as a proxy does when GitLab's
// answer does not reach it: the client cannot know the request took effect.
func (s *Server) LoseResponse(op string, n int) {
	s.inj.Add(op, fault{kind: faultLose, status: http.StatusBadGateway}, n)
}

// LoseResponseWith is LoseResponse with another status (500, 503, 504...);
// status 0 aborts the connection without an answer, like LoseConnection.
func (s *Server) LoseResponseWith(op string, status, n int) {
	s.inj.Add(op, fault{kind: faultLose, status: status}, n)
}

// LoseConnection makes the next n requests of op act and then close the
// connection without answering.
func (s *Server) LoseConnection(op string, n int) {
	s.inj.Add(op, fault{kind: faultLose, status: 0}, n)
}

// RateLimit makes the next n requests of op be throttled as GitLab's
// Rack::Attack does: 429, text/plain "Retry later\n", Retry-After
// (retryAfter seconds) and RateLimit-* headers. Nothing is done.
func (s *Server) RateLimit(op string, n, retryAfter int) {
	s.inj.Add(op, fault{kind: faultRateLimit, status: http.StatusTooManyRequests, retryAfter: retryAfter}, n)
}

// Delay holds every answer of op for d, after the server has acted: a client
// that gives up meanwhile has lost the answer, not the action (GitLab goes on
// when a client hangs up). Zero removes the delay.
func (s *Server) Delay(op string, d time.Duration) { s.inj.Delay(op, d) }

// ClearFaults removes every pending fault and delay.
func (s *Server) ClearFaults() { s.inj.Clear() }

// sortedRunners returns the runners in ID order; s.mu must be held.
func (s *Server) sortedRunners() []*Runner {
	rs := make([]*Runner, 0, len(s.runners))
	for _, r := range s.runners {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b *Runner) int { return int(a.ID - b.ID) })
	return rs
}

// runnerByToken finds the live runner whose current, unexpired token is
// token; s.mu must be held.
func (s *Server) runnerByToken(token string) *Runner {
	if token == "" {
		return nil
	}
	now := time.Now()
	for _, r := range s.runners {
		if !r.Deleted && r.Token == token {
			if r.TokenExpiresAt != nil && !now.Before(*r.TokenExpiresAt) {
				return nil
			}
			return r
		}
	}
	return nil
}

const tokenAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"

// newRunnerToken returns a fresh glrt- token; s.mu must be held.
func (s *Server) newRunnerToken() string {
	var b strings.Builder
	b.WriteString("glrt-")
	if s.opts.TokenPrefix != "" {
		b.WriteString(s.opts.TokenPrefix)
		b.WriteByte('-')
	}
	max := big.NewInt(int64(len(tokenAlphabet)))
	for range 24 {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		b.WriteByte(tokenAlphabet[n.Int64()])
	}
	return b.String()
}

func (s *Server) newTokenExpiry(now time.Time) *time.Time {
	if s.opts.RunnerTokenExpiresIn <= 0 {
		return nil
	}
	t := now.Add(s.opts.RunnerTokenExpiresIn).UTC().Truncate(time.Millisecond)
	return &t
}
