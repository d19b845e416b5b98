// Package vault stores runner tokens in a HashiCorp Vault KV version 2
// engine, where the External Secrets Operator's Vault provider (version
// "v2") reads them.
//
// Layout (config.Config.TokenRef): the engine's mount is the store's
// spec.provider.vault.path (Options.Mount, "secret"); Location.Key is the
// secret's path inside the mount ("gitlab/runners/ci") and Location.Property
// the key inside its data ("runner-token"). The token is written to
// <mount>/data/<key>, the path ESO's buildPath reads: like ESO, a key that
// starts with "<mount>/" (and then "data/") has those stripped first.
//
// Put merges the property into the secret's current data (other keys stay)
// and writes with check-and-set, so a concurrent change is reported as
// secrets.ErrConflict instead of being overwritten.
//
// Credentials come from the environment (Options.Getenv): VAULT_ADDR,
// VAULT_TOKEN, or AppRole with VAULT_ROLE_ID and VAULT_SECRET_ID (at the
// auth mount VAULT_APPROLE_MOUNT, "approle") when VAULT_TOKEN is empty;
// VAULT_NAMESPACE and VAULT_CACERT. The Vault client library also reads a
// few variables from the process environment by itself (VAULT_HEADERS, and
// those of its default configuration); the ones above are always taken from
// Getenv and override what it read.
//
// Vault API followed (read through the search tool: Vault's API docs,
// hashicorp/vault-plugin-secrets-kv path_data.go, hashicorp/vault
// logical_system.go, the api v1.23.0 client; see internal/fake/vault for the
// details): GET/PUT <mount>/data/<key> with {"data":{...},"options":{"cas":N}}
// (400 "check-and-set parameter did not match the current version" on a
// mismatch; deleted versions read as 404 with their metadata); GET
// auth/token/lookup-self; GET sys/internal/ui/mounts/<mount> (403 for an
// unknown mount as for a forbidden one); POST sys/capabilities-self
// {"paths":[...]}; PUT auth/<approle>/login {"role_id","secret_id"}. Vault
// answers 403 "permission denied" for a bad token as for a missing policy:
// lookup-self tells them apart.
//
// Nothing here puts a token, the Vault token or the AppRole secret ID into
// an error: messages are built from Vault's status and error strings, and
// scrubbed of every credential the Store knows of before they are returned.
package vault

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Environment variables the Store reads through Options.Getenv.
const (
	EnvAddr         = "VAULT_ADDR"
	EnvToken        = "VAULT_TOKEN"
	EnvNamespace    = "VAULT_NAMESPACE"
	EnvCACert       = "VAULT_CACERT"
	EnvRoleID       = "VAULT_ROLE_ID"
	EnvSecretID     = "VAULT_SECRET_ID"
	EnvAppRoleMount = "VAULT_APPROLE_MOUNT"
)

// Defaults.
const (
	DefaultMount      = "secret"
	DefaultTimeout    = 30 * time.Second
	DefaultMaxRetries = 2
	DefaultRetryWait  = time.Second
)

// ErrNoMount reports that the configured mount is not a KV version 2 engine
// the credentials can use. It is a configuration error, not a missing secret.
var ErrNoMount = errors.New("no usable KV version 2 mount")

// Options configure a Store.
type Options struct {
	// Mount is the KV v2 engine's mount path; empty means "secret".
	Mount string
	// Getenv reads the VAULT_* variables; nil means os.Getenv is not
	// consulted and no credentials are found. The CLI passes os.Getenv.
	Getenv func(string) string
	// HTTPClient replaces the default transport (tests). It is copied, not
	// modified.
	HTTPClient *http.Client
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is how many times a request answered 429 or 5xx (or lost
	// in transit) is retried by the Vault client; 0 means
	// DefaultMaxRetries, a negative value disables retries.
	MaxRetries int
	// RetryWait is the shortest wait before a retry (the longest is 1.5
	// times it); 0 means DefaultRetryWait.
	RetryWait time.Duration
}

// Store is a KV version 2 engine in Vault.
type Store struct {
	client  *api.Client
	mount   string
	timeout time.Duration

	roleID, secretID, approleMount string

	loginMu  sync.Mutex
	mu       sync.Mutex
	loggedIn bool             // the client holds a token
	tokenOK  bool             // lookup-self accepted the token
	mountOK  bool             // the mount was seen to be KV v2
	redactor secrets.Redactor // credential values never to show in a message
}

var _ secrets.Store = (*Store)(nil)

// New builds a Store. It makes no request: credentials are first used by
// Check, Put or Get.
func New(opts Options) (*Store, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	addr := strings.TrimSpace(getenv(EnvAddr))
	if addr == "" {
		return nil, fmt.Errorf("vault: %s is not set", EnvAddr)
	}
	mount := strings.Trim(opts.Mount, "/")
	if mount == "" {
		mount = DefaultMount
	}
	s := &Store{
		mount:        mount,
		timeout:      opts.Timeout,
		roleID:       getenv(EnvRoleID),
		secretID:     getenv(EnvSecretID),
		approleMount: strings.Trim(getenv(EnvAppRoleMount), "/"),
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.approleMount == "" {
		s.approleMount = "approle"
	}
	token := getenv(EnvToken)
	s.redactor.Add(token, s.secretID)

	cfg := clientConfig(addr, opts)
	if ca := getenv(EnvCACert); ca != "" {
		if err := cfg.ConfigureTLS(&api.TLSConfig{CACert: ca}); err != nil {
			return nil, fmt.Errorf("vault: %s %q: %w", EnvCACert, ca, err)
		}
	}
	client, err := api.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault: %s %q: %s", EnvAddr, redact.URL(addr), redact.Text(s.redactor.Scrub(err.Error())))
	}
	// api.NewClient also took VAULT_TOKEN and VAULT_NAMESPACE from the
	// process environment: the Store's own environment wins.
	client.ClearToken()
	if token != "" {
		client.SetToken(token)
		s.loggedIn = true
	}
	client.ClearNamespace()
	if ns := strings.Trim(getenv(EnvNamespace), "/"); ns != "" {
		client.SetNamespace(ns)
	}
	s.client = client
	return s, nil
}

// clientConfig builds the Vault client's configuration from scratch rather
// than from api.DefaultConfig, which would read VAULT_ADDR, VAULT_SKIP_VERIFY
// and the like from the process environment behind Getenv's back.
func clientConfig(addr string, opts Options) *api.Config {
	var hc http.Client
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	tr, ok := hc.Transport.(*http.Transport)
	switch {
	case hc.Transport == nil:
		tr = http.DefaultTransport.(*http.Transport).Clone()
		hc.Transport = tr
	case ok:
		// ConfigureTLS changes the transport: never the caller's.
		tr = tr.Clone()
		hc.Transport = tr
	}
	// The Vault client follows Vault's redirects (standby nodes) itself.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	retries := opts.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	wait := opts.RetryWait
	if wait <= 0 {
		wait = DefaultRetryWait
	}
	return &api.Config{
		Address:      addr,
		HttpClient:   &hc,
		MaxRetries:   retries,
		MinRetryWait: wait,
		MaxRetryWait: wait * 3 / 2,
		// Timeout stays 0: the Vault client cancels its own timeout context
		// before a raw response body is read. The Store bounds each request
		// with its context instead.
	}
}

// Backend implements secrets.Store.
func (s *Store) Backend() string { return "vault" }

// Check proves that the credentials work (AppRole login, token look-up),
// that the mount is a KV version 2 engine, and that the token's policies
// grant create, update and read on <mount>/data/<key>: Put reads the secret
// before writing it with check-and-set. It writes nothing.
func (s *Store) Check(ctx context.Context, loc secrets.Location) error {
	key, err := s.key(loc)
	if err != nil {
		return err
	}
	name := s.display(key)
	if err := s.login(ctx, name); err != nil {
		return err
	}
	if err := s.lookupSelf(ctx, name); err != nil {
		return err
	}
	if err := s.checkMount(ctx, name); err != nil {
		return err
	}
	dataPath := s.dataPath(key)
	caps, err := s.capabilities(ctx, name, dataPath)
	if err != nil {
		return err
	}
	if slices.Contains(caps, "root") {
		return nil
	}
	var missing []string
	for _, c := range []string{"create", "update", "read"} {
		if !slices.Contains(caps, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return s.redactor.Errorf("vault secret %q: %w: the token's policies grant [%s] on %q; runnerctl needs create, update and read (missing %s)",
			name, secrets.ErrPermission, strings.Join(caps, ", "), dataPath, strings.Join(missing, ", "))
	}
	return nil
}

// Put stores tok in loc.Property of the secret at loc.Key, keeping the
// secret's other keys. It reads the current version and writes with
// check-and-set: when someone else wrote in between, it fails with
// secrets.ErrConflict unless the secret already holds tok (a retried write
// of ours that landed).
func (s *Store) Put(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	key, err := s.key(loc)
	if err != nil {
		return err
	}
	if tok.IsZero() {
		return fmt.Errorf("vault secret %q: refusing to store an empty token", s.display(key))
	}
	name := s.display(key)
	s.redactor.Add(tok.Reveal())
	if err := s.login(ctx, name); err != nil {
		return err
	}
	// A KV v1 mount would take the write at "data/<key>" as a plain secret,
	// somewhere ESO never reads: make sure of the engine first.
	if err := s.checkMount(ctx, name); err != nil {
		return err
	}
	cur, err := s.read(ctx, name, key)
	if err != nil && !errors.Is(err, secrets.ErrNotFound) {
		return err
	}
	if v, ok := cur.data[loc.Property].(string); ok && secrets.NewToken(v).Equal(tok) {
		return nil // already stored: no new version
	}
	data := make(map[string]any, len(cur.data)+1)
	for k, v := range cur.data {
		data[k] = v
	}
	data[loc.Property] = tok.Reveal()
	body := map[string]any{
		"data": data,
		// cas 0 means "only if the secret does not exist yet".
		"options": map[string]any{"cas": cur.version},
	}
	status, resp, err := s.call(ctx, http.MethodPut, s.dataPath(key), body)
	if err != nil {
		return s.transportErr(name, "write", err)
	}
	if status >= 200 && status < 300 {
		return nil
	}
	if status == http.StatusBadRequest && containsError(resp, "check-and-set parameter did not match") {
		return s.conflict(ctx, name, key, loc.Property, tok)
	}
	return s.statusErr(ctx, name, "write", status, resp)
}

// conflict decides what a check-and-set mismatch means: if the secret now
// holds tok, our own write landed (its answer was lost and the client
// retried) or someone stored the same token; anything else is a concurrent
// change.
func (s *Store) conflict(ctx context.Context, name, key, property string, tok secrets.Token) error {
	cur, err := s.read(ctx, name, key)
	if err == nil {
		if v, ok := cur.data[property].(string); ok && secrets.NewToken(v).Equal(tok) {
			return nil
		}
	}
	return s.redactor.Errorf("vault secret %q: %w: it changed (now version %d) between runnerctl's read and its write; nothing was overwritten",
		name, secrets.ErrConflict, cur.version)
}

// Get reads loc.Property of the secret's current version.
func (s *Store) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	key, err := s.key(loc)
	if err != nil {
		return secrets.Token{}, err
	}
	name := s.display(key)
	if err := s.login(ctx, name); err != nil {
		return secrets.Token{}, err
	}
	cur, err := s.read(ctx, name, key)
	if err != nil {
		return secrets.Token{}, err
	}
	raw, ok := cur.data[loc.Property]
	if !ok {
		return secrets.Token{}, s.redactor.Errorf("vault secret %q: %w: version %d has no key %q", name, secrets.ErrNotFound, cur.version, loc.Property)
	}
	v, ok := raw.(string)
	if !ok {
		return secrets.Token{}, s.redactor.Errorf("vault secret %q: key %q holds a %s, not a token", name, loc.Property, jsonKind(raw))
	}
	if v == "" {
		return secrets.Token{}, s.redactor.Errorf("vault secret %q: %w: key %q is empty", name, secrets.ErrNotFound, loc.Property)
	}
	return secrets.NewToken(v), nil
}

// current is what a read found.
type current struct {
	data    map[string]any
	version int // the key's current version; 0 when it does not exist
}

// read returns the secret's current data and version. A missing secret is
// secrets.ErrNotFound with version 0; a current version that is deleted or
// destroyed is ErrNotFound with that version (the next write's cas).
func (s *Store) read(ctx context.Context, name, key string) (current, error) {
	status, body, err := s.call(ctx, http.MethodGet, s.dataPath(key), nil)
	if err != nil {
		return current{}, s.transportErr(name, "read", err)
	}
	var env struct {
		Data *struct {
			Data     map[string]any `json:"data"`
			Metadata struct {
				Version      int    `json:"version"`
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"metadata"`
		} `json:"data"`
	}
	switch status {
	case http.StatusOK:
		if err := decode(body, &env); err != nil || env.Data == nil {
			return current{}, s.redactor.Errorf("vault secret %q: read: the answer is not a KV version 2 secret", name)
		}
		return current{data: env.Data.Data, version: env.Data.Metadata.Version}, nil
	case http.StatusNotFound:
		if containsError(body, "no handler for route") {
			return current{}, s.noMount(name, "Vault has no engine mounted there")
		}
		if decode(body, &env) == nil && env.Data != nil && env.Data.Metadata.Version > 0 {
			state := "deleted"
			if env.Data.Metadata.Destroyed {
				state = "destroyed"
			}
			return current{version: env.Data.Metadata.Version}, s.redactor.Errorf("vault secret %q: %w: its current version %d is %s",
				name, secrets.ErrNotFound, env.Data.Metadata.Version, state)
		}
		return current{}, s.redactor.Errorf("vault secret %q: %w", name, secrets.ErrNotFound)
	}
	return current{}, s.statusErr(ctx, name, "read", status, body)
}

// login gets a token through AppRole when VAULT_TOKEN was empty.
func (s *Store) login(ctx context.Context, name string) error {
	// loginMu makes concurrent first calls log in once; s.mu is not held
	// across the request, since building an error message takes it.
	s.loginMu.Lock()
	defer s.loginMu.Unlock()
	s.mu.Lock()
	done := s.loggedIn
	s.mu.Unlock()
	if done {
		return nil
	}
	switch {
	case s.roleID == "" && s.secretID == "":
		return fmt.Errorf("vault secret %q: %w: no Vault credentials: set %s, or %s and %s", name, secrets.ErrAuth, EnvToken, EnvRoleID, EnvSecretID)
	case s.roleID == "":
		return fmt.Errorf("vault secret %q: %w: %s is set but %s is not", name, secrets.ErrAuth, EnvSecretID, EnvRoleID)
	case s.secretID == "":
		return fmt.Errorf("vault secret %q: %w: %s is set but %s is not", name, secrets.ErrAuth, EnvRoleID, EnvSecretID)
	}
	path := "auth/" + s.approleMount + "/login"
	status, body, err := s.call(ctx, http.MethodPut, path, map[string]string{"role_id": s.roleID, "secret_id": s.secretID})
	if err != nil {
		return s.transportErr(name, "AppRole login", err)
	}
	if status != http.StatusOK {
		switch {
		case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
			return s.redactor.Errorf("vault secret %q: AppRole login at %q: %w (HTTP %d: %s)", name, path, secrets.ErrAuth, status, vaultErrors(body))
		case retryable(status):
			return s.redactor.Errorf("vault secret %q: AppRole login at %q: %w (HTTP %d: %s)", name, path, secrets.ErrTransient, status, vaultErrors(body))
		}
		return s.redactor.Errorf("vault secret %q: AppRole login at %q: HTTP %d: %s", name, path, status, vaultErrors(body))
	}
	var out struct {
		Auth *struct {
			ClientToken string `json:"client_token"`
		} `json:"auth"`
	}
	if err := decode(body, &out); err != nil || out.Auth == nil || out.Auth.ClientToken == "" {
		return fmt.Errorf("vault secret %q: AppRole login at %q: %w: the answer holds no token", name, path, secrets.ErrAuth)
	}
	s.redactor.Add(out.Auth.ClientToken)
	s.client.SetToken(out.Auth.ClientToken)
	s.mu.Lock()
	s.loggedIn = true
	s.mu.Unlock()
	return nil
}

// lookupSelf verifies the token. Vault answers 403 for a token that is
// wrong, expired or revoked: every token may look itself up (default policy).
func (s *Store) lookupSelf(ctx context.Context, name string) error {
	status, body, err := s.call(ctx, http.MethodGet, "auth/token/lookup-self", nil)
	if err != nil {
		return s.transportErr(name, "token look-up", err)
	}
	switch {
	case status == http.StatusOK:
		s.mu.Lock()
		s.tokenOK = true
		s.mu.Unlock()
		return nil
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return s.redactor.Errorf("vault secret %q: token look-up: %w: Vault rejects the token (HTTP %d: %s): it is wrong, expired or revoked",
			name, secrets.ErrAuth, status, vaultErrors(body))
	case retryable(status):
		return s.redactor.Errorf("vault secret %q: token look-up: %w (HTTP %d: %s)", name, secrets.ErrTransient, status, vaultErrors(body))
	}
	return s.redactor.Errorf("vault secret %q: token look-up: HTTP %d: %s", name, status, vaultErrors(body))
}

// checkMount asks the UI preflight endpoint what is mounted at the mount.
// Vault answers 403 both for an unknown mount and for one the token has no
// capability under, so that mounts cannot be enumerated: the message says so.
func (s *Store) checkMount(ctx context.Context, name string) error {
	s.mu.Lock()
	ok := s.mountOK
	s.mu.Unlock()
	if ok {
		return nil
	}
	status, body, err := s.call(ctx, http.MethodGet, "sys/internal/ui/mounts/"+s.mount, nil)
	if err != nil {
		return s.transportErr(name, "mount check", err)
	}
	switch {
	case status == http.StatusForbidden:
		if authErr := s.classify403(ctx, name, "mount check", body); errors.Is(authErr, secrets.ErrAuth) {
			return authErr
		}
		return s.redactor.Errorf("vault secret %q: mount check: %w: %w: Vault has no mount %q, or the token's policies grant nothing under it (Vault does not say which)",
			name, ErrNoMount, secrets.ErrPermission, s.mount+"/")
	case retryable(status):
		return s.redactor.Errorf("vault secret %q: mount check: %w (HTTP %d: %s)", name, secrets.ErrTransient, status, vaultErrors(body))
	case status != http.StatusOK:
		return s.redactor.Errorf("vault secret %q: mount check: HTTP %d: %s", name, status, vaultErrors(body))
	}
	var out struct {
		Data struct {
			Type    string            `json:"type"`
			Path    string            `json:"path"`
			Options map[string]string `json:"options"`
		} `json:"data"`
	}
	if err := decode(body, &out); err != nil {
		return s.redactor.Errorf("vault secret %q: mount check: unreadable answer", name)
	}
	d := out.Data
	if strings.Trim(d.Path, "/") != s.mount {
		return s.noMount(name, fmt.Sprintf("Vault has no mount there, only %q above it", d.Path))
	}
	if d.Type != "kv" || d.Options["version"] != "2" {
		kind := fmt.Sprintf("a %q engine", d.Type)
		if d.Type == "kv" || d.Type == "generic" {
			kind = "KV version 1"
		}
		return s.noMount(name, "it is "+kind+"; runnerctl and ESO's provider (version v2) need KV version 2")
	}
	s.mu.Lock()
	s.mountOK = true
	s.mu.Unlock()
	return nil
}

func (s *Store) noMount(name, why string) error {
	return s.redactor.Errorf("vault secret %q: mount %q: %w: %s", name, s.mount+"/", ErrNoMount, why)
}

// capabilities asks what the token may do on path. It sends "paths" only:
// the client library's CapabilitiesSelf also sends the token in the body.
func (s *Store) capabilities(ctx context.Context, name, path string) ([]string, error) {
	status, body, err := s.call(ctx, http.MethodPut, "sys/capabilities-self", map[string][]string{"paths": {path}})
	if err != nil {
		return nil, s.transportErr(name, "capabilities check", err)
	}
	if status != http.StatusOK {
		return nil, s.statusErr(ctx, name, "capabilities check", status, body)
	}
	var out map[string]json.RawMessage
	if err := decode(body, &out); err != nil {
		return nil, s.redactor.Errorf("vault secret %q: capabilities check: unreadable answer", name)
	}
	var caps []string
	var data map[string][]string
	if raw, ok := out["data"]; ok && json.Unmarshal(raw, &data) == nil && data[path] != nil {
		caps = data[path]
	} else if raw, ok := out[path]; ok {
		_ = json.Unmarshal(raw, &caps)
	}
	if caps == nil {
		return nil, s.redactor.Errorf("vault secret %q: capabilities check: the answer does not list %q", name, path)
	}
	return caps, nil
}

// call sends one request through the Vault client (which adds the token,
// namespace, retries and redirects) and returns the status and body; err
// is set only when no answer came.
func (s *Store) call(ctx context.Context, method, path string, in any) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var resp *api.Response
	var err error
	switch method {
	case http.MethodGet:
		resp, err = s.client.Logical().ReadRawWithContext(ctx, path)
	case http.MethodPut:
		b, merr := json.Marshal(in)
		if merr != nil {
			return 0, nil, merr
		}
		resp, err = s.client.Logical().WriteRawWithContext(ctx, path, b)
	default:
		return 0, nil, fmt.Errorf("unsupported method %s", method)
	}
	if resp == nil || resp.Response == nil {
		if err == nil {
			err = errors.New("no answer")
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	// On an error status the client library has already buffered the body.
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if rerr != nil {
		return 0, nil, rerr
	}
	return resp.StatusCode, body, nil
}

// statusErr maps an unexpected answer to an error wrapping the matching
// secrets.Err* value.
func (s *Store) statusErr(ctx context.Context, name, op string, status int, body []byte) error {
	detail := vaultErrors(body)
	switch {
	case status == http.StatusUnauthorized:
		return s.redactor.Errorf("vault secret %q: %s: %w (HTTP %d: %s)", name, op, secrets.ErrAuth, status, detail)
	case status == http.StatusForbidden:
		return s.classify403(ctx, name, op, body)
	case status == http.StatusNotFound && strings.Contains(detail, "no handler for route"):
		return s.noMount(name, "Vault has no engine mounted there")
	case status == http.StatusNotFound:
		return s.redactor.Errorf("vault secret %q: %s: %w", name, op, secrets.ErrNotFound)
	case retryable(status):
		return s.redactor.Errorf("vault secret %q: %s: %w (HTTP %d: %s)", name, op, secrets.ErrTransient, status, detail)
	}
	return s.redactor.Errorf("vault secret %q: %s: HTTP %d: %s", name, op, status, detail)
}

// classify403 tells a bad token from a missing policy: Vault answers 403
// "permission denied" for both. Once lookup-self accepted the token, it is
// a policy; otherwise lookup-self decides.
func (s *Store) classify403(ctx context.Context, name, op string, body []byte) error {
	s.mu.Lock()
	known := s.tokenOK
	s.mu.Unlock()
	if !known {
		if err := s.lookupSelf(ctx, name); errors.Is(err, secrets.ErrAuth) {
			return err
		}
	}
	return s.redactor.Errorf("vault secret %q: %s: %w: the token's policies do not allow it (HTTP 403: %s)",
		name, op, secrets.ErrPermission, vaultErrors(body))
}

// transportErr is a request that got no answer: a timeout or a network
// error is worth retrying, a cancellation by the caller is not.
func (s *Store) transportErr(name, op string, err error) error {
	if errors.Is(err, context.Canceled) {
		return s.redactor.Errorf("vault secret %q: %s: %w", name, op, err)
	}
	return s.redactor.Errorf("vault secret %q: %s: %w: %w", name, op, secrets.ErrTransient, err)
}

// key validates loc and returns the secret's path inside the mount, the way
// ESO's buildPath derives it from remoteRef.key.
func (s *Store) key(loc secrets.Location) (string, error) {
	key := loc.Key
	if rest, ok := strings.CutPrefix(key, s.mount+"/"); ok {
		key = strings.TrimPrefix(rest, "data/")
	}
	switch {
	case key == "":
		return "", fmt.Errorf("vault secret %q: empty key", loc.Key)
	case strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "//"):
		return "", fmt.Errorf("vault secret %q: the key must be a path like gitlab/runners/NAME, without leading, trailing or double slashes", loc.Key)
	case loc.Property == "":
		return "", fmt.Errorf("vault secret %q: no property: the token is stored under a key of the secret's data (secrets.vault.property)", loc.Key)
	}
	return key, nil
}

func (s *Store) dataPath(key string) string { return s.mount + "/data/" + key }

// display names the secret as "vault kv get" does: mount, then key.
func (s *Store) display(key string) string { return s.mount + "/" + key }

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// vaultErrors is Vault's {"errors":[...]} joined, or a short note when the
// body is not Vault's (a proxy's page).
func vaultErrors(body []byte) string {
	var e struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return "empty answer"
		}
		return "not a Vault answer"
	}
	if len(e.Errors) == 0 {
		return "no error message"
	}
	return strings.Join(e.Errors, "; ")
}

func containsError(body []byte, substr string) bool {
	return strings.Contains(vaultErrors(body), substr)
}

// decode reads JSON keeping numbers exact, so that merged data is written
// back as it was.
func decode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number, float64:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
