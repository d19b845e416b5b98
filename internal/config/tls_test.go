package config_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runnerctl/runnerctl/internal/config"
)

// testCA returns a freshly made self-signed CA certificate, PEM-encoded.
func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Unix(0, 0),
		NotAfter:              time.Unix(0, 0).AddDate(200, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func withTLS(url, tls string) string {
	return strings.Replace(minimal, "  url: https://gitlab.com/\n", "  url: "+url+"\n  tls: "+tls+"\n", 1)
}

// parseIn writes files into a fresh repository and parses spec from there.
func parseIn(t *testing.T, spec string, files map[string][]byte) (*config.Config, error) {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config.Parse(filepath.Join(dir, "runnerctl.yaml"), []byte(spec))
}

func TestCertKey(t *testing.T) {
	for url, want := range map[string]string{
		"https://gitlab.example.com/":             "gitlab.example.com.crt",
		"https://gitlab.example.com:8443/gitlab/": "gitlab.example.com.crt", // the runner drops the port
		"https://GitLab.Example.com/":             "GitLab.Example.com.crt", // and keeps the case
		"https://10.0.0.5:443/":                   "10.0.0.5.crt",
	} {
		if got, err := config.CertKey(url); got != want || err != nil {
			t.Errorf("CertKey(%q) = %q, %v; want %q", url, got, err, want)
		}
	}
	if _, err := config.CertKey("https://[2001:db8::1]:8443/"); err == nil || !strings.Contains(err.Error(), "IPv6") {
		t.Errorf("IPv6 host: %v", err)
	}
}

func TestGitLabCAFile(t *testing.T) {
	ca := testCA(t)
	// Comments, a second certificate and CRLF line endings: the checked
	// bundle keeps both certificates and nothing else, with LF endings.
	other := testCA(t)
	file := append([]byte("# corporate root\r\n"), bytes.ReplaceAll(append(append([]byte{}, ca...), other...), []byte("\n"), []byte("\r\n"))...)
	cfg, err := parseIn(t, withTLS("https://gitlab.example.com:8443/", "{caFile: certs/ca.pem}"), map[string][]byte{"certs/ca.pem": file})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.GitLab.TLS.CAPEM(), append(append([]byte{}, ca...), other...); !bytes.Equal(got, want) {
		t.Errorf("CAPEM =\n%s\nwant\n%s", got, want)
	}
	// What init saves back never holds the certificate itself.
	out, err := config.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("caFile: certs/ca.pem")) || bytes.Contains(out, []byte("BEGIN")) {
		t.Errorf("marshalled config:\n%s", out)
	}

	cfg, err = parseIn(t, withTLS("https://gitlab.example.com/", "{secretName: corp-ca}"), nil)
	if err != nil || cfg.GitLab.TLS.SecretName != "corp-ca" || cfg.GitLab.TLS.CAPEM() != nil {
		t.Errorf("secretName: %+v, %v", cfg, err)
	}
}

func TestGitLabTLSErrors(t *testing.T) {
	ca := testCA(t)
	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not even a key")})
	const url = "https://gitlab.example.com/"
	cases := []struct {
		name  string
		spec  string
		files map[string][]byte
		want  string
	}{
		{"missing file", withTLS(url, "{caFile: ca.pem}"), nil,
			`line 5: gitlab.tls.caFile: cannot read "ca.pem" inside the repository: no such file or directory`},
		{"not PEM", withTLS(url, "{caFile: ca.pem}"), map[string][]byte{"ca.pem": []byte("hello\n")},
			`line 5: gitlab.tls.caFile: "ca.pem" holds no PEM certificate`},
		{"DER", withTLS(url, "{caFile: ca.der}"), map[string][]byte{"ca.der": func() []byte { b, _ := pem.Decode(ca); return b.Bytes }()},
			`gitlab.tls.caFile: "ca.der" holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file must be converted`},
		{"private key", withTLS(url, "{caFile: ca.pem}"), map[string][]byte{"ca.pem": append(append([]byte{}, ca...), key...)},
			`gitlab.tls.caFile: "ca.pem" holds a "PRIVATE KEY" PEM block (block 2); a CA file must hold CERTIFICATE blocks only`},
		{"broken certificate", withTLS(url, "{caFile: ca.pem}"), map[string][]byte{"ca.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")})},
			`gitlab.tls.caFile: "ca.pem" holds a CERTIFICATE block (block 1) that is not a valid X.509 certificate`},
		{"truncated", withTLS(url, "{caFile: ca.pem}"), map[string][]byte{"ca.pem": append(append([]byte{}, ca...), ca[:100]...)},
			`gitlab.tls.caFile: "ca.pem" holds an incomplete or malformed PEM block after 1 certificate(s)`},
		{"directory", withTLS(url, "{caFile: certs}"), map[string][]byte{"certs/x": nil},
			`gitlab.tls.caFile: "certs" is not a regular file`},
		{"too big", withTLS(url, "{caFile: ca.pem}"), map[string][]byte{"ca.pem": bytes.Repeat(ca, config.MaxCAFileSize/len(ca)+1)},
			`gitlab.tls.caFile: "ca.pem" is larger than 512 KiB`},
		{"escape", withTLS(url, "{caFile: ../ca.pem}"), nil,
			`line 5: gitlab.tls.caFile: "../ca.pem" must be a clean relative path inside the repository`},
		{"absolute", withTLS(url, "{caFile: /etc/ssl/ca.pem}"), nil,
			`gitlab.tls.caFile: "/etc/ssl/ca.pem" must be a clean relative path inside the repository`},
		{"both", withTLS(url, "{caFile: ca.pem, secretName: x}"), map[string][]byte{"ca.pem": ca},
			`line 5: gitlab.tls: set caFile or secretName, not both`},
		{"neither", withTLS(url, "{}"), nil,
			`gitlab.tls: set caFile (a PEM file in this repository) or secretName (a Secret you manage)`},
		{"bad secret name", withTLS(url, "{secretName: Corp_CA}"), nil,
			`gitlab.tls.secretName: "Corp_CA" is not a valid Kubernetes name`},
		{"plain http", withTLS("http://gitlab.example.com/", "{secretName: x}"), nil,
			`gitlab.tls: is set but gitlab.url "http://gitlab.example.com/" does not use https://`},
		{"IPv6 host", withTLS("https://[2001:db8::1]/", "{secretName: x}"), nil,
			`gitlab.url: "https://[2001:db8::1]/" has an IPv6 address as host`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseIn(t, c.spec, c.files)
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.ExitCode() != 2 {
				t.Fatalf("got %v, want an InvalidError (exit 2)", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not contain %q:\n%v", c.want, err)
			}
		})
	}
}

// TestGitLabCAFileSymlinkOutside: a link inside the repository that leads
// out of it is refused, so no file from elsewhere ends up published in Git.
func TestGitLabCAFileSymlinkOutside(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(outside, testCA(t), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "ca.pem")); err != nil {
		t.Skipf("no symlinks: %v", err)
	}
	_, err := config.Parse(filepath.Join(dir, "runnerctl.yaml"), []byte(withTLS("https://gitlab.example.com/", "{caFile: ca.pem}")))
	if err == nil || !strings.Contains(err.Error(), `gitlab.tls.caFile: cannot read "ca.pem" inside the repository`) {
		t.Fatalf("got %v", err)
	}
}
