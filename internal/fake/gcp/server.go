package gcp

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// Operation names, for FailNext, Delay and Requests.
const (
	OpGetSecret     = "secrets.get"
	OpCreateSecret  = "secrets.create"
	OpAddVersion    = "secrets.addVersion"
	OpAccessVersion = "versions.access"
	// OpToken is the OAuth 2.0 token endpoint; OpMetadata the metadata
	// server's token and project-id answers.
	OpToken    = "token"
	OpMetadata = "metadata"
)

// AllOps names every operation the fake serves.
var AllOps = []string{OpGetSecret, OpCreateSecret, OpAddVersion, OpAccessVersion, OpToken, OpMetadata}

// The default project and token New sets up.
const (
	Project       = "runnerctl-test"
	ProjectNumber = "424242424242"
	// Token is a valid access token with RoleAdmin.
	Token = "ya29.fake-runnerctl-token"
	// ServiceAccount is the client_email of CredentialsFile's key.
	ServiceAccount = "runnerctl@runnerctl-test.iam.gserviceaccount.com"
)

// Role is what a token may do, after Secret Manager's predefined roles.
type Role int

const (
	// RoleAdmin (roles/secretmanager.admin) may do everything.
	RoleAdmin Role = iota
	// RoleAccessor (roles/secretmanager.secretAccessor) may only access
	// versions.
	RoleAccessor
	// RoleViewer (roles/secretmanager.viewer) may only get secrets.
	RoleViewer
	// RoleNone is authenticated but holds no role on the project.
	RoleNone
)

var permissions = map[Role][]string{
	RoleAdmin:    {"secretmanager.secrets.get", "secretmanager.secrets.create", "secretmanager.versions.add", "secretmanager.versions.access"},
	RoleAccessor: {"secretmanager.versions.access"},
	RoleViewer:   {"secretmanager.secrets.get"},
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	// inj holds the injected failures and delays, by operation or "*",
	// and the request log.
	inj *inject.Faults[failure]

	mu       sync.Mutex
	projects map[string]string // ID -> number
	tokens   map[string]Role
	secrets  map[string]*secret // "number/secretID"
	saRole   Role
	metaOff  bool
	key      *rsa.PrivateKey
	keyID    string
	issued   int
}

type secret struct {
	id       string
	created  time.Time
	etag     string
	versions []*version
}

type version struct {
	n       int
	data    []byte
	crc     bool
	created time.Time
}

type failure struct {
	status  int
	gstatus string // empty: the usual one for status
	message string
}

// New starts a fake on a loopback port that knows Project (number
// ProjectNumber) and Token (RoleAdmin). Close it when done.
func New() *Server {
	s := &Server{
		// No list of operations: any name is taken, "*" (every one) included.
		inj:      inject.New[failure]("fake gcp", nil),
		projects: map[string]string{Project: ProjectNumber},
		tokens:   map[string]Role{Token: RoleAdmin},
		secrets:  map[string]*secret{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the endpoint, such as http://127.0.0.1:41234 (no trailing slash);
// the API is under URL()+"/v1".
func (s *Server) URL() string { return s.srv.URL }

// MetadataHost is the host:port to put in GCE_METADATA_HOST so that ADC
// takes tokens from this fake's metadata server.
func (s *Server) MetadataHost() string { return strings.TrimPrefix(s.srv.URL, "http://") }

// Close stops the server; delayed answers are cut short.
func (s *Server) Close() {
	s.inj.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// AddProject makes a project known, by ID and number.
func (s *Server) AddProject(id, number string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[id] = number
}

// AddToken makes the fake accept (or re-grant) an access token.
func (s *Server) AddToken(token string, role Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = role
}

// RemoveToken revokes a token: it then gets 401 UNAUTHENTICATED.
func (s *Server) RemoveToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// SetServiceAccountRole sets the role of tokens issued from now on by the
// token endpoint and the metadata server (default RoleAdmin).
func (s *Server) SetServiceAccountRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.saRole = r
}

// DisableMetadata makes the metadata server answer 404 for everything, as
// when no service account is attached.
func (s *Server) DisableMetadata() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metaOff = true
}

// Issued counts the access tokens the token endpoint and metadata server
// have issued.
func (s *Server) Issued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// SetSecret adds value as a new version of secret id in Project, creating
// the secret if needed, as another writer would.
func (s *Server) SetSecret(id, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	k := ProjectNumber + "/" + id
	sec := s.secrets[k]
	if sec == nil {
		sec = &secret{id: id, created: now, etag: etag(now)}
		s.secrets[k] = sec
	}
	sec.versions = append(sec.versions, &version{n: len(sec.versions) + 1, data: []byte(value), created: now})
}

// CreateEmpty creates secret id in Project without any version.
func (s *Server) CreateEmpty(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := ProjectNumber + "/" + id
	if s.secrets[k] == nil {
		now := time.Now()
		s.secrets[k] = &secret{id: id, created: now, etag: etag(now)}
	}
}

// Secret returns the latest version's data of secret id in Project.
func (s *Server) Secret(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[ProjectNumber+"/"+id]
	if sec == nil || len(sec.versions) == 0 {
		return "", false
	}
	return string(sec.versions[len(sec.versions)-1].data), true
}

// Exists reports whether secret id exists in Project.
func (s *Server) Exists(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets[ProjectNumber+"/"+id] != nil
}

// Versions returns how many versions secret id in Project has.
func (s *Server) Versions(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[ProjectNumber+"/"+id]; sec != nil {
		return len(sec.versions)
	}
	return 0
}

// ChecksumSent reports whether the latest version of secret id in Project
// was added with a dataCrc32c.
func (s *Server) ChecksumSent(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[ProjectNumber+"/"+id]
	return sec != nil && len(sec.versions) > 0 && sec.versions[len(sec.versions)-1].crc
}

// Ops names the operations faults and delays take.
func (s *Server) Ops() []string { return slices.Clone(AllOps) }

// Requests returns the operations served so far, in order, including those
// that failed.
func (s *Server) Requests() []string { return s.inj.Requests() }

// FailNext makes the next n requests of op fail with HTTP status and the
// body Google sends with it: 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 NOT_FOUND, 409 ABORTED, 429 RESOURCE_EXHAUSTED,
// 500 INTERNAL, 503 UNAVAILABLE, 504 DEADLINE_EXCEEDED. Failures apply after
// authentication; op "*" matches every API operation.
func (s *Server) FailNext(op string, status, n int) { s.inj.Add(op, failure{status: status}, n) }

// FailNextWith makes the next n requests of op fail with HTTP status, the
// Google status name (such as "FAILED_PRECONDITION") and message.
func (s *Server) FailNextWith(op string, status int, gstatus, message string, n int) {
	s.inj.Add(op, failure{status: status, gstatus: gstatus, message: message}, n)
}

// ClearFaults removes every pending failure and delay, as the other fakes'
// ClearFaults do.
func (s *Server) ClearFaults() { s.inj.Clear() }

// Delay makes every later request of op wait d before it is answered (or
// until the client gives up). Op "*" matches every operation; d 0 removes
// the delay.
func (s *Server) Delay(op string, d time.Duration) { s.inj.Delay(op, d) }

// googleError is an error answer in Google's JSON shape.
type googleError struct {
	code    int
	status  string
	message string
	details []any
	header  http.Header
}

func (e *googleError) write(w http.ResponseWriter) {
	for k, v := range e.header {
		w.Header()[k] = v
	}
	body := map[string]any{"code": e.code, "message": e.message, "status": e.status}
	if len(e.details) > 0 {
		body["details"] = e.details
	}
	writeJSON(w, e.code, map[string]any{"error": body})
}

func gErr(code int, status, msg string) *googleError {
	return &googleError{code: code, status: status, message: msg}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func failureBody(op string, status int) *googleError {
	switch status {
	case 400:
		return gErr(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
	case 401:
		return unauthenticated(false)
	case 403:
		return gErr(403, "PERMISSION_DENIED", "The caller does not have permission")
	case 404:
		return gErr(404, "NOT_FOUND", "Requested entity was not found.")
	case 409:
		return gErr(409, "ABORTED", "The operation was aborted.")
	case 429:
		return &googleError{code: 429, status: "RESOURCE_EXHAUSTED",
			message: "Quota exceeded for quota metric '" + quotaMetric(op) + "' and limit '" + quotaMetric(op) +
				" per minute per project' of service 'secretmanager.googleapis.com' for consumer 'project_number:" + ProjectNumber + "'.",
			details: []any{map[string]any{
				"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
				"metadata": map[string]string{"service": "secretmanager.googleapis.com", "consumer": "projects/" + ProjectNumber},
			}}}
	case 500:
		return gErr(500, "INTERNAL", "Internal error encountered.")
	case 503:
		return gErr(503, "UNAVAILABLE", "The service is currently unavailable.")
	case 504:
		return gErr(504, "DEADLINE_EXCEEDED", "Deadline exceeded")
	}
	return gErr(status, "UNKNOWN", http.StatusText(status))
}

func quotaMetric(op string) string {
	if op == OpAccessVersion {
		return "Access requests"
	}
	return "Read requests"
}

func unauthenticated(missing bool) *googleError {
	msg := "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
	wa := `Bearer realm="https://accounts.google.com/", error="invalid_token"`
	if missing {
		msg = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
		wa = `Bearer realm="https://accounts.google.com/"`
	}
	return &googleError{code: 401, status: "UNAUTHENTICATED", message: msg, header: http.Header{"Www-Authenticate": {wa}},
		details: []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED",
			"domain": "googleapis.com", "metadata": map[string]string{"service": "secretmanager.googleapis.com", "method": "google.cloud.secretmanager.v1.SecretManagerService"}}}}
}

var (
	reSecretID  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	reAPIPath   = regexp.MustCompile(`^/v1/projects/([^/]+)/secrets(?:/([^/:]+)(?:(:addVersion)|/versions/([^/:]+)(:access))?)?$`)
	reVersionID = regexp.MustCompile(`^(latest|[1-9][0-9]*)$`)
)

const maxBody = 1 << 20

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/token":
		s.inj.Log(OpToken)
		if s.pre(w, r, OpToken) {
			s.serveToken(w, r)
		}
		return
	case strings.HasPrefix(r.URL.Path, "/computeMetadata/"):
		s.inj.Log(OpMetadata)
		if s.pre(w, r, OpMetadata) {
			s.serveMetadata(w, r)
		}
		return
	}
	m := reAPIPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		gErr(404, "NOT_FOUND", "Method not found.").write(w)
		return
	}
	project, secretID, addVersion, versionID, access := m[1], m[2], m[3] != "", m[4], m[5] != ""
	var op, method, perm string
	switch {
	case secretID == "":
		op, method, perm = OpCreateSecret, http.MethodPost, "secretmanager.secrets.create"
	case addVersion:
		op, method, perm = OpAddVersion, http.MethodPost, "secretmanager.versions.add"
	case access:
		op, method, perm = OpAccessVersion, http.MethodGet, "secretmanager.versions.access"
	case versionID == "":
		op, method, perm = OpGetSecret, http.MethodGet, "secretmanager.secrets.get"
	default:
		gErr(404, "NOT_FOUND", "Method not found.").write(w)
		return
	}
	s.inj.Log(op)
	if r.Method != method {
		gErr(404, "NOT_FOUND", "Method not found.").write(w)
		return
	}
	// The body is read first so that the server notices a client that gives
	// up during a Delay.
	var body []byte
	if method == http.MethodPost {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			gErr(400, "INVALID_ARGUMENT", "Request payload size exceeds the limit.").write(w)
			return
		}
	}
	// Authentication comes first, as at Google's front end.
	if e := s.authenticate(r); e != nil {
		e.write(w)
		return
	}
	if !s.pre(w, r, op) {
		return
	}
	if method == http.MethodPost {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			gErr(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Unexpected Content-Type: "+ct).write(w)
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	number, ok := s.projectNumber(project)
	if !ok {
		consumerInvalid(project).write(w)
		return
	}
	role := s.tokens[bearer(r)]
	resource := "projects/" + project + "/secrets"
	if secretID != "" {
		resource += "/" + secretID
	}
	if access {
		resource += "/versions/" + versionID
	}
	if !slices.Contains(permissions[role], perm) {
		(&googleError{code: 403, status: "PERMISSION_DENIED",
			message: fmt.Sprintf("Permission '%s' denied for resource '%s' (or it may not exist).", perm, resource),
			details: []any{map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
				"domain": "secretmanager.googleapis.com", "metadata": map[string]string{"permission": perm, "resource": resource}}}}).write(w)
		return
	}

	switch op {
	case OpGetSecret:
		s.getSecret(w, number, secretID)
	case OpCreateSecret:
		s.createSecret(w, r, number, body)
	case OpAddVersion:
		s.addVersion(w, number, secretID, body)
	case OpAccessVersion:
		s.accessVersion(w, number, secretID, versionID)
	}
}

// pre applies delays and injected failures; it reports whether to go on.
func (s *Server) pre(w http.ResponseWriter, r *http.Request, op string) bool {
	// "*" delays every operation, but fails only the API's.
	if !s.inj.Wait(r.Context(), op, "*") {
		return false
	}
	fallback := []string{"*"}
	if op == OpToken || op == OpMetadata {
		fallback = nil
	}
	if f, ok := s.inj.Take(op, fallback...); ok {
		if op == OpToken {
			status := "temporarily_unavailable"
			if f.status < 500 {
				status = "invalid_grant"
			}
			writeJSON(w, f.status, map[string]string{"error": status, "error_description": http.StatusText(f.status)})
			return false
		}
		if f.gstatus != "" {
			gErr(f.status, f.gstatus, f.message).write(w)
			return false
		}
		failureBody(op, f.status).write(w)
		return false
	}
	return true
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (s *Server) authenticate(r *http.Request) *googleError {
	if r.Header.Get("Authorization") == "" {
		return unauthenticated(true)
	}
	tok := bearer(r)
	s.mu.Lock()
	_, ok := s.tokens[tok]
	s.mu.Unlock()
	if tok == "" || !ok {
		return unauthenticated(false)
	}
	return nil
}

// projectNumber resolves a project ID or number. Caller holds s.mu.
func (s *Server) projectNumber(p string) (string, bool) {
	if n, ok := s.projects[p]; ok {
		return n, true
	}
	for _, n := range s.projects {
		if n == p {
			return n, true
		}
	}
	return "", false
}

func consumerInvalid(project string) *googleError {
	return &googleError{code: 403, status: "PERMISSION_DENIED", message: "Permission denied on resource project " + project + ".",
		details: []any{
			map[string]any{"@type": "type.googleapis.com/google.rpc.Help", "links": []any{map[string]string{
				"description": "Google developers console", "url": "https://console.developers.google.com"}}},
			map[string]any{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "CONSUMER_INVALID", "domain": "googleapis.com",
				"metadata": map[string]string{"service": "secretmanager.googleapis.com", "consumer": "projects/" + project}},
		}}
}

func secretName(number, id string) string { return "projects/" + number + "/secrets/" + id }

func etag(t time.Time) string { return `"` + strconv.FormatInt(t.UnixMicro(), 10) + `"` }

func ts(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func secretJSON(number string, sec *secret) map[string]any {
	return map[string]any{
		"name":        secretName(number, sec.id),
		"replication": map[string]any{"automatic": map[string]any{}},
		"createTime":  ts(sec.created),
		"etag":        sec.etag,
	}
}

func versionJSON(number, id string, v *version) map[string]any {
	return map[string]any{
		"name":                           secretName(number, id) + "/versions/" + strconv.Itoa(v.n),
		"createTime":                     ts(v.created),
		"state":                          "ENABLED",
		"replicationStatus":              map[string]any{"automatic": map[string]any{}},
		"etag":                           etag(v.created),
		"clientSpecifiedPayloadChecksum": v.crc,
	}
}

func (s *Server) getSecret(w http.ResponseWriter, number, id string) {
	sec := s.secrets[number+"/"+id]
	if sec == nil {
		gErr(404, "NOT_FOUND", "Secret ["+secretName(number, id)+"] not found.").write(w)
		return
	}
	writeJSON(w, 200, secretJSON(number, sec))
}

// strictDecode decodes body into v (a pointer to a struct whose json tags
// name the members), rejecting unknown members with Google's message.
func strictDecode(body []byte, v any, what string) *googleError {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return gErr(400, "INVALID_ARGUMENT", "Invalid JSON payload received. Expected an object.")
	}
	typ := reflect.TypeOf(v).Elem()
	known := map[string]bool{}
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		known[name] = true
	}
	for name := range members {
		if !known[name] {
			return gErr(400, "INVALID_ARGUMENT", fmt.Sprintf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", name, what))
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return gErr(400, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error())
	}
	return nil
}

type secretBody struct {
	Name            string            `json:"name"`
	Replication     *json.RawMessage  `json:"replication"`
	Labels          map[string]string `json:"labels"`
	Annotations     map[string]string `json:"annotations"`
	Topics          json.RawMessage   `json:"topics"`
	ExpireTime      string            `json:"expireTime"`
	TTL             string            `json:"ttl"`
	Etag            string            `json:"etag"`
	Rotation        json.RawMessage   `json:"rotation"`
	VersionAliases  map[string]string `json:"versionAliases"`
	VersionDestroy  string            `json:"versionDestroyTtl"`
	CustomerManaged json.RawMessage   `json:"customerManagedEncryption"`
	Tags            map[string]string `json:"tags"`
}

func (s *Server) createSecret(w http.ResponseWriter, r *http.Request, number string, body []byte) {
	id := r.URL.Query().Get("secretId")
	if !reSecretID.MatchString(id) {
		// Wording not verified against the live service.
		gErr(400, "INVALID_ARGUMENT", "The provided Secret ID ["+id+"] does not match the expected format [[a-zA-Z_0-9-]{1,255}]").write(w)
		return
	}
	var in secretBody
	if e := strictDecode(body, &in, "secret"); e != nil {
		e.write(w)
		return
	}
	if in.Replication == nil || string(*in.Replication) == "{}" || string(*in.Replication) == "null" {
		// Wording not verified against the live service.
		gErr(400, "INVALID_ARGUMENT", "Secret.replication must be specified.").write(w)
		return
	}
	k := number + "/" + id
	if s.secrets[k] != nil {
		gErr(409, "ALREADY_EXISTS", "Secret ["+secretName(number, id)+"] already exists.").write(w)
		return
	}
	now := time.Now()
	sec := &secret{id: id, created: now, etag: etag(now)}
	s.secrets[k] = sec
	writeJSON(w, 200, secretJSON(number, sec))
}

type addVersionBody struct {
	Payload *struct {
		Data       *string `json:"data"`
		DataCrc32c *string `json:"dataCrc32c"`
	} `json:"payload"`
}

func (s *Server) addVersion(w http.ResponseWriter, number, id string, body []byte) {
	var in addVersionBody
	if e := strictDecode(body, &in, "add_secret_version_request"); e != nil {
		e.write(w)
		return
	}
	sec := s.secrets[number+"/"+id]
	if sec == nil {
		gErr(404, "NOT_FOUND", "Secret ["+secretName(number, id)+"] not found.").write(w)
		return
	}
	if in.Payload == nil || in.Payload.Data == nil {
		// Wording not verified against the live service.
		gErr(400, "INVALID_ARGUMENT", "Secret Payload cannot be empty.").write(w)
		return
	}
	data, err := base64.StdEncoding.DecodeString(*in.Payload.Data)
	if err != nil {
		data, err = base64.URLEncoding.DecodeString(*in.Payload.Data)
	}
	if err != nil {
		gErr(400, "INVALID_ARGUMENT", `Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed for "`+truncate(*in.Payload.Data)+`"`).write(w)
		return
	}
	if len(data) > 64*1024 {
		gErr(400, "INVALID_ARGUMENT", "Secret Payload cannot be larger than 64KiB.").write(w)
		return
	}
	crc := false
	if c := in.Payload.DataCrc32c; c != nil {
		want, err := strconv.ParseInt(*c, 10, 64)
		if err != nil {
			gErr(400, "INVALID_ARGUMENT", `Invalid value at 'payload.data_crc32c' (TYPE_INT64), "`+*c+`"`).write(w)
			return
		}
		if int64(crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))) != want {
			// Wording not verified against the live service.
			gErr(400, "INVALID_ARGUMENT", "Checksum mismatch: the payload's data_crc32c does not match its data.").write(w)
			return
		}
		crc = true
	}
	now := time.Now()
	v := &version{n: len(sec.versions) + 1, data: data, crc: crc, created: now}
	sec.versions = append(sec.versions, v)
	writeJSON(w, 200, versionJSON(number, id, v))
}

// truncate keeps error texts short; real Google errors quote only a prefix
// of a bad value too. It never matters for a valid payload.
func truncate(s string) string {
	if len(s) > 8 {
		return s[:8] + "..."
	}
	return s
}

func (s *Server) accessVersion(w http.ResponseWriter, number, id, versionID string) {
	if !reVersionID.MatchString(versionID) {
		gErr(400, "INVALID_ARGUMENT", "Invalid resource field value in the request.").write(w)
		return
	}
	sec := s.secrets[number+"/"+id]
	if sec == nil || len(sec.versions) == 0 {
		gErr(404, "NOT_FOUND", "Secret ["+secretName(number, id)+"] not found or has no versions.").write(w)
		return
	}
	v := sec.versions[len(sec.versions)-1]
	if versionID != "latest" {
		n, _ := strconv.Atoi(versionID)
		if n > len(sec.versions) {
			gErr(404, "NOT_FOUND", "Secret Version ["+secretName(number, id)+"/versions/"+versionID+"] not found.").write(w)
			return
		}
		v = sec.versions[n-1]
	}
	sum := crc32.Checksum(v.data, crc32.MakeTable(crc32.Castagnoli))
	writeJSON(w, 200, map[string]any{
		"name": secretName(number, id) + "/versions/" + strconv.Itoa(v.n),
		"payload": map[string]string{
			"data":       base64.StdEncoding.EncodeToString(v.data),
			"dataCrc32c": strconv.FormatUint(uint64(sum), 10),
		},
	})
}

// issue records and returns a new access token with the service-account
// role. Caller holds s.mu.
func (s *Server) issue() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "ya29.issued-" + hex.EncodeToString(b)
	s.tokens[tok] = s.saRole
	s.issued++
	return tok
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Metadata-Flavor") != "Google" {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "Missing required header: Metadata-Flavor\n")
		return
	}
	s.mu.Lock()
	off := s.metaOff
	s.mu.Unlock()
	w.Header().Set("Metadata-Flavor", "Google")
	path := strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/")
	switch {
	case off:
	case path == "project/project-id":
		w.Header().Set("Content-Type", "application/text")
		_, _ = io.WriteString(w, Project)
		return
	case path == "instance/service-accounts/default/token":
		s.mu.Lock()
		tok := s.issue()
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "Not Found\n")
}
