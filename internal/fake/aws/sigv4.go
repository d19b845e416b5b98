package aws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	amzDateForm  = "20060102T150405Z"
	maxSkew      = 15 * time.Minute
	service      = "secretsmanager"
)

// authenticate verifies the request's Signature Version 4 and returns the
// caller's credentials and the region of the signature's scope.
//
// This follows the published algorithm (canonical request, string to sign,
// derived signing key) rather than the SDK's signer, so the two ends are
// independent implementations.
func (s *Server) authenticate(r *http.Request, body []byte) (Credentials, string, *apiError) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return Credentials{}, "", coralErr("MissingAuthenticationTokenException", "Missing Authentication Token")
	}
	algo, rest, _ := strings.Cut(auth, " ")
	if algo != sigAlgorithm {
		return Credentials{}, "", coralErr("IncompleteSignatureException", "Unsupported AWS 'algorithm': '"+algo+"'")
	}
	fields := map[string]string{}
	for p := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok {
			fields[k] = v
		}
	}
	credential, signedHeaders, signature := fields["Credential"], fields["SignedHeaders"], fields["Signature"]
	if credential == "" || signedHeaders == "" || signature == "" {
		return Credentials{}, "", coralErr("IncompleteSignatureException",
			"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters. Authorization="+algo)
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" {
		return Credentials{}, "", coralErr("IncompleteSignatureException", "Credential should be scoped to a valid region.")
	}
	akid, date, region, svc := scope[0], scope[1], scope[2], scope[3]

	s.mu.Lock()
	cred, known := s.creds[akid]
	now := s.now()
	s.mu.Unlock()
	if !known {
		return Credentials{}, "", coralErr("UnrecognizedClientException", "The security token included in the request is invalid.")
	}
	if cred.SessionToken != "" || r.Header.Get("X-Amz-Security-Token") != "" {
		if r.Header.Get("X-Amz-Security-Token") != cred.SessionToken {
			return Credentials{}, "", coralErr("UnrecognizedClientException", "The security token included in the request is invalid.")
		}
	}
	if svc != service {
		return Credentials{}, "", coralErr("InvalidSignatureException", "Credential should be scoped to correct service: '"+service+"'. ")
	}
	amzDate := r.Header.Get("X-Amz-Date")
	if amzDate == "" {
		return Credentials{}, "", coralErr("IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	t, err := time.Parse(amzDateForm, amzDate)
	if err != nil {
		return Credentials{}, "", coralErr("IncompleteSignatureException", "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if date != amzDate[:8] {
		return Credentials{}, "", coralErr("InvalidSignatureException",
			fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", date, amzDate[:8], amzDate))
	}
	if d := now.Sub(t); d > maxSkew || d < -maxSkew {
		return Credentials{}, "", coralErr("InvalidSignatureException",
			fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)", amzDate,
				now.Add(-maxSkew).UTC().Format(amzDateForm), now.UTC().Format(amzDateForm)))
	}
	names := strings.Split(signedHeaders, ";")
	if !slices.Contains(names, "host") {
		return Credentials{}, "", coralErr("InvalidSignatureException", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	if !slices.Contains(names, "x-amz-date") {
		return Credentials{}, "", coralErr("InvalidSignatureException", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
	}

	payloadHash := sha256Hex(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payloadHash {
		return Credentials{}, "", coralErr("InvalidSignatureException", mismatch)
	}
	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalURI(r.URL) + "\n")
	canon.WriteString(canonicalQuery(r.URL) + "\n")
	for _, h := range names {
		canon.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	canon.WriteString("\n" + signedHeaders + "\n" + payloadHash)

	scopeStr := date + "/" + region + "/" + svc + "/aws4_request"
	toSign := sigAlgorithm + "\n" + amzDate + "\n" + scopeStr + "\n" + sha256Hex([]byte(canon.String()))
	key := hmacSHA256([]byte("AWS4"+cred.SecretAccessKey), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, svc)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return Credentials{}, "", coralErr("InvalidSignatureException", mismatch)
	}
	if cred.Expired {
		return Credentials{}, "", coralErr("ExpiredTokenException", "The security token included in the request is expired")
	}
	return cred, region, nil
}

const mismatch = "The request signature we calculated does not match the signature you provided. " +
	"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

// headerValue is the canonical value of a signed header: the values joined
// by commas, each trimmed, inner runs of spaces collapsed. Go's server moves
// Host and Content-Length out of r.Header.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		if r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	// Non-S3 services encode each segment a second time.
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = uriEncode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(u *url.URL) string {
	q := u.Query()
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(q)) {
		vs := slices.Sorted(slices.Values(q[k]))
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	return strings.Join(parts, "&")
}

func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
