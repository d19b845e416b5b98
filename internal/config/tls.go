package config

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/runnerctl/runnerctl/internal/repofile"
	"github.com/runnerctl/runnerctl/internal/safetext"
)

// MaxCAFileSize bounds gitlab.tls.caFile: its certificates go into one
// Kubernetes Secret per runner, and a Secret holds at most 1 MiB.
const MaxCAFileSize = 512 << 10

// secretKeyRE is what Kubernetes accepts as a key of a Secret's data.
var secretKeyRE = newLazyRE(`^[-._a-zA-Z0-9]+$`)

// CertKey names the file that gitlab-runner reads the CA of the GitLab at
// gitlabURL from, in its certs directory (the chart mounts certsSecretName
// there, at /home/gitlab-runner/.gitlab-runner/certs/): the URL's host, cut
// at the first ':' so without any port, followed by ".crt".
//
// Verified, not guessed:
//   - gitlab-runner network/client.go, newClient: the host is
//     strings.Split(url.Host, ":")[0] and the CA file looked up in
//     CertificateDirectory is host + ".crt" (host + ".auth.crt" and
//     ".auth.key" are the client certificate and key);
//   - docs.gitlab.com/runner/configuration/tls-self-signed, "Read a PEM
//     certificate": for a server at https://gitlab.example.com:8443/ the
//     file is certs/gitlab.example.com.crt, the port left out;
//   - gitlab-runner merge request 3097 fixed the chart documentation to name
//     the certsSecretName key gitlab.hostname.crt (dots, as in the host).
//
// So there is no HOST:PORT.crt variant (a ':' is not even allowed in a
// Secret key). An IPv6 literal host has no usable name: the runner would
// look for "[.crt".
func CertKey(gitlabURL string) (string, error) {
	q := safetext.Quote(gitlabURL)
	u, err := url.Parse(gitlabURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%s has no host", q)
	}
	if strings.HasPrefix(u.Host, "[") {
		return "", fmt.Errorf("%s has an IPv6 address as host; gitlab-runner cannot find a CA file for it (it cuts the host at the first ':'), use a DNS name", q)
	}
	key := strings.Split(u.Host, ":")[0] + ".crt"
	if !secretKeyRE.MatchString(key) {
		return "", fmt.Errorf("host of %s does not make a valid Secret key %s (letters, digits, '-', '_' and '.')", q, safetext.Quote(key))
	}
	return key, nil
}

func (c *Config) validateGitLabTLS(v *validator) {
	t := c.GitLab.TLS
	switch {
	case t.CAFile != "" && t.SecretName != "":
		v.add("gitlab.tls", "set caFile or secretName, not both")
	case t.CAFile != "":
		v.relPath("gitlab.tls.caFile", t.CAFile)
	case t.SecretName != "":
		v.dnsSubdomain("gitlab.tls.secretName", t.SecretName)
	default:
		v.add("gitlab.tls", "set caFile (a PEM file in this repository) or secretName (a Secret you manage)")
	}
	u, err := url.Parse(c.GitLab.URL)
	if err != nil || u.Host == "" {
		return // reported for gitlab.url
	}
	if u.Scheme != "https" {
		v.add("gitlab.tls", "is set but gitlab.url %q does not use https://", c.GitLab.URL)
		return
	}
	if _, err := CertKey(c.GitLab.URL); err != nil {
		v.add("gitlab.url", "%v", err)
	}
}

// readFiles reads and checks the files the spec refers to (today only
// gitlab.tls.caFile), relative to dir, the repository root. Reads go through
// os.Root, which refuses ".." and symlinks leading out of dir: a spec never
// makes runnerctl read, and publish in Git, a file outside the repository.
func (c *Config) readFiles(dir string) []FieldError {
	t := c.GitLab.TLS
	if t == nil || t.CAFile == "" || !isRepoPath(t.CAFile) {
		return nil // nothing to read, or an invalid path already reported
	}
	const field = "gitlab.tls.caFile"
	root, err := os.OpenRoot(dir)
	if err != nil {
		return []FieldError{{Path: field, Msg: fmt.Sprintf("cannot open the repository %q to read %q: %v", dir, t.CAFile, err)}}
	}
	defer root.Close()
	data, err := repofile.Read(root, t.CAFile, MaxCAFileSize)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, repofile.ErrTooLarge) {
			msg += "; it must hold only the CA certificates GitLab needs"
		}
		return []FieldError{{Path: field, Msg: msg}}
	}
	certs, err := ParseCABundle(data)
	if err != nil {
		return []FieldError{{Path: field, Msg: fmt.Sprintf("%q %v", t.CAFile, err)}}
	}
	t.caPEM = certs
	return nil
}

// ParseCABundle checks that data is a PEM bundle of X.509 certificates, as
// gitlab-runner reads it (PEM only, no DER), and returns the certificates
// re-encoded: CERTIFICATE blocks only, in file order, without comments,
// headers or CR line endings, so that the rendered Secret is the same bytes
// on every checkout. Any other kind of block is refused: a CA file that also
// holds a private key must never be copied into Git.
func ParseCABundle(data []byte) ([]byte, error) {
	var out bytes.Buffer
	rest := data
	n := 0
	for {
		block, next := pem.Decode(rest)
		if block == nil {
			break
		}
		rest = next
		n++
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("holds a %s PEM block (block %d); a CA file must hold CERTIFICATE blocks only (never a private key)", safetext.Quote(block.Type), n)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("holds a CERTIFICATE block (block %d) that is not a valid X.509 certificate: %v", n, err)
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}); err != nil {
			return nil, err
		}
	}
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("holds an incomplete or malformed PEM block after %d certificate(s)", n)
	}
	if n == 0 {
		return nil, errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----); a DER file must be converted first: openssl x509 -inform DER -in ca.der -out ca.pem")
	}
	return out.Bytes(), nil
}
