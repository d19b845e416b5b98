package gitops

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func gitRepo(t *testing.T) (Git, func(args ...string) string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	// Keep the machine's git configuration (and signing) out of it.
	t.Setenv("GIT_CONFIG_GLOBAL", os.DevNull)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	for _, kv := range [][2]string{{"GIT_AUTHOR_NAME", "t"}, {"GIT_AUTHOR_EMAIL", "t@example.com"}, {"GIT_COMMITTER_NAME", "t"}, {"GIT_COMMITTER_EMAIL", "t@example.com"}} {
		t.Setenv(kv[0], kv[1])
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("init", "-q", "-b", "main")
	return Git{Dir: dir}, run
}

func write(t *testing.T, g Git, rel, content string) {
	t.Helper()
	p := filepath.Join(g.Dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChangedAndCommitTouchOnlyTheGivenPaths(t *testing.T) {
	g, run := gitRepo(t)
	ctx := context.Background()
	write(t, g, "runnerctl.yaml", "a\n")
	write(t, g, "values/old.yaml", "old\n")
	write(t, g, "values/same.yaml", "same\n")
	write(t, g, "notes.txt", "mine\n")
	run("add", ".")
	run("commit", "-q", "-m", "initial")

	// ours: one modified, one new (in a new directory), one deleted, one
	// unchanged; the user's own file is modified and staged.
	write(t, g, "runnerctl.yaml", "b\n")
	write(t, g, "argocd-apps/new.yaml", "new\n")
	if err := os.Remove(filepath.Join(g.Dir, "values", "old.yaml")); err != nil {
		t.Fatal(err)
	}
	write(t, g, "notes.txt", "mine, edited\n")
	run("add", "notes.txt")

	ours := []string{"runnerctl.yaml", filepath.FromSlash("argocd-apps/new.yaml"), filepath.FromSlash("values/old.yaml"), filepath.FromSlash("values/same.yaml")}
	changed, err := g.Changed(ctx, ours)
	if err != nil {
		t.Fatal(err)
	}
	if want := ours[:3]; !slices.Equal(changed, want) {
		t.Fatalf("Changed = %q, want %q", changed, want)
	}
	if err := g.Commit(ctx, changed, "runnerctl"); err != nil {
		t.Fatal(err)
	}
	files := strings.Fields(run("show", "--name-only", "--format=", "HEAD"))
	if want := []string{"argocd-apps/new.yaml", "runnerctl.yaml", "values/old.yaml"}; !slices.Equal(files, want) {
		t.Fatalf("committed %q, want %q", files, want)
	}
	// The user's staged change is still staged, and not committed.
	if st := run("status", "--porcelain"); st != "M  notes.txt\n" {
		t.Fatalf("status after commit:\n%s", st)
	}
	if changed, err := g.Changed(ctx, ours); err != nil || len(changed) != 0 {
		t.Fatalf("Changed after commit = %q, %v", changed, err)
	}
}

func TestUncommitted(t *testing.T) {
	g, run := gitRepo(t)
	ctx := context.Background()
	write(t, g, "runnerctl.yaml", "a\n")
	write(t, g, "values/ci.yaml", "ci\n")
	write(t, g, ".gitignore", "*.log\n")
	run("add", ".")
	run("commit", "-q", "-m", "initial")

	// A subdirectory of the work tree sees the whole work tree.
	sub := Git{Dir: filepath.Join(g.Dir, "values")}
	if paths, err := sub.Uncommitted(ctx); err != nil || len(paths) != 0 {
		t.Fatalf("clean repo: Uncommitted = %q, %v; want none", paths, err)
	}

	write(t, g, "runnerctl.yaml", "b\n")                                         // modified
	write(t, g, "argocd-apps/new.yaml", "new\n")                                 // untracked, in a new directory
	write(t, g, "debug.log", "ignored\n")                                        // ignored
	if err := os.Remove(filepath.Join(g.Dir, "values", "ci.yaml")); err != nil { // deleted
		t.Fatal(err)
	}
	paths, err := sub.Uncommitted(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	if want := []string{"argocd-apps/new.yaml", "runnerctl.yaml", "values/ci.yaml"}; !slices.Equal(paths, want) {
		t.Fatalf("Uncommitted = %q, want %q", paths, want)
	}

	if _, err := (Git{Dir: t.TempDir()}).Uncommitted(ctx); !errors.Is(err, ErrNotRepo) {
		t.Fatalf("outside a repository: err = %v, want ErrNotRepo", err)
	}
}

// A hook that git runs for Commit sees the user's environment, not
// runnerctl's secrets.
func TestCommitHookEnvironment(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the hook is a POSIX shell script")
	}
	g, run := gitRepo(t)
	ctx := context.Background()
	write(t, g, "README.md", "# ops\n")
	run("add", ".")
	run("commit", "-q", "-m", "initial")

	out := filepath.Join(t.TempDir(), "hook-env")
	hook := filepath.Join(g.Dir, ".git", "hooks", "pre-commit")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\nenv > \"$HOOK_ENV_OUT\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOK_ENV_OUT", out)
	t.Setenv("GITLAB_TOKEN", "glpat-not-for-hooks")
	t.Setenv("VAULT_TOKEN", "hvs.not-for-hooks")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-for-hooks")
	t.Setenv("AWS_PROFILE", "ops")
	t.Setenv("SSH_AUTH_SOCK", "/run/agent.sock")

	write(t, g, "runnerctl.yaml", "a\n")
	if err := g.Commit(ctx, []string{"runnerctl.yaml"}, "runnerctl"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the hook did not run: %v", err)
	}
	env := strings.Split(string(data), "\n")
	for _, w := range []string{"AWS_PROFILE=ops", "SSH_AUTH_SOCK=/run/agent.sock", "GIT_AUTHOR_NAME=t"} {
		if !slices.Contains(env, w) {
			t.Errorf("the hook lacks %s", w)
		}
	}
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); name == "GITLAB_TOKEN" || name == "VAULT_TOKEN" || name == "AWS_SECRET_ACCESS_KEY" {
			t.Errorf("the hook got %s", name)
		}
	}
}

func TestEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin", "HOME=/home/u", "GIT_DIR=.git", "SSH_AUTH_SOCK=/a", "XDG_CONFIG_HOME=/c", "GNUPGHOME=/g",
		"GITLAB_TOKEN=x", "VAULT_TOKEN=x", "VAULT_SECRET_ID=x", "VAULT_ROLE_ID=x",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=x", "INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=x", "INFISICAL_TOKEN=x",
		"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=x", "AWS_SESSION_TOKEN=x", "AWS_CONTAINER_AUTHORIZATION_TOKEN=x",
		"AWS_PROFILE=p", "AWS_CONFIG_FILE=/f", "GOOGLE_APPLICATION_CREDENTIALS=/k.json", "VAULT_ADDR=https://v",
	}
	want := []string{
		"PATH=/usr/bin", "HOME=/home/u", "GIT_DIR=.git", "SSH_AUTH_SOCK=/a", "XDG_CONFIG_HOME=/c", "GNUPGHOME=/g",
		"AWS_PROFILE=p", "AWS_CONFIG_FILE=/f", "GOOGLE_APPLICATION_CREDENTIALS=/k.json", "VAULT_ADDR=https://v",
	}
	if got := Env(environ); !slices.Equal(got, want) {
		t.Errorf("Env:\n got %q\nwant %q", got, want)
	}
}

// A push that fails reports git's message, and no error in the chain
// carries git's exit status as an exit code: runnerctl's exit codes are its
// own (a push to an unreachable remote exits 128 in git).
func TestPushErrorHasNoExitCode(t *testing.T) {
	g, run := gitRepo(t)
	ctx := context.Background()
	write(t, g, "README.md", "# ops\n")
	run("add", ".")
	run("commit", "-q", "-m", "initial")
	run("remote", "add", "origin", filepath.Join(t.TempDir(), "missing.git"))

	err := g.Push(ctx, "origin", "main")
	if err == nil {
		t.Fatal("push to a missing repository succeeded")
	}
	var coded interface{ ExitCode() int }
	if errors.As(err, &coded) {
		t.Fatalf("the push error carries exit code %d: %v", coded.ExitCode(), err)
	}
	var gitErr *Error
	if !errors.As(err, &gitErr) || gitErr.Status != 128 || !strings.Contains(err.Error(), "does not appear to be a git repository") {
		t.Fatalf("err = %v (%#v), want git's status 128 and its message", err, gitErr)
	}
}

func TestRemoteURLWithoutCredentials(t *testing.T) {
	g, run := gitRepo(t)
	ctx := context.Background()
	for _, c := range []struct{ set, want string }{
		{"https://gitlab.example.com/ops/gitops.git", "https://gitlab.example.com/ops/gitops.git"},
		{"https://oauth2:glpat-secret@gitlab.example.com/ops/gitops.git", "https://gitlab.example.com/ops/gitops.git"},
		{"https://deploy@gitlab.example.com/ops/gitops.git", "https://gitlab.example.com/ops/gitops.git"},
		{"ssh://git@gitlab.example.com/ops/gitops.git", "ssh://git@gitlab.example.com/ops/gitops.git"},
		{"ssh://git:secret@gitlab.example.com/ops/gitops.git", "ssh://git@gitlab.example.com/ops/gitops.git"},
		{"git@gitlab.example.com:ops/gitops.git", "git@gitlab.example.com:ops/gitops.git"},
	} {
		run("remote", "add", "origin", c.set)
		got, err := g.RemoteURL(ctx, "origin")
		if err != nil || got != c.want {
			t.Errorf("origin %s: RemoteURL = %q, %v; want %q", c.set, got, err, c.want)
		}
		run("remote", "remove", "origin")
	}
	if _, err := g.RemoteURL(ctx, "upstream"); err == nil {
		t.Error("RemoteURL of a missing remote succeeded")
	}
}
