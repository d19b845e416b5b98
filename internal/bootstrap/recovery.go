package bootstrap

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/renameio/v2"

	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Recovery keeps a token in a 0600 file outside the repository while it is
// not yet safely stored: written right after GitLab hands the token out,
// removed once the secrets manager holds it (or the runner is deleted).
// Whatever kills runnerctl in between, the token is not lost.
type Recovery struct {
	// Dir holds recovery files; it is created 0700.
	Dir string
	// RepoRoot must not contain Dir: a token file must never be committed.
	RepoRoot string
}

// record is the file's content. Token is the revealed value on purpose:
// this file is the one place a token may be written to disk.
type record struct {
	Note        string `json:"note"`
	GitLabURL   string `json:"gitlab_url"`
	RunnerName  string `json:"runner_name"`
	RunnerID    int64  `json:"runner_id"`
	Backend     string `json:"backend"`
	Location    string `json:"location"`
	Token       string `json:"token"`
	CreatedAt   string `json:"created_at"`
	Instruction string `json:"instruction"`
	// Rotation: the token came from rotate-token, and the runner's previous
	// token (which the secrets manager may still hold) is dead.
	Rotation bool `json:"rotation,omitempty"`
}

// Save writes the token of a runner init just created and returns the
// file's path.
func (r Recovery) Save(gitlabURL, runner string, id int64, backend string, loc secrets.Location, tok secrets.Token) (string, error) {
	return r.save(gitlabURL, runner, id, backend, loc, tok, false, fmt.Sprintf("once %s works, run `runnerctl init` again in the repository: it finds this file, stores the token at %q for runner %q (id %d) and deletes the file. "+
		"Or store the token there by hand, set runnerID: %d for the runner in runnerctl.yaml, run `runnerctl render`, and delete this file.",
		backend, loc.String(), runner, id, id))
}

// SaveRotated writes the token a rotation just obtained (the runner's old
// token is already dead) and returns the file's path.
func (r Recovery) SaveRotated(gitlabURL, runner string, id int64, backend string, loc secrets.Location, tok secrets.Token) (string, error) {
	return r.save(gitlabURL, runner, id, backend, loc, tok, true, fmt.Sprintf("the runner's old token no longer works. Once %s works, run `runnerctl rotate-token %s` again: it finds this file, stores this token at %q (without resetting it again) and deletes the file. "+
		"Or store the token there by hand and delete this file.",
		backend, runner, loc.String()))
}

func (r Recovery) save(gitlabURL, runner string, id int64, backend string, loc secrets.Location, tok secrets.Token, rotation bool, instruction string) (string, error) {
	dir, err := filepath.Abs(r.Dir)
	if err != nil {
		return "", fmt.Errorf("recovery directory %q: %w", r.Dir, err)
	}
	if root, err := filepath.Abs(r.RepoRoot); err == nil {
		if rel, err := filepath.Rel(root, dir); err == nil && filepath.IsLocal(rel) || dir == root {
			return "", fmt.Errorf("recovery directory %q is inside the repository %q; choose one outside it (--recovery-dir)", dir, root)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create recovery directory %q: %w", dir, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("runnerctl-recovery-%s-%d.json", runner, id))
	rec := record{
		Note:        "runnerctl keeps this runner token here until it is stored; delete this file once the token is in your secrets manager",
		GitLabURL:   gitlabURL,
		RunnerName:  runner,
		RunnerID:    id,
		Backend:     backend,
		Location:    loc.String(),
		Token:       tok.Reveal(),
		CreatedAt:   time.Now().UTC().Format(time.RFC3339),
		Instruction: instruction,
		Rotation:    rotation,
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", err
	}
	// Atomic and synced: a crash leaves the whole file or none, never half
	// a token.
	if err := renameio.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("write recovery file %q: %w", path, err)
	}
	return path, nil
}

// Saved is a token kept by an earlier run.
type Saved struct {
	Path      string
	GitLabURL string
	RunnerID  int64
	Location  string
	Token     secrets.Token
	// Rotation: kept by rotate-token (see record.Rotation).
	Rotation bool
}

// Find returns the tokens kept for runner, lowest runner ID first. A file
// that cannot be read or parsed is skipped: it is the user's to inspect.
func (r Recovery) Find(runner string) ([]Saved, error) {
	matches, err := filepath.Glob(filepath.Join(r.Dir, "runnerctl-recovery-"+runner+"-*.json"))
	if err != nil {
		return nil, err
	}
	var out []Saved
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var rec record
		// The glob also matches runner "ci-x" for "ci": the name inside
		// decides.
		if json.Unmarshal(data, &rec) != nil || rec.RunnerName != runner || rec.RunnerID == 0 || rec.Token == "" {
			continue
		}
		out = append(out, Saved{Path: m, GitLabURL: rec.GitLabURL, RunnerID: rec.RunnerID, Location: rec.Location, Token: secrets.NewToken(rec.Token), Rotation: rec.Rotation})
	}
	slices.SortFunc(out, func(a, b Saved) int { return cmp.Compare(a.RunnerID, b.RunnerID) })
	return out, nil
}

// DefaultRecoveryDir is $XDG_STATE_HOME/runnerctl, else ~/.local/state/runnerctl.
func DefaultRecoveryDir(getenv func(string) string) string {
	if d := getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "runnerctl")
	}
	if h, err := os.UserHomeDir(); err == nil && !strings.HasPrefix(h, ".") {
		return filepath.Join(h, ".local", "state", "runnerctl")
	}
	return filepath.Join(os.TempDir(), "runnerctl")
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}
