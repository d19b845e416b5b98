package infisical

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

type response = inject.Response

func jsonResponse(status int, v any) *response {
	return inject.JSON(status, "application/json; charset=utf-8", v)
}

// apiError is the body of error-handler.ts.
func apiError(status int, name, message string) *response {
	return jsonResponse(status, map[string]any{
		"reqId":      "req-" + randomHex(8),
		"statusCode": status,
		"message":    message,
		"error":      name,
	})
}

func badRequest(msg string) *response { return apiError(http.StatusBadRequest, "BadRequest", msg) }

func notFound(name, msg string) *response {
	if name == "" {
		name = "NotFound"
	}
	return apiError(http.StatusNotFound, name, msg)
}

// folderNotFound is the secret endpoints' 404 for a missing environment or
// folder; name is the endpoint's ("GetSecretByName").
func folderNotFound(name, path, env string) *response {
	return notFound(name, fmt.Sprintf("Folder with path '%s' in environment with slug '%s' not found", path, env))
}

// permissionDenied is a CASL ForbiddenError.
func permissionDenied(action, subject string) *response {
	return jsonResponse(http.StatusForbidden, map[string]any{
		"reqId":      "req-" + randomHex(8),
		"statusCode": http.StatusForbidden,
		"error":      "PermissionDenied",
		"message":    fmt.Sprintf("You are not allowed to %s on %s", action, subject),
		"details":    []any{},
	})
}

// validationFailure is a zod error: 422 with the issues as the message.
func validationFailure(field, message string) *response {
	return jsonResponse(http.StatusUnprocessableEntity, map[string]any{
		"reqId":      "req-" + randomHex(8),
		"statusCode": http.StatusUnprocessableEntity,
		"error":      "ValidationFailure",
		"message": []map[string]any{{
			"code":     "invalid_type",
			"expected": "string",
			"received": "undefined",
			"path":     []string{field},
			"message":  message,
		}},
	})
}

const (
	msgTokenMalformed = "The provided access token is malformed. Please use a valid token or generate a new one and try again."
	msgTokenExpired   = "Your token has expired. Please re-authenticate."
)

// failure is the answer FailNext gives for status.
func failure(status int) *response {
	switch status {
	case http.StatusBadRequest:
		return badRequest("The request is invalid")
	case http.StatusUnauthorized:
		return apiError(status, "UnauthorizedError", "You are not allowed to access this resource")
	case http.StatusForbidden:
		return apiError(status, "ForbiddenError", "You are not allowed to access this resource")
	case http.StatusNotFound:
		return notFound("", "The requested entity is not found")
	case http.StatusTooManyRequests:
		r := jsonResponse(status, map[string]any{"statusCode": 429, "error": "Too Many Requests", "message": "Rate limit exceeded, retry in 1 minute"})
		r.Header.Set("Retry-After", "60")
		return r
	case http.StatusInternalServerError:
		return apiError(status, "InternalServerError", "Something went wrong")
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		h := http.Header{}
		h.Set("Content-Type", "text/html")
		body := fmt.Sprintf("<html><head><title>%d %s</title></head><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status), status, http.StatusText(status))
		return &response{Status: status, Header: h, Body: []byte(body)}
	}
	return apiError(status, strings.ReplaceAll(http.StatusText(status), " ", ""), http.StatusText(status))
}

type call struct {
	r     *http.Request
	query url.Values
	body  map[string]any
	id    *identity
}

type route struct {
	method  string
	pattern *regexp.Regexp
	op      string
	auth    bool
	handle  func(s *Server, c *call, params []string) *response
}

var routes = []route{
	{http.MethodPost, regexp.MustCompile(`^/api/v1/auth/universal-auth/login$`), OpLogin, false, (*Server).login},
	{http.MethodGet, regexp.MustCompile(`^/api/v1/projects/slug/([^/]+)$`), OpProject, true, (*Server).projectBySlug},
	{http.MethodGet, regexp.MustCompile(`^/api/v1/folders/?$`), OpFolders, true, (*Server).listFolders},
	{http.MethodPost, regexp.MustCompile(`^/api/v1/folders/?$`), OpFolders, true, (*Server).createFolder},
	{http.MethodGet, regexp.MustCompile(`^/api/v3/secrets/raw/([^/]+)$`), OpRead, true, (*Server).readSecret},
	{http.MethodPost, regexp.MustCompile(`^/api/v3/secrets/raw/([^/]+)$`), OpCreate, true, (*Server).createSecret},
	{http.MethodPatch, regexp.MustCompile(`^/api/v3/secrets/raw/([^/]+)$`), OpUpdate, true, (*Server).updateSecret},
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	line := r.Method + " " + path
	var rt *route
	var params []string
	for i := range routes {
		if routes[i].method != r.Method {
			continue
		}
		if m := routes[i].pattern.FindStringSubmatch(path); m != nil {
			rt = &routes[i]
			for _, p := range m[1:] {
				u, err := url.PathUnescape(p)
				if err != nil {
					u = p
				}
				params = append(params, u)
			}
			break
		}
	}
	if rt == nil {
		// Fastify's own not-found answer.
		s.finish(w, r, line, "", jsonResponse(http.StatusNotFound, map[string]any{
			"message":    fmt.Sprintf("Route %s:%s not found", r.Method, r.URL.Path),
			"error":      "Not Found",
			"statusCode": http.StatusNotFound,
		}))
		return
	}
	c := &call{r: r, query: r.URL.Query()}
	var resp *response
	if status, ok := s.inj.Take(rt.op); ok {
		resp = failure(status)
	} else {
		s.inj.RunHook(rt.op)
		resp = s.handle(rt, c, params)
	}
	s.finish(w, r, line, rt.op, resp)
}

func (s *Server) handle(rt *route, c *call, params []string) *response {
	if c.r.Method != http.MethodGet {
		raw, err := io.ReadAll(io.LimitReader(c.r.Body, 1<<20))
		if err != nil {
			return badRequest("failed to read body")
		}
		if len(strings.TrimSpace(string(raw))) > 0 {
			if !strings.HasPrefix(c.r.Header.Get("Content-Type"), "application/json") {
				return jsonResponse(http.StatusUnsupportedMediaType, map[string]any{"statusCode": 415, "code": "FST_ERR_CTP_INVALID_MEDIA_TYPE", "error": "Unsupported Media Type", "message": "Unsupported Media Type: " + c.r.Header.Get("Content-Type")})
			}
			if err := json.Unmarshal(raw, &c.body); err != nil {
				return jsonResponse(http.StatusBadRequest, map[string]any{"statusCode": 400, "code": "FST_ERR_CTP_INVALID_JSON_BODY", "error": "Bad Request", "message": "Body is not valid JSON but content-type is set to 'application/json'"})
			}
		}
		if c.body == nil {
			c.body = map[string]any{}
		}
	}
	if rt.auth {
		id, errResp := s.authenticate(c.r)
		if errResp != nil {
			return errResp
		}
		c.id = id
	}
	return rt.handle(s, c, params)
}

func (s *Server) authenticate(r *http.Request) (*identity, *response) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, apiError(http.StatusUnauthorized, "UnauthorizedError", "Token missing")
	}
	value := h
	if len(h) > 7 {
		value = h[7:] // inject-identity.ts slices off "Bearer "
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tokens[value]
	if t == nil {
		return nil, apiError(http.StatusForbidden, "TokenError", msgTokenMalformed)
	}
	if !t.expires.IsZero() && time.Now().After(t.expires) {
		return nil, apiError(http.StatusForbidden, "TokenError", msgTokenExpired)
	}
	return t.identity, nil
}

func (s *Server) login(c *call, _ []string) *response {
	clientID, ok1 := c.body["clientId"].(string)
	clientSecret, ok2 := c.body["clientSecret"].(string)
	if !ok1 {
		return validationFailure("clientId", "Required")
	}
	if !ok2 {
		return validationFailure("clientSecret", "Required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.identities[strings.TrimSpace(clientID)]
	if id == nil || id.clientSecret != strings.TrimSpace(clientSecret) {
		return apiError(http.StatusUnauthorized, "UnauthorizedError", "Invalid credentials")
	}
	// Real access tokens are JWTs; clients must treat them as opaque.
	value := "eyJhbGciOiJIUzI1NiJ9." + randomHex(24) + "." + randomHex(16)
	t := &accessToken{identity: id}
	if s.tokenTTL > 0 {
		t.expires = time.Now().Add(s.tokenTTL)
	}
	s.tokens[value] = t
	ttl := int(s.tokenTTL / time.Second)
	return jsonResponse(http.StatusOK, map[string]any{
		"accessToken":       value,
		"expiresIn":         ttl,
		"accessTokenMaxTTL": ttl,
		"tokenType":         "Bearer",
	})
}

// member returns the identity's role in p; the response is set when it is
// not a member. s.mu must be held.
func member(id *identity, p *project) (string, *response) {
	role, ok := id.roles[p.id]
	if !ok {
		return "", jsonResponse(http.StatusForbidden, map[string]any{
			"reqId":      "req-" + randomHex(8),
			"statusCode": http.StatusForbidden,
			"message":    "You are not allowed to access this resource",
			"error":      fmt.Sprintf("Identity is not a member of the specified project with ID '%s'", p.id),
		})
	}
	return role, nil
}

func canWrite(role string) bool { return role == RoleAdmin || role == RoleMember }
func canRead(role string) bool  { return role != RoleNoAccess }

func (s *Server) projectBySlug(c *call, params []string) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.projects[params[0]]
	if p == nil {
		return notFound("", fmt.Sprintf("Project with slug '%s' not found", params[0]))
	}
	if _, errResp := member(c.id, p); errResp != nil {
		return errResp
	}
	envs := []map[string]string{}
	for _, e := range p.envs {
		envs = append(envs, map[string]string{"id": e.id, "name": e.name, "slug": e.slug})
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"id":                    p.id,
		"_id":                   p.id,
		"name":                  p.name,
		"slug":                  p.slug,
		"orgId":                 orgID,
		"type":                  "secret-manager",
		"autoCapitalization":    false,
		"enforceCapitalization": false,
		"version":               3,
		"createdAt":             p.created.Format(time.RFC3339Nano),
		"updatedAt":             p.created.Format(time.RFC3339Nano),
		"environments":          envs,
	})
}

// projectFrom finds a project from workspaceId (or projectSlug, where the
// endpoint takes it); s.mu must be held.
func (s *Server) projectFrom(id *identity, workspaceID, slug string) (*project, string, *response) {
	var p *project
	switch {
	case workspaceID != "":
		for _, q := range s.projects {
			if q.id == workspaceID {
				p = q
			}
		}
		if p == nil {
			// permission-service: no membership is found for an unknown ID.
			return nil, "", jsonResponse(http.StatusForbidden, map[string]any{
				"reqId":      "req-" + randomHex(8),
				"statusCode": http.StatusForbidden,
				"message":    "You are not allowed to access this resource",
				"error":      fmt.Sprintf("Identity is not a member of the specified project with ID '%s'", workspaceID),
			})
		}
	case slug != "":
		if p = s.projects[slug]; p == nil {
			return nil, "", notFound("", fmt.Sprintf("Project with slug '%s' not found", slug))
		}
	default:
		return nil, "", badRequest("Must provide either project slug or projectId")
	}
	role, errResp := member(id, p)
	if errResp != nil {
		return nil, "", errResp
	}
	return p, role, nil
}

var folderName = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// cleanPath is zod's trim + removeTrailingSlash, then the DAL's check.
func cleanPath(p string) (string, *response) {
	p = strings.TrimSpace(p)
	if p == "" {
		p = "/"
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if !strings.HasPrefix(p, "/") {
		return "", badRequest("Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed.")
	}
	for _, seg := range segments(p) {
		if !folderName.MatchString(seg) {
			return "", badRequest("Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed.")
		}
	}
	if strings.Contains(p, "//") {
		return "", badRequest("Invalid secret path. Only alphanumeric characters, dashes, and underscores are allowed.")
	}
	return p, nil
}

func str(m map[string]any, k string) (string, bool) {
	v, ok := m[k]
	if !ok || v == nil {
		return "", false
	}
	s, ok := v.(string)
	return strings.TrimSpace(s), ok
}

func (s *Server) listFolders(c *call, _ []string) *response {
	workspaceID := strings.TrimSpace(c.query.Get("workspaceId"))
	if workspaceID == "" {
		return validationFailure("workspaceId", "Required")
	}
	env := strings.TrimSpace(c.query.Get("environment"))
	if env == "" {
		return validationFailure("environment", "Required")
	}
	path, errResp := cleanPath(c.query.Get("path"))
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, _, errResp := s.projectFrom(c.id, workspaceID, "")
	if errResp != nil {
		return errResp
	}
	e := p.env(env)
	if e == nil {
		return notFound("", fmt.Sprintf("Environment with slug '%s' not found", env))
	}
	folders := []map[string]any{}
	if f := e.find(path); f != nil {
		for _, ch := range f.children {
			folders = append(folders, folderJSON(ch, e))
		}
	}
	return jsonResponse(http.StatusOK, map[string]any{"folders": folders})
}

func folderJSON(f *folder, e *environment) map[string]any {
	var parentID any
	if f.parent != nil {
		parentID = f.parent.id
	}
	return map[string]any{
		"id":         f.id,
		"name":       f.name,
		"envId":      e.id,
		"parentId":   parentID,
		"version":    1,
		"isReserved": false,
		"createdAt":  f.created.Format(time.RFC3339Nano),
		"updatedAt":  f.created.Format(time.RFC3339Nano),
	}
}

func (s *Server) createFolder(c *call, _ []string) *response {
	workspaceID, ok := str(c.body, "workspaceId")
	if !ok {
		return validationFailure("workspaceId", "Required")
	}
	env, ok := str(c.body, "environment")
	if !ok {
		return validationFailure("environment", "Required")
	}
	name, ok := str(c.body, "name")
	if !ok {
		return validationFailure("name", "Required")
	}
	rawPath, _ := str(c.body, "path")
	if rawPath == "" {
		rawPath, _ = str(c.body, "directory")
	}
	path, errResp := cleanPath(rawPath)
	if errResp != nil {
		return errResp
	}
	if !folderName.MatchString(name) {
		return badRequest("Invalid folder name. Only alphanumeric characters, dashes, and underscores are allowed.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, role, errResp := s.projectFrom(c.id, workspaceID, "")
	if errResp != nil {
		return errResp
	}
	if !canWrite(role) {
		return permissionDenied("create", "secret-folders")
	}
	e := p.env(env)
	if e == nil {
		return notFound("", fmt.Sprintf("Environment with slug '%s' in project with ID '%s' not found", env, p.id))
	}
	// Current Infisical creates the missing parents too.
	parent := e.root
	for _, seg := range segments(path) {
		if parent.children[seg] == nil {
			parent.children[seg] = newFolder(seg, parent)
		}
		parent = parent.children[seg]
	}
	if parent.children[name] != nil {
		return badRequest(fmt.Sprintf("Folder with name '%s' already exists in path '%s'", name, path))
	}
	f := newFolder(name, parent)
	parent.children[name] = f
	out := folderJSON(f, e)
	out["path"] = f.path()
	return jsonResponse(http.StatusOK, map[string]any{"folder": out})
}

func secretJSON(p *project, e *environment, path string, sec *secret) map[string]any {
	return map[string]any{
		"id":                    sec.id,
		"_id":                   sec.id,
		"workspace":             p.id,
		"environment":           e.slug,
		"secretPath":            path,
		"version":               sec.version,
		"type":                  "shared",
		"secretKey":             sec.key,
		"secretValue":           sec.value,
		"secretComment":         sec.comment,
		"secretValueHidden":     false,
		"skipMultilineEncoding": false,
		"createdAt":             sec.created.Format(time.RFC3339Nano),
		"updatedAt":             sec.updated.Format(time.RFC3339Nano),
		"tags":                  []any{},
		"secretMetadata":        []any{},
	}
}

func (s *Server) readSecret(c *call, params []string) *response {
	name := strings.TrimSpace(params[0])
	env := strings.TrimSpace(c.query.Get("environment"))
	path, errResp := cleanPath(c.query.Get("secretPath"))
	if errResp != nil {
		return errResp
	}
	if t := c.query.Get("type"); t != "" && t != "shared" && t != "personal" {
		return validationFailure("type", "Invalid enum value. Expected 'shared' | 'personal', received '"+t+"'")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	workspaceID, slug := strings.TrimSpace(c.query.Get("workspaceId")), strings.TrimSpace(c.query.Get("workspaceSlug"))
	var p *project
	var role string
	if workspaceID != "" || slug != "" {
		p, role, errResp = s.projectFrom(c.id, workspaceID, slug)
		if errResp != nil {
			return errResp
		}
	}
	if env == "" {
		return badRequest("Missing environment")
	}
	if p == nil {
		return badRequest("You must provide workspaceSlug or workspaceId")
	}
	e, f := p.folder(env, path)
	if f == nil {
		return folderNotFound("GetSecretByName", path, env)
	}
	if !canRead(role) {
		return permissionDenied("describeSecret", "secrets")
	}
	sec := f.secrets[name]
	if sec == nil || c.query.Get("type") == "personal" {
		return notFound("", fmt.Sprintf("Secret with name '%s' not found", name))
	}
	return jsonResponse(http.StatusOK, map[string]any{"secret": secretJSON(p, e, path, sec)})
}

// writeInput is the body both create and update take.
type writeInput struct {
	env, path         string
	workspaceID, slug string // the project, by ID or by slug
	value             string
	hasValue          bool
}

func (s *Server) writeInput(c *call) (*writeInput, *response) {
	in := &writeInput{}
	var ok bool
	if in.env, ok = str(c.body, "environment"); !ok {
		return nil, validationFailure("environment", "Required")
	}
	rawPath, _ := str(c.body, "secretPath")
	var errResp *response
	if in.path, errResp = cleanPath(rawPath); errResp != nil {
		return nil, errResp
	}
	if v, present := c.body["secretValue"]; present {
		sv, ok := v.(string)
		if !ok {
			return nil, validationFailure("secretValue", "Expected string, received "+fmt.Sprintf("%T", v))
		}
		// secret-router.ts: values are trimmed, a trailing newline kept.
		if strings.HasSuffix(sv, "\n") {
			sv = strings.TrimSpace(sv) + "\n"
		} else {
			sv = strings.TrimSpace(sv)
		}
		in.value, in.hasValue = sv, true
	}
	if t, ok := str(c.body, "type"); ok && t != "shared" {
		return nil, badRequest("Must be user to create personal secret")
	}
	in.workspaceID, _ = str(c.body, "workspaceId")
	in.slug, _ = str(c.body, "projectSlug")
	return in, nil
}

func (s *Server) createSecret(c *call, params []string) *response {
	name := strings.TrimSpace(params[0])
	if name == "" || strings.ContainsAny(name, " \t\n/") {
		return validationFailure("secretName", "Invalid secret name")
	}
	in, errResp := s.writeInput(c)
	if errResp != nil {
		return errResp
	}
	if !in.hasValue {
		return validationFailure("secretValue", "Required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, role, errResp := s.projectFrom(c.id, in.workspaceID, in.slug)
	if errResp != nil {
		return errResp
	}
	e, f := p.folder(in.env, in.path)
	if f == nil {
		return folderNotFound("CreateSecret", in.path, in.env)
	}
	if f.secrets[name] != nil {
		return badRequest("Secret already exist")
	}
	if !canWrite(role) {
		return permissionDenied("create", "secrets")
	}
	sec := f.put(name, in.value)
	return jsonResponse(http.StatusOK, map[string]any{"secret": secretJSON(p, e, in.path, sec)})
}

func (s *Server) updateSecret(c *call, params []string) *response {
	name := strings.TrimSpace(params[0])
	in, errResp := s.writeInput(c)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, role, errResp := s.projectFrom(c.id, in.workspaceID, in.slug)
	if errResp != nil {
		return errResp
	}
	e, f := p.folder(in.env, in.path)
	if f == nil {
		return folderNotFound("UpdateSecret", in.path, in.env)
	}
	sec := f.secrets[name]
	if sec == nil {
		return notFound("", fmt.Sprintf("Secret with name %s not found", name))
	}
	if !canWrite(role) {
		return permissionDenied("edit", "secrets")
	}
	if in.hasValue {
		sec = f.put(name, in.value)
	}
	return jsonResponse(http.StatusOK, map[string]any{"secret": secretJSON(p, e, in.path, sec)})
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
