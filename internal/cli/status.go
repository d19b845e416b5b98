package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/gitlab"
	"github.com/runnerctl/runnerctl/internal/gitops"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// statusParallel bounds the runners asked about at once (three requests
// each): enough for a fleet, gentle on GitLab's rate limits.
const statusParallel = 8

type statusOptions struct {
	*globals
	offline  bool
	names    []string // only these runners; all when empty
	gitlab   gitlabFlags
	color    bool // stdout is a terminal and colors are not disabled
	schedule rotationSchedule
}

func newStatusCmd(f *factory, g *globals, runF func(context.Context, *statusOptions) error) *cobra.Command {
	o := &statusOptions{globals: g}
	cmd := &cobra.Command{
		Use:   "status [NAME[@CLUSTER]...]",
		Short: "Show each runner's state in GitLab and whether its files are up to date",
		Long: `status lists the runners of runnerctl.yaml, in its order, with what GitLab says
about each (online, offline, stale, never_contacted; paused for a paused
runner that has made contact), whether it is paused, its last contact, the
gitlab-runner version of the runner manager that contacted GitLab last, when
its token expires, and whether its rendered files are up to date (what
runnerctl render would change). A runner without a runnerID is "not
created"; one whose ID GitLab does not know is "missing in GitLab".

The GitLab personal access token comes from GITLAB_TOKEN or
--gitlab-token-file; it needs read_api (or api). The token expiry comes
from GitLab's GraphQL API (GET /runners/:id does not show it), the version
from GET /runners/:id/managers. --offline skips GitLab and reports the
files only. Runner names limit the table to those runners (and the exit
code to their state).

A runner deployed to clusters (runners[].clusters) has a row per cluster,
each its own GitLab runner: the table then has a CLUSTER column and each
runner's TOKEN LOCATION, and JSON rows a cluster field. NAME selects all
of a runner's clusters, NAME@CLUSTER one; messages name them NAME@CLUSTER.

Token expiry is judged against the scheduled rotation (the CI template's
runnerctl rotate-token --all --if-expires-within 720h): --rotate-within is
its --if-expires-within, --rotate-every how often it runs. A token that
has expired is a failure: the runner cannot authenticate; run runnerctl
rotate-token NAME. One that expires within --rotate-every is a warning:
the next scheduled rotation may come too late; run runnerctl rotate-token
NAME now. One that expires within --rotate-within is a warning for
information: the next scheduled rotation renews it. Each goes to stderr
with its command, and into the runner's JSON object as tokenWarning.
--rotate-within must be longer than --rotate-every, or a token could
expire between two runs without ever being inside the window (exit 2).

Exit codes: 0 every runner exists in GitLab, no token has expired, and
every generated file is up to date; 1 otherwise (a runner not created,
missing, or unreadable, an expired token, or a file out of date: useful in
CI like render --check); 2 invalid configuration or usage.`,
		Example: `  runnerctl status
  runnerctl status -o json | jq '.[] | select(.status != "online")'
  runnerctl status --offline      # files only, no GitLab
  runnerctl status ci build       # only these runners
  runnerctl status --rotate-every 24h   # the rotation is scheduled daily`,
		ValidArgsFunction: completeRunnerNames(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.names = args
			o.color = f.colorsOn(g, f.stdout)
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runStatus(cmd.Context(), f, o)
		},
	}
	fs := cmd.Flags()
	fs.BoolVar(&o.offline, "offline", false, "do not contact GitLab; report only whether the files are up to date")
	addGitLabFlags(fs, &o.gitlab)
	addRotationFlags(fs, &o.schedule)
	return cmd
}

// runnerReader is what status needs of GitLab.
type runnerReader interface {
	CheckReadToken(ctx context.Context) error
	RunnerStatus(ctx context.Context, id int64) (*gitlab.Status, error)
}

// Values of statusRow.Status besides GitLab's own.
const (
	statusNotCreated = "not_created" // no runnerID in runnerctl.yaml
	statusMissing    = "missing"     // GitLab answered 404
	statusError      = "error"       // GitLab could not be asked; see Error
	statusUnknown    = "unknown"     // --offline
)

// statusRow is one runner in the output; its JSON names are a contract.
type statusRow struct {
	Name string `json:"name"`
	// Cluster is the cluster of a runner deployed to several (one row
	// each); empty for a runner without clusters.
	Cluster  string `json:"cluster,omitempty"`
	RunnerID *int64 `json:"runnerID"`
	// Status is GitLab's (online, offline, stale, never_contacted, paused)
	// or one of not_created, missing, error, unknown.
	Status         string        `json:"status"`
	Paused         *bool         `json:"paused"`
	ContactedAt    *time.Time    `json:"contactedAt"`
	Version        *string       `json:"version"`
	TokenExpiresAt *time.Time    `json:"tokenExpiresAt"`
	TokenWarning   *tokenWarning `json:"tokenWarning,omitempty"` // expired, or expiring before or inside the scheduled rotation
	FilesUpToDate  bool          `json:"filesUpToDate"`
	PendingFiles   []pendingFile `json:"pendingFiles"`
	// TokenLocation is where the runner's token is stored, as its
	// ExternalSecret reads it (after the older fields: scripts match
	// their order).
	TokenLocation string         `json:"tokenLocation"`
	Error         string         `json:"error,omitempty"`
	answer        *gitlab.Status // nil: not asked, or no answer
}

type pendingFile struct {
	Path   string `json:"path"`
	Action string `json:"action"`
}

// id names the row's runner as commands take it: NAME, or NAME@CLUSTER.
func (r *statusRow) id() string { return config.InstanceID(r.Name, r.Cluster) }

// problem says why a row makes status exit 1, or "".
func (r *statusRow) problem() string {
	var p []string
	switch r.Status {
	case statusNotCreated:
		p = append(p, "not created")
	case statusMissing:
		p = append(p, "missing in GitLab")
	case statusError:
		p = append(p, "GitLab could not be asked")
	}
	if w := r.TokenWarning; w != nil && w.failed() {
		p = append(p, "token expired")
	}
	if !r.FilesUpToDate {
		p = append(p, "files out of date")
	}
	return strings.Join(p, ", ")
}

func runStatus(ctx context.Context, f *factory, o *statusOptions) error {
	g := o.globals
	if err := o.schedule.check(); err != nil {
		return err
	}
	l, err := load(g)
	if err != nil {
		return err
	}
	rows, orphans, err := fileState(l)
	if err != nil {
		return err
	}
	if len(o.names) > 0 {
		if rows, err = selectRows(l.cfg, rows, o.names); err != nil {
			return err
		}
		orphans = nil // files of removed runners belong to none of the named
	}
	if !o.offline {
		pat, err := f.gitlabToken(ctx, o.gitlab, nil)
		if err != nil {
			return err
		}
		client, err := f.gitlabClient(l.cfg.GitLab.URL, o.gitlab, pat)
		if err != nil {
			return err
		}
		if err := askGitLab(ctx, client, rows); err != nil {
			return err
		}
	}
	at := f.now() // one instant for every row, the table and the warnings
	for i := range rows {
		rows[i].TokenWarning = o.schedule.tokenAdvice(rows[i].id(), rows[i].TokenExpiresAt, at)
	}

	if g.output == "json" {
		if err := writeJSON(f.stdout, rows); err != nil {
			return err
		}
	} else if !g.quiet {
		if err := writeStatusTable(f.stdout, rows, at, o.color); err != nil {
			return err
		}
	}
	var problems []string
	for i := range rows {
		if rows[i].Error != "" {
			fmt.Fprintf(f.stderr, "runnerctl: runner %q: %s\n", rows[i].id(), rows[i].Error)
		}
		switch w := rows[i].TokenWarning; {
		case w == nil:
		case w.failed(): // an error, like the line above; the exit code follows
			fmt.Fprintf(f.stderr, "runnerctl: runner %q: %s; %s\n", rows[i].id(), w.Message, w.fix())
		case !g.quiet:
			fmt.Fprintf(f.stderr, "%srunner %q: %s; %s\n", colorize(g, "WARNING: "), rows[i].id(), w.Message, w.fix())
		}
		if p := rows[i].problem(); p != "" {
			problems = append(problems, fmt.Sprintf("%s: %s", rows[i].id(), p))
		}
	}
	for _, c := range orphans {
		problems = append(problems, fmt.Sprintf("%s: %s (no runner in %s)", c.Path, c.Action, g.configPath))
	}
	if len(problems) > 0 {
		return &exitError{code: ExitFailure, msg: "not healthy: " + strings.Join(problems, "; ") +
			hint(rows, orphans)}
	}
	return nil
}

// selectRows keeps the rows of the named runners, in spec order: a name
// is a runner's (all its clusters) or an instance ID NAME@CLUSTER
// (selectInstances); one that is not in the spec is a usage error.
func selectRows(cfg *config.Config, rows []statusRow, names []string) ([]statusRow, error) {
	inst, err := selectInstances(cfg, names, false)
	if err != nil {
		return nil, err
	}
	var kept []statusRow
	for _, r := range rows {
		if slices.ContainsFunc(inst, func(i *config.Runner) bool { return i.ID() == r.id() }) {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// hint says how to fix what can be fixed from here.
func hint(rows []statusRow, orphans []gitops.Change) string {
	drift := len(orphans) > 0
	var expired []string
	for _, r := range rows {
		drift = drift || !r.FilesUpToDate
		if w := r.TokenWarning; w != nil && w.failed() {
			expired = append(expired, r.id())
		}
	}
	var h string
	if len(expired) > 0 {
		h += "; run `runnerctl rotate-token " + strings.Join(expired, " ") + "`"
	}
	if drift {
		h += "; run `runnerctl render` and commit the result"
	}
	return h
}

// fileState renders the spec and compares it with the repository: one row
// per runner, in spec order, with its pending changes, and the pending
// changes that belong to no runner (files of runners removed from the
// spec, which render would delete).
func fileState(l *loaded) ([]statusRow, []gitops.Change, error) {
	res, err := render.Render(l.cfg, l.profiles)
	if err != nil {
		return nil, nil, err
	}
	// Like render --check: compare whoever wrote a file, and count the
	// files left at old gitops.paths.
	plan, _, err := l.plan(res.Files, l.root, true)
	if err != nil {
		return nil, nil, err
	}
	// A file of a runner with clusters that all its clusters share (its
	// ApplicationSet) belongs to each of its rows.
	owner := map[string][]int{} // file path -> rows
	inst := l.cfg.Instances()
	rows := make([]statusRow, len(inst))
	for i, r := range inst {
		rows[i] = statusRow{Name: r.Name, Cluster: r.Cluster, FilesUpToDate: true, PendingFiles: []pendingFile{}, Status: statusUnknown}
		if ref, err := l.cfg.TokenRef(r); err == nil { // validated by load
			rows[i].TokenLocation = secrets.Location(ref).String()
		}
		if r.RunnerID != 0 {
			id := r.RunnerID
			rows[i].RunnerID = &id
		} else {
			rows[i].Status = statusNotCreated
		}
		files := runnerFiles(l.cfg, r)
		if r.Cluster != "" {
			files = append(files, runnerFiles(l.cfg, &l.cfg.Runners[r.Index])...)
		}
		for _, path := range files {
			if !slices.Contains(owner[path], i) {
				owner[path] = append(owner[path], i)
			}
		}
	}
	var orphans []gitops.Change
	for _, c := range plan.Pending() {
		is, ok := owner[c.Path]
		if !ok {
			orphans = append(orphans, c)
			continue
		}
		for _, i := range is {
			rows[i].FilesUpToDate = false
			rows[i].PendingFiles = append(rows[i].PendingFiles, pendingFile{Path: c.Path, Action: string(c.Action)})
		}
	}
	return rows, orphans, nil
}

// runnerFiles are every file render may write for runner r.
func runnerFiles(c *config.Config, r *config.Runner) []string {
	return render.FilesOf(c, r)
}

// askGitLab fills in GitLab's view of every created runner, a few at a
// time; rows keep their order. A runner GitLab cannot be asked about gets
// its error in its row; only a token that cannot read runners at all
// stops status.
func askGitLab(ctx context.Context, c runnerReader, rows []statusRow) error {
	if err := c.CheckReadToken(ctx); err != nil {
		return fmt.Errorf("GitLab: %w", err)
	}
	grp, ctx := errgroup.WithContext(ctx)
	grp.SetLimit(statusParallel)
	for i := range rows {
		if rows[i].RunnerID == nil {
			continue
		}
		row := &rows[i] // each goroutine writes only its own row
		grp.Go(func() error {
			st, err := c.RunnerStatus(ctx, *row.RunnerID)
			row.setGitLab(st, err)
			return nil
		})
	}
	return grp.Wait()
}

func (r *statusRow) setGitLab(st *gitlab.Status, err error) {
	switch {
	case errors.Is(err, gitlab.ErrNotFound):
		r.Status = statusMissing
	case err != nil:
		r.Status, r.Error = statusError, err.Error()
	default:
		r.answer = st
		r.Status = st.Status
		r.Paused = &st.Paused
		r.ContactedAt = st.ContactedAt
		r.TokenExpiresAt = st.TokenExpiresAt
		if st.Version != "" {
			r.Version = &st.Version
		}
	}
}

// writeStatusTable prints rows as an aligned table. now is the clock the
// relative times are computed against (an argument, so tests fix it).
func writeStatusTable(w io.Writer, rows []statusRow, now time.Time, color bool) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// Runners with clusters get a row per cluster: the table then says
	// which cluster, and where each cluster's runner has its token (one
	// place per cluster). Without them the table is as it always was.
	fleet := slices.ContainsFunc(rows, func(r statusRow) bool { return r.Cluster != "" })
	if fleet {
		fmt.Fprintf(tw, "NAME\tCLUSTER\t")
	} else {
		fmt.Fprintf(tw, "NAME\t")
	}
	fmt.Fprintf(tw, "ID\t%s\tPAUSED\tLAST CONTACT\tVERSION\tTOKEN EXPIRES\t%s", paint(color, "", "GITLAB"), paint(color, "", "FILES"))
	if fleet {
		fmt.Fprintf(tw, "\tTOKEN LOCATION")
	}
	fmt.Fprintln(tw)
	for i := range rows {
		r := &rows[i]
		if fleet {
			fmt.Fprintf(tw, "%s\t%s\t", r.Name, cmp.Or(r.Cluster, "-"))
		} else {
			fmt.Fprintf(tw, "%s\t", r.Name)
		}
		id := "-"
		if r.RunnerID != nil {
			id = strconv.FormatInt(*r.RunnerID, 10)
		}
		paused, contact, version, expires := "-", "-", "-", "-"
		if st := r.answer; st != nil {
			paused = yesNo(st.Paused)
			contact = "never"
			if st.ContactedAt != nil {
				contact = ago(now, *st.ContactedAt)
			}
			if st.Version != "" {
				version = st.Version
			}
			expires = tokenExpiry(now, st.TokenExpiresAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s", id,
			paint(color, statusColor(r.Status), statusText(r.Status)), paused, contact, version, expires,
			paint(color, filesColor(r), filesText(r)))
		if fleet {
			fmt.Fprintf(tw, "\t%s", r.TokenLocation)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

func statusText(s string) string {
	switch s {
	case statusNotCreated:
		return "not created"
	case statusMissing:
		return "missing in GitLab"
	case statusUnknown:
		return "-"
	}
	return s
}

func filesText(r *statusRow) string {
	if r.FilesUpToDate {
		return "up to date"
	}
	return fmt.Sprintf("%d out of date", len(r.PendingFiles))
}

// ANSI colors; every one the same length, so that a colored column stays
// aligned (tabwriter counts the escape bytes as width).
const (
	colorNone   = "\x1b[39m"
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorRed    = "\x1b[31m"
	colorReset  = "\x1b[0m"
)

func statusColor(s string) string {
	switch s {
	case "online":
		return colorGreen
	case "offline", "stale", "never_contacted", "paused":
		return colorYellow
	case statusNotCreated, statusMissing, statusError:
		return colorRed
	}
	return colorNone
}

func filesColor(r *statusRow) string {
	if r.FilesUpToDate {
		return colorGreen
	}
	return colorRed
}

// paint wraps s in a color when colors are on; every cell of a painted
// column must go through paint (code "" for none) to stay aligned.
func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	if code == "" {
		code = colorNone
	}
	return code + s + colorReset
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ago is t relative to now: "3m ago", or "in 3m" for a time ahead.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		return "in " + shortDuration(-d)
	}
	return shortDuration(d) + " ago"
}

// tokenExpiry describes when a token expires; nil is never.
func tokenExpiry(now time.Time, at *time.Time) string {
	switch {
	case at == nil:
		return "never"
	case !at.After(now):
		return "expired " + ago(now, *at)
	}
	return ago(now, *at)
}

// shortDuration rounds d down to its largest unit: 45s, 3m, 5h, 12d.
// Hours run up to two days, so that "30h" still reads as about a day.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}
