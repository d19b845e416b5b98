package gcp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const jwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// CredentialsFile writes a service-account key file (the JSON that
// GOOGLE_APPLICATION_CREDENTIALS names) into dir and returns its path. Its
// token_uri is this fake's /token, so ADC exchanges a signed JWT here for an
// access token with the service-account role (SetServiceAccountRole). The
// RSA key is made once per Server.
func (s *Server) CredentialsFile(dir string) (string, error) {
	s.mu.Lock()
	if s.key == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			s.mu.Unlock()
			return "", err
		}
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		s.key, s.keyID = k, hex.EncodeToString(b)
	}
	key, keyID := s.key, s.keyID
	s.mu.Unlock()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	file := map[string]string{
		"type":                        "service_account",
		"project_id":                  Project,
		"private_key_id":              keyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                ServiceAccount,
		"client_id":                   "104242424242424242424",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   s.URL() + "/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}
	b, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "application_default_credentials.json")
	return path, os.WriteFile(path, b, 0o600)
}

// Env writes a service-account key file into dir (CredentialsFile) and
// returns the environment, as KEY=VALUE, that points runnerctl's GCP store
// and ADC at this fake: GOOGLE_APPLICATION_CREDENTIALS,
// RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT, GOOGLE_CLOUD_PROJECT, and
// GCE_METADATA_HOST (so that nothing ever probes a real metadata server).
func (s *Server) Env(dir string) ([]string, error) {
	path, err := s.CredentialsFile(dir)
	if err != nil {
		return nil, err
	}
	return []string{
		"GCE_METADATA_HOST=" + s.MetadataHost(),
		"GOOGLE_APPLICATION_CREDENTIALS=" + path,
		"GOOGLE_CLOUD_PROJECT=" + Project,
		"RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT=" + s.URL(),
	}, nil
}

func oauthError(w http.ResponseWriter, code int, errCode, desc string) {
	writeJSON(w, code, map[string]string{"error": errCode, "error_description": desc})
}

// serveToken implements the JWT bearer grant (RFC 7523) as Google's token
// endpoint does for service-account keys.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, 405, "invalid_request", "Method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "Malformed request body")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != jwtBearer {
		oauthError(w, 400, "unsupported_grant_type", "Invalid grant_type: "+gt)
		return
	}
	parts := strings.Split(r.PostForm.Get("assertion"), ".")
	if len(parts) != 3 {
		oauthError(w, 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
		return
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}
	var claims struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Iat   int64  `json:"iat"`
		Sub   string `json:"sub"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil || hdr.Alg != "RS256" {
		oauthError(w, 400, "invalid_grant", "Invalid JWT header.")
		return
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		oauthError(w, 400, "invalid_grant", "Invalid JWT claim set.")
		return
	}
	s.mu.Lock()
	key, keyID := s.key, s.keyID
	s.mu.Unlock()
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if key == nil || err != nil || (hdr.Kid != "" && hdr.Kid != keyID) {
		oauthError(w, 400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		oauthError(w, 400, "invalid_grant", "Invalid JWT Signature.")
		return
	}
	if claims.Iss != ServiceAccount {
		oauthError(w, 400, "invalid_grant", "Invalid grant: account not found")
		return
	}
	if claims.Aud != s.URL()+"/token" {
		oauthError(w, 400, "invalid_grant", fmt.Sprintf("Invalid JWT: Audience %q is not the token endpoint.", claims.Aud))
		return
	}
	now := time.Now().Unix()
	if claims.Exp-claims.Iat > 3600 || claims.Exp < now || claims.Iat > now+300 {
		oauthError(w, 400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
		return
	}
	if !strings.Contains(" "+claims.Scope+" ", " https://www.googleapis.com/auth/cloud-platform ") {
		oauthError(w, 400, "invalid_scope", "Invalid OAuth scope or ID token audience provided.")
		return
	}
	s.mu.Lock()
	tok := s.issue()
	s.mu.Unlock()
	writeJSON(w, 200, map[string]any{"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
