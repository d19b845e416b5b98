package backends

import (
	"context"
	"os/exec"
	"slices"
	"sort"
	"testing"

	"github.com/runnerctl/runnerctl/internal/childenv"
	"github.com/runnerctl/runnerctl/internal/config"
	fakegcp "github.com/runnerctl/runnerctl/internal/fake/gcp"
	"github.com/runnerctl/runnerctl/internal/secrets/infisical"
	"github.com/runnerctl/runnerctl/internal/secrets/remote"
	"github.com/runnerctl/runnerctl/internal/secrets/vault"
)

// runnerctl-secrets gets an allowlist of runnerctl's environment
// (remote.AllowedEnv). These tests check that list against what the
// backends read: through their Getenv option (recorded while Open builds
// each one), and in the libraries they link (scanned from source).

// recordingEnv answers Getenv from values and remembers every name asked.
type recordingEnv struct {
	values map[string]string
	asked  []string
}

func (r *recordingEnv) getenv(name string) string {
	r.asked = append(r.asked, name)
	return r.values[name]
}

func TestOpenReadsOnlyKeptVariables(t *testing.T) {
	gcp := fakegcp.New()
	defer gcp.Close()
	keyFile, err := gcp.CredentialsFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec   remote.Spec
		values map[string]string
		// must be among the names asked: the recording saw the backend's
		// credentials, not a path that stopped early.
		want []string
	}{
		{remote.Spec{Backend: config.BackendVault},
			map[string]string{vault.EnvAddr: "https://vault.example.com:8200"},
			[]string{vault.EnvAddr, vault.EnvToken, vault.EnvRoleID, vault.EnvSecretID, vault.EnvNamespace, vault.EnvCACert, vault.EnvAppRoleMount}},
		{remote.Spec{Backend: config.BackendInfisical, Project: "p", Environment: "prod"},
			nil,
			[]string{infisical.EnvAPIURL, infisical.EnvClientID, infisical.EnvClientSecret}},
		{remote.Spec{Backend: config.BackendGCP},
			map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": keyFile, "GOOGLE_CLOUD_PROJECT": fakegcp.Project},
			[]string{"GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_QUOTA_PROJECT", "RUNNERCTL_GCP_SECRETMANAGER_ENDPOINT"}},
		// The AWS backend has no Getenv option: its SDK reads the process
		// environment, which TestLibrariesReadOnlyKeptVariables covers.
	} {
		t.Run(tc.spec.Backend, func(t *testing.T) {
			rec := &recordingEnv{values: tc.values}
			if _, err := Open(context.Background(), tc.spec, rec.getenv); err != nil {
				t.Fatalf("Open: %v", err)
			}
			allowed := remote.AllowedEnv(tc.spec.Backend)
			for _, name := range rec.asked {
				if !allowed.Matches(name) {
					t.Errorf("the %s backend reads %s, which runnerctl-secrets does not get: add it to remote.AllowedEnv", tc.spec.Backend, name)
				}
			}
			for _, name := range tc.want {
				if !slices.Contains(rec.asked, name) {
					t.Errorf("the %s backend did not read %s", tc.spec.Backend, name)
				}
			}
		})
	}
}

// backendCredentials are the variables holding each backend's credentials.
var backendCredentials = map[string][]string{
	config.BackendVault:     {vault.EnvToken, vault.EnvRoleID, vault.EnvSecretID},
	config.BackendInfisical: {infisical.EnvClientID, infisical.EnvClientSecret},
	config.BackendAWS:       childenv.CloudSecretValues().Names,
	config.BackendGCP:       {"GOOGLE_APPLICATION_CREDENTIALS"},
}

// The helper never gets the GitLab token, nor another backend's
// credentials; one exception, explained in remote.backendEnv: GCP's
// workload identity federation from AWS signs with AWS's variables.
func TestNoForeignCredentials(t *testing.T) {
	federation := []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
	for _, backend := range append(slices.Clone(config.Backends), "unknown") {
		allowed := remote.AllowedEnv(backend)
		for _, goos := range []string{"linux", "darwin", "windows"} {
			for _, name := range []string{"GITLAB_TOKEN", "Gitlab_Token", "RUNNERCTL_GITLAB_TOKEN_FILE"} {
				if allowed.MatchesOn(goos, name) && (goos == "windows" || name != "Gitlab_Token") {
					t.Errorf("%s (%s): runnerctl-secrets gets %s", backend, goos, name)
				}
			}
		}
		for other, names := range backendCredentials {
			if other == backend {
				continue
			}
			for _, name := range names {
				if allowed.Matches(name) && !(backend == config.BackendGCP && slices.Contains(federation, name)) {
					t.Errorf("%s: runnerctl-secrets gets %s's credential %s", backend, other, name)
				}
			}
		}
		for _, name := range backendCredentials[backend] {
			if !allowed.Matches(name) {
				t.Errorf("%s: runnerctl-secrets does not get the backend's own %s", backend, name)
			}
		}
	}
}

// The denylist that runnerctl-kube and git share holds the Vault and
// Infisical credentials as the backends name them (childenv cannot import
// their packages: they would link the SDKs into runnerctl).
func TestChildrenLoseBackendCredentials(t *testing.T) {
	deny := childenv.Credentials()
	for _, backend := range []string{config.BackendVault, config.BackendInfisical} {
		for _, name := range backendCredentials[backend] {
			if !deny.Matches(name) {
				t.Errorf("childenv.Credentials does not name %s's %s", backend, name)
			}
		}
	}
}

// backendPackages are the backends' packages, whose dependencies are all
// the code that runs in runnerctl-secrets for that backend.
var backendPackages = map[string]string{
	config.BackendVault:     "github.com/runnerctl/runnerctl/internal/secrets/vault",
	config.BackendInfisical: "github.com/runnerctl/runnerctl/internal/secrets/infisical",
	config.BackendAWS:       "github.com/runnerctl/runnerctl/internal/secrets/aws",
	config.BackendGCP:       "github.com/runnerctl/runnerctl/internal/secrets/gcp",
}

// droppedOnPurpose are variables that linked code reads and the allowlist
// leaves out, with why.
var droppedOnPurpose = map[string]string{
	"REQUEST_METHOD":         "net/http ignores HTTP_PROXY when it is set (a CGI program's guard against httpoxy); the helper is no CGI program, and a stray one would turn the user's proxy off",
	"DEBUG_HTTP2_GOROUTINES": "a debugging switch of the HTTP/2 code",
	"_X_AMZN_TRACE_ID":       "an AWS Lambda invocation's trace ID; the helper is never one",
	"home":                   "Plan 9's HOME; runnerctl is not released for Plan 9",
	"GOTMPDIR":               "package testing's, which hashicorp/go-sockaddr links on Windows; the helper runs no tests",
	// Read in a Windows branch (runtime.GOOS == "windows") of code built
	// for every system: on Windows, where names ignore case, APPDATA and
	// LOCALAPPDATA keep them.
	"AppData":      "os.UserConfigDir's spelling of APPDATA, for Windows",
	"LocalAppData": "os.UserCacheDir's spelling of LOCALAPPDATA, for Windows",
}

// knownUnresolved are reads whose name the scanner cannot resolve. sample
// lists names they may read, which the backend's allowlist must keep.
var knownUnresolved = []knownRead{
	{"github.com/aws/aws-sdk-go-v2/config", "GetServiceBaseEndpoint", []string{"AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_STS"},
		"AWS_ENDPOINT_URL_<SERVICE>, one per service, which the AWS_ prefix keeps"},
	{"github.com/hashicorp/go-secure-stdlib/parseutil", "parsePath", nil,
		"the variable of an env:// URL in a configuration value; hashicorp/vault/api parses none"},
	{"github.com/runnerctl/runnerctl/internal/secrets/gcp", "New", nil,
		"os.Getenv as the default of Options.Getenv, whose reads TestOpenReadsOnlyKeptVariables records"},
}

// knownIndirect are reads of the whole environment, and exported
// functions that read the variable their caller names (callers in other
// packages are not followed). Most pass the environment on to a program
// they start, which then gets the helper's environment as it is.
var knownIndirect = []knownRead{
	{"os", "Environ", nil, "os.Environ itself"},
	{"golang.org/x/sys/windows", "Environ", nil, "windows.Environ itself"},
	{"internal/syscall/execenv", "Default", nil, "a child process's environment when none is given"},
	{"os/exec", "environ", nil, "a child process's environment when Cmd.Env is nil"},
	{"github.com/aws/aws-sdk-go-v2/credentials/processcreds", "NewCommand", nil, "an AWS profile's credential_process"},
	{"golang.org/x/oauth2/google/externalaccount", "existingEnv", nil, "a GCP executable-sourced credential's program"},
	{"golang.org/x/sys/windows", "Getenv", nil, "windows.Getenv itself; no package the helper links calls it"},
	{"testing", "Setenv", nil, "T.Setenv, which hashicorp/go-sockaddr links on Windows; the helper runs no tests"},
}

// knownRead explains a read the scanner reports.
type knownRead struct {
	pkg, fn string
	sample  []string
	why     string
}

func findKnown(list []knownRead, site envSite) (knownRead, bool) {
	i := slices.IndexFunc(list, func(k knownRead) bool { return k.pkg == site.pkg && k.fn == site.fn })
	if i < 0 {
		return knownRead{}, false
	}
	return list[i], true
}

// TestLibrariesReadOnlyKeptVariables scans the source of everything each
// backend links (the standard library included), as built for each release
// target, for the environment variables it reads, and checks them against
// the allowlist. It fails when a dependency update starts reading a
// variable runnerctl-secrets would not get.
func TestLibrariesReadOnlyKeptVariables(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command to list the packages")
	}
	paths := make([]string, 0, len(backendPackages))
	for _, p := range backendPackages {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	used := map[string]bool{} // entries of the known lists that matched
	for _, goos := range []string{"linux", "darwin", "windows"} {
		pkgs, err := goList(goos, paths...)
		if err != nil {
			t.Fatal(err)
		}
		scanned := map[string]envReads{}
		for _, backend := range config.Backends {
			root := backendPackages[backend]
			allowed := remote.AllowedEnv(backend)
			seen := map[string]bool{}
			for _, dep := range append([]string{root}, pkgs[root].Deps...) {
				reads, ok := scanned[dep]
				if !ok {
					p, listed := pkgs[dep]
					if !listed {
						t.Fatalf("go list did not list %s", dep)
					}
					if reads, err = scanEnvReads(p); err != nil {
						t.Fatal(err)
					}
					scanned[dep] = reads
				}
				for name := range reads.names {
					seen[name] = true
					if allowed.MatchesOn(goos, name) {
						continue
					}
					if _, ok := droppedOnPurpose[name]; ok {
						used["dropped "+name] = true
					} else {
						t.Errorf("%s (GOOS=%s): %s reads %s, which runnerctl-secrets does not get: keep it in remote.AllowedEnv, or say in droppedOnPurpose why not", backend, goos, dep, name)
					}
				}
				for _, site := range reads.unresolved {
					known, ok := findKnown(knownUnresolved, site)
					if !ok {
						t.Errorf("%s (GOOS=%s): a read of a variable named at run time: %s; add it to knownUnresolved with the names it may read", backend, goos, site)
						continue
					}
					used["unresolved "+site.pkg+" "+site.fn] = true
					for _, name := range known.sample {
						if !allowed.MatchesOn(goos, name) {
							t.Errorf("%s (GOOS=%s): %s may read %s, which runnerctl-secrets does not get", backend, goos, site, name)
						}
					}
				}
				for _, site := range append(slices.Clone(reads.whole), reads.wrappers...) {
					if _, ok := findKnown(knownIndirect, site); !ok {
						t.Errorf("%s (GOOS=%s): %s; say in knownIndirect why that is fine, or follow its callers", backend, goos, site)
						continue
					}
					used["indirect "+site.pkg+" "+site.fn] = true
				}
			}
			// The scanner works: every backend reaches its service
			// through net/http, which reads the proxy settings.
			if !seen["HTTPS_PROXY"] || !seen["https_proxy"] {
				t.Errorf("%s (GOOS=%s): the scan found no read of HTTPS_PROXY and https_proxy; the scanner is broken", backend, goos)
			}
		}
	}
	// The lists explain reads that exist, and no more.
	for name := range droppedOnPurpose {
		if !used["dropped "+name] {
			t.Errorf("droppedOnPurpose: nothing reads %s any more", name)
		}
	}
	for _, k := range knownUnresolved {
		if !used["unresolved "+k.pkg+" "+k.fn] {
			t.Errorf("knownUnresolved: %s %s no longer reads the environment", k.pkg, k.fn)
		}
	}
	for _, k := range knownIndirect {
		if !used["indirect "+k.pkg+" "+k.fn] {
			t.Errorf("knownIndirect: %s %s no longer reads the environment", k.pkg, k.fn)
		}
	}
}
