// Package gcp stores runner tokens in Google Cloud Secret Manager, where the
// External Secrets Operator's GCP provider (gcpsm) reads them: the secret ID
// is Location.Key, and ESO reads its "latest" version. Location.Property is
// not used (the GCP layout has none; a value is the plain token).
//
// It speaks Secret Manager's REST API (v1) over net/http rather than through
// cloud.google.com/go/secretmanager, because every linked package's init runs
// on every start of runnerctl. Measured on `runnerctl --version` (hyperfine,
// 400 runs; GODEBUG=inittrace=1): the official client (even its REST
// transport links gRPC, protobuf, OpenTelemetry) adds 121 package inits,
// about 2.5 ms of start-up and 11.8 MB of binary; this package, with
// golang.org/x/oauth2/google for credentials, adds 2 inits, under 0.1 ms and
// 0.7 MB. The calls it needs:
//
//	GET  /v1/projects/{p}/secrets/{s}                       (Check)
//	POST /v1/projects/{p}/secrets/{s}:addVersion            (Put)
//	POST /v1/projects/{p}/secrets?secretId={s}              (Put, when missing)
//	GET  /v1/projects/{p}/secrets/{s}/versions/latest:access (Get)
//
// Credentials are Application Default Credentials, found as the official
// client finds them (golang.org/x/oauth2/google): the file named by
// GOOGLE_APPLICATION_CREDENTIALS, gcloud's application_default_credentials.json,
// or the metadata server (GCE, GKE workload identity, Cloud Run). The
// endpoint is https://secretmanager.googleapis.com unless Options.Endpoint or
// the RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT variable names another (an
// emulator or a test fake; plain http is allowed for loopback hosts only, so
// that a token is never sent in clear over a network).
//
// Nothing here ever puts the token, or a secret value read back, into an
// error or a log.
package gcp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/runnerctl/runnerctl/internal/secrets"
)

const (
	// EndpointEnv overrides the Secret Manager endpoint, such as
	// http://127.0.0.1:8085 for a local fake or emulator.
	EndpointEnv = "RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT"
	// DefaultEndpoint is Secret Manager's global endpoint.
	DefaultEndpoint = "https://secretmanager.googleapis.com"
	// Scope is the OAuth scope Secret Manager requires.
	Scope = "https://www.googleapis.com/auth/cloud-platform"
)

// Options configure a Store.
type Options struct {
	// Project is the project ID (or number) holding the secrets. Empty falls
	// back to GOOGLE_CLOUD_PROJECT, then to the credentials' project.
	Project string
	// Getenv reads the environment; nil means os.Getenv. It is asked for
	// RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT, GOOGLE_CLOUD_PROJECT,
	// GOOGLE_CLOUD_QUOTA_PROJECT and GOOGLE_APPLICATION_CREDENTIALS. (When
	// that last one is empty, the rest of ADC's chain reads the process
	// environment itself: HOME for gcloud's file, GCE_METADATA_HOST.)
	Getenv func(string) string
	// HTTPClient carries the API calls and the token requests; nil uses a
	// client with a 30s timeout. It must not add credentials itself.
	HTTPClient *http.Client
	// Endpoint overrides the Secret Manager endpoint (scheme://host[:port]);
	// empty uses RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT, else DefaultEndpoint.
	Endpoint string
	// TokenSource, when set, replaces ADC.
	TokenSource oauth2.TokenSource
}

// Store is Google Cloud Secret Manager.
type Store struct {
	project      string
	endpoint     string
	quotaProject string
	hc           *http.Client
}

var _ secrets.Store = (*Store)(nil)

// New resolves the endpoint, the project and the credentials (without
// fetching a token yet) and returns a Store.
func New(ctx context.Context, opts Options) (*Store, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = getenv(EndpointEnv)
	}
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	endpoint, err := normalizeEndpoint(endpoint)
	if err != nil {
		return nil, err
	}

	base := opts.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}

	ts := opts.TokenSource
	var credsProject, quotaProject string
	if ts == nil {
		// Token requests outlive New's ctx, and go through the same client.
		tctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, base)
		creds, err := findCredentials(tctx, getenv)
		if err != nil {
			return nil, fmt.Errorf("gcp: %w: no Application Default Credentials "+
				"(run gcloud auth application-default login, or set GOOGLE_APPLICATION_CREDENTIALS): %v", secrets.ErrAuth, err)
		}
		ts = creds.TokenSource
		credsProject = creds.ProjectID
		quotaProject = quotaProjectOf(creds.JSON)
	}
	if q := getenv("GOOGLE_CLOUD_QUOTA_PROJECT"); q != "" {
		quotaProject = q
	}

	project := opts.Project
	if project == "" {
		project = getenv("GOOGLE_CLOUD_PROJECT")
	}
	if project == "" {
		project = credsProject
	}
	if project == "" {
		return nil, errors.New("gcp: no project: set secrets.gcp.project in runnerctl.yaml, or GOOGLE_CLOUD_PROJECT")
	}
	if !validProject(project) {
		return nil, fmt.Errorf("gcp: %q is not a project ID or number", project)
	}

	transport := base.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	hc := *base
	hc.Transport = &oauth2.Transport{Source: oauth2.ReuseTokenSource(nil, tokenErrSource{ts}), Base: transport}
	return &Store{project: project, endpoint: endpoint, quotaProject: quotaProject, hc: &hc}, nil
}

// validProject accepts project IDs (6 to 30 of a-z, 0-9 and -; older ones
// may carry a "domain:" prefix) and project numbers, loosely: what matters
// is that it cannot change the request path. (No regexp: compiling one at
// package init would cost every start of runnerctl.)
func validProject(p string) bool {
	domain, id, found := strings.Cut(p, ":")
	if !found {
		domain, id = "", p
	} else if domain == "" || !only(domain, "abcdefghijklmnopqrstuvwxyz0123456789.-") {
		return false
	}
	return len(id) >= 1 && len(id) <= 63 && only(id, "abcdefghijklmnopqrstuvwxyz0123456789-")
}

// validSecretID: 1 to 255 letters, digits, - and _.
func validSecretID(id string) bool {
	return len(id) >= 1 && len(id) <= 255 && only(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}

func only(s, allowed string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(allowed, s[i]) < 0 {
			return false
		}
	}
	return true
}

func normalizeEndpoint(e string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(e))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("gcp: endpoint %q: want scheme://host[:port], such as %s", e, DefaultEndpoint)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", fmt.Errorf("gcp: endpoint %q: plain http is only allowed to a loopback address; the OAuth token would travel in clear", e)
	}
	p := strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/v1")
	return u.Scheme + "://" + u.Host + strings.TrimSuffix(p, "/"), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// findCredentials is ADC, with GOOGLE_APPLICATION_CREDENTIALS read through
// getenv. The file's type must be one ADC produces.
func findCredentials(ctx context.Context, getenv func(string) string) (*google.Credentials, error) {
	params := google.CredentialsParams{Scopes: []string{Scope}}
	path := getenv("GOOGLE_APPLICATION_CREDENTIALS")
	if path == "" {
		return google.FindDefaultCredentialsWithParams(ctx, params)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %w", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: not a JSON credentials file", path)
	}
	switch t := google.CredentialsType(f.Type); t {
	case google.ServiceAccount, google.AuthorizedUser, google.ExternalAccount,
		google.ExternalAccountAuthorizedUser, google.ImpersonatedServiceAccount:
		return google.CredentialsFromJSONWithTypeAndParams(ctx, b, t, params)
	}
	return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS %s: unsupported credentials type %q", path, f.Type)
}

func quotaProjectOf(credsJSON []byte) string {
	var f struct {
		QuotaProjectID string `json:"quota_project_id"`
	}
	if len(credsJSON) > 0 && json.Unmarshal(credsJSON, &f) == nil {
		return f.QuotaProjectID
	}
	return ""
}

// Backend implements secrets.Store.
func (s *Store) Backend() string { return "gcp" }

// Project is the project the store writes to.
func (s *Store) Project() string { return s.project }

// Endpoint is the Secret Manager endpoint in use.
func (s *Store) Endpoint() string { return s.endpoint }

// Check proves the credentials work and the project is reachable by getting
// the secret's metadata (secretmanager.secrets.get): a missing secret is
// fine. It changes nothing. Whether the credentials may create secrets and
// add versions is only known when Put does.
func (s *Store) Check(ctx context.Context, loc secrets.Location) error {
	if err := s.validate(loc); err != nil {
		return err
	}
	resp, err := s.do(ctx, http.MethodGet, s.secretPath(loc.Key), nil, nil)
	if err != nil {
		return s.transportErr(loc.Key, "get secret", err)
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound {
		return nil
	}
	return s.apiErr(loc.Key, "get secret", resp)
}

// Put adds tok as a new version of the secret, creating the secret (with
// automatic replication) when it is missing.
func (s *Store) Put(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	if err := s.validate(loc); err != nil {
		return err
	}
	if tok.IsZero() {
		return fmt.Errorf("gcp secret %q: refusing to store an empty token", loc.Key)
	}
	data := []byte(tok.Reveal())
	crc := crc32c(data)
	body, err := json.Marshal(map[string]any{"payload": map[string]string{
		"data":       base64.StdEncoding.EncodeToString(data),
		"dataCrc32c": strconv.FormatUint(uint64(crc), 10),
	}})
	if err != nil {
		return fmt.Errorf("gcp secret %q: encode payload", loc.Key)
	}
	redact := []string{tok.Reveal(), base64.StdEncoding.EncodeToString(data)}

	add := func() (*http.Response, error) {
		return s.do(ctx, http.MethodPost, s.secretPath(loc.Key)+":addVersion", nil, body)
	}
	resp, err := add()
	if err != nil {
		return s.transportErr(loc.Key, "add version", err)
	}
	if resp.StatusCode == http.StatusNotFound {
		drain(resp)
		if err := s.create(ctx, loc.Key); err != nil {
			return err
		}
		if resp, err = add(); err != nil {
			return s.transportErr(loc.Key, "add version", err)
		}
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return s.apiErr(loc.Key, "add version", resp, redact...)
	}
	return nil
}

func (s *Store) create(ctx context.Context, id string) error {
	body := []byte(`{"replication":{"automatic":{}}}`)
	q := url.Values{"secretId": {id}}
	resp, err := s.do(ctx, http.MethodPost, "/v1/projects/"+url.PathEscape(s.project)+"/secrets", q, body)
	if err != nil {
		return s.transportErr(id, "create secret", err)
	}
	defer drain(resp)
	// 409: created meanwhile by someone else, which is as good.
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusConflict {
		return nil
	}
	return s.apiErr(id, "create secret", resp)
}

// Get reads the latest version: ErrNotFound when the secret or any version
// is missing.
func (s *Store) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	if err := s.validate(loc); err != nil {
		return secrets.Token{}, err
	}
	resp, err := s.do(ctx, http.MethodGet, s.secretPath(loc.Key)+"/versions/latest:access", nil, nil)
	if err != nil {
		return secrets.Token{}, s.transportErr(loc.Key, "access latest version", err)
	}
	defer drain(resp)
	if resp.StatusCode != http.StatusOK {
		return secrets.Token{}, s.apiErr(loc.Key, "access latest version", resp)
	}
	var out struct {
		Payload struct {
			Data       string  `json:"data"`
			DataCrc32c *string `json:"dataCrc32c"`
		} `json:"payload"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return secrets.Token{}, fmt.Errorf("gcp secret %q: access latest version: %w: the answer is not a SecretVersion payload", loc.Key, secrets.ErrTransient)
	}
	data, err := base64.StdEncoding.DecodeString(out.Payload.Data)
	if err != nil {
		return secrets.Token{}, fmt.Errorf("gcp secret %q: access latest version: the payload is not base64", loc.Key)
	}
	if c := out.Payload.DataCrc32c; c != nil {
		want, err := strconv.ParseUint(*c, 10, 64)
		if err != nil || uint64(crc32c(data)) != want {
			return secrets.Token{}, fmt.Errorf("gcp secret %q: access latest version: %w: the payload does not match its CRC32C checksum", loc.Key, secrets.ErrTransient)
		}
	}
	if len(data) == 0 {
		return secrets.Token{}, fmt.Errorf("gcp secret %q: %w: the latest version is empty", loc.Key, secrets.ErrNotFound)
	}
	return secrets.NewToken(string(data)), nil
}

// crc32c is the Castagnoli CRC Secret Manager uses for dataCrc32c. The
// table is made on first use (the standard library caches it), not at
// package init.
func crc32c(b []byte) uint32 { return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)) }

func (s *Store) validate(loc secrets.Location) error {
	if !validSecretID(loc.Key) {
		return fmt.Errorf("gcp: secret ID %q: want 1 to 255 letters, digits, - or _", loc.Key)
	}
	if loc.Property != "" {
		return fmt.Errorf("gcp secret %q: properties are not supported (the secret holds the plain token), got %q", loc.Key, loc.Property)
	}
	return nil
}

func (s *Store) secretPath(id string) string {
	return "/v1/projects/" + url.PathEscape(s.project) + "/secrets/" + url.PathEscape(id)
}

func (s *Store) do(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Response, error) {
	u := s.endpoint + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "runnerctl")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.quotaProject != "" {
		req.Header.Set("X-Goog-User-Project", s.quotaProject)
	}
	return s.hc.Do(req)
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
}

// apiErr maps a Google error answer: 401 ErrAuth, 403 ErrPermission, 404
// ErrNotFound, 409 ErrConflict, 408/429/5xx ErrTransient.
func (s *Store) apiErr(id, op string, resp *http.Response, redact ...string) error {
	var body struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	detail := fmt.Sprintf("HTTP %d", resp.StatusCode)
	if json.Unmarshal(raw, &body) == nil && body.Error.Message != "" {
		msg := body.Error.Message
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		detail += " " + body.Error.Status + ": " + msg
	} else {
		detail += " " + http.StatusText(resp.StatusCode)
	}
	for _, r := range redact {
		if r != "" {
			detail = strings.ReplaceAll(detail, r, "[REDACTED]")
		}
	}
	var sentinel error
	hint := ""
	switch c := resp.StatusCode; {
	case c == http.StatusUnauthorized:
		sentinel = secrets.ErrAuth
		hint = " (refresh Application Default Credentials: gcloud auth application-default login)"
	case c == http.StatusForbidden:
		sentinel = secrets.ErrPermission
	case c == http.StatusNotFound:
		sentinel = secrets.ErrNotFound
	case c == http.StatusConflict:
		sentinel = secrets.ErrConflict
	case c == http.StatusRequestTimeout, c == http.StatusTooManyRequests, c >= 500:
		sentinel = secrets.ErrTransient
	}
	prefix := fmt.Sprintf("gcp secret %q in project %q: %s", id, s.project, op)
	if sentinel == nil {
		return fmt.Errorf("%s: %s", prefix, detail)
	}
	return fmt.Errorf("%s: %w (%s)%s", prefix, sentinel, detail, hint)
}

// transportErr maps a failure to get an answer at all: credentials that
// yield no token are ErrAuth (ErrTransient when the token service itself
// failed temporarily), timeouts ErrTransient. Such errors carry no request
// body, so no value can leak through them.
func (s *Store) transportErr(id, op string, err error) error {
	prefix := fmt.Sprintf("gcp secret %q in project %q: %s", id, s.project, op)
	var te *tokenError
	if errors.As(err, &te) {
		if te.transient() {
			return fmt.Errorf("%s: %w: getting an access token: %w", prefix, secrets.ErrTransient, err)
		}
		return fmt.Errorf("%s: %w: getting an access token from Application Default Credentials: %w", prefix, secrets.ErrAuth, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%s: %w: %w", prefix, secrets.ErrTransient, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// tokenErrSource marks the errors of getting a token, so that they can be
// told from the API call's own failures.
type tokenErrSource struct{ ts oauth2.TokenSource }

func (t tokenErrSource) Token() (*oauth2.Token, error) {
	tok, err := t.ts.Token()
	if err != nil {
		return nil, &tokenError{err: err}
	}
	return tok, nil
}

type tokenError struct{ err error }

func (e *tokenError) Error() string { return e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func (e *tokenError) transient() bool {
	var re *oauth2.RetrieveError
	if errors.As(e.err, &re) && re.Response != nil {
		c := re.Response.StatusCode
		return c >= 500 || c == http.StatusTooManyRequests
	}
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}
