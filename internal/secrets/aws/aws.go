// Package aws stores runner tokens in AWS Secrets Manager, where the External
// Secrets Operator's AWS provider (service: SecretsManager) reads them.
//
// Layout (config.Config.TokenRef): Location.Key is the secret name;
// Location.Property, when set, is a top-level key of a JSON object held in
// the SecretString (other keys are kept on update); when empty, the token is
// the whole SecretString. ESO reads the AWSCURRENT version, which Put moves
// to the value it writes.
//
// Credentials, region and endpoint come from the AWS SDK's default chain
// (config.LoadDefaultConfig): AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
// AWS_SESSION_TOKEN, AWS_PROFILE and the shared files, web identity, SSO,
// container and EC2 instance roles; AWS_REGION; AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_SECRETS_MANAGER. Options override region and endpoint.
//
// Nothing here ever puts the token, or a secret value read back, into an
// error or a log.
package aws

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Options configure a Store. The zero value uses the SDK's default chain for
// everything.
type Options struct {
	// Region overrides the SDK's region (AWS_REGION, the profile's region).
	Region string
	// EndpointURL overrides the Secrets Manager endpoint, such as
	// http://127.0.0.1:4566 for a local fake. Empty uses AWS_ENDPOINT_URL_SECRETS_MANAGER,
	// AWS_ENDPOINT_URL or the shared config's endpoint_url, else AWS's own.
	EndpointURL string
	// HTTPClient replaces the SDK's HTTP client.
	HTTPClient *http.Client
	// RetryMaxAttempts bounds the SDK's attempts per call (it retries
	// throttling and 5xx with backoff); 0 keeps the SDK's default (3, or
	// AWS_MAX_ATTEMPTS).
	RetryMaxAttempts int
	// RetryMaxBackoff caps the SDK's delay between attempts; 0 keeps its
	// default (20s).
	RetryMaxBackoff time.Duration
}

// Store is AWS Secrets Manager.
type Store struct {
	client *secretsmanager.Client
	creds  aws.CredentialsProvider
	region string
}

var _ secrets.Store = (*Store)(nil)

// New loads the SDK's default configuration (it makes no network call) and
// returns a Store. It fails when no region is configured.
func New(ctx context.Context, opts Options) (*Store, error) {
	var lo []func(*config.LoadOptions) error
	if opts.Region != "" {
		lo = append(lo, config.WithRegion(opts.Region))
	}
	if opts.HTTPClient != nil {
		lo = append(lo, config.WithHTTPClient(opts.HTTPClient))
	}
	if opts.RetryMaxAttempts > 0 || opts.RetryMaxBackoff > 0 {
		lo = append(lo, config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if opts.RetryMaxAttempts > 0 {
					o.MaxAttempts = opts.RetryMaxAttempts
				}
				if opts.RetryMaxBackoff > 0 {
					o.MaxBackoff = opts.RetryMaxBackoff
				}
			})
		}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, fmt.Errorf("aws: load configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("aws: no region: set secrets.aws.region in runnerctl.yaml, or AWS_REGION")
	}
	client := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if opts.EndpointURL != "" {
			o.BaseEndpoint = aws.String(opts.EndpointURL)
		}
	})
	return &Store{client: client, creds: cfg.Credentials, region: cfg.Region}, nil
}

// Backend implements secrets.Store.
func (s *Store) Backend() string { return "aws" }

// Region is the region the store talks to.
func (s *Store) Region() string { return s.region }

// Check proves the credentials work and that loc can be read, which Put needs
// first: it reads the secret's current value (a missing secret is fine) and,
// when loc has a property, that the value is a JSON object Put can merge
// into. It changes nothing. Whether the credentials may write is only known
// when Put writes: Secrets Manager has no dry run.
func (s *Store) Check(ctx context.Context, loc secrets.Location) error {
	if err := validate(loc); err != nil {
		return err
	}
	cur, err := s.current(ctx, loc.Key)
	if err != nil {
		return err
	}
	if cur != nil && loc.Property != "" {
		if _, err := parseObject(loc, cur.value); err != nil {
			return err
		}
	}
	return nil
}

// Put stores tok at loc. A missing secret is created; an existing one gets a
// new version (AWSCURRENT), unless it already holds exactly this value.
// With a property, the other keys of the JSON object are kept.
//
// Secrets Manager has no conditional write: a writer racing between Put's
// read and its write is overwritten (last writer wins). Only a secret created
// by someone else at the same time is noticed: Put then starts over once.
func (s *Store) Put(ctx context.Context, loc secrets.Location, tok secrets.Token) error {
	if err := validate(loc); err != nil {
		return err
	}
	if tok.IsZero() {
		return fmt.Errorf("aws secret %q: refusing to store an empty token", loc.Key)
	}
	for attempt := 0; ; attempt++ {
		cur, err := s.current(ctx, loc.Key)
		if err != nil {
			return err
		}
		var old []byte
		if cur != nil {
			old = cur.value
		}
		value, err := newValue(loc, old, tok)
		if err != nil {
			return err
		}
		if cur == nil {
			created, err := s.create(ctx, loc.Key, value, tok.Reveal())
			if err != nil {
				return err
			}
			if !created && attempt == 0 {
				continue // created meanwhile by someone else: merge into theirs
			}
			if !created {
				return fmt.Errorf("aws secret %q: %w: it was created by someone else while runnerctl was writing it", loc.Key, secrets.ErrConflict)
			}
			return nil
		}
		if bytes.Equal(old, value) && cur.isString {
			return nil // already there: no new version
		}
		_, err = s.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:           aws.String(loc.Key),
			SecretString:       aws.String(string(value)),
			ClientRequestToken: aws.String(newRequestToken()),
		})
		if err != nil {
			return mapErr(loc.Key, "put value", err, tok.Reveal(), string(value))
		}
		return nil
	}
}

// Get reads the token at loc: ErrNotFound when the secret, its AWSCURRENT
// version or the property is missing.
func (s *Store) Get(ctx context.Context, loc secrets.Location) (secrets.Token, error) {
	if err := validate(loc); err != nil {
		return secrets.Token{}, err
	}
	cur, err := s.current(ctx, loc.Key)
	if err != nil {
		return secrets.Token{}, err
	}
	if cur == nil {
		return secrets.Token{}, fmt.Errorf("aws secret %q: %w", loc.Key, secrets.ErrNotFound)
	}
	if loc.Property == "" {
		if len(cur.value) == 0 {
			return secrets.Token{}, fmt.Errorf("aws secret %q: %w: the value is empty", loc.Key, secrets.ErrNotFound)
		}
		return secrets.NewToken(string(cur.value)), nil
	}
	obj, err := parseObject(loc, cur.value)
	if err != nil {
		return secrets.Token{}, err
	}
	raw, ok := obj[loc.Property]
	if !ok {
		return secrets.Token{}, fmt.Errorf("aws secret %q: %w: no property %q", loc.Key, secrets.ErrNotFound, loc.Property)
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return secrets.Token{}, fmt.Errorf("aws secret %q: property %q is not a JSON string", loc.Key, loc.Property)
	}
	if v == "" {
		return secrets.Token{}, fmt.Errorf("aws secret %q: %w: property %q is empty", loc.Key, secrets.ErrNotFound, loc.Property)
	}
	return secrets.NewToken(v), nil
}

type currentValue struct {
	value    []byte
	isString bool
}

// current reads the AWSCURRENT value of name; nil when the secret or its
// current version does not exist.
func (s *Store) current(ctx context.Context, name string) (*currentValue, error) {
	if err := s.credentials(ctx, name); err != nil {
		return nil, err
	}
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(name)})
	if err != nil {
		if apiCode(err) == "ResourceNotFoundException" {
			return nil, nil
		}
		return nil, mapErr(name, "read value", err)
	}
	switch {
	case out.SecretString != nil:
		return &currentValue{value: []byte(*out.SecretString), isString: true}, nil
	case out.SecretBinary != nil:
		// ESO reads SecretBinary when it is set (PushSecret writes binary).
		return &currentValue{value: out.SecretBinary}, nil
	}
	return &currentValue{isString: true}, nil
}

// create makes the secret with its first value. It reports false when the
// secret already exists, or exists without a current version.
func (s *Store) create(ctx context.Context, name string, value []byte, tok string) (bool, error) {
	_, err := s.client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(name),
		SecretString:       aws.String(string(value)),
		ClientRequestToken: aws.String(newRequestToken()),
		Description:        aws.String("GitLab runner authentication token, written by runnerctl"),
	})
	if err == nil {
		return true, nil
	}
	if apiCode(err) != "ResourceExistsException" {
		return false, mapErr(name, "create", err, tok, string(value))
	}
	// It exists. Either someone created it meanwhile (the caller reads it
	// again), or it exists with no AWSCURRENT version (GetSecretValue says
	// ResourceNotFound then): give it one.
	cur, err := s.current(ctx, name)
	if err != nil || cur != nil {
		return false, err
	}
	_, err = s.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(name),
		SecretString:       aws.String(string(value)),
		ClientRequestToken: aws.String(newRequestToken()),
	})
	if err != nil {
		return false, mapErr(name, "put value", err, tok, string(value))
	}
	return true, nil
}

// credentials resolves the default chain's credentials (cached after the
// first call), so that their absence is reported as ErrAuth: the SDK's own
// error for it has no type to recognise.
func (s *Store) credentials(ctx context.Context, name string) error {
	if s.creds == nil {
		return &mappedError{msg: fmt.Sprintf("aws secret %q: %v: no AWS credentials configured", name, secrets.ErrAuth), sentinel: secrets.ErrAuth, cause: secrets.ErrAuth}
	}
	if _, err := s.creds.Retrieve(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("aws secret %q: get credentials: %w", name, err)
		}
		sentinel := secrets.ErrAuth
		if code := apiCode(err); sentinelFor(code, statusOf(err)) == secrets.ErrTransient {
			sentinel = secrets.ErrTransient
		}
		return &mappedError{msg: fmt.Sprintf("aws secret %q: %v: no usable AWS credentials from the default chain "+
			"(environment, shared config and credentials files, SSO, web identity, container or instance role): %v", name, sentinel, err),
			sentinel: sentinel, cause: err}
	}
	return nil
}

func validate(loc secrets.Location) error {
	if loc.Key == "" {
		return errors.New("aws: empty secret name")
	}
	return nil
}

// newValue is the SecretString that stores tok at loc, given the current
// value (nil when there is none).
func newValue(loc secrets.Location, old []byte, tok secrets.Token) ([]byte, error) {
	if loc.Property == "" {
		return []byte(tok.Reveal()), nil
	}
	obj := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(old)) > 0 {
		var err error
		if obj, err = parseObject(loc, old); err != nil {
			return nil, err
		}
	}
	v, err := marshal(tok.Reveal())
	if err != nil {
		return nil, fmt.Errorf("aws secret %q: encode property %q", loc.Key, loc.Property)
	}
	obj[loc.Property] = v
	out, err := marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("aws secret %q: encode the JSON value", loc.Key)
	}
	return out, nil
}

// parseObject decodes a secret value that must be a JSON object. Its error
// never quotes the value.
func parseObject(loc secrets.Location, value []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		return nil, fmt.Errorf("aws secret %q: property %q needs the secret value to be a JSON object, and it is not; "+
			"runnerctl will not overwrite it (choose another secret name, or an empty property to store the plain token)", loc.Key, loc.Property)
	}
	return obj, nil
}

// marshal encodes v as compact JSON without HTML escaping, so kept values
// stay as they were written.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// newRequestToken returns a random UUID (version 4) for ClientRequestToken:
// it names the new version and makes the SDK's own retries of one call
// idempotent.
func newRequestToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// mapErr turns an SDK error into one that wraps a secrets.Err* value where
// one applies, names the secret, and keeps the SDK error for errors.As. SDK
// errors never carry request bodies, so no value leaks through them.
//
// hide lists values written by the failed call: should a server message ever
// quote one, it is replaced by [REDACTED] (defence in depth; AWS masks
// SecretString in its messages).
func mapErr(name, op string, err error, hide ...string) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		detail := ae.ErrorCode()
		if m := ae.ErrorMessage(); m != "" {
			detail += ": " + m
		}
		for _, h := range hide {
			if h != "" {
				detail = strings.ReplaceAll(detail, h, "[REDACTED]")
			}
		}
		sentinel := sentinelFor(ae.ErrorCode(), statusOf(err))
		if ae.ErrorCode() == "InvalidRequestException" && strings.Contains(ae.ErrorMessage(), "deletion") {
			detail += " (a secret scheduled for deletion can be restored with: aws secretsmanager restore-secret --secret-id NAME)"
		}
		if sentinel != nil {
			return &mappedError{msg: fmt.Sprintf("aws secret %q: %s: %v (%s)", name, op, sentinel, detail), sentinel: sentinel, cause: err}
		}
		return &mappedError{msg: fmt.Sprintf("aws secret %q: %s: %s", name, op, detail), cause: err}
	}
	var se *v4.SigningError
	if errors.As(err, &se) {
		return &mappedError{msg: fmt.Sprintf("aws secret %q: %s: %v: no usable AWS credentials (%v)", name, op, secrets.ErrAuth, se.Err),
			sentinel: secrets.ErrAuth, cause: err}
	}
	if status := statusOf(err); status >= 500 || status == http.StatusTooManyRequests {
		return &mappedError{msg: fmt.Sprintf("aws secret %q: %s: %v (HTTP %d)", name, op, secrets.ErrTransient, status), sentinel: secrets.ErrTransient, cause: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &mappedError{msg: fmt.Sprintf("aws secret %q: %s: %v: %v", name, op, secrets.ErrTransient, err), sentinel: secrets.ErrTransient, cause: err}
	}
	return fmt.Errorf("aws secret %q: %s: %w", name, op, err)
}

func sentinelFor(code string, status int) error {
	switch code {
	case "ResourceNotFoundException":
		return secrets.ErrNotFound
	case "AccessDeniedException", "AccessDenied":
		return secrets.ErrPermission
	case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException", "ExpiredToken",
		"InvalidClientTokenId", "MissingAuthenticationTokenException", "IncompleteSignatureException",
		"IncompleteSignature", "SignatureDoesNotMatch", "MissingAuthenticationToken":
		return secrets.ErrAuth
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
		"InternalServiceError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
		"RequestTimeout", "RequestTimeoutException":
		return secrets.ErrTransient
	case "ResourceExistsException":
		return secrets.ErrConflict
	}
	if status >= 500 || status == http.StatusTooManyRequests {
		return secrets.ErrTransient
	}
	return nil
}

func statusOf(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// mappedError reads as msg and matches both the sentinel and the SDK error.
type mappedError struct {
	msg      string
	sentinel error
	cause    error
}

func (e *mappedError) Error() string { return e.msg }

func (e *mappedError) Unwrap() []error {
	if e.sentinel == nil {
		return []error{e.cause}
	}
	return []error{e.sentinel, e.cause}
}
