package custody

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runnerctl/runnerctl/internal/atomicfile"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Kept is a runner token kept in a recovery file until it is stored.
type Kept struct {
	// Path is the recovery file (set by Keep and Kept).
	Path      string
	GitLabURL string
	Runner    string // the runner's name in runnerctl.yaml
	RunnerID  int64
	Backend   string
	Location  secrets.Location
	// Marker is the create marker of the runner when init created it
	// (empty for a rotation, and in files of older runnerctl versions).
	Marker string
	// Rotation: rotate-token reset the token; the runner's previous token,
	// which the secrets manager may still hold, no longer works.
	Rotation bool
	Token    secrets.Token
	// At is when the token was kept.
	At time.Time
}

// For reports whether k is runner id's token on the GitLab at gitlabURL.
func (k Kept) For(gitlabURL string, id int64) bool {
	return k.GitLabURL == gitlabURL && k.RunnerID == id
}

// keptRecord is a recovery file's content. Token is the revealed value on
// purpose: this file is the one place a token may be written to disk. Its
// field names are those of earlier versions, whose files must still be
// found and finished.
type keptRecord struct {
	Note        string `json:"note"`
	GitLabURL   string `json:"gitlab_url"`
	RunnerName  string `json:"runner_name"`
	RunnerID    int64  `json:"runner_id"`
	Backend     string `json:"backend"`
	Location    string `json:"location"`
	Property    string `json:"property,omitempty"`
	Key         string `json:"key,omitempty"`
	Marker      string `json:"marker,omitempty"`
	Token       string `json:"token"`
	CreatedAt   string `json:"created_at"`
	Instruction string `json:"instruction"`
	Rotation    bool   `json:"rotation,omitempty"`
}

const (
	keptPrefix = "runnerctl-recovery-"
	keptSuffix = ".json"
)

// keptName is the recovery file of runner id.
func keptName(runner string, id int64) string {
	return fmt.Sprintf("%s%s-%d%s", keptPrefix, runner, id, keptSuffix)
}

// Keep writes k's token to its recovery file (0600, atomically and synced:
// a crash leaves the whole file or none, never half a token) and returns
// the file's path. instruction tells a user who finds the file what to do.
func (d *Dir) Keep(k Kept, instruction string) (string, error) {
	path := filepath.Join(d.path, keptName(k.Runner, k.RunnerID))
	if k.At.IsZero() {
		k.At = time.Now()
	}
	rec := keptRecord{
		Note:        "runnerctl keeps this runner token here until it is stored; delete this file once the token is in your secrets manager",
		GitLabURL:   k.GitLabURL,
		RunnerName:  k.Runner,
		RunnerID:    k.RunnerID,
		Backend:     k.Backend,
		Location:    k.Location.String(),
		Key:         k.Location.Key,
		Property:    k.Location.Property,
		Marker:      k.Marker,
		Token:       k.Token.Reveal(),
		CreatedAt:   k.At.UTC().Format(time.RFC3339),
		Instruction: instruction,
		Rotation:    k.Rotation,
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", err
	}
	if err := d.write(path, append(data, '\n')); err != nil {
		return "", fmt.Errorf("write recovery file %q: %w", path, err)
	}
	return path, nil
}

// write replaces path atomically, 0600, with its temporary file in the
// state directory (never in $TMPDIR: it holds a token too), and syncs the
// directory so that the new entry survives a crash of the machine.
func (d *Dir) write(path string, data []byte) error {
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return err
	}
	return atomicfile.SyncDir(d.path)
}

// Kept returns the tokens kept for runner, lowest runner ID first. runner
// is what the files were kept under (Kept.Runner): a runner's name, or for
// a runner deployed to clusters its instance ID NAME@CLUSTER (config
// Runner.ID), so that each cluster's runner has its own files; more names
// add their files too (a caller that looks for one runner ID may also look
// under the name an older run used). The directory is listed, never
// globbed: its path may hold *, ? or [. A file that cannot be read or
// parsed is skipped: it is the user's to inspect.
func (d *Dir) Kept(runner string, more ...string) ([]Kept, error) {
	var out []Kept
	for _, name := range slices.Compact(append([]string{runner}, more...)) {
		k, err := d.kept(name)
		if err != nil {
			return nil, err
		}
		out = append(out, k...)
	}
	slices.SortStableFunc(out, func(a, b Kept) int { return cmp.Compare(a.RunnerID, b.RunnerID) })
	return out, nil
}

func (d *Dir) kept(runner string) ([]Kept, error) {
	names, err := d.names(keptPrefix+runner+"-", keptSuffix)
	if err != nil {
		return nil, err
	}
	var out []Kept
	for _, n := range names {
		// runner "ci" must not pick up runner "ci-x"'s files: what follows
		// the name is the ID alone.
		id := strings.TrimSuffix(strings.TrimPrefix(n, keptPrefix+runner+"-"), keptSuffix)
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			continue
		}
		path := filepath.Join(d.path, n)
		rec, ok := readRecord[keptRecord](path)
		if !ok || rec.RunnerName != runner || rec.RunnerID == 0 || rec.Token == "" {
			continue
		}
		loc := secrets.Location{Key: rec.Key, Property: rec.Property}
		if loc.Key == "" { // older files: the location as printed
			loc.Key, loc.Property, _ = strings.Cut(rec.Location, "#")
		}
		at, _ := time.Parse(time.RFC3339, rec.CreatedAt)
		out = append(out, Kept{
			Path: path, GitLabURL: rec.GitLabURL, Runner: rec.RunnerName, RunnerID: rec.RunnerID,
			Backend: rec.Backend, Location: loc, Marker: rec.Marker, Rotation: rec.Rotation,
			Token: secrets.NewToken(rec.Token), At: at,
		})
	}
	return out, nil
}

// readRecord reads the JSON record at path; ok is false when it cannot be
// read or parsed (the file is then the user's to inspect).
func readRecord[T any](path string) (rec T, ok bool) {
	data, err := os.ReadFile(path)
	return rec, err == nil && json.Unmarshal(data, &rec) == nil
}

// Remove deletes a file of the state directory (a recovery file whose
// token is stored, or belongs to a deleted runner); one already gone is no
// error.
func (d *Dir) Remove(path string) error {
	if filepath.Dir(path) != d.path {
		return fmt.Errorf("%q is not in the state directory %q", path, d.path)
	}
	if err := remove(path); err != nil {
		return err
	}
	return atomicfile.SyncDir(d.path)
}

// names lists the directory's regular files named prefix…suffix, sorted.
func (d *Dir) names(prefix, suffix string) ([]string, error) {
	entries, err := os.ReadDir(d.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("state directory %q: %w", d.path, err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && strings.HasPrefix(n, prefix) && strings.HasSuffix(n, suffix) {
			out = append(out, n)
		}
	}
	return out, nil
}

// sweep removes the temporary files that a write of one of runner's files
// left when it was killed (atomicfile names them "." + the file's name +
// digits): they may hold half a token. The caller holds runner's lock, so
// no other write of them is under way.
func (d *Dir) sweep(runner string) {
	entries, err := os.ReadDir(d.path)
	if err != nil {
		return
	}
	tmp := regexp.MustCompile(`^\.(` + regexp.QuoteMeta(keptPrefix+runner+"-") + `\d+|` +
		regexp.QuoteMeta(intentPrefix+runner+"-") + `(create-[0-9a-f]{16}|rotate-\d+))\.json\d+$`)
	for _, e := range entries {
		if e.Type().IsRegular() && tmp.MatchString(e.Name()) {
			_ = remove(filepath.Join(d.path, e.Name()))
		}
	}
}
