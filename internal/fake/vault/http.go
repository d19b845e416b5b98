package vault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// response is an answer built before it is written.
type response = inject.Response

func jsonResponse(status int, v any) *response {
	r := inject.JSON(status, "application/json", v)
	r.Header.Set("Cache-Control", "no-store")
	return r
}

// vaultError is Vault's error body: {"errors":["..."]}.
func vaultError(status int, msgs ...string) *response {
	if msgs == nil {
		msgs = []string{}
	}
	return jsonResponse(status, map[string][]string{"errors": msgs})
}

// envelope is the body of a successful logical response.
func envelope(data any) map[string]any {
	return map[string]any{
		"request_id":     randomID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           nil,
	}
}

const msgPermissionDenied = "permission denied"

// failure is the answer FailNext gives for status.
func failure(status int) *response {
	switch status {
	case http.StatusBadRequest:
		return vaultError(status, "invalid request")
	case http.StatusForbidden:
		return vaultError(status, msgPermissionDenied)
	case http.StatusNotFound:
		return vaultError(status)
	case http.StatusTooManyRequests:
		// sdk/logical: a rate limit quota answers 429 with this text.
		return vaultError(status, "request path \"\": rate limit quota exceeded")
	case http.StatusInternalServerError:
		return vaultError(status, "internal error")
	case http.StatusServiceUnavailable:
		return vaultError(status, "Vault is sealed")
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		// A load balancer's page, not Vault's JSON.
		h := http.Header{}
		h.Set("Content-Type", "text/html")
		body := fmt.Sprintf("<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return &response{Status: status, Header: h, Body: []byte(body)}
	}
	return vaultError(status, strings.ToLower(http.StatusText(status)))
}

// call is one request being handled.
type call struct {
	r      *http.Request
	method string // GET, PUT (POST is PUT), LIST, DELETE
	path   string // without /v1/ and without a trailing slash
	body   []byte
	tok    *token
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	line := r.Method + " " + r.URL.Path
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		s.finish(w, r, line, "", &response{Status: http.StatusNotFound, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: []byte("404 page not found\n")})
		return
	}
	method := r.Method
	switch {
	case method == http.MethodPost:
		method = http.MethodPut // Vault treats them alike
	case method == http.MethodGet && r.URL.Query().Get("list") == "true":
		method = "LIST"
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.finish(w, r, line, "", vaultError(http.StatusBadRequest, "failed to read request body"))
		return
	}
	c := &call{r: r, method: method, path: strings.TrimSuffix(rest, "/"), body: body}
	op := s.opFor(c)

	var resp *response
	if op != "" {
		if status, ok := s.inj.Take(op); ok {
			resp = failure(status)
		} else {
			s.inj.RunHook(op)
		}
	}
	if resp == nil {
		resp = s.handle(c)
	}
	s.finish(w, r, line, op, resp)
}

// opFor names the operation of c, for faults; "" for paths that have none.
func (s *Server) opFor(c *call) string {
	switch {
	case c.path == "auth/token/lookup-self":
		return OpLookup
	case strings.HasPrefix(c.path, "sys/internal/ui/mounts/"):
		return OpMounts
	case c.path == "sys/capabilities-self":
		return OpCapabilities
	case strings.HasPrefix(c.path, "auth/") && strings.HasSuffix(c.path, "/login"):
		return OpLogin
	case strings.HasPrefix(c.path, "sys/") || strings.HasPrefix(c.path, "auth/"):
		return ""
	case c.method == http.MethodPut:
		return OpWrite
	case c.method == http.MethodGet || c.method == "LIST":
		return OpRead
	}
	return ""
}

func (s *Server) handle(c *call) *response {
	if ns := strings.Trim(c.r.Header.Get("X-Vault-Namespace"), "/"); ns != s.currentNamespace() {
		// Tokens and mounts live in their namespace: none of them is found.
		return vaultError(http.StatusForbidden, msgPermissionDenied)
	}
	// AppRole login is the only unauthenticated path here.
	if c.method == http.MethodPut && strings.HasPrefix(c.path, "auth/") && strings.HasSuffix(c.path, "/login") {
		mount := strings.TrimSuffix(strings.TrimPrefix(c.path, "auth/"), "/login")
		if s.authEnabled(mount) {
			return s.login(c, mount)
		}
	}
	if strings.HasPrefix(c.path, "sys/internal/ui/mounts/") && c.method == http.MethodGet {
		// The UI preflight is unauthenticated in Vault's router and checks
		// the token itself; a bad token still gets 403.
		return s.uiMount(c)
	}
	tok := s.lookupToken(c.r)
	if tok == nil {
		return vaultError(http.StatusForbidden, msgPermissionDenied)
	}
	c.tok = tok
	switch {
	case c.path == "auth/token/lookup-self":
		if c.method != http.MethodGet {
			return vaultError(http.StatusMethodNotAllowed, "unsupported operation")
		}
		if !s.allowed(tok, c.path, CapRead) {
			return vaultError(http.StatusForbidden, msgPermissionDenied)
		}
		return s.lookupSelf(tok)
	case c.path == "sys/capabilities-self":
		if c.method != http.MethodPut {
			return vaultError(http.StatusMethodNotAllowed, "unsupported operation")
		}
		if !s.allowed(tok, c.path, CapUpdate) {
			return vaultError(http.StatusForbidden, msgPermissionDenied)
		}
		return s.capabilitiesSelf(c)
	}
	return s.logical(c)
}

func (s *Server) currentNamespace() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.namespace
}

func (s *Server) authEnabled(mount string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths[mount]
}

func (s *Server) lookupToken(r *http.Request) *token {
	v := r.Header.Get("X-Vault-Token")
	if v == "" {
		v, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if v == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[v]
}

func (s *Server) allowed(t *token, path, capability string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rules, root := s.aclFor(t)
	return allowed(rules, root, path, capability)
}

func (s *Server) login(c *call, mount string) *response {
	var in struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	if err := json.Unmarshal(c.body, &in); err != nil && len(bytes.TrimSpace(c.body)) > 0 {
		return vaultError(http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
	}
	if in.RoleID == "" {
		return vaultError(http.StatusBadRequest, "missing role_id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var role *approle
	for _, a := range s.approles {
		if a.mount == mount && a.roleID == in.RoleID && a.secretID == in.SecretID {
			role = a
		}
	}
	if role == nil {
		return vaultError(http.StatusBadRequest, "invalid role or secret ID")
	}
	value := "hvs." + randomHex(12)
	s.addToken(value, "auth/"+mount+"/login", role.policies)
	t := s.tokens[value]
	body := envelope(nil)
	body["auth"] = map[string]any{
		"client_token":   value,
		"accessor":       t.accessor,
		"policies":       t.policies,
		"token_policies": t.policies,
		"metadata":       map[string]string{"role_name": "runnerctl"},
		"lease_duration": 3600,
		"renewable":      true,
		"entity_id":      "",
		"token_type":     "service",
		"orphan":         true,
	}
	return jsonResponse(http.StatusOK, body)
}

func (s *Server) lookupSelf(t *token) *response {
	return jsonResponse(http.StatusOK, envelope(map[string]any{
		"accessor":         t.accessor,
		"creation_time":    t.created.Unix(),
		"creation_ttl":     0,
		"display_name":     "token",
		"entity_id":        "",
		"expire_time":      nil,
		"explicit_max_ttl": 0,
		"id":               t.value,
		"issue_time":       t.created.UTC().Format(time.RFC3339Nano),
		"meta":             nil,
		"num_uses":         0,
		"orphan":           true,
		"path":             t.path,
		"policies":         t.policies,
		"renewable":        false,
		"ttl":              0,
		"type":             "service",
	}))
}

func (s *Server) capabilitiesSelf(c *call) *response {
	var in map[string]any
	if err := json.Unmarshal(c.body, &in); err != nil {
		return vaultError(http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
	}
	var paths []string
	for _, field := range []string{"paths", "path"} {
		switch v := in[field].(type) {
		case string:
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					paths = append(paths, p)
				}
			}
		case []any:
			for _, e := range v {
				if p, ok := e.(string); ok && p != "" {
					paths = append(paths, p)
				}
			}
		}
	}
	if len(paths) == 0 {
		return vaultError(http.StatusBadRequest, "missing paths")
	}
	s.mu.Lock()
	rules, root := s.aclFor(c.tok)
	s.mu.Unlock()
	data := map[string]any{}
	for _, p := range paths {
		data[strings.TrimPrefix(p, "/")] = capabilities(rules, root, strings.TrimPrefix(p, "/"))
	}
	if len(paths) == 1 {
		data["capabilities"] = data[strings.TrimPrefix(paths[0], "/")]
	}
	// For backward compatibility Vault also puts the fields at the top.
	body := envelope(data)
	for k, v := range data {
		body[k] = v
	}
	return jsonResponse(http.StatusOK, body)
}

func (s *Server) uiMount(c *call) *response {
	p := strings.TrimPrefix(c.path, "sys/internal/ui/mounts/")
	p = strings.Trim(p, "/") + "/"
	denied := vaultError(http.StatusForbidden, fmt.Sprintf("preflight capability check returned 403, please ensure client's policies grant access to path %q", p))
	s.mu.Lock()
	defer s.mu.Unlock()
	m, _ := s.findMount(strings.TrimSuffix(p, "/"))
	if m == nil {
		return denied
	}
	v := c.r.Header.Get("X-Vault-Token")
	if v == "" {
		v, _ = strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer ")
	}
	t := s.tokens[v]
	if t == nil {
		return vaultError(http.StatusForbidden, msgPermissionDenied)
	}
	rules, root := s.aclFor(t)
	if !hasMountAccess(rules, root, m.path) {
		return denied
	}
	return jsonResponse(http.StatusOK, envelope(map[string]any{
		"accessor":                m.accessor,
		"config":                  map[string]any{"default_lease_ttl": 0, "force_no_cache": false, "max_lease_ttl": 0},
		"description":             "key/value secret storage",
		"external_entropy_access": false,
		"local":                   false,
		"options":                 map[string]string{"version": strconv.Itoa(m.version)},
		"path":                    m.path,
		"plugin_version":          "",
		"running_plugin_version":  "v0.24.0+builtin",
		"running_sha256":          "",
		"seal_wrap":               false,
		"type":                    "kv",
		"uuid":                    m.uuid,
	}))
}

// logical serves paths under secrets engines.
func (s *Server) logical(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	rules, root := s.aclFor(c.tok)
	capability := CapRead
	switch c.method {
	case "LIST":
		capability = CapList
	case http.MethodDelete:
		capability = CapDelete
	case http.MethodPut:
		capability = CapUpdate
		if !s.exists(c.path) {
			capability = CapCreate
		}
	}
	// ACLs come first: a token without a policy for the path learns nothing
	// about what is (not) mounted there.
	if !allowed(rules, root, c.path, capability) {
		return vaultError(http.StatusForbidden, msgPermissionDenied)
	}
	m, rest := s.findMount(c.path)
	if m == nil || strings.HasPrefix(c.path, "sys/") {
		return vaultError(http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", c.path))
	}
	if m.version == 1 {
		return m.kv1(c, rest)
	}
	return m.kv2(c, rest)
}

// exists is the data path's existence check; s.mu must be held.
func (s *Server) exists(path string) bool {
	m, rest := s.findMount(path)
	if m == nil {
		return false
	}
	if m.version == 1 {
		_, ok := m.v1[rest]
		return ok
	}
	key, ok := strings.CutPrefix(rest, "data/")
	return ok && m.v2[key] != nil
}

func (m *mount) kv1(c *call, key string) *response {
	switch c.method {
	case http.MethodGet:
		d, ok := m.v1[key]
		if !ok {
			return vaultError(http.StatusNotFound)
		}
		return jsonResponse(http.StatusOK, envelope(d))
	case http.MethodPut:
		var d map[string]any
		if err := json.Unmarshal(c.body, &d); err != nil {
			return vaultError(http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
		}
		m.v1[key] = d
		return &response{Status: http.StatusNoContent, Header: http.Header{}}
	}
	return vaultError(http.StatusMethodNotAllowed, "unsupported operation")
}

func (m *mount) kv2(c *call, rest string) *response {
	switch {
	case strings.HasPrefix(rest, "data/"):
		key := strings.TrimPrefix(rest, "data/")
		switch c.method {
		case http.MethodGet:
			return m.readData(c, key)
		case http.MethodPut:
			return m.writeData(c, key)
		}
		return vaultError(http.StatusMethodNotAllowed, "unsupported operation")
	case strings.HasPrefix(rest, "metadata/") && c.method == http.MethodGet:
		return m.readMetadata(strings.TrimPrefix(rest, "metadata/"))
	}
	// sdk/framework: a path the backend has no pattern for.
	return vaultError(http.StatusNotFound, "1 error occurred:\n\t* unsupported path\n\n")
}

func versionMetadata(sec *kvSecret, n int) map[string]any {
	v := sec.versions[n-1]
	deletion := ""
	if v.deleted != nil {
		deletion = v.deleted.UTC().Format(time.RFC3339Nano)
	}
	return map[string]any{
		"created_time":    v.created.Format(time.RFC3339Nano),
		"custom_metadata": nil,
		"deletion_time":   deletion,
		"destroyed":       v.destroyed,
		"version":         n,
	}
}

func (m *mount) readData(c *call, key string) *response {
	sec := m.v2[key]
	if sec == nil || sec.current() == 0 {
		return vaultError(http.StatusNotFound)
	}
	n := sec.current()
	if q := c.r.URL.Query().Get("version"); q != "" && q != "0" {
		v, err := strconv.Atoi(q)
		if err != nil {
			return vaultError(http.StatusBadRequest, fmt.Sprintf("error converting input %s for field %q: strconv.ParseInt: parsing %q: invalid syntax", q, "version", q))
		}
		if v < 1 || v > n {
			return vaultError(http.StatusNotFound)
		}
		n = v
	}
	v := sec.versions[n-1]
	data := map[string]any{"data": nil, "metadata": versionMetadata(sec, n)}
	if v.deleted != nil || v.destroyed {
		// path_data.go: deleted or destroyed versions answer 404 with their
		// metadata and null data.
		return jsonResponse(http.StatusNotFound, envelope(data))
	}
	data["data"] = v.data
	return jsonResponse(http.StatusOK, envelope(data))
}

func (m *mount) writeData(c *call, key string) *response {
	if key == "" {
		return vaultError(http.StatusBadRequest, "missing path")
	}
	var in map[string]json.RawMessage
	if err := json.Unmarshal(c.body, &in); err != nil {
		return vaultError(http.StatusBadRequest, "failed to parse JSON input: "+err.Error())
	}
	raw, ok := in["data"]
	if !ok || string(raw) == "null" {
		return vaultError(http.StatusBadRequest, "no data provided")
	}
	var data map[string]any
	if err := json.Unmarshal(raw, &data); err != nil {
		return vaultError(http.StatusBadRequest, fmt.Sprintf("error converting input for field %q: %v", "data", err))
	}
	current := 0
	if sec := m.v2[key]; sec != nil {
		current = sec.current()
	}
	if opts, ok := in["options"]; ok && string(opts) != "null" {
		var o map[string]any
		if err := json.Unmarshal(opts, &o); err != nil {
			return vaultError(http.StatusBadRequest, fmt.Sprintf("error converting input for field %q: %v", "options", err))
		}
		if casRaw, ok := o["cas"]; ok {
			cas, ok := toInt(casRaw)
			if !ok {
				return vaultError(http.StatusBadRequest, "error parsing check-and-set parameter")
			}
			if cas != current {
				return vaultError(http.StatusBadRequest, "check-and-set parameter did not match the current version")
			}
		}
	}
	sec := m.put(key, data)
	return jsonResponse(http.StatusOK, envelope(versionMetadata(sec, sec.current())))
}

func (m *mount) readMetadata(key string) *response {
	sec := m.v2[key]
	if sec == nil {
		return vaultError(http.StatusNotFound)
	}
	versions := map[string]any{}
	for i := range sec.versions {
		md := versionMetadata(sec, i+1)
		delete(md, "custom_metadata")
		delete(md, "version")
		versions[strconv.Itoa(i+1)] = md
	}
	return jsonResponse(http.StatusOK, envelope(map[string]any{
		"cas_required":         false,
		"created_time":         sec.created.Format(time.RFC3339Nano),
		"current_version":      sec.current(),
		"custom_metadata":      nil,
		"delete_version_after": "0s",
		"max_versions":         0,
		"oldest_version":       0,
		"updated_time":         sec.updated.Format(time.RFC3339Nano),
		"versions":             versions,
	}))
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			return 0, false
		}
		return int(n), true
	case string:
		i, err := strconv.Atoi(n)
		return i, err == nil
	}
	return 0, false
}

// finish applies op's delay ("" has none), logs the request and writes
// resp. The delay comes after the server has acted and is cut short when
// the client hangs up or the server closes.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, line, op string, resp *response) {
	if op != "" {
		s.inj.Wait(r.Context(), op)
	}
	s.inj.Log(line + " " + strconv.Itoa(resp.Status))
	resp.Write(w)
}
