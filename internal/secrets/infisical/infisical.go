// Package infisical stores runner tokens in Infisical, where the External
// Secrets Operator's Infisical provider reads them. It speaks Infisical's
// REST API directly (net/http and encoding/json), without the SDK.
//
// Layout (config.Config.TokenRef): Location.Key is "/folder/path/NAME", the
// secret's folder and name as one key, the form ESO's provider takes (its
// getSecretAddress: with a leading slash the key is absolute; without one it
// is relative to the store's secretsScope.secretsPath, which runnerctl
// assumes is the default "/"). The secret's whole value is the token:
// Location.Property is not supported.
//
// API followed (read through the search tool in Infisical/infisical
// backend/src/server/routes, Infisical/go-sdk packages/api, and
// external-secrets providers/v1/infisical):
//
//   - POST /api/v1/auth/universal-auth/login {clientId, clientSecret} ->
//     {accessToken, expiresIn, accessTokenMaxTTL, tokenType}; then
//     "Authorization: Bearer <accessToken>".
//   - GET /api/v1/projects/slug/:slug -> the project (id, environments).
//     The write endpoints need the project ID (workspaceId) on some
//     versions, as ESO's push support notes; every endpoint takes it, so
//     the slug is resolved once.
//   - GET /api/v1/folders?workspaceId&environment&path lists child folders;
//     POST /api/v1/folders {workspaceId, environment, name, path} creates
//     one level (older versions do not create parents, so each missing
//     level is created in turn; "already exists" from a concurrent run is
//     fine).
//   - GET /api/v3/secrets/raw/:secretName?workspaceId&environment&
//     secretPath&type=shared -> {"secret":{"secretValue", "version", ...}};
//     POST (create) and PATCH (update) on the same path with a JSON body
//     {workspaceId, environment, secretPath, secretValue, type:"shared"}.
//   - Errors are {"reqId","statusCode","message","error"}: 401 for a missing
//     token or bad client credentials, 403 "TokenError" for an invalid or
//     expired access token, 403 for missing permissions, 404 for a missing
//     project, folder or secret, 400 "Secret already exist" on a create race.
//
// Credentials come from the environment (Options.Getenv):
// INFISICAL_UNIVERSAL_AUTH_CLIENT_ID and INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET,
// and INFISICAL_API_URL for a self-hosted instance (with or without the
// trailing /api; https://app.infisical.com by default).
//
// Nothing here puts the token, the client secret or the access token into
// an error: messages are built from Infisical's status and message, and
// scrubbed of every credential the Store has seen.
package infisical

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Environment variables the Store reads through Options.Getenv.
const (
	EnvAPIURL       = "INFISICAL_API_URL"
	EnvClientID     = "INFISICAL_UNIVERSAL_AUTH_CLIENT_ID"
	EnvClientSecret = "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET"
)

// Defaults.
const (
	DefaultAPIURL     = "https://app.infisical.com"
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 2
	DefaultRetryWait  = time.Second
)

// Errors of the configuration (not of a secret): the project or the
// environment does not exist, or the identity cannot see it.
var (
	ErrNoProject     = errors.New("no such Infisical project")
	ErrNoEnvironment = errors.New("no such Infisical environment")
)

// Options configure a Store.
type Options struct {
	// ProjectSlug is the project (secrets.infisical.projectSlug).
	ProjectSlug string
	// Environment is the environment slug, such as "prod".
	Environment string
	// Getenv reads the INFISICAL_* variables; the CLI passes os.Getenv.
	Getenv func(string) string
	// HTTPClient replaces the default client (tests).
	HTTPClient *http.Client
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a request answered 429 or 5xx (or lost
	// in transit) is retried; 0 means DefaultMaxRetries, a negative value
	// disables retries.
	MaxRetries int
	// RetryWait is the wait before the first retry, growing linearly; 0
	// means DefaultRetryWait.
	RetryWait time.Duration
}

// Store is one environment of one Infisical project.
type Store struct {
	base         string // ".../api"
	hc           *http.Client
	project, env string
	clientID     string
	clientSecret string
	timeout      time.Duration
	retries      int
	retryWait    time.Duration

	loginMu   sync.Mutex // one login at a time
	projectMu sync.Mutex // one project look-up at a time

	mu        sync.Mutex
	access    string
	expires   time.Time // zero: never
	projectID string
	redactor  secrets.Redactor
}

var _ secrets.Store = (*Store)(nil)

// New builds a Store. It makes no request.
func New(opts Options) (*Store, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	if opts.ProjectSlug == "" {
		return nil, errors.New("infisical: no project slug (secrets.infisical.projectSlug)")
	}
	if opts.Environment == "" {
		return nil, errors.New("infisical: no environment (secrets.infisical.environment)")
	}
	base, err := apiBase(getenv(EnvAPIURL))
	if err != nil {
		return nil, err
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	s := &Store{
		base:         base,
		hc:           hc,
		project:      opts.ProjectSlug,
		env:          opts.Environment,
		clientID:     strings.TrimSpace(getenv(EnvClientID)),
		clientSecret: strings.TrimSpace(getenv(EnvClientSecret)),
		timeout:      opts.Timeout,
		retries:      opts.MaxRetries,
		retryWait:    opts.RetryWait,
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	switch {
	case s.retries == 0:
		s.retries = DefaultMaxRetries
	case s.retries < 0:
		s.retries = 0
	}
	if s.retryWait <= 0 {
		s.retryWait = DefaultRetryWait
	}
	s.redactor.Add(s.clientSecret)
	return s, nil
}

// apiBase turns INFISICAL_API_URL into the API root. The Infisical CLI's
// variable holds ".../api", the SDKs' site URL does not: both are accepted.
func apiBase(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("infisical: %s %q is not an http(s) URL", EnvAPIURL, redact.URL(raw))
	}
	base := strings.TrimRight(raw, "/")
	if !strings.HasSuffix(base, "/api") {
		base += "/api"
	}
	return base, nil
}

// Backend implements secrets.Store.
func (s *Store) Backend() string { return "infisical" }

// Check logs in, finds the project and the environment, lists the root
// folders of the environment and reads the secret at loc (absent is fine):
// the reads Put does first. It writes nothing. Infisical has no way to ask
// whether the identity may write without writing, so a read-only role is
// only caught when Put writes.
func (s *Store) Check(ctx context.Context, loc secrets.Location) error {
	a, err := s.address(loc)
	if err != nil {
		return err
	}
	if err := s.login(ctx, a); err != nil {
		return err
	}
	pid, err := s.projectIDFor(ctx, a)
	if err != nil {
		return err
	}
	if _, err := s.listFolders(ctx, a, pid, "/"); err != nil {
		return err
	}
	if _, err := s.read(ctx, a, pid); err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	return nil
}

// Put stores tok as the secret at loc: it creates the missing folders and
// the secret, or updates the secret when it exists (unless it already holds
// tok). Infisical has no check-and-set; a create that loses a race ("Secret
// already exist") or an update of a secret deleted meanwhile is reported as
// secrets.ErrConflict, unless the secret ends up holding tok.
func (s *Store) Put(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	a, err := s.address(loc)
	if err != nil {
		return err
	}
	if tok.IsZero() {
		return fmt.Errorf("%s: refusing to store an empty token", a)
	}
	if strings.TrimSpace(tok.Reveal()) != tok.Reveal() {
		// Infisical trims values: what ESO read would differ.
		return fmt.Errorf("%s: the token has leading or trailing spaces, which Infisical would strip", a)
	}
	s.redactor.Add(tok.Reveal())
	if err := s.login(ctx, a); err != nil {
		return err
	}
	pid, err := s.projectIDFor(ctx, a)
	if err != nil {
		return err
	}
	cur, err := s.read(ctx, a, pid)
	switch {
	case err == nil:
		if secrets.NewToken(cur).Equal(tok) {
			return nil // already stored: no new version
		}
		return s.update(ctx, a, pid, tok)
	case errors.Is(err, secrets.ErrNotFound):
		if err := s.ensureFolders(ctx, a, pid); err != nil {
			return err
		}
		return s.create(ctx, a, pid, tok)
	}
	return err
}

// Get reads the secret at loc.
func (s *Store) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	a, err := s.address(loc)
	if err != nil {
		return secrets.Token{}, err
	}
	if err := s.login(ctx, a); err != nil {
		return secrets.Token{}, err
	}
	pid, err := s.projectIDFor(ctx, a)
	if err != nil {
		return secrets.Token{}, err
	}
	v, err := s.read(ctx, a, pid)
	if err != nil {
		return secrets.Token{}, err
	}
	if v == "" {
		return secrets.Token{}, s.redactor.Errorf("%s: %w: the value is empty", a, secrets.ErrNotFound)
	}
	return secrets.NewToken(v), nil
}

// addr is a validated location: the secret's folder and name.
type addr struct {
	folder, name string
	display      string
}

func (a addr) String() string { return a.display }

var folderSegment = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// address splits loc.Key like ESO's getSecretAddress.
func (s *Store) address(loc secrets.Location) (addr, error) {
	key := strings.TrimSpace(loc.Key)
	display := fmt.Sprintf("infisical secret %q (project %q, environment %q)", loc.Key, s.project, s.env)
	if loc.Property != "" {
		return addr{}, fmt.Errorf("%s: property %q: runnerctl stores the token as the whole secret value in Infisical; remove the property", display, loc.Property)
	}
	if !strings.HasPrefix(key, "/") {
		key = "/" + key // relative to the store's secretsPath, "/" by default
	}
	i := strings.LastIndex(key, "/")
	folder, name := key[:i], key[i+1:]
	if folder == "" {
		folder = "/"
	}
	if name == "" || strings.ContainsAny(name, " \t\r\n") {
		return addr{}, fmt.Errorf("%s: the key must end with a secret name, as in /gitlab/runners/NAME/RUNNER_TOKEN", display)
	}
	for _, seg := range strings.Split(strings.TrimPrefix(folder, "/"), "/") {
		if folder != "/" && !folderSegment.MatchString(seg) {
			return addr{}, fmt.Errorf("%s: folder %q: Infisical folder names are letters, digits, - and _ only", display, folder)
		}
	}
	return addr{folder: folder, name: name, display: display}, nil
}

// login gets an access token with universal auth, when there is none or it
// is about to expire.
func (s *Store) login(ctx context.Context, a addr) error {
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	s.mu.Lock()
	valid := s.access != "" && (s.expires.IsZero() || time.Now().Before(s.expires))
	s.mu.Unlock()
	if valid {
		return nil
	}
	if s.clientID == "" || s.clientSecret == "" {
		return fmt.Errorf("%s: %w: set %s and %s (a machine identity with universal auth)", a, secrets.ErrAuth, EnvClientID, EnvClientSecret)
	}
	r, err := s.send(ctx, http.MethodPost, "/v1/auth/universal-auth/login", nil,
		map[string]string{"clientId": s.clientID, "clientSecret": s.clientSecret}, false)
	if err != nil {
		return s.transportErr(a, "login", err)
	}
	if r.status != http.StatusOK {
		switch r.status {
		case http.StatusUnauthorized, http.StatusForbidden, http.StatusBadRequest:
			return s.redactor.Errorf("%s: universal auth login: %w: Infisical rejects the client ID or secret (HTTP %d: %s)", a, secrets.ErrAuth, r.status, r.message())
		case http.StatusNotFound:
			// Not a missing secret: the URL does not lead to Infisical's API.
			return s.redactor.Errorf("%s: universal auth login: HTTP 404 at %s: check %s", a, redact.URL(s.base+"/v1/auth/universal-auth/login"), EnvAPIURL)
		}
		return s.statusErr(a, "universal auth login", r)
	}
	var out struct {
		AccessToken string          `json:"accessToken"`
		ExpiresIn   json.RawMessage `json:"expiresIn"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.AccessToken == "" {
		return fmt.Errorf("%s: universal auth login: %w: the answer holds no access token", a, secrets.ErrAuth)
	}
	// expiresIn is seconds (z.coerce.number: a number, sometimes a string);
	// 0 means the token does not expire.
	secs, _ := strconv.ParseFloat(strings.Trim(string(out.ExpiresIn), `"`), 64)
	s.redactor.Add(out.AccessToken)
	s.mu.Lock()
	s.access = out.AccessToken
	s.expires = time.Time{}
	if secs > 0 {
		// Renew a little early so that a token does not expire in flight.
		s.expires = time.Now().Add(time.Duration(secs*0.9) * time.Second)
	}
	s.mu.Unlock()
	return nil
}

// projectIDFor resolves the project slug once, and checks the environment.
func (s *Store) projectIDFor(ctx context.Context, a addr) (string, error) {
	s.projectMu.Lock()
	defer s.projectMu.Unlock()
	s.mu.Lock()
	id := s.projectID
	s.mu.Unlock()
	if id != "" {
		return id, nil
	}
	r, err := s.authed(ctx, a, http.MethodGet, "/v1/projects/slug/"+url.PathEscape(s.project), nil, nil)
	if err != nil {
		return "", s.transportErr(a, "project look-up", err)
	}
	switch {
	case r.status == http.StatusNotFound:
		return "", s.redactor.Errorf("%s: %w %q (HTTP 404: %s)", a, ErrNoProject, s.project, r.message())
	case r.status == http.StatusForbidden && !r.tokenError():
		return "", s.redactor.Errorf("%s: %w: %w: the machine identity is not a member of project %q, or may not see it (HTTP 403: %s)",
			a, ErrNoProject, secrets.ErrPermission, s.project, r.message())
	case r.status != http.StatusOK:
		return "", s.statusErr(a, "project look-up", r)
	}
	var p struct {
		ID           string `json:"id"`
		Environments []struct {
			Slug string `json:"slug"`
		} `json:"environments"`
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.ID == "" {
		return "", s.redactor.Errorf("%s: project look-up: the answer holds no project ID", a)
	}
	var envs []string
	for _, e := range p.Environments {
		envs = append(envs, e.Slug)
	}
	if !slices.Contains(envs, s.env) {
		return "", s.redactor.Errorf("%s: %w %q in project %q (it has: %s)", a, ErrNoEnvironment, s.env, s.project, strings.Join(envs, ", "))
	}
	s.mu.Lock()
	s.projectID = p.ID
	s.mu.Unlock()
	return p.ID, nil
}

// read returns the secret's value; secrets.ErrNotFound when the secret or
// its folder does not exist.
func (s *Store) read(ctx context.Context, a addr, pid string) (string, error) {
	q := url.Values{
		"workspaceId": {pid},
		"environment": {s.env},
		"secretPath":  {a.folder},
		"type":        {"shared"},
		// The value itself, without following references or imports:
		// runnerctl wrote it there.
		"viewSecretValue":        {"true"},
		"expandSecretReferences": {"false"},
		"include_imports":        {"false"},
	}
	r, err := s.authed(ctx, a, http.MethodGet, "/v3/secrets/raw/"+url.PathEscape(a.name), q, nil)
	if err != nil {
		return "", s.transportErr(a, "read", err)
	}
	switch r.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return "", s.redactor.Errorf("%s: %w (%s)", a, secrets.ErrNotFound, r.message())
	default:
		return "", s.statusErr(a, "read", r)
	}
	var out struct {
		Secret *struct {
			SecretValue       string `json:"secretValue"`
			SecretValueHidden bool   `json:"secretValueHidden"`
		} `json:"secret"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil || out.Secret == nil {
		return "", s.redactor.Errorf("%s: read: the answer holds no secret", a)
	}
	if out.Secret.SecretValueHidden {
		return "", s.redactor.Errorf("%s: read: %w: the identity may see the secret but not its value", a, secrets.ErrPermission)
	}
	return out.Secret.SecretValue, nil
}

func (s *Store) create(ctx context.Context, a addr, pid string, tok secrets.Token) error {
	r, err := s.authed(ctx, a, http.MethodPost, "/v3/secrets/raw/"+url.PathEscape(a.name), nil, s.writeBody(a, pid, tok))
	if err != nil {
		return s.transportErr(a, "create", err)
	}
	switch {
	case r.status == http.StatusOK:
		return s.wrote(a, "create", r)
	case r.status == http.StatusBadRequest && strings.Contains(r.message(), "already exist"):
		return s.lostRace(ctx, a, pid, tok, "it was created by someone else while runnerctl was creating it")
	case r.status == http.StatusNotFound:
		return s.redactor.Errorf("%s: create: %w: its folder %q disappeared while runnerctl was creating the secret (%s)", a, secrets.ErrConflict, a.folder, r.message())
	}
	return s.statusErr(a, "create", r)
}

func (s *Store) update(ctx context.Context, a addr, pid string, tok secrets.Token) error {
	r, err := s.authed(ctx, a, http.MethodPatch, "/v3/secrets/raw/"+url.PathEscape(a.name), nil, s.writeBody(a, pid, tok))
	if err != nil {
		return s.transportErr(a, "update", err)
	}
	switch r.status {
	case http.StatusOK:
		return s.wrote(a, "update", r)
	case http.StatusNotFound:
		return s.lostRace(ctx, a, pid, tok, "it was deleted while runnerctl was updating it")
	}
	return s.statusErr(a, "update", r)
}

func (s *Store) writeBody(a addr, pid string, tok secrets.Token) map[string]any {
	return map[string]any{
		"workspaceId": pid,
		"environment": s.env,
		"secretPath":  a.folder,
		"secretValue": tok.Reveal(),
		"type":        "shared",
	}
}

// wrote checks that a write answered a secret: a secret approval policy
// answers {"approval": ...} instead (Infisical applies those to users only,
// but an answer without a secret must never pass for a stored token).
func (s *Store) wrote(a addr, op string, r *result) error {
	var out struct {
		Secret   json.RawMessage `json:"secret"`
		Approval json.RawMessage `json:"approval"`
	}
	_ = json.Unmarshal(r.body, &out)
	if len(out.Secret) == 0 || string(out.Secret) == "null" {
		if len(out.Approval) > 0 {
			return s.redactor.Errorf("%s: %s: %w: Infisical opened an approval request instead of writing; approve it, or exempt the machine identity from the policy", a, op, secrets.ErrPermission)
		}
		return s.redactor.Errorf("%s: %s: Infisical's answer holds no secret", a, op)
	}
	return nil
}

// lostRace reads the secret back after a write lost to a concurrent change.
func (s *Store) lostRace(ctx context.Context, a addr, pid string, tok secrets.Token, what string) error {
	if v, err := s.read(ctx, a, pid); err == nil && secrets.NewToken(v).Equal(tok) {
		return nil
	}
	return s.redactor.Errorf("%s: %w: %s; nothing was overwritten", a, secrets.ErrConflict, what)
}

// ensureFolders creates each missing level of a.folder, from the top.
func (s *Store) ensureFolders(ctx context.Context, a addr, pid string) error {
	parent := "/"
	created := false
	for _, seg := range strings.Split(strings.Trim(a.folder, "/"), "/") {
		if seg == "" {
			continue
		}
		exists := false
		if !created { // below a folder just created, nothing exists
			names, err := s.listFolders(ctx, a, pid, parent)
			if err != nil {
				return err
			}
			exists = slices.Contains(names, seg)
		}
		if !exists {
			if err := s.createFolder(ctx, a, pid, parent, seg); err != nil {
				return err
			}
			created = true
		}
		parent = path.Join(parent, seg)
	}
	return nil
}

func (s *Store) listFolders(ctx context.Context, a addr, pid, parent string) ([]string, error) {
	q := url.Values{"workspaceId": {pid}, "environment": {s.env}, "path": {parent}}
	r, err := s.authed(ctx, a, http.MethodGet, "/v1/folders", q, nil)
	if err != nil {
		return nil, s.transportErr(a, "list folders", err)
	}
	switch r.status {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, s.redactor.Errorf("%s: list folders in %q: %w %q (%s)", a, parent, ErrNoEnvironment, s.env, r.message())
	default:
		return nil, s.statusErr(a, fmt.Sprintf("list folders in %q", parent), r)
	}
	var out struct {
		Folders []struct {
			Name string `json:"name"`
		} `json:"folders"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return nil, s.redactor.Errorf("%s: list folders in %q: unreadable answer", a, parent)
	}
	names := make([]string, 0, len(out.Folders))
	for _, f := range out.Folders {
		names = append(names, f.Name)
	}
	return names, nil
}

func (s *Store) createFolder(ctx context.Context, a addr, pid, parent, name string) error {
	body := map[string]string{"workspaceId": pid, "environment": s.env, "name": name, "path": parent}
	r, err := s.authed(ctx, a, http.MethodPost, "/v1/folders", nil, body)
	if err != nil {
		return s.transportErr(a, "create folder "+path.Join(parent, name), err)
	}
	switch {
	case r.status == http.StatusOK:
		return nil
	case r.status == http.StatusBadRequest && strings.Contains(r.message(), "already exists"):
		return nil // created meanwhile, by a concurrent run or a retried request
	}
	return s.statusErr(a, "create folder "+path.Join(parent, name), r)
}

// result is one answer.
type result struct {
	status int
	body   []byte
}

// message is Infisical's "message" (a string, or zod issues), or a note when
// the body is not Infisical's (a proxy's page).
func (r *result) message() string {
	var e struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || len(e.Message) == 0 {
		if len(bytes.TrimSpace(r.body)) == 0 {
			return "empty answer"
		}
		return "not an Infisical answer"
	}
	var msg string
	if json.Unmarshal(e.Message, &msg) == nil {
		return msg
	}
	var issues []struct {
		Path    []any  `json:"path"`
		Message string `json:"message"`
	}
	if json.Unmarshal(e.Message, &issues) == nil && len(issues) > 0 {
		var parts []string
		for _, is := range issues {
			parts = append(parts, fmt.Sprintf("%v: %s", is.Path, is.Message))
		}
		return "validation failed: " + strings.Join(parts, "; ")
	}
	return "unreadable error"
}

// tokenError reports Infisical's answer to an invalid or expired access
// token: 403 with error "TokenError" (JWT errors), or 401.
func (r *result) tokenError() bool {
	if r.status == http.StatusUnauthorized {
		return true
	}
	var e struct {
		Error string `json:"error"`
	}
	return r.status == http.StatusForbidden && json.Unmarshal(r.body, &e) == nil && e.Error == "TokenError"
}

// authed sends a request with the access token; when Infisical says the
// token is invalid or expired, it logs in again once and resends.
func (s *Store) authed(ctx context.Context, a addr, method, p string, q url.Values, in any) (*result, error) {
	r, err := s.send(ctx, method, p, q, in, true)
	if err != nil || !r.tokenError() {
		return r, err
	}
	s.mu.Lock()
	s.access = ""
	s.mu.Unlock()
	if err := s.login(ctx, a); err != nil {
		return nil, &reloginError{err}
	}
	return s.send(ctx, method, p, q, in, true)
}

// reloginError is a failed login in the middle of a request: it is already
// a complete error, returned as it is.
type reloginError struct{ err error }

func (e *reloginError) Error() string { return e.err.Error() }
func (e *reloginError) Unwrap() error { return e.err }

// send does one request, retrying 429, 5xx and lost answers; err is set
// only when no answer came.
func (s *Store) send(ctx context.Context, method, p string, q url.Values, in any, auth bool) (*result, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, err
		}
	}
	u := s.base + p
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	for attempt := 0; ; attempt++ {
		r, err := s.once(ctx, method, u, body, auth)
		again := err != nil && ctx.Err() == nil
		if r != nil && (r.status == http.StatusTooManyRequests || r.status >= 500) {
			again = true
		}
		if !again || attempt >= s.retries {
			return r, err
		}
		t := time.NewTimer(s.retryWait * time.Duration(attempt+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return r, err
		case <-t.C:
		}
	}
}

func (s *Store) once(ctx context.Context, method, u string, body []byte, auth bool) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if auth {
		s.mu.Lock()
		access := s.access
		s.mu.Unlock()
		req.Header.Set("Authorization", "Bearer "+access)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	return &result{status: resp.StatusCode, body: b}, nil
}

// statusErr maps an unexpected answer to an error wrapping the matching
// secrets.Err* value.
func (s *Store) statusErr(a addr, op string, r *result) error {
	msg := r.message()
	switch {
	case r.tokenError():
		return s.redactor.Errorf("%s: %s: %w (HTTP %d: %s)", a, op, secrets.ErrAuth, r.status, msg)
	case r.status == http.StatusForbidden:
		return s.redactor.Errorf("%s: %s: %w: the machine identity's role does not allow it (HTTP 403: %s)", a, op, secrets.ErrPermission, msg)
	case r.status == http.StatusNotFound:
		return s.redactor.Errorf("%s: %s: %w (%s)", a, op, secrets.ErrNotFound, msg)
	case r.status == http.StatusTooManyRequests || r.status >= 500:
		return s.redactor.Errorf("%s: %s: %w (HTTP %d: %s)", a, op, secrets.ErrTransient, r.status, msg)
	}
	return s.redactor.Errorf("%s: %s: HTTP %d: %s", a, op, r.status, msg)
}

// transportErr is a request that got no answer: worth retrying, unless the
// caller cancelled. A failed re-login is returned as it is.
func (s *Store) transportErr(a addr, op string, err error) error {
	if re, ok := errors.AsType[*reloginError](err); ok {
		return re.err
	}
	if errors.Is(err, context.Canceled) {
		return s.redactor.Errorf("%s: %s: %w", a, op, err)
	}
	return s.redactor.Errorf("%s: %s: %w: %w", a, op, secrets.ErrTransient, err)
}
