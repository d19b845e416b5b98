package remote

import (
	"github.com/runnerctl/runnerctl/internal/childenv"
	"github.com/runnerctl/runnerctl/internal/config"
)

// Env is the environment the helper gets when it serves backend: an
// allowlist taken from environ (runnerctl's own, as os.Environ gives it).
// The helper talks to one backend, over the network, with that backend's
// credentials; it never needs the GitLab token, nor another backend's
// credentials, so they are not passed on.
//
// What the allowlist keeps, and why, is in AllowedEnv; a test in package
// secrets/backends checks it against every variable the backends and the
// libraries they link read.
func Env(environ []string, backend string) []string {
	return childenv.Keep(environ, AllowedEnv(backend))
}

// AllowedEnv is the allowlist of Env: what a Go program needs to reach a
// network service, and the variables of backend itself. An unknown
// backend gets the first part only (the helper refuses to open it).
func AllowedEnv(backend string) childenv.Rules {
	return networkEnv().Plus(backendEnv(backend))
}

// networkEnv is what the helper's Go code (the standard library and the
// backends' SDKs) reads to find its way to a service, on any backend.
// Programs that the SDKs may run under the helper for credentials (an AWS
// profile's credential_process, a GCP executable-sourced credential) get
// this environment too, and nothing more: one that needs a variable of its
// own must find it in its configuration files instead.
//
// Not kept: LANG and LC_* (Go reads no locale), LOGNAME (nothing reads
// it), REQUEST_METHOD (see the backends' test).
func networkEnv() childenv.Rules {
	return childenv.Rules{Names: []string{
		// Finding programs and files: os/exec (PATH; on Windows PATHEXT,
		// and NoDefaultCurrentDirectoryInExePath, which keeps LookPath out
		// of the working directory), the home directory (os.UserHomeDir,
		// os/user's fallback, the SDKs' ~/.aws, ~/.config/gcloud),
		// os.TempDir, os.Getwd, os.UserConfigDir and os.UserCacheDir.
		"PATH", "PATHEXT", "NoDefaultCurrentDirectoryInExePath",
		"HOME", "USER", "PWD", "TMPDIR",
		"XDG_CONFIG_HOME", "XDG_CACHE_HOME",
		// Windows: the system directory (networking and TLS load from it;
		// os/exec adds it when missing), the home directory's parts, the
		// temporary directory (GetTempPath reads TMP, TEMP, USERPROFILE),
		// and the application data directories (gcloud's configuration).
		"SYSTEMROOT", "USERPROFILE", "HOMEDRIVE", "HOMEPATH", "TMP", "TEMP",
		"APPDATA", "LOCALAPPDATA",
		// Proxies (net/http's ProxyFromEnvironment reads both spellings).
		"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
		// TLS roots (crypto/x509 on Unix).
		"SSL_CERT_FILE", "SSL_CERT_DIR",
		// The resolver (net, pure-Go resolver) and time zones (time).
		"LOCALDOMAIN", "RES_OPTIONS", "HOSTALIASES", "ASR_CONFIG",
		"TZ", "ZONEINFO",
		// The Go runtime's own settings, as the user chose them for
		// runnerctl (GODEBUG also switches TLS and HTTP behaviour).
		"GODEBUG", "GOGC", "GOMEMLIMIT", "GOMAXPROCS", "GOTRACEBACK",
	}}
}

// backendEnv is what backend itself reads: through the Getenv option of
// its package (vault, infisical, gcp), or in the SDK it links.
func backendEnv(backend string) childenv.Rules {
	switch backend {
	case config.BackendVault:
		// The vault package reads VAULT_ADDR, VAULT_TOKEN, VAULT_ROLE_ID,
		// VAULT_SECRET_ID, VAULT_APPROLE_MOUNT, VAULT_NAMESPACE and
		// VAULT_CACERT; hashicorp/vault/api reads some two dozen more
		// VAULT_* names (VAULT_HEADERS on every client). All of VAULT_* is
		// Vault's client configuration, which the user set for Vault.
		return childenv.Rules{Prefixes: []string{"VAULT_"}}
	case config.BackendInfisical:
		// The infisical package speaks the REST API itself: these three
		// are all it reads.
		return childenv.Rules{Names: []string{
			"INFISICAL_API_URL",
			"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
			"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
		}}
	case config.BackendAWS:
		// The SDK's default chain reads some sixty AWS_* names (keys,
		// profile and its files, web identity, SSO, container and
		// instance roles, region, endpoints, retries, and one
		// AWS_ENDPOINT_URL_<SERVICE> per service), and each release adds
		// some: a prefix follows it. Every AWS_* name is the AWS
		// configuration the user chose, for AWS alone.
		return childenv.Rules{Prefixes: []string{"AWS_"}}
	case config.BackendGCP:
		return childenv.Rules{Names: []string{
			// The gcp package.
			"RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT",
			"GOOGLE_APPLICATION_CREDENTIALS",
			"GOOGLE_CLOUD_PROJECT",
			"GOOGLE_CLOUD_QUOTA_PROJECT",
			// Application Default Credentials (golang.org/x/oauth2/google,
			// cloud.google.com/go/compute/metadata). CLOUDSDK_* is gcloud's
			// and read by neither: ADC finds gcloud's file under HOME or
			// APPDATA.
			"GCE_METADATA_HOST",
			"GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
			// Workload identity federation from AWS: an external_account
			// credentials file with an AWS credential source signs its
			// request with these. They are then the GCP backend's own
			// credentials, so they are kept although they look like AWS's.
			"AWS_REGION", "AWS_DEFAULT_REGION",
			"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		}}
	}
	return childenv.Rules{}
}
