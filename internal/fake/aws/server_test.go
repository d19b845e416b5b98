package aws

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// call sends a JSON 1.1 request for op, signed by the SDK's own signer (an
// implementation independent of the fake's verifier) unless sign is false.
func call(t *testing.T, s *Server, op, body string, sign bool, mutate func(*http.Request)) (int, map[string]string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "secretsmanager."+op)
	if sign {
		sum := sha256.Sum256([]byte(body))
		creds := sdkaws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
		if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "secretsmanager", Region, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if mutate != nil {
		mutate(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]string{}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("body %q is not JSON: %v", raw, err)
	}
	for k, v := range generic {
		if sv, ok := v.(string); ok {
			out[k] = sv
		}
	}
	return resp.StatusCode, out, resp.Header
}

func TestAuthentication(t *testing.T) {
	s := New()
	defer s.Close()
	body := `{"SecretId":"x"}`

	st, out, _ := call(t, s, OpGetSecretValue, body, false, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#MissingAuthenticationTokenException") {
		t.Errorf("unsigned: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpGetSecretValue, body, true, nil)
	if st != 400 || out["__type"] != "ResourceNotFoundException" || out["Message"] != "Secrets Manager can't find the specified secret." {
		t.Errorf("signed: %d %v", st, out)
	}
	// A body changed after signing.
	st, out, h := call(t, s, OpGetSecretValue, body, true, func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(`{"SecretId":"y"}`))
	})
	if st != 400 || !strings.HasSuffix(out["__type"], "#InvalidSignatureException") ||
		!strings.HasPrefix(h.Get("X-Amzn-Errortype"), "InvalidSignatureException:") {
		t.Errorf("tampered: %d %v", st, out)
	}
	// An unknown key.
	s.RemoveCredentials(AccessKeyID)
	st, out, _ = call(t, s, OpGetSecretValue, body, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#UnrecognizedClientException") || out["message"] != "The security token included in the request is invalid." {
		t.Errorf("unknown key: %d %v", st, out)
	}
}

func TestSignatureExpired(t *testing.T) {
	s := New()
	defer s.Close()
	s.now = func() time.Time { return time.Now().Add(20 * time.Minute) }
	st, out, _ := call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, nil)
	if st != 400 || !strings.Contains(out["message"], "Signature expired") {
		t.Errorf("%d %v", st, out)
	}
}

func TestProtocolStrictness(t *testing.T) {
	s := New()
	defer s.Close()
	st, out, _ := call(t, s, "DeleteSecret", `{}`, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#UnknownOperationException") {
		t.Errorf("unknown op: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, func(r *http.Request) { r.Header.Set("Content-Type", "application/json") })
	if st != 400 || !strings.HasSuffix(out["__type"], "#SerializationException") {
		t.Errorf("content type: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpGetSecretValue, `{"SecretID":"x"}`, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#SerializationException") || !strings.Contains(out["message"], "SecretID") {
		t.Errorf("unknown member: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpGetSecretValue, `{}`, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#ValidationException") || !strings.Contains(out["message"], "'secretId'") {
		t.Errorf("missing SecretId: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"SecretString":"v","ClientRequestToken":"`+strings.Repeat("a", 32)+`"}`, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#ValidationException") || !strings.Contains(out["message"], "'name'") {
		t.Errorf("missing Name: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"a b","SecretString":"v","ClientRequestToken":"`+strings.Repeat("a", 32)+`"}`, true, nil)
	if st != 400 || out["__type"] != "InvalidParameterException" {
		t.Errorf("invalid name: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v"}`, true, nil)
	if st != 400 || out["__type"] != "InvalidRequestException" || !strings.Contains(out["Message"], "ClientRequestToken") {
		t.Errorf("no token: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v","ClientRequestToken":"short"}`, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#ValidationException") {
		t.Errorf("short token: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v","SecretBinary":"dg==","ClientRequestToken":"`+strings.Repeat("a", 32)+`"}`, true, nil)
	if st != 400 || out["__type"] != "InvalidParameterException" {
		t.Errorf("both values: %d %v", st, out)
	}
	if len(s.secrets) != 0 {
		t.Error("a rejected request created a secret")
	}
}

func TestCreateAndPutSemantics(t *testing.T) {
	s := New()
	defer s.Close()
	tok1 := strings.Repeat("1", 36)
	tok2 := strings.Repeat("2", 36)
	st, out, _ := call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v1","ClientRequestToken":"`+tok1+`"}`, true, nil)
	if st != 200 || out["VersionId"] != tok1 || !strings.HasPrefix(out["ARN"], "arn:aws:secretsmanager:us-east-1:123456789012:secret:n-") {
		t.Fatalf("create: %d %v", st, out)
	}
	arn := out["ARN"]
	// The same request again is ignored.
	st, _, _ = call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v1","ClientRequestToken":"`+tok1+`"}`, true, nil)
	if st != 200 || s.Versions("n") != 1 {
		t.Fatalf("replayed create: %d, versions %d", st, s.Versions("n"))
	}
	// Another token: the name is taken.
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v1","ClientRequestToken":"`+tok2+`"}`, true, nil)
	if st != 400 || out["__type"] != "ResourceExistsException" || out["Message"] != "The operation failed because the secret n already exists." {
		t.Fatalf("second create: %d %v", st, out)
	}
	// Put by ARN.
	st, out, _ = call(t, s, OpPutSecretValue, `{"SecretId":"`+arn+`","SecretString":"v2","ClientRequestToken":"`+tok2+`"}`, true, nil)
	if st != 200 || out["VersionId"] != tok2 {
		t.Fatalf("put: %d %v", st, out)
	}
	if v, _ := s.Secret("n"); v != "v2" {
		t.Fatalf("current = %q", v)
	}
	stages := s.Stages("n")
	if len(stages[tok1]) != 1 || stages[tok1][0] != "AWSPREVIOUS" || len(stages[tok2]) != 1 || stages[tok2][0] != "AWSCURRENT" {
		t.Fatalf("stages = %v", stages)
	}
	// Reusing a version's token with another value fails.
	st, out, _ = call(t, s, OpPutSecretValue, `{"SecretId":"n","SecretString":"v3","ClientRequestToken":"`+tok2+`"}`, true, nil)
	if st != 400 || out["__type"] != "ResourceExistsException" {
		t.Fatalf("token reuse: %d %v", st, out)
	}
	// Put on a missing secret.
	st, out, _ = call(t, s, OpPutSecretValue, `{"SecretId":"nope","SecretString":"v","ClientRequestToken":"`+tok1+`"}`, true, nil)
	if st != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Fatalf("put missing: %d %v", st, out)
	}
	// Describe.
	st, out, _ = call(t, s, OpDescribeSecret, `{"SecretId":"n"}`, true, nil)
	if st != 200 || out["Name"] != "n" || out["ARN"] != arn {
		t.Fatalf("describe: %d %v", st, out)
	}
	// Scheduled for deletion.
	s.ScheduleDeletion("n")
	st, out, _ = call(t, s, OpGetSecretValue, `{"SecretId":"n"}`, true, nil)
	if st != 400 || out["__type"] != "InvalidRequestException" || !strings.Contains(out["Message"], "marked for deletion") {
		t.Fatalf("get deleted: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"n","SecretString":"v","ClientRequestToken":"`+strings.Repeat("3", 36)+`"}`, true, nil)
	if st != 400 || out["__type"] != "InvalidRequestException" || !strings.Contains(out["Message"], "scheduled for deletion") {
		t.Fatalf("create deleted: %d %v", st, out)
	}
}

func TestAccessLevels(t *testing.T) {
	s := New()
	defer s.Close()
	s.AddCredentials(Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Access: AccessReadOnly})
	st, out, _ := call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, nil)
	if st != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("read-only get: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpCreateSecret, `{"Name":"x","SecretString":"v","ClientRequestToken":"`+strings.Repeat("a", 32)+`"}`, true, nil)
	if st != 400 || !strings.HasSuffix(out["__type"], "#AccessDeniedException") || !strings.Contains(out["message"], "secretsmanager:CreateSecret") {
		t.Errorf("read-only create: %d %v", st, out)
	}
}

func TestFaults(t *testing.T) {
	s := New()
	defer s.Close()
	s.FailNext(OpGetSecretValue, 500, 1)
	s.FailNext("*", 400, 1)
	st, out, _ := call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, nil)
	if st != 500 || out["__type"] != "InternalServiceError" {
		t.Errorf("first: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpDescribeSecret, `{"SecretId":"x"}`, true, nil)
	if st != 400 || out["__type"] != "ThrottlingException" {
		t.Errorf("second: %d %v", st, out)
	}
	st, out, _ = call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, nil)
	if st != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("third: %d %v", st, out)
	}
	s.Delay(OpGetSecretValue, 150*time.Millisecond)
	start := time.Now()
	call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, nil)
	if time.Since(start) < 150*time.Millisecond {
		t.Error("delay not applied")
	}
	if got := strings.Join(s.Requests(), ","); got != "GetSecretValue,DescribeSecret,GetSecretValue,GetSecretValue" {
		t.Errorf("requests = %s", got)
	}
}

func TestClearFaults(t *testing.T) {
	s := New()
	defer s.Close()
	s.FailNext("*", 500, 3)
	s.Delay(OpGetSecretValue, time.Minute)
	s.ClearFaults()
	st, out, _ := call(t, s, OpGetSecretValue, `{"SecretId":"x"}`, true, nil)
	if st != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("after ClearFaults: %d %v", st, out)
	}
}

func TestEnv(t *testing.T) {
	s := New()
	defer s.Close()
	env := strings.Join(s.Env(), "\n")
	for _, want := range []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + s.URL(), "AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=" + AccessKeyID} {
		if !strings.Contains(env, want) {
			t.Errorf("Env lacks %s", want)
		}
	}

}
