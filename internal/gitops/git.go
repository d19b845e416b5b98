package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/runnerctl/runnerctl/internal/childenv"
)

// Git runs the user's own git in the repository, so that their
// configuration, hooks and commit signing apply as to any other commit.
// git gets runnerctl's environment without runnerctl's secrets (Env).
type Git struct {
	Dir string
}

// Env is the environment git runs with: environ (runnerctl's own, as
// os.Environ gives it) without runnerctl's secrets and without the cloud
// credentials held in variables.
//
// git runs the user's code: hooks (pre-commit and its kin), credential
// helpers, signing programs, ssh. A denylist keeps all of that working as
// in the user's shell (GIT_*, SSH_AUTH_SOCK, GNUPGHOME, HOME, PATH, XDG_*,
// the proxies). What goes:
//   - childenv.Credentials (the GitLab token, the Vault and Infisical
//     credentials): git needs none of them. Its credential helper for the
//     GitOps remote has credentials of its own, and a hook has no business
//     with a token that can create runners or read their tokens. (A
//     credential helper written to print $GITLAB_TOKEN finds nothing now:
//     it must read a variable of its own, or git's credential store.)
//   - childenv.CloudSecretValues (AWS keys and session tokens held in the
//     environment, often exported for runnerctl's AWS backend alone): a
//     pre-commit hook does not need them. The cloud identity stays
//     reachable where it lives in files (AWS_PROFILE, the shared config,
//     web identity, GOOGLE_APPLICATION_CREDENTIALS are kept), so that a
//     credential helper such as AWS CodeCommit's still works with a
//     profile. runnerctl-kube keeps them: exec plugins need them.
func Env(environ []string) []string {
	return childenv.Drop(environ, childenv.Credentials().Plus(childenv.CloudSecretValues()))
}

func (g Git) run(ctx context.Context, args ...string) (string, error) {
	out, err := g.runRaw(ctx, args...)
	return strings.TrimSpace(out), err
}

func (g Git) runRaw(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = g.Dir
	cmd.Env = Env(os.Environ())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		gerr := &Error{Args: args, Stderr: strings.TrimSpace(errb.String())}
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) && ctx.Err() == nil {
			gerr.Status = exitErr.ExitCode()
		} else {
			gerr.err = err // git did not run, or was stopped: that cause is kept
		}
		return "", gerr
	}
	return out.String(), nil
}

// Error is a git command that failed: its arguments, its exit status and
// what it said on stderr.
//
// It deliberately does not wrap exec.ExitError, whose ExitCode method
// would make git's status runnerctl's own (runnerctl exits with the code of
// any error in the chain that has one): a failed push would exit 128, and a
// pre-commit hook could make runnerctl claim a usage error (2). A git that
// could not start, or was stopped by the context, wraps that cause.
type Error struct {
	Args   []string
	Status int // git's exit status; 0 when git did not run to its end
	Stderr string
	err    error
}

func (e *Error) Error() string {
	msg := "git " + strings.Join(e.Args, " ")
	switch {
	case e.err != nil:
		msg += ": " + e.err.Error()
	default:
		msg += fmt.Sprintf(": exit status %d", e.Status)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.err }

// Commit records exactly paths (created, changed or deleted) in one commit;
// anything else the user has staged or changed stays as it was.
func (g Git) Commit(ctx context.Context, paths []string, message string) error {
	if len(paths) == 0 {
		return nil
	}
	if _, err := g.run(ctx, append([]string{"add", "--all", "--"}, paths...)...); err != nil {
		return err
	}
	_, err := g.run(ctx, append([]string{"commit", "--message", message, "--only", "--"}, paths...)...)
	return err
}

// Changed returns those of paths that git sees as new, modified or deleted
// relative to HEAD, in the order given.
func (g Git) Changed(ctx context.Context, paths []string) ([]string, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	out, err := g.runRaw(ctx, append([]string{"status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames", "--"}, paths...)...)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, rec := range strings.Split(out, "\x00") {
		if len(rec) > 3 {
			seen[filepath.FromSlash(rec[3:])] = true
		}
	}
	var changed []string
	for _, p := range paths {
		if seen[filepath.Clean(p)] {
			changed = append(changed, p)
		}
	}
	return changed, nil
}

// CurrentBranch names the checked-out branch.
func (g Git) CurrentBranch(ctx context.Context) (string, error) {
	return g.run(ctx, "rev-parse", "--abbrev-ref", "HEAD")
}

// SwitchNew creates branch at HEAD and checks it out.
func (g Git) SwitchNew(ctx context.Context, branch string) error {
	_, err := g.run(ctx, "switch", "--create", branch)
	return err
}

// Push pushes the current branch to remote under the same name.
func (g Git) Push(ctx context.Context, remote, branch string) error {
	_, err := g.run(ctx, "push", "--set-upstream", remote, "HEAD:refs/heads/"+branch)
	return err
}

// RemoteURL is the fetch URL of remote, as git resolves it (insteadOf
// rewrites applied), without credentials: an https URL that carries a user
// or a token (https://oauth2:glpat-…@host/…) comes back without them, since
// callers show the URL and write it into runnerctl.yaml. The user of an
// ssh:// URL is a login name, not a secret, and stays.
func (g Git) RemoteURL(ctx context.Context, remote string) (string, error) {
	raw, err := g.run(ctx, "remote", "get-url", remote)
	if err != nil {
		return "", err
	}
	return withoutCredentials(raw), nil
}

// withoutCredentials removes the user information of an http(s) URL, and
// the password of any other URL. An scp-like address (git@host:path) has
// no password and stays as it is; so does what is not a URL at all.
func withoutCredentials(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, hasPassword := u.User.Password(); u.Scheme == "http" || u.Scheme == "https" {
		u.User = nil
	} else if hasPassword {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// ErrNotRepo: the directory is not inside a git work tree.
var ErrNotRepo = errors.New("not a git repository")

// Uncommitted lists what `git status --porcelain` shows for the whole work
// tree that holds Dir: modified, staged, deleted and untracked paths
// (untracked directories by their files), relative to the top of the work
// tree, in git's order; none when it is clean. Ignored files do not count.
// Outside a work tree it returns ErrNotRepo.
func (g Git) Uncommitted(ctx context.Context) ([]string, error) {
	inside, err := g.run(ctx, "rev-parse", "--is-inside-work-tree")
	var gitErr *Error
	if errors.As(err, &gitErr) && gitErr.Status != 0 || err == nil && inside != "true" {
		return nil, fmt.Errorf("%s: %w", g.Dir, ErrNotRepo)
	}
	if err != nil {
		return nil, err
	}
	out, err := g.runRaw(ctx, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, rec := range strings.Split(out, "\x00") {
		if len(rec) > 3 {
			paths = append(paths, rec[3:])
		}
	}
	return paths, nil
}
