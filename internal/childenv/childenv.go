// Package childenv builds the environments of the processes runnerctl
// starts (runnerctl-secrets, runnerctl-kube, git), so that each child
// gets only what it needs instead of inheriting runnerctl's whole
// environment, secrets included.
//
// Two ways to build one: Keep (an allowlist, for a child whose needs are
// known: the secrets helper) and Drop (a denylist, for a child that runs
// code runnerctl does not know: kubeconfig exec plugins under
// runnerctl-kube, hooks and credential helpers under git). Credentials is
// the denylist every child shares: runnerctl's own secrets.
//
// Names are compared as the operating system does: exactly on Unix, and
// ignoring case on Windows, where PATH, Path and path are one variable.
package childenv

import (
	"runtime"
	"slices"
	"strings"
)

// Rules names environment variables, exactly or by prefix.
type Rules struct {
	Names    []string
	Prefixes []string
}

// Plus returns r with the names and prefixes of more added.
func (r Rules) Plus(more ...Rules) Rules {
	out := Rules{Names: slices.Clone(r.Names), Prefixes: slices.Clone(r.Prefixes)}
	for _, m := range more {
		out.Names = append(out.Names, m.Names...)
		out.Prefixes = append(out.Prefixes, m.Prefixes...)
	}
	return out
}

// Matches reports whether r names the variable name, as this operating
// system compares names.
func (r Rules) Matches(name string) bool { return r.MatchesOn(runtime.GOOS, name) }

// MatchesOn reports whether r names the variable name on goos: ignoring
// case on Windows, exactly elsewhere. Tests use it to check a list against
// names read on another system.
func (r Rules) MatchesOn(goos, name string) bool {
	fold := goos == "windows"
	for _, n := range r.Names {
		if name == n || fold && strings.EqualFold(name, n) {
			return true
		}
	}
	for _, p := range r.Prefixes {
		if strings.HasPrefix(name, p) || fold && len(name) >= len(p) && strings.EqualFold(name[:len(p)], p) {
			return true
		}
	}
	return false
}

// Keep returns the entries of environ ("NAME=value", as os.Environ gives
// them) that r names, in their order. The result is never nil: for
// exec.Cmd a nil Env means the parent's whole environment.
func Keep(environ []string, r Rules) []string { return filter(environ, r, runtime.GOOS, true) }

// Drop returns the entries of environ that r does not name, in their
// order; never nil.
func Drop(environ []string, r Rules) []string { return filter(environ, r, runtime.GOOS, false) }

func filter(environ []string, r Rules, goos string, keep bool) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if r.MatchesOn(goos, varName(kv)) == keep {
			out = append(out, kv)
		}
	}
	return out
}

// varName is the variable name of an environment entry "NAME=value". The
// search for "=" starts after the first byte: Windows keeps each drive's
// working directory in entries such as "=C:=C:\work", whose name is "=C:".
func varName(kv string) string {
	if kv == "" {
		return ""
	}
	if i := strings.IndexByte(kv[1:], '='); i >= 0 {
		return kv[:i+1]
	}
	return kv
}

// Credentials are runnerctl's own secrets, which no child but the one
// that needs them may see: the GitLab token that creates and rotates
// runners (only runnerctl itself uses it), and the Vault and Infisical
// credentials of the secrets backends (only runnerctl-secrets, when that
// backend is the configured one). They give write access to every runner
// token, so a kubeconfig exec plugin or a git hook must never read them.
// Vault's VAULT_ROLE_ID is listed with its secret ID: together they log
// in. The cloud identities that the AWS and GCP backends use are not here:
// they are the user's ambient identity, which kubeconfig exec plugins
// (aws eks get-token, gke-gcloud-auth-plugin) need as well; see the callers
// for what each child keeps.
//
// The list is literal: importing the backends' packages for their
// constants would link their SDKs into runnerctl. A test in package
// secrets/backends checks it against them.
func Credentials() Rules {
	return Rules{Names: []string{
		"GITLAB_TOKEN",
		"VAULT_TOKEN",
		"VAULT_ROLE_ID",
		"VAULT_SECRET_ID",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET",
		// Not read by runnerctl, but the Infisical CLI's and SDKs' token:
		// a user who exported it for them has it next to runnerctl's.
		"INFISICAL_TOKEN",
	}}
}

// CloudSecretValues are the variables of the AWS SDK's default chain that
// hold credentials themselves rather than point to them (a profile name, a
// file, a role to assume): static access keys, a session token, the
// container credentials' authorization token. The GCP chain has none: its
// variables name files.
func CloudSecretValues() Rules {
	return Rules{Names: []string{
		"AWS_ACCESS_KEY_ID",
		"AWS_ACCESS_KEY",
		"AWS_SECRET_ACCESS_KEY",
		"AWS_SECRET_KEY",
		"AWS_SESSION_TOKEN",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	}}
}
