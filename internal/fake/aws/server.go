package aws

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/runnerctl/runnerctl/internal/fake/inject"
)

// Operation names, for FailNext, FailNextWith, Delay and Requests.
const (
	OpGetSecretValue = "GetSecretValue"
	OpCreateSecret   = "CreateSecret"
	OpPutSecretValue = "PutSecretValue"
	OpDescribeSecret = "DescribeSecret"
)

// AllOps names every operation the fake serves.
var AllOps = []string{OpGetSecretValue, OpCreateSecret, OpPutSecretValue, OpDescribeSecret}

// The default identity New sets up.
const (
	// AccessKeyID and SecretAccessKey are valid, with AccessFull.
	AccessKeyID     = "AKIAFAKERUNNERCTL001"
	SecretAccessKey = "fakeSecretKeyForRunnerctlTests/0000000000"
	// Region is what Env sets; the fake accepts any region in the
	// signature's scope and builds ARNs with the one used.
	Region = "us-east-1"
	// AccountID appears in ARNs and in AccessDenied messages.
	AccountID = "123456789012"
)

// Access is what a set of credentials may do.
type Access int

const (
	// AccessFull allows every operation.
	AccessFull Access = iota
	// AccessReadOnly allows GetSecretValue and DescribeSecret.
	AccessReadOnly
	// AccessNone allows nothing: every call gives AccessDeniedException.
	AccessNone
)

// Credentials are an access key the fake knows.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must come as X-Amz-Security-Token.
	SessionToken string
	// Expired makes every call give ExpiredTokenException.
	Expired bool
	Access  Access
	// User names the IAM user in AccessDenied messages; default
	// "runnerctl-test".
	User string
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server
	// inj holds the injected failures and delays, by operation or "*",
	// and the request log.
	inj *inject.Faults[failure]

	mu      sync.Mutex
	creds   map[string]Credentials
	secrets map[string]*secret // by name
	now     func() time.Time
}

type secret struct {
	name        string
	arn         string
	description string
	created     time.Time
	changed     time.Time
	deleted     *time.Time
	versions    []*version // in creation order
}

type version struct {
	id      string
	str     *string
	bin     []byte
	stages  []string
	created time.Time
}

type failure struct {
	status  int
	errType string
	message string
}

// New starts a fake on a loopback port that knows AccessKeyID with
// AccessFull. Close it when done.
func New() *Server {
	s := &Server{
		// No list of operations: any name is taken, "*" (every one) included.
		inj:     inject.New[failure]("fake aws", nil),
		creds:   map[string]Credentials{},
		secrets: map[string]*secret{},
		now:     time.Now,
	}
	s.AddCredentials(Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Access: AccessFull})
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL is the endpoint, such as http://127.0.0.1:41234 (no trailing slash).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server; delayed answers are cut short.
func (s *Server) Close() {
	s.inj.Close()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Env returns the environment, as KEY=VALUE, that points the AWS SDK's
// default chain at this fake with the default credentials and nothing else:
// no shared config or credentials files, no IMDS, no profile.
func (s *Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKeyID,
		"AWS_CONFIG_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.URL(),
		"AWS_REGION=" + Region,
		"AWS_SECRET_ACCESS_KEY=" + SecretAccessKey,
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
}

// AddCredentials makes the fake accept (or replace) an access key.
func (s *Server) AddCredentials(c Credentials) {
	if c.User == "" {
		c.User = "runnerctl-test"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creds[c.AccessKeyID] = c
}

// RemoveCredentials makes the fake forget an access key: it then gives
// UnrecognizedClientException.
func (s *Server) RemoveCredentials(accessKeyID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creds, accessKeyID)
}

// SetSecret stores value as a new AWSCURRENT version of name, creating the
// secret if needed, as another writer would.
func (s *Server) SetSecret(name, value string) {
	s.setCurrent(name, &version{str: &value})
}

// SetSecretBinary stores value as a new AWSCURRENT binary version of name.
func (s *Server) SetSecretBinary(name string, value []byte) {
	s.setCurrent(name, &version{bin: slices.Clone(value)})
}

// setCurrent adds v, which has its value, as the AWSCURRENT version of name.
func (s *Server) setCurrent(name string, v *version) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	now := s.now()
	if sec == nil {
		sec = &secret{name: name, arn: newARN(Region, name), created: now}
		s.secrets[name] = sec
	}
	v.id, v.created = newUUID(), now
	sec.addVersion(v, []string{"AWSCURRENT"})
	sec.changed = now
}

// CreateEmpty creates a secret without any version, as CreateSecret without
// a value does.
func (s *Server) CreateEmpty(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secrets[name] == nil {
		now := s.now()
		s.secrets[name] = &secret{name: name, arn: newARN(Region, name), created: now, changed: now}
	}
}

// ScheduleDeletion marks a secret as scheduled for deletion, as
// DeleteSecret with a recovery window does. It reports whether it existed.
func (s *Server) ScheduleDeletion(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return false
	}
	t := s.now()
	sec.deleted = &t
	return true
}

// Secret returns the SecretString of name's AWSCURRENT version.
func (s *Server) Secret(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		return "", false
	}
	v := sec.byStage("AWSCURRENT")
	if v == nil || v.str == nil {
		return "", false
	}
	return *v.str, true
}

// Versions returns how many versions name has had (0 when it does not exist).
func (s *Server) Versions(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		return len(sec.versions)
	}
	return 0
}

// Stages returns the staging labels of every version of name, by version ID.
func (s *Server) Stages(name string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	if sec := s.secrets[name]; sec != nil {
		for _, v := range sec.versions {
			out[v.id] = slices.Clone(v.stages)
		}
	}
	return out
}

// Ops names the operations faults and delays take.
func (s *Server) Ops() []string { return slices.Clone(AllOps) }

// Requests returns the operations served so far, in order, including those
// that failed (one entry per request that named a known operation).
func (s *Server) Requests() []string { return s.inj.Requests() }

// FailNext makes the next n requests of op (after authentication) fail with
// HTTP status and the error Secrets Manager sends with it: 400 or 429
// ThrottlingException "Rate exceeded", 403 AccessDeniedException, 404
// ResourceNotFoundException, 500 InternalServiceError, 503
// ServiceUnavailable, any other status InternalFailure. Op "*" matches every
// operation.
func (s *Server) FailNext(op string, status, n int) {
	t, m := failureFor(status)
	s.FailNextWith(op, status, t, m, n)
}

// FailNextWith makes the next n requests of op fail with HTTP status and the
// given error type and message.
func (s *Server) FailNextWith(op string, status int, errType, message string, n int) {
	s.inj.Add(op, failure{status: status, errType: errType, message: message}, n)
}

// ClearFaults removes every pending failure and delay, as the other fakes'
// ClearFaults do.
func (s *Server) ClearFaults() { s.inj.Clear() }

// Delay makes every later request of op wait d before it is answered (or
// until the client gives up). Op "*" matches every operation; d 0 removes
// the delay.
func (s *Server) Delay(op string, d time.Duration) { s.inj.Delay(op, d) }

func failureFor(status int) (string, string) {
	switch {
	case status == 400 || status == 429:
		return "ThrottlingException", "Rate exceeded"
	case status == 403:
		return "AccessDeniedException", "User: arn:aws:iam::" + AccountID + ":user/runnerctl-test is not authorized to perform this operation"
	case status == 404:
		return "ResourceNotFoundException", "Secrets Manager can't find the specified secret."
	case status == 500:
		return "InternalServiceError", "An error occurred on the server side."
	case status == 503:
		return "ServiceUnavailable", "Service is unavailable"
	}
	return "InternalFailure", "The request processing has failed because of an unknown error, exception or failure."
}

// apiError is an error answer.
type apiError struct {
	status  int
	errType string
	message string
	// coral marks the platform's own errors (signature, identity), which
	// come with a namespaced __type and a lower-case "message".
	coral bool
}

func (e *apiError) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amzn-Requestid", newUUID())
	var body map[string]string
	if e.coral {
		h.Set("X-Amzn-Errortype", e.errType+":http://internal.amazon.com/coral/com.amazon.coral.service/")
		body = map[string]string{"__type": "com.amazon.coral.service#" + e.errType, "message": e.message}
	} else {
		body = map[string]string{"__type": e.errType, "Message": e.message}
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(body)
}

func coralErr(errType, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, errType: errType, message: msg, coral: true}
}

func svcErr(errType, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, errType: errType, message: msg}
}

func validationErr(member, constraint, value string) *apiError {
	v := "null"
	if value != "" || constraint != "Member must not be null" {
		v = "'" + value + "'"
	}
	return coralErr("ValidationException", fmt.Sprintf("1 validation error detected: Value %s at '%s' failed to satisfy constraint: %s", v, member, constraint))
}

func notFound() *apiError {
	return svcErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func markedForDeletion() *apiError {
	return svcErr("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
}

const maxBody = 1 << 20

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		coralErr("UnknownOperationException", "").write(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		coralErr("SerializationException", "request body too large or unreadable").write(w)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	if !ok || !slices.Contains(AllOps, op) {
		coralErr("UnknownOperationException", "").write(w)
		return
	}
	s.inj.Log(op)

	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		coralErr("SerializationException", "Unsupported Content-Type: "+ct).write(w)
		return
	}
	cred, region, aerr := s.authenticate(r, body)
	if aerr != nil {
		aerr.write(w)
		return
	}
	// A client that gave up during the delay gets no answer.
	if !s.inj.Wait(r.Context(), op, "*") {
		return
	}
	if f, ok := s.inj.Take(op, "*"); ok {
		(&apiError{status: f.status, errType: f.errType, message: f.message}).write(w)
		return
	}

	var out any
	switch op {
	case OpGetSecretValue:
		out, aerr = s.getSecretValue(cred, body)
	case OpDescribeSecret:
		out, aerr = s.describeSecret(cred, body)
	case OpCreateSecret:
		out, aerr = s.createSecret(cred, region, body)
	case OpPutSecretValue:
		out, aerr = s.putSecretValue(cred, body)
	}
	if aerr != nil {
		aerr.write(w)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", newUUID())
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(out)
}

// decode decodes a request body strictly into v, a pointer to a struct:
// member names are case-sensitive (encoding/json alone is not) and unknown
// members are rejected.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return coralErr("SerializationException", "Start of structure or map found where not expected.")
	}
	typ := reflect.TypeOf(v).Elem()
	for name := range members {
		if f, ok := typ.FieldByName(name); !ok || !f.IsExported() {
			return coralErr("SerializationException", "Unknown field: "+name)
		}
	}
	if err := json.Unmarshal(body, v); err != nil {
		return coralErr("SerializationException", "Wrong type for a member: "+err.Error())
	}
	return nil
}

func (s *Server) allowed(c Credentials, op string, resource string) *apiError {
	ok := false
	switch c.Access {
	case AccessFull:
		ok = true
	case AccessReadOnly:
		ok = op == OpGetSecretValue || op == OpDescribeSecret
	}
	if ok {
		return nil
	}
	return coralErr("AccessDeniedException", fmt.Sprintf(
		"User: arn:aws:iam::%s:user/%s is not authorized to perform: secretsmanager:%s on resource: %s because no identity-based policy allows the secretsmanager:%s action",
		AccountID, c.User, op, resource, op))
}

// find looks up secret id (a name or an ARN) for op. IAM decides first
// (AccessDenied comes before ResourceNotFound), on the secret's ARN or, when
// there is no such secret, on id as given. Caller holds s.mu.
func (s *Server) find(c Credentials, op, id string) (*secret, *apiError) {
	sec := s.lookup(id)
	resource := id
	if sec != nil {
		resource = sec.arn
	}
	if e := s.allowed(c, op, resource); e != nil {
		return nil, e
	}
	if sec == nil {
		return nil, notFound()
	}
	return sec, nil
}

// lookup finds a secret by name or ARN. Caller holds s.mu.
func (s *Server) lookup(id string) *secret {
	if sec := s.secrets[id]; sec != nil {
		return sec
	}
	if strings.HasPrefix(id, "arn:") {
		for _, sec := range s.secrets {
			if sec.arn == id {
				return sec
			}
		}
	}
	return nil
}

func (sec *secret) byStage(stage string) *version {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

func (sec *secret) byID(id string) *version {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// addVersion appends v with stages. Moving AWSCURRENT to v labels the
// previous current version AWSPREVIOUS (and takes that label from whoever
// had it), as Secrets Manager does.
func (sec *secret) addVersion(v *version, stages []string) {
	for _, st := range stages {
		old := sec.byStage(st)
		if old != nil {
			old.stages = slices.DeleteFunc(old.stages, func(x string) bool { return x == st })
		}
		if st == "AWSCURRENT" && old != nil {
			if prev := sec.byStage("AWSPREVIOUS"); prev != nil {
				prev.stages = slices.DeleteFunc(prev.stages, func(x string) bool { return x == "AWSPREVIOUS" })
			}
			old.stages = append(old.stages, "AWSPREVIOUS")
		}
	}
	v.stages = append(v.stages, stages...)
	sec.versions = append(sec.versions, v)
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func validName(name string) bool {
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("/_+=.@-!", r):
		default:
			return false
		}
	}
	return true
}

func checkSecretID(id *string) *apiError {
	if id == nil {
		return validationErr("secretId", "Member must not be null", "")
	}
	if len(*id) < 1 || len(*id) > 2048 {
		return validationErr("secretId", "Member must have length greater than or equal to 1", *id)
	}
	return nil
}

func checkToken(tok *string, hasValue bool) *apiError {
	if tok == nil {
		if hasValue {
			return svcErr("InvalidRequestException", "You must provide a ClientRequestToken value. We recommend a UUID-type value.")
		}
		return nil
	}
	if len(*tok) < 32 || len(*tok) > 64 {
		return validationErr("clientRequestToken", "Member must have length greater than or equal to 32 and less than or equal to 64", *tok)
	}
	return nil
}

func checkValue(str *string, bin []byte) *apiError {
	if str != nil && bin != nil {
		return svcErr("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	if str != nil && len(*str) > 65536 {
		return validationErr("secretString", "Member must have length less than or equal to 65536", "***")
	}
	if bin != nil && len(bin) > 65536 {
		return validationErr("secretBinary", "Member must have length less than or equal to 65536", "***")
	}
	return nil
}

func sameValue(v *version, str *string, bin []byte) bool {
	if (v.str == nil) != (str == nil) {
		return false
	}
	if v.str != nil && *v.str != *str {
		return false
	}
	return bytes.Equal(v.bin, bin)
}

type getSecretValueInput struct {
	SecretId     *string
	VersionId    *string
	VersionStage *string
}

type getSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	SecretString  *string  `json:",omitempty"`
	SecretBinary  []byte   `json:",omitempty"`
	VersionStages []string `json:",omitempty"`
	CreatedDate   float64
}

func (s *Server) getSecretValue(c Credentials, body []byte) (any, *apiError) {
	var in getSecretValueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkSecretID(in.SecretId); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(c, OpGetSecretValue, *in.SecretId)
	if e != nil {
		return nil, e
	}
	if sec.deleted != nil {
		return nil, markedForDeletion()
	}
	var v *version
	switch {
	case in.VersionId != nil:
		v = sec.byID(*in.VersionId)
		if v == nil {
			return nil, svcErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: "+*in.VersionId)
		}
		if in.VersionStage != nil && !slices.Contains(v.stages, *in.VersionStage) {
			return nil, svcErr("InvalidRequestException", "You provided a VersionStage that is not associated to the provided VersionId.")
		}
	default:
		stage := "AWSCURRENT"
		if in.VersionStage != nil {
			stage = *in.VersionStage
		}
		v = sec.byStage(stage)
		if v == nil {
			return nil, svcErr("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: "+stage)
		}
	}
	return getSecretValueOutput{
		ARN: sec.arn, Name: sec.name, VersionId: v.id, SecretString: v.str, SecretBinary: v.bin,
		VersionStages: slices.Clone(v.stages), CreatedDate: epoch(v.created),
	}, nil
}

type describeSecretInput struct {
	SecretId *string
}

type describeSecretOutput struct {
	ARN                string
	Name               string
	Description        string `json:",omitempty"`
	CreatedDate        float64
	LastChangedDate    float64
	DeletedDate        *float64            `json:",omitempty"`
	VersionIdsToStages map[string][]string `json:",omitempty"`
}

func (s *Server) describeSecret(c Credentials, body []byte) (any, *apiError) {
	var in describeSecretInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkSecretID(in.SecretId); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(c, OpDescribeSecret, *in.SecretId)
	if e != nil {
		return nil, e
	}
	out := describeSecretOutput{ARN: sec.arn, Name: sec.name, Description: sec.description,
		CreatedDate: epoch(sec.created), LastChangedDate: epoch(sec.changed)}
	if sec.deleted != nil {
		d := epoch(*sec.deleted)
		out.DeletedDate = &d
	}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			if out.VersionIdsToStages == nil {
				out.VersionIdsToStages = map[string][]string{}
			}
			out.VersionIdsToStages[v.id] = slices.Clone(v.stages)
		}
	}
	return out, nil
}

type tag struct {
	Key   *string
	Value *string
}

type replicaRegion struct {
	Region   *string
	KmsKeyId *string
}

type createSecretInput struct {
	Name                        *string
	ClientRequestToken          *string
	Description                 *string
	KmsKeyId                    *string
	SecretBinary                []byte
	SecretString                *string
	Tags                        []tag
	AddReplicaRegions           []replicaRegion
	ForceOverwriteReplicaSecret *bool
	Type                        *string
}

type createSecretOutput struct {
	ARN       string
	Name      string
	VersionId string `json:",omitempty"`
}

func (s *Server) createSecret(c Credentials, region string, body []byte) (any, *apiError) {
	var in createSecretInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.Name == nil {
		return nil, validationErr("name", "Member must not be null", "")
	}
	name := *in.Name
	if len(name) < 1 || len(name) > 512 {
		return nil, validationErr("name", "Member must have length less than or equal to 512", name)
	}
	if !validName(name) {
		return nil, svcErr("InvalidParameterException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	hasValue := in.SecretString != nil || in.SecretBinary != nil
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if e := checkToken(in.ClientRequestToken, hasValue); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.allowed(c, OpCreateSecret, "arn:aws:secretsmanager:"+region+":"+AccountID+":secret:"+name); e != nil {
		return nil, e
	}
	if sec := s.secrets[name]; sec != nil {
		if sec.deleted != nil {
			return nil, svcErr("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		// The same request again (same token, same value) is ignored.
		if in.ClientRequestToken != nil && hasValue {
			if v := sec.byID(*in.ClientRequestToken); v != nil && sameValue(v, in.SecretString, in.SecretBinary) {
				return createSecretOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id}, nil
			}
		}
		return nil, svcErr("ResourceExistsException", fmt.Sprintf("The operation failed because the secret %s already exists.", name))
	}
	now := s.now()
	sec := &secret{name: name, arn: newARN(region, name), created: now, changed: now}
	if in.Description != nil {
		sec.description = *in.Description
	}
	s.secrets[name] = sec
	out := createSecretOutput{ARN: sec.arn, Name: sec.name}
	if hasValue {
		v := &version{id: *in.ClientRequestToken, str: in.SecretString, bin: in.SecretBinary, created: now}
		sec.addVersion(v, []string{"AWSCURRENT"})
		out.VersionId = v.id
	}
	return out, nil
}

type putSecretValueInput struct {
	SecretId           *string
	ClientRequestToken *string
	SecretBinary       []byte
	SecretString       *string
	VersionStages      []string
	RotationToken      *string
}

type putSecretValueOutput struct {
	ARN           string
	Name          string
	VersionId     string
	VersionStages []string
}

func (s *Server) putSecretValue(c Credentials, body []byte) (any, *apiError) {
	var in putSecretValueInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := checkSecretID(in.SecretId); e != nil {
		return nil, e
	}
	if e := checkValue(in.SecretString, in.SecretBinary); e != nil {
		return nil, e
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, svcErr("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
	}
	if e := checkToken(in.ClientRequestToken, true); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, e := s.find(c, OpPutSecretValue, *in.SecretId)
	if e != nil {
		return nil, e
	}
	if sec.deleted != nil {
		return nil, markedForDeletion()
	}
	if v := sec.byID(*in.ClientRequestToken); v != nil {
		if sameValue(v, in.SecretString, in.SecretBinary) {
			return putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
		}
		return nil, svcErr("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{"AWSCURRENT"}
	}
	now := s.now()
	v := &version{id: *in.ClientRequestToken, str: in.SecretString, bin: in.SecretBinary, created: now}
	sec.addVersion(v, stages)
	sec.changed = now
	return putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionId: v.id, VersionStages: slices.Clone(v.stages)}, nil
}

func newARN(region, name string) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "arn:aws:secretsmanager:" + region + ":" + AccountID + ":secret:" + name + "-" + string(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
