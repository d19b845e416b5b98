package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/prompt"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// gitlabFlags say how a command that talks to GitLab gets its personal
// access token and which CA it trusts.
type gitlabFlags struct {
	tokenFile string
	caFile    string
}

// addGitLabFlags declares --gitlab-token-file and --ca-file, bound to gf.
func addGitLabFlags(fs *pflag.FlagSet, gf *gitlabFlags) {
	fs.StringVar(&gf.tokenFile, "gitlab-token-file", "", "read the GitLab personal access token from this file (instead of GITLAB_TOKEN)")
	fs.StringVar(&gf.caFile, "ca-file", "", "PEM file of a CA to trust for GitLab (self-managed GitLab with a private CA)")
}

// gitlabToken reads the PAT from GITLAB_TOKEN, --gitlab-token-file or a
// masked prompt (asker nil: no prompt); never from a flag value.
func (f *factory) gitlabToken(ctx context.Context, gf gitlabFlags, asker prompt.Asker) (secrets.Token, error) {
	if gf.tokenFile != "" {
		data, err := os.ReadFile(gf.tokenFile)
		if err != nil {
			return secrets.Token{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--gitlab-token-file: %v", err)}
		}
		if t := strings.TrimSpace(string(data)); t != "" {
			return secrets.NewToken(t), nil
		}
		return secrets.Token{}, &exitError{code: ExitUsage, msg: fmt.Sprintf("--gitlab-token-file %q is empty", gf.tokenFile)}
	}
	if t := strings.TrimSpace(f.getenv("GITLAB_TOKEN")); t != "" {
		return secrets.NewToken(t), nil
	}
	if asker != nil {
		t, err := asker.Secret(ctx, "GitLab personal access token", "Needs the api scope, or create_runner, manage_runner and read_api; it is not stored anywhere.",
			func(t string) error {
				if t == "" {
					return errors.New("is required: set GITLAB_TOKEN or use --gitlab-token-file to give it otherwise")
				}
				return nil
			})
		if errors.Is(err, prompt.ErrAborted) {
			return secrets.Token{}, askError(question{title: "GitLab personal access token"}, err)
		}
		if err == nil && t != "" {
			return secrets.NewToken(t), nil
		}
	}
	return secrets.Token{}, &exitError{code: ExitUsage, msg: "no GitLab personal access token: set GITLAB_TOKEN or use --gitlab-token-file"}
}

// gitlabClient is the client of the GitLab at url with token pat, trusting
// --ca-file. A CA file that cannot be used is the user's to fix (exit 2).
func (f *factory) gitlabClient(url string, gf gitlabFlags, pat secrets.Token) (*gitlab.Client, error) {
	gl, err := f.gitlab(gitlab.Options{URL: url, Token: pat, CAFile: gf.caFile})
	if err != nil {
		return nil, &exitError{code: ExitUsage, msg: err.Error()}
	}
	return gl, nil
}
