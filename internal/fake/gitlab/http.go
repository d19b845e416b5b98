package gitlab

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// response is an answer built before it is written, so that a fault can
// replace it after the server has acted.
type response = inject.Response

func jsonResponse(status int, v any) *response { return inject.JSON(status, "application/json", v) }

// messageError is what GitLab's render_api_error! helpers send:
// {"message":"404 Group Not Found"}.
func messageError(status int, msg string) *response {
	return jsonResponse(status, struct {
		Message string `json:"message"`
	}{msg})
}

// grapeError is what Grape's error! and its parameter validation send:
// {"error":"runner_type does not have a valid value"}.
func grapeError(status int, msg string) *response {
	return jsonResponse(status, struct {
		Error string `json:"error"`
	}{msg})
}

// oauthError is what rack-oauth2 renders for APIGuard's token errors.
func oauthError(status int, code, description, scope string) *response {
	v := struct {
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
		Scope            string `json:"scope,omitempty"`
	}{code, description, scope}
	r := jsonResponse(status, v)
	if status == http.StatusUnauthorized {
		r.Header.Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="The API", error=%q, error_description=%q`, code, description))
	}
	return r
}

func textResponse(status int, contentType, body string) *response {
	return &response{Status: status, Header: http.Header{"Content-Type": {contentType}}, Body: []byte(body)}
}

func noContent() *response { return &response{Status: http.StatusNoContent, Header: http.Header{}} }

// Bodies checked against GitLab's source; see doc.go.
const (
	msgUnauthorized     = "401 Unauthorized"
	msgRunnerNotFound   = "404 Not found" // ActiveRecord::RecordNotFound, lib/api/api.rb
	msgGroupNotFound    = "404 Group Not Found"
	msgProjectNotFound  = "404 Project Not Found"
	msgRouteNotFound    = "404 Not Found"
	msgNoAccess         = "403 Forbidden - No access granted"
	msgForbidden        = "403 Forbidden"
	msgInsufficientPerm = "403 Forbidden - Insufficient permissions"
	descInsufficient    = "The request requires higher privileges than provided by the access token."
	descExpired         = "Token is expired. You can either do re-authorization or token refresh."
	descRevoked         = "Token was revoked. You have to re-authorize from the user."
)

// rateLimited is GitLab's Rack::Attack answer (lib/gitlab/rack_attack.rb):
// plain text, not JSON.
func rateLimited(retryAfter int) *response {
	if retryAfter < 0 {
		retryAfter = 0
	}
	now := time.Now()
	reset := now.Add(time.Duration(retryAfter) * time.Second)
	r := textResponse(http.StatusTooManyRequests, "text/plain", "Retry later\n")
	r.Header.Set("RateLimit-Name", "throttle_authenticated_api")
	// GitLab.com's authenticated API limit. Clients pace themselves by the
	// RateLimit-Limit they see (client-go's limiter, runnerctl's pacer); a
	// small number here would slow every later request of the test's client.
	r.Header.Set("RateLimit-Limit", "2000")
	r.Header.Set("RateLimit-Observed", "2001")
	r.Header.Set("RateLimit-Remaining", "0")
	r.Header.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	r.Header.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
	r.Header.Set("Retry-After", strconv.Itoa(retryAfter))
	return r
}

// proxyPage is what the reverse proxy in front of GitLab (Workhorse, NGINX)
// answers when GitLab itself did not: an HTML page, not JSON.
func proxyPage(status int) *response {
	text := http.StatusText(status)
	body := fmt.Sprintf("<!DOCTYPE html>\n<html>\n<head><title>%d %s</title></head>\n<body>\n<h1>%d</h1>\n<p>%s: GitLab is not responding.</p>\n</body>\n</html>\n", status, text, status, text)
	return textResponse(status, "text/html; charset=utf-8", body)
}

// failure is the answer FailNext and LoseResponse give for status.
func failure(op string, status int) *response {
	switch status {
	case http.StatusBadRequest:
		return messageError(status, "400 Bad request")
	case http.StatusUnauthorized:
		return messageError(status, msgUnauthorized)
	case http.StatusForbidden:
		return messageError(status, msgForbidden)
	case http.StatusNotFound:
		switch op {
		case OpGetGroup:
			return messageError(status, msgGroupNotFound)
		case OpGetProject:
			return messageError(status, msgProjectNotFound)
		}
		return messageError(status, msgRunnerNotFound)
	case http.StatusMethodNotAllowed:
		return grapeError(status, "405 Not Allowed")
	case http.StatusConflict:
		return messageError(status, "409 Conflict: Resource lock")
	case http.StatusUnprocessableEntity:
		return messageError(status, "422 Unprocessable Entity")
	case http.StatusTooManyRequests:
		return rateLimited(1)
	case http.StatusInternalServerError:
		// handle_api_exception in lib/api/helpers.rb
		return messageError(status, "500 Internal Server Error")
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return proxyPage(status)
	}
	return messageError(status, fmt.Sprintf("%d %s", status, http.StatusText(status)))
}

// scopeGrant is one allow_access_with_scope registration.
type scopeGrant struct {
	name    string
	getOnly bool // read_api: GET and HEAD only
	never   bool // registered for the class, but its condition never holds on this route
}

var (
	scopesGroupsProjects = []scopeGrant{{name: "api"}, {name: "read_api", getOnly: true}}
	scopesUserRunners    = []scopeGrant{{name: "create_runner"}, {name: "api"}, {name: "read_api", getOnly: true}}
	scopesRunnerID       = []scopeGrant{{name: "manage_runner"}, {name: "api"}, {name: "read_api", getOnly: true}}
	scopesRunnerLists    = []scopeGrant{{name: "manage_runner", never: true}, {name: "api"}, {name: "read_api", getOnly: true}}
)

type route struct {
	method  string
	pattern []string // literal segments, or ":name" for a parameter
	op      string
	scopes  []scopeGrant // nil: any scope (personal_access_tokens/self), or no PAT (verify)
	handle  func(s *Server, c *call) *response
}

// call is one request being handled.
type call struct {
	r      *http.Request
	path   map[string]string // path parameters, unescaped
	query  url.Values
	body   []byte
	tok    *pat // nil: no token sent
	method string
}

var routes = []route{
	{method: http.MethodGet, pattern: []string{"personal_access_tokens", "self"}, op: OpTokenSelf, handle: (*Server).tokenSelf},
	{method: http.MethodGet, pattern: []string{"groups", ":id"}, op: OpGetGroup, scopes: scopesGroupsProjects, handle: (*Server).getGroup},
	{method: http.MethodGet, pattern: []string{"projects", ":id"}, op: OpGetProject, scopes: scopesGroupsProjects, handle: (*Server).getProject},
	{method: http.MethodPost, pattern: []string{"user", "runners"}, op: OpCreateRunner, scopes: scopesUserRunners, handle: (*Server).createRunner},
	{method: http.MethodGet, pattern: []string{"runners"}, op: OpListRunners, scopes: scopesRunnerLists, handle: (*Server).listOwnedRunners},
	{method: http.MethodGet, pattern: []string{"runners", "all"}, op: OpListRunners, scopes: scopesRunnerLists, handle: (*Server).listAllRunners},
	{method: http.MethodPost, pattern: []string{"runners", "verify"}, op: OpVerifyRunner, handle: (*Server).verifyRunner},
	{method: http.MethodGet, pattern: []string{"runners", ":id"}, op: OpGetRunner, scopes: scopesRunnerID, handle: (*Server).getRunner},
	{method: http.MethodGet, pattern: []string{"runners", ":id", "managers"}, op: OpGetRunner, scopes: scopesRunnerID, handle: (*Server).listRunnerManagers},
	{method: http.MethodPut, pattern: []string{"runners", ":id"}, op: OpUpdateRunner, scopes: scopesRunnerID, handle: (*Server).updateRunner},
	{method: http.MethodDelete, pattern: []string{"runners", ":id"}, op: OpDeleteRunner, scopes: scopesRunnerID, handle: (*Server).deleteRunner},
	{method: http.MethodPost, pattern: []string{"runners", ":id", "reset_authentication_token"}, op: OpResetToken, scopes: scopesRunnerID, handle: (*Server).resetToken},
	{method: http.MethodGet, pattern: []string{"groups", ":id", "runners"}, op: OpListRunners, scopes: scopesRunnerLists, handle: (*Server).listGroupRunners},
	{method: http.MethodGet, pattern: []string{"projects", ":id", "runners"}, op: OpListRunners, scopes: scopesRunnerLists, handle: (*Server).listProjectRunners},
}

func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range pattern {
		if name, ok := strings.CutPrefix(p, ":"); ok {
			if segs[i] == "" {
				return nil, false
			}
			params[name] = segs[i]
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, true
}

// findRoute returns the route for method and segs, or the methods the path
// allows when none matches the method.
func findRoute(method string, segs []string) (*route, map[string]string, []string) {
	var allowed []string
	for i := range routes {
		rt := &routes[i]
		params, ok := matchPattern(rt.pattern, segs)
		if !ok {
			continue
		}
		if rt.method == method {
			return rt, params, nil
		}
		if !slices.Contains(allowed, rt.method) {
			allowed = append(allowed, rt.method)
		}
	}
	return nil, nil, allowed
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	line := r.Method + " " + path
	api := s.prefix + "/api/v4/"
	if path == s.prefix+"/api/graphql" {
		s.serveGraphQL(w, r, line)
		return
	}
	rest, ok := strings.CutPrefix(path, api)
	if !ok {
		// Outside GitLab's API, or outside the sub-path GitLab lives under.
		s.finish(w, r, line, "", textResponse(http.StatusNotFound, "text/plain; charset=utf-8", "404 page not found\n"))
		return
	}
	var segs []string
	for _, seg := range strings.Split(rest, "/") {
		u, err := url.PathUnescape(seg)
		if err != nil {
			s.finish(w, r, line, "", grapeError(http.StatusNotFound, msgRouteNotFound))
			return
		}
		segs = append(segs, u)
	}
	method := r.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	rt, params, allowed := findRoute(method, segs)
	if rt == nil {
		if len(allowed) > 0 {
			// Grape's MethodNotAllowed (unverified: GitLab's catch-all route
			// may turn this into a 404).
			resp := grapeError(http.StatusMethodNotAllowed, "405 Not Allowed")
			resp.Header.Set("Allow", strings.Join(append([]string{"OPTIONS"}, allowed...), ", "))
			s.finish(w, r, line, "", resp)
			return
		}
		// lib/api/api.rb: route :any, '*path' { error!('404 Not Found', 404) }
		s.finish(w, r, line, "", grapeError(http.StatusNotFound, msgRouteNotFound))
		return
	}

	// Rack::Attack throttles before GitLab does anything.
	limits, throttled := s.limit(r, line)
	if throttled != nil {
		s.finish(w, r, line, rt.op, withHeaders(throttled, limits))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.finish(w, r, line, rt.op, withHeaders(messageError(http.StatusBadRequest, "400 Bad request"), limits))
		return
	}
	c := &call{r: r, path: params, query: r.URL.Query(), body: body, method: method}

	resp, loseStatus := s.takeFault(rt.op)
	if resp == nil {
		resp = s.handle(rt, c)
	}
	if loseStatus == 0 {
		s.wait(r, rt.op)
		s.inj.Log(line + " aborted")
		abort(w)
		return
	}
	if loseStatus > 0 {
		resp = failure(rt.op, loseStatus)
	}
	s.finish(w, r, line, rt.op, withHeaders(resp, limits))
}

// handle authenticates and runs the route's handler.
func (s *Server) handle(rt *route, c *call) *response {
	if rt.op != OpVerifyRunner {
		tok, errResp := s.authenticate(c, rt.scopes, rt.scopes == nil)
		if errResp != nil {
			return errResp
		}
		c.tok = tok
	}
	return rt.handle(s, c)
}

// authenticate finds and validates the personal access token, if one was
// sent. No token is (nil, nil): each endpoint decides (authenticate! gives
// 401, GET /groups/:id treats the caller as anonymous).
func (s *Server) authenticate(c *call, scopes []scopeGrant, anyScope bool) (*pat, *response) {
	value := c.r.Header.Get("PRIVATE-TOKEN")
	if value == "" {
		value = c.query.Get("private_token")
	}
	if value == "" {
		if v, ok := strings.CutPrefix(c.r.Header.Get("Authorization"), "Bearer "); ok {
			value = strings.TrimSpace(v)
		}
	}
	if value == "" {
		return nil, nil
	}
	s.mu.Lock()
	p, ok := s.tokens[value]
	var cp pat
	if ok {
		cp = *p
	}
	s.mu.Unlock()
	if !ok {
		// find_personal_access_token raises UnauthorizedError -> unauthorized!
		return nil, messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	// AccessTokenValidationService#validate: expired, then revoked, then scopes.
	if cp.opts.ExpiresAt != nil && !time.Now().Before(*cp.opts.ExpiresAt) {
		return nil, oauthError(http.StatusUnauthorized, "invalid_token", descExpired, "")
	}
	if cp.opts.Revoked {
		return nil, oauthError(http.StatusUnauthorized, "invalid_token", descRevoked, "")
	}
	if !anyScope && !hasScope(cp.opts.Scopes, scopes, c.method) {
		names := make([]string, len(scopes))
		for i, g := range scopes {
			names[i] = g.name
		}
		return nil, oauthError(http.StatusForbidden, "insufficient_scope", descInsufficient, strings.Join(names, " "))
	}
	return &cp, nil
}

func hasScope(have []string, grants []scopeGrant, method string) bool {
	for _, g := range grants {
		if g.never || (g.getOnly && method != http.MethodGet) {
			continue
		}
		if slices.Contains(have, g.name) {
			return true
		}
	}
	return false
}

// takeFault uses up one request of op's next fault: it gives the answer
// that replaces the handler's (fail, rate limit), or the status a lost
// answer gets once the handler has acted (-1: none; 0: the connection is
// aborted).
func (s *Server) takeFault(op string) (resp *response, loseStatus int) {
	f, _ := s.inj.Take(op) // none: faultPass
	switch f.kind {
	case faultFail:
		return failure(op, f.status), -1
	case faultRateLimit:
		return rateLimited(f.retryAfter), -1
	case faultLose:
		return nil, f.status
	}
	return nil, -1
}

// wait applies op's delay, cut short when the client hangs up or the server
// closes.
func (s *Server) wait(r *http.Request, op string) { s.inj.Wait(r.Context(), op) }

func (s *Server) finish(w http.ResponseWriter, r *http.Request, line, op string, resp *response) {
	if op != "" {
		s.wait(r, op)
	}
	s.inj.Log(line + " " + strconv.Itoa(resp.Status))
	h := w.Header()
	for k, vs := range resp.Header {
		h[k] = vs
	}
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	w.WriteHeader(resp.Status)
	if r.Method != http.MethodHead && len(resp.Body) > 0 {
		_, _ = w.Write(resp.Body)
	}
}

// abort closes the connection without an answer.
func abort(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// params holds a request's parameters the way Grape sees them: the query
// string merged with a JSON or form body. Values are string, json.Number,
// bool, nil, []any or map[string]any.
type params map[string]any

func (c *call) params() (params, *response) {
	p := params{}
	for k, vs := range c.query {
		addFormValue(p, k, vs)
	}
	if len(c.body) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		dec := json.NewDecoder(strings.NewReader(string(c.body)))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, grapeError(http.StatusBadRequest, "message body does not match declared format")
		}
		for k, v := range m {
			p[k] = v
		}
	case "application/x-www-form-urlencoded", "":
		vs, err := url.ParseQuery(string(c.body))
		if err != nil {
			return nil, grapeError(http.StatusBadRequest, "message body does not match declared format")
		}
		for k, v := range vs {
			addFormValue(p, k, v)
		}
	default:
		return nil, grapeError(http.StatusUnsupportedMediaType, fmt.Sprintf("The provided content-type '%s' is not supported.", ct))
	}
	return p, nil
}

func addFormValue(p params, k string, vs []string) {
	if name, ok := strings.CutSuffix(k, "[]"); ok {
		arr := make([]any, len(vs))
		for i, v := range vs {
			arr[i] = v
		}
		p[name] = arr
		return
	}
	if len(vs) > 0 {
		p[k] = vs[len(vs)-1]
	}
}

// Grape's coercions (dry-types Params). ok is false when the value cannot
// be coerced ("X is invalid").

func coerceBool(v any) (b, ok bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		switch strings.ToLower(v) {
		case "1", "on", "t", "true", "y", "yes":
			return true, true
		case "0", "off", "f", "false", "n", "no":
			return false, true
		}
	case json.Number:
		switch v.String() {
		case "1":
			return true, true
		case "0":
			return false, true
		}
	}
	return false, false
}

func coerceInt(v any) (int64, bool) {
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		return n, err == nil
	}
	return 0, false
}

func coerceString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	}
	return "", false
}

// coerceTags is Array[String] with CommaSeparatedToArray: "a, b" and
// ["a", "b,c"] both work. Blank and repeated tags are dropped, as
// acts_as_taggable does.
func coerceTags(v any) ([]string, bool) {
	var parts []string
	switch v := v.(type) {
	case string:
		parts = strings.Split(v, ",")
	case []any:
		for _, e := range v {
			s, ok := coerceString(e)
			if !ok {
				return nil, false
			}
			parts = append(parts, strings.Split(s, ",")...)
		}
	default:
		return nil, false
	}
	var tags []string
	for _, t := range parts {
		t = strings.TrimSpace(t)
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags, true
}

// present is Rails' present? as attributes_for_keys uses it: blank strings,
// empty arrays and nil are left out; false is kept.
func present(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case string:
		return strings.TrimSpace(v) != ""
	case []any:
		return len(v) > 0
	}
	return true
}

// toSentence is ActiveSupport's Array#to_sentence.
func toSentence(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	case 2:
		return items[0] + " and " + items[1]
	}
	return strings.Join(items[:len(items)-1], ", ") + ", and " + items[len(items)-1]
}
