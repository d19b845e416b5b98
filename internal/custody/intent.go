package custody

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/runnerctl/runnerctl/internal/gitlab"
)

// Kinds of intent.
const (
	// IntentCreate: init is about to create a runner (POST /user/runners).
	IntentCreate = "create"
	// IntentRotate: rotate-token is about to reset a runner's token.
	IntentRotate = "rotate"
)

// Intent is a step that may make a token nobody has seen yet: written and
// synced before the request, ended once the token is kept. A run killed
// in between leaves it, and the next run for the runner resolves it first.
type Intent struct {
	// Path is the intent's file (set by Begin and Intents).
	Path      string
	Kind      string // IntentCreate or IntentRotate
	GitLabURL string
	Runner    string
	// Create: the marker in the maintenance note, where the runner is
	// created and with which description, to find it again.
	Marker      string
	Target      gitlab.Target
	Description string
	// Rotate: the runner whose token is reset.
	RunnerID int64
	// Who wrote it, for messages.
	Command string
	PID     int
	Host    string
	At      time.Time
}

type intentTarget struct {
	Type      string `json:"type"`
	GroupID   int64  `json:"group_id,omitempty"`
	ProjectID int64  `json:"project_id,omitempty"`
	Path      string `json:"path,omitempty"`
}

type intentRecord struct {
	Note        string        `json:"note"`
	Kind        string        `json:"kind"`
	GitLabURL   string        `json:"gitlab_url"`
	RunnerName  string        `json:"runner_name"`
	Marker      string        `json:"marker,omitempty"`
	Target      *intentTarget `json:"target,omitempty"`
	Description string        `json:"description,omitempty"`
	RunnerID    int64         `json:"runner_id,omitempty"`
	Command     string        `json:"command"`
	PID         int           `json:"pid"`
	Host        string        `json:"host"`
	StartedAt   string        `json:"started_at"`
}

const intentPrefix = "runnerctl-intent-"

func (in Intent) fileName() string {
	tag := "create-" + strings.TrimPrefix(in.Marker, "runnerctl-create-")
	if in.Kind == IntentRotate {
		tag = "rotate-" + strconv.FormatInt(in.RunnerID, 10)
	}
	return intentPrefix + in.Runner + "-" + tag + keptSuffix
}

// Begin records in before its step runs, synced to disk, and returns it
// with its Path set.
func (d *Dir) Begin(in Intent) (Intent, error) {
	switch {
	case in.Kind == IntentCreate && gitlab.MarkerIdentity(in.Marker) == "":
		return in, fmt.Errorf("intent to create runner %q: marker %q is not a create marker", in.Runner, in.Marker)
	case in.Kind == IntentRotate && in.RunnerID <= 0:
		return in, fmt.Errorf("intent to rotate runner %q: no runner ID", in.Runner)
	case in.Kind != IntentCreate && in.Kind != IntentRotate:
		return in, fmt.Errorf("intent for runner %q: unknown kind %q", in.Runner, in.Kind)
	}
	if in.At.IsZero() {
		in.At = time.Now()
	}
	if in.PID == 0 {
		in.PID = os.Getpid()
	}
	if in.Host == "" {
		in.Host, _ = os.Hostname()
	}
	rec := intentRecord{
		Note: "runnerctl was about to " + map[string]string{IntentCreate: "create this runner", IntentRotate: "reset this runner's token"}[in.Kind] +
			"; the next runnerctl init or rotate-token for it finishes or undoes that, and removes this file",
		Kind: in.Kind, GitLabURL: in.GitLabURL, RunnerName: in.Runner, Marker: in.Marker,
		Description: in.Description, RunnerID: in.RunnerID,
		Command: in.Command, PID: in.PID, Host: in.Host, StartedAt: in.At.UTC().Format(time.RFC3339Nano),
	}
	if in.Kind == IntentCreate {
		t := in.Target
		rec.Target = &intentTarget{Type: t.Type, GroupID: t.GroupID, ProjectID: t.ProjectID, Path: t.Path}
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return in, err
	}
	in.Path = filepath.Join(d.path, in.fileName())
	if err := d.write(in.Path, append(data, '\n')); err != nil {
		return in, fmt.Errorf("write intent record %q: %w", in.Path, err)
	}
	return in, nil
}

// End removes an intent whose step is over (its token kept, or nothing
// made).
func (d *Dir) End(in Intent) error {
	if in.Path == "" {
		return nil
	}
	if err := d.Remove(in.Path); err != nil {
		return fmt.Errorf("remove intent record %q: %w", in.Path, err)
	}
	return nil
}

// Intents returns runner's intents, oldest first. Like Kept, it lists the
// directory rather than globbing it, and skips files it cannot parse.
func (d *Dir) Intents(runner string) ([]Intent, error) {
	names, err := d.names(intentPrefix+runner+"-", keptSuffix)
	if err != nil {
		return nil, err
	}
	var out []Intent
	for _, n := range names {
		path := filepath.Join(d.path, n)
		rec, ok := readRecord[intentRecord](path)
		if !ok || rec.RunnerName != runner {
			continue
		}
		in := Intent{
			Path: path, Kind: rec.Kind, GitLabURL: rec.GitLabURL, Runner: rec.RunnerName, Marker: rec.Marker,
			Description: rec.Description, RunnerID: rec.RunnerID, Command: rec.Command, PID: rec.PID, Host: rec.Host,
		}
		if rec.Target != nil {
			in.Target = gitlab.Target{Type: rec.Target.Type, GroupID: rec.Target.GroupID, ProjectID: rec.Target.ProjectID, Path: rec.Target.Path}
		}
		in.At, _ = time.Parse(time.RFC3339Nano, rec.StartedAt)
		if in.fileName() != n { // a file named for another runner or kind
			continue
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b Intent) int { return cmp.Compare(a.At.UnixNano(), b.At.UnixNano()) })
	return out, nil
}

// Describe names who wrote the intent, for messages.
func (in Intent) Describe() string {
	who := in.Command
	if who == "" {
		who = "runnerctl"
	}
	return fmt.Sprintf("%s (pid %d on %s, started %s)", who, in.PID, in.Host, in.At.UTC().Format(time.RFC3339))
}
