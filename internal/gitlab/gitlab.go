// Package gitlab holds the GitLab operations runnerctl needs, over the
// official client library: check the personal access token, resolve a
// group or project, create, inspect, reset and delete runners.
//
// Creating a runner is the one step that must never be repeated blindly: a
// retried POST can leave two runners, and a lost answer loses the only copy
// of the token. So creates are never retried on 5xx, every create carries a
// unique marker in its maintenance note, and when an answer is lost the
// runner is looked up by that marker instead of guessed at.
package gitlab

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/redact"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// Options configure a Client.
type Options struct {
	// URL is GitLab's base URL, with any path prefix (https://host/gitlab/).
	URL string
	// Token is a personal access token. It is a secrets.Token so that it
	// never prints.
	Token secrets.Token
	// CAFile is a PEM bundle trusted in addition to the system roots, for
	// self-managed GitLab with a private CA.
	CAFile string
	// HTTPClient replaces the default transport (tests).
	HTTPClient *http.Client
	// Timeout bounds each request; 0 means 30s.
	Timeout time.Duration
}

// Client talks to one GitLab instance.
type Client struct {
	api *gl.Client
	url string
	hc  *http.Client // the transport under api, for Probe
	// pace spreads the requests over GitLab's rate limit (pacer).
	pace *pacer
}

// New builds a client. Requests with an idempotent method (GET, PUT,
// DELETE) are retried on 5xx, 429 and network errors; POSTs only on 429,
// which GitLab answers before doing anything, and on connection errors
// before the request was sent (see CreateRunner): a retried PUT sets the
// same values again, a retried POST could create a second runner. The
// client's requests keep to GitLab's rate limit together (see pacer).
func New(o Options) (*Client, error) {
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	hc.Timeout = o.Timeout
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file %q: %w", o.CAFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %q holds no PEM certificate", o.CAFile)
		}
		tr, ok := hc.Transport.(*http.Transport)
		if !ok {
			return nil, errors.New("a custom CA needs an *http.Transport")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	// Every answer passes the pacer (see pacer), on a copy of the caller's
	// client: wrapping the caller's own would pace twice a client used
	// for two.
	pace := newPacer()
	paced := *hc
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	paced.Transport = observed{next: next, p: pace}
	hc = &paced
	api, err := gl.NewClient(o.Token.Reveal(),
		gl.WithBaseURL(o.URL),
		gl.WithHTTPClient(hc),
		gl.WithOnlyIdempotentRetries(),
		gl.WithCustomRetryMax(4),
		gl.WithCustomBackoff(pace.retryBackoff),
		gl.WithCustomLimiter(pace),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab %q: %s", redact.URL(o.URL), redact.Text(err.Error()))
	}
	return &Client{api: api, url: o.URL, hc: hc, pace: pace}, nil
}

// Throttled is how many requests GitLab refused with 429 (rate limited)
// so far; each was retried after the wait GitLab asked for.
func (c *Client) Throttled() int {
	c.pace.mu.Lock()
	defer c.pace.mu.Unlock()
	return c.pace.throttled
}

// Waits between retries (see retryWait).
const (
	minRateLimitWait = 500 * time.Millisecond
	maxRateLimitWait = time.Minute
	retryJitter      = 250 * time.Millisecond
)

// retryWait is how long the client waits before retrying. After a 429 it
// waits as long as GitLab asks, by Retry-After (seconds or a date) or
// RateLimit-Reset (Unix time), whichever is later, up to a minute, plus a
// little jitter. The library's own rate-limit backoff reads only
// RateLimit-Reset, to the second, so it could retry before Retry-After, and
// adds a jitter of up to RetryWaitMax-RetryWaitMin. Other retries (reads
// after a 5xx or a network error) wait 0.7 to 0.9 seconds times the attempt
// number, as the library does.
func retryWait(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		return (700*time.Millisecond + time.Duration(mrand.Int64N(int64(200*time.Millisecond)))) * time.Duration(attempt+1)
	}
	return throttleWait(resp) + time.Duration(mrand.Int64N(int64(retryJitter)))
}

// throttleWait is how long GitLab asks a client to wait after a 429 (see
// retryWait), without jitter: the pacer holds every request that long.
func throttleWait(resp *http.Response) time.Duration {
	wait := minRateLimitWait
	if v := strings.TrimSpace(resp.Header.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
			wait = max(wait, time.Duration(secs)*time.Second)
		} else if t, err := http.ParseTime(v); err == nil {
			wait = max(wait, time.Until(t))
		}
	}
	if v, err := strconv.ParseInt(resp.Header.Get("RateLimit-Reset"), 10, 64); err == nil && v > 0 {
		wait = max(wait, time.Until(time.Unix(v, 0)))
	}
	return min(wait, maxRateLimitWait)
}

// Errors callers act on.
var (
	// ErrUnauthorized: the token is missing, wrong, expired or revoked.
	ErrUnauthorized = errors.New("GitLab rejected the personal access token (401): it is wrong, expired or revoked")
	// ErrNotFound: the runner, group or project does not exist (or is not visible).
	ErrNotFound = errors.New("not found")
	// ErrUncertain: a change got no answer, or a 5xx, after retries;
	// GitLab may have made it (UpdateRunner, ResetToken).
	ErrUncertain = errors.New("GitLab may or may not have made the change")
	// ErrTokenRefused: GitLab does not accept a runner token: it was reset
	// since, it expired, or its runner is gone (VerifyRunnerToken).
	ErrTokenRefused = errors.New("GitLab does not accept the runner token")
	// ErrTransient: no answer, a 5xx or a 429 after the client's retries;
	// asking again later may work. It never changes an error's message.
	ErrTransient = errors.New("temporary failure")
	// ErrInsufficientScope: GitLab refused a request because the personal
	// access token lacks the scope the route needs (403
	// insufficient_scope), which a better token fixes, unlike a 403 for
	// what the user may not do.
	ErrInsufficientScope = errors.New("the personal access token lacks the scope this needs")
)

// transientError marks err as ErrTransient without changing its message.
type transientError struct{ error }

func (e transientError) Unwrap() error        { return e.error }
func (e transientError) Is(target error) bool { return target == ErrTransient }

// ScopeError says which scopes the token lacks.
type ScopeError struct {
	Have []string
	// Missing lists, for each thing init must be able to do and the token
	// may not, the scopes that would allow it ("create_runner or api").
	Missing []string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("the personal access token has scopes [%s] but lacks %s; create a token with the api scope, or with create_runner, manage_runner and read_api",
		strings.Join(e.Have, ", "), strings.Join(e.Missing, "; "))
}

// requiredScopes is what runnerctl does with the token, and the scopes
// that allow each (GitLab's allow_access_with_scope on the routes used).
// Creating is not enough: a runner whose token cannot be stored must be
// deleted again, a create whose answer was lost must be found by its
// marker and its token reset, and a re-run must see that the runner exists.
var requiredScopes = []struct {
	scope, why string
}{
	{"create_runner", "create runners"},
	{"manage_runner", "read, update, delete and reset runners"},
	{"read_api", "look up groups, projects and runner lists"},
}

// CheckToken verifies the token and that it may do everything init may
// have to do: create a runner, get or update it, and delete or reset it,
// and list runners, when a step after the create fails.
func (c *Client) CheckToken(ctx context.Context) error {
	pat, _, err := c.api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if err != nil {
		return c.wrap("check personal access token", err)
	}
	if !pat.Active || pat.Revoked {
		return ErrUnauthorized
	}
	if slices.Contains(pat.Scopes, "api") {
		return nil
	}
	var missing []string
	for _, r := range requiredScopes {
		if !slices.Contains(pat.Scopes, r.scope) {
			missing = append(missing, fmt.Sprintf("%s or api (to %s)", r.scope, r.why))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &ScopeError{Have: pat.Scopes, Missing: missing}
}

// Target is where a runner is created.
type Target struct {
	Type      string // instance_type, group_type or project_type
	GroupID   int64
	ProjectID int64
	Path      string
}

// Resolve turns a configured scope into a Target, looking up the group or
// project by its full path.
func (c *Client) Resolve(ctx context.Context, s config.Scope) (Target, error) {
	switch s.Type {
	case config.ScopeGroup:
		g, _, err := c.api.Groups.GetGroup(s.Path, nil, gl.WithContext(ctx))
		if err != nil {
			return Target{}, c.wrap(fmt.Sprintf("group %q", s.Path), err)
		}
		return Target{Type: "group_type", GroupID: g.ID, Path: s.Path}, nil
	case config.ScopeProject:
		p, _, err := c.api.Projects.GetProject(s.Path, nil, gl.WithContext(ctx))
		if err != nil {
			return Target{}, c.wrap(fmt.Sprintf("project %q", s.Path), err)
		}
		return Target{Type: "project_type", ProjectID: p.ID, Path: s.Path}, nil
	}
	return Target{Type: "instance_type"}, nil
}

// RunnerSpec is what GitLab stores about a runner.
type RunnerSpec struct {
	Target          Target
	Description     string
	Tags            []string
	RunUntagged     bool
	Locked          bool
	AccessLevel     string
	MaximumTimeout  int
	Paused          bool
	MaintenanceNote string
}

// Created is a runner GitLab just made, with its only copy of the token.
type Created struct {
	ID        int64
	Token     secrets.Token
	ExpiresAt *time.Time
	// Recovered is set when the create's answer was lost and the runner
	// was found by its marker; its token was then reset to obtain one.
	Recovered bool
}

// NewMarker returns a unique marker for one create of the runner whose
// token lives where identity (8 hex digits, custody.Identity) says: the
// identity, then 8 random hex digits. Another runnerctl that is about to
// create the same runner (on another machine, where no lock reaches) finds
// it by the identity (FindByIdentity); the random half tells two creates
// apart. An identity that is not 8 hex digits is replaced by random ones:
// such a marker matches no other create.
func NewMarker(identity string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b[:4])
	if len(identity) == identityLen && strings.Trim(identity, hexDigits) == "" {
		id = identity
	}
	return markerPrefix + id + hex.EncodeToString(b[4:])
}

// MarkerIdentity is the identity half of a marker made by NewMarker, or ""
// when marker is not one.
func MarkerIdentity(marker string) string {
	h, ok := strings.CutPrefix(marker, markerPrefix)
	if !ok || len(h) != 2*identityLen || strings.Trim(h, hexDigits) != "" {
		return ""
	}
	return h[:identityLen]
}

const (
	markerPrefix = "runnerctl-create-"
	identityLen  = 8
	hexDigits    = "0123456789abcdef"
)

// JoinMarker is the maintenance note CreateRunner sends: note, then marker
// on a line of its own.
func JoinMarker(note, marker string) string {
	return strings.TrimSpace(note + "\n" + marker)
}

// SplitMarker undoes JoinMarker: the note a user wrote, and the create
// marker on its last line ("" when there is none).
func SplitMarker(note string) (text, marker string) {
	rest, last := "", note
	if i := strings.LastIndexByte(note, '\n'); i >= 0 {
		rest, last = note[:i], note[i+1:]
	}
	last = strings.TrimSpace(last)
	if MarkerIdentity(last) == "" {
		return note, ""
	}
	return strings.TrimSpace(rest), last
}

// CreateRunner creates the runner. marker (NewMarker) is appended to the
// maintenance note. When the answer is lost (a timeout, a 5xx or a broken
// connection after GitLab may have acted), the runner is looked for by its
// marker: if it exists, its token is reset (the first one was never seen)
// and returned; if not, the create failed and nothing exists. When even
// that cannot be told, or the runner exists without a known token, the
// error is ErrUncertain: whoever recorded the marker resolves it later.
func (c *Client) CreateRunner(ctx context.Context, spec RunnerSpec, marker string) (*Created, error) {
	note := JoinMarker(spec.MaintenanceNote, marker)
	opts := &gl.CreateUserRunnerOptions{
		RunnerType:      &spec.Target.Type,
		Description:     &spec.Description,
		Paused:          &spec.Paused,
		RunUntagged:     &spec.RunUntagged,
		MaintenanceNote: &note,
	}
	if spec.Target.GroupID != 0 {
		opts.GroupID = &spec.Target.GroupID
	}
	if spec.Target.ProjectID != 0 {
		opts.ProjectID = &spec.Target.ProjectID
		opts.Locked = &spec.Locked
	}
	if len(spec.Tags) > 0 {
		opts.TagList = &spec.Tags
	}
	if spec.AccessLevel != "" {
		opts.AccessLevel = &spec.AccessLevel
	}
	if spec.MaximumTimeout > 0 {
		t := int64(spec.MaximumTimeout)
		opts.MaximumTimeout = &t
	}
	r, _, err := c.api.Users.CreateUserRunner(opts, gl.WithContext(ctx))
	if err == nil {
		return &Created{ID: r.ID, Token: secrets.NewToken(r.Token), ExpiresAt: r.TokenExpiresAt}, nil
	}
	if !ambiguous(err) {
		return nil, c.wrap("create runner", err)
	}
	// GitLab may have created it. Look, with a fresh context: the caller's
	// may be the one that timed out.
	lookCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	id, findErr := c.FindByMarker(lookCtx, spec.Target, spec.Description, marker)
	switch {
	case findErr != nil:
		return nil, fmt.Errorf("create runner: the answer was lost (%s) and looking for the runner failed too: %w (%w); check GitLab for a runner whose maintenance note contains %q", c.describe(err), findErr, ErrUncertain, marker)
	case id == 0:
		return nil, c.wrap("create runner (no runner was created)", err)
	}
	reset, rerr := c.ResetToken(lookCtx, id)
	if rerr != nil {
		return nil, fmt.Errorf("create runner: the answer was lost, runner %d exists, and resetting its token failed: %w (%w); delete runner %d in GitLab and run again", id, rerr, ErrUncertain, id)
	}
	reset.Recovered = true
	return reset, nil
}

// ambiguous reports whether a failed write may still have taken effect.
func ambiguous(err error) bool {
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		return er.StatusCode >= 500
	}
	// No HTTP answer at all: timeout, reset connection, cancelled context.
	return true
}

// FindByMarker returns the ID of the runner in target whose maintenance
// note holds marker, or 0. GitLab's runner lists do not carry the note, so
// each candidate's details are read: those with description first (the
// runner was created with it), then, only if none matches, the others (a
// description may have been changed in GitLab since).
func (c *Client) FindByMarker(ctx context.Context, t Target, description, marker string) (int64, error) {
	list, err := c.listRunners(ctx, t)
	if err != nil {
		return 0, err
	}
	same, others := splitByDescription(list, description)
	for _, rs := range [][]*gl.Runner{same, others} {
		for _, r := range rs {
			d, err := c.runnerDetails(ctx, r.ID)
			if errors.Is(err, ErrNotFound) {
				continue // deleted since the list was read
			}
			if err != nil {
				return 0, err
			}
			if d.MaintenanceNote != nil && strings.Contains(*d.MaintenanceNote, marker) {
				return d.ID, nil
			}
		}
	}
	return 0, nil
}

// Found is a runner that a runnerctl create made (FindByIdentity).
type Found struct {
	ID        int64
	Marker    string
	CreatedAt *time.Time // nil when GitLab does not say
}

// FindByIdentity returns the runners of target, lowest ID first, that
// runnerctl created for identity (see NewMarker): the runners of one token
// location, whichever machine created them. Only runners with description
// are read (one request each), as every runnerctl that creates that runner
// uses the description runnerctl.yaml gives it; a runner whose description
// was changed in GitLab since is not found.
func (c *Client) FindByIdentity(ctx context.Context, t Target, description, identity string) ([]Found, error) {
	list, err := c.listRunners(ctx, t)
	if err != nil {
		return nil, err
	}
	same, _ := splitByDescription(list, description)
	var out []Found
	for _, r := range same {
		d, err := c.runnerDetails(ctx, r.ID)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if d.MaintenanceNote == nil {
			continue
		}
		if _, m := SplitMarker(*d.MaintenanceNote); m != "" && MarkerIdentity(m) == identity {
			out = append(out, Found{ID: d.ID, Marker: m, CreatedAt: d.CreatedAt})
		}
	}
	slices.SortFunc(out, func(a, b Found) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// listRunners lists every runner of target's type there, all pages, newest
// (highest ID) first: a lost create is the most recent runner.
func (c *Client) listRunners(ctx context.Context, t Target) ([]*gl.Runner, error) {
	var all []*gl.Runner
	page := int64(1)
	for {
		var (
			rs   []*gl.Runner
			resp *gl.Response
			err  error
		)
		lo := gl.ListOptions{Page: page, PerPage: 100}
		switch t.Type {
		case "group_type":
			rs, resp, err = c.api.Runners.ListGroupsRunners(t.GroupID, &gl.ListGroupsRunnersOptions{ListOptions: lo, Type: &t.Type}, gl.WithContext(ctx))
		case "project_type":
			rs, resp, err = c.api.Runners.ListProjectRunners(t.ProjectID, &gl.ListProjectRunnersOptions{ListOptions: lo, Type: &t.Type}, gl.WithContext(ctx))
		default:
			// GET /runners never lists instance runners; /runners/all does
			// (administrators only, as creating one needs anyway).
			rs, resp, err = c.api.Runners.ListAllRunners(&gl.ListRunnersOptions{ListOptions: lo, Type: &t.Type}, gl.WithContext(ctx))
		}
		if err != nil {
			return nil, c.wrap("list runners", err)
		}
		all = append(all, rs...)
		if resp == nil || resp.NextPage == 0 {
			break
		}
		page = resp.NextPage
	}
	slices.SortFunc(all, func(a, b *gl.Runner) int { return cmp.Compare(b.ID, a.ID) })
	return all, nil
}

// splitByDescription keeps list's order in both halves.
func splitByDescription(list []*gl.Runner, description string) (same, others []*gl.Runner) {
	for _, r := range list {
		if r.Description == description {
			same = append(same, r)
		} else {
			others = append(others, r)
		}
	}
	return same, others
}

// RunnerInfo is what runnerctl reads about an existing runner: its scope
// and the settings GitLab keeps for it.
type RunnerInfo struct {
	ID   int64
	Type string // instance_type, group_type or project_type
	// GroupIDs are a group runner's groups, those the token may read.
	// GitLab does not list a project runner's projects here (see
	// HasProjectRunner).
	GroupIDs        []int64
	Description     string
	TagList         []string
	RunUntagged     bool
	Locked          bool
	AccessLevel     string // not_protected or ref_protected
	MaximumTimeout  int    // seconds; 0: none
	Paused          bool
	MaintenanceNote string
	// NoteHidden: GitLab did not show the maintenance note (null), which it
	// does when the token may not update the runner.
	NoteHidden  bool
	Status      string
	ContactedAt *time.Time
}

// runnerDetails is GET /runners/:id's answer: the library's type, with the
// maintenance note as a pointer, since GitLab sends null (not "") when the
// user may not update the runner.
type runnerDetails struct {
	gl.RunnerDetails
	MaintenanceNote *string    `json:"maintenance_note"` // shadows the embedded field
	CreatedAt       *time.Time `json:"created_at"`       // the Runner entity's, which RunnerDetails extends
}

// runnerDetails reads GET /runners/:id.
func (c *Client) runnerDetails(ctx context.Context, id int64) (*runnerDetails, error) {
	req, err := c.api.NewRequest(http.MethodGet, fmt.Sprintf("runners/%d", id), nil, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return nil, fmt.Errorf("runner %d: %w", id, err)
	}
	var d runnerDetails
	if _, err := c.api.Do(req, &d); err != nil {
		return nil, c.wrap(fmt.Sprintf("runner %d", id), err)
	}
	return &d, nil
}

// GetRunner returns runner id, or ErrNotFound.
func (c *Client) GetRunner(ctx context.Context, id int64) (*RunnerInfo, error) {
	d, err := c.runnerDetails(ctx, id)
	if err != nil {
		return nil, err
	}
	info := &RunnerInfo{
		ID: d.ID, Type: d.RunnerType, Description: d.Description, TagList: d.TagList,
		RunUntagged: d.RunUntagged, Locked: d.Locked, AccessLevel: d.AccessLevel,
		MaximumTimeout: int(d.MaximumTimeout), Paused: d.Paused,
		NoteHidden: d.MaintenanceNote == nil, Status: d.Status, ContactedAt: d.ContactedAt,
	}
	if d.MaintenanceNote != nil {
		info.MaintenanceNote = *d.MaintenanceNote
	}
	for _, g := range d.Groups {
		info.GroupIDs = append(info.GroupIDs, g.ID)
	}
	return info, nil
}

// runnerUpdate is the body of PUT /runners/:id: the library's options, with
// a maximum_timeout that is sent as null when there is none. The
// library's own field omits a nil value, and GitLab then keeps the limit
// it has; null removes it (Grape passes nil through, and Ci::Runner allows
// nil). So UpdateRunner builds the request with the library's NewRequest
// and Do instead of Runners.UpdateRunnerDetails; authentication, retries,
// rate limits and errors are the library's all the same.
type runnerUpdate struct {
	gl.UpdateRunnerDetailsOptions
	MaximumTimeout *int64 `json:"maximum_timeout"` // shadows the embedded omitempty field
}

// UpdateRunner sets every setting of spec on runner id (PUT /runners/:id):
// description, tags (an empty list removes them), run_untagged, locked
// (project runners only, as at creation), access_level, maximum_timeout
// (0 removes the limit), paused and maintenance_note, sent as they are.
// spec.Target names the runner's type; a runner's scope cannot change. A
// PUT is idempotent: the client retries it after a 5xx or a lost answer.
// GitLab's refusal of a value is a *ValidationError; a failure after which
// GitLab may have applied the settings anyway is ErrUncertain.
func (c *Client) UpdateRunner(ctx context.Context, id int64, spec RunnerSpec) error {
	tags := spec.Tags
	if tags == nil {
		tags = []string{} // null would not clear them
	}
	body := runnerUpdate{UpdateRunnerDetailsOptions: gl.UpdateRunnerDetailsOptions{
		Description:     &spec.Description,
		Paused:          &spec.Paused,
		TagList:         &tags,
		RunUntagged:     &spec.RunUntagged,
		MaintenanceNote: &spec.MaintenanceNote,
	}}
	if spec.Target.Type == "project_type" {
		body.Locked = &spec.Locked
	}
	if spec.AccessLevel != "" {
		body.AccessLevel = &spec.AccessLevel
	}
	if spec.MaximumTimeout > 0 {
		t := int64(spec.MaximumTimeout)
		body.MaximumTimeout = &t
	}
	req, err := c.api.NewRequest(http.MethodPut, fmt.Sprintf("runners/%d", id), body, []gl.RequestOptionFunc{gl.WithContext(ctx)})
	if err != nil {
		return fmt.Errorf("update runner %d: %w", id, err)
	}
	var d gl.RunnerDetails
	if _, err := c.api.Do(req, &d); err != nil {
		werr := c.wrap(fmt.Sprintf("update runner %d", id), err)
		if ambiguous(err) {
			return fmt.Errorf("%w (%w)", werr, ErrUncertain)
		}
		return werr
	}
	return nil
}

// GroupPath returns the full path of group id (GET /groups/:id): import
// names a group runner's group by it, as runnerctl.yaml does.
func (c *Client) GroupPath(ctx context.Context, id int64) (string, error) {
	g, _, err := c.api.Groups.GetGroup(id, nil, gl.WithContext(ctx))
	if err != nil {
		return "", c.wrap(fmt.Sprintf("group %d", id), err)
	}
	return g.FullPath, nil
}

// HasProjectRunner reports whether runner id is a project runner of
// project projectID. GitLab's runner details do not list a runner's
// projects, so the project's runners are listed instead.
func (c *Client) HasProjectRunner(ctx context.Context, projectID, id int64) (bool, error) {
	typ := "project_type"
	page := int64(1)
	for {
		rs, resp, err := c.api.Runners.ListProjectRunners(projectID, &gl.ListProjectRunnersOptions{
			ListOptions: gl.ListOptions{Page: page, PerPage: 100}, Type: &typ,
		}, gl.WithContext(ctx))
		if err != nil {
			return false, c.wrap(fmt.Sprintf("list the runners of project %d", projectID), err)
		}
		for _, r := range rs {
			if r.ID == id {
				return true, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return false, nil
		}
		page = resp.NextPage
	}
}

// ResetToken gives runner id a new token; the old one stops working at once.
//
// Unlike a create, a reset may be retried when its answer is lost (a 5xx,
// a timeout, a broken connection): each reset makes the token it returns
// the only valid one, so a retry merely kills a token nobody saw, and the
// last answer received holds the live token. The client retries POSTs only
// on 429 (see New), so ResetToken retries the ambiguous failures itself.
func (c *Client) ResetToken(ctx context.Context, id int64) (*Created, error) {
	var t *gl.RunnerAuthenticationToken
	err := retryLost(ctx, func() (err error) {
		t, _, err = c.api.Runners.ResetRunnerAuthenticationToken(id, gl.WithContext(ctx))
		return err
	})
	if err != nil {
		werr := c.wrap(fmt.Sprintf("reset token of runner %d", id), err)
		if ambiguous(err) {
			return nil, fmt.Errorf("%w (%w)", werr, ErrUncertain)
		}
		return nil, werr
	}
	if t.Token == nil || *t.Token == "" {
		return nil, fmt.Errorf("reset token of runner %d: GitLab returned no token", id)
	}
	return &Created{ID: id, Token: secrets.NewToken(*t.Token), ExpiresAt: t.TokenExpiresAt}, nil
}

// retryLost runs a POST that is safe to repeat (a reset, a GraphQL query)
// up to four times while it fails with no answer or a 5xx, waiting as the
// client does between retries of a GET.
func retryLost(ctx context.Context, do func() error) error {
	const tries = 4
	for attempt := 0; ; attempt++ {
		err := do()
		if err == nil || !ambiguous(err) || ctx.Err() != nil || attempt+1 == tries {
			return err
		}
		select {
		case <-time.After(retryWait(0, 0, attempt, nil)):
		case <-ctx.Done():
			return err
		}
	}
}

// TokenExpiresAt returns when runner id's current token expires, nil when
// it never does. GET /runners/:id does not carry token_expires_at
// (API::Entities::Ci::RunnerDetails does not expose it; only the create and
// reset answers do), so this asks GraphQL, whose CiRunner type has
// tokenExpiresAt. GraphQL needs a token with api or read_api. A runner that
// does not exist, or that the token may not read, is ErrNotFound.
func (c *Client) TokenExpiresAt(ctx context.Context, id int64) (*time.Time, error) {
	var resp struct {
		Data struct {
			Runner *struct {
				TokenExpiresAt *time.Time `json:"tokenExpiresAt"`
			} `json:"runner"`
		} `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	q := gl.GraphQLQuery{
		Query:     `query($id: CiRunnerID!) { runner(id: $id) { tokenExpiresAt } }`,
		Variables: map[string]any{"id": fmt.Sprintf("gid://gitlab/Ci::Runner/%d", id)},
	}
	what := fmt.Sprintf("token expiry of runner %d", id)
	// A query changes nothing: retry it like a GET, although it is a POST.
	err := retryLost(ctx, func() error {
		_, err := c.api.GraphQL.Do(q, &resp, gl.WithContext(ctx))
		// The library's GraphQL error hides the HTTP status (no Unwrap);
		// the status decides what is retried and how it is reported.
		var gerr *gl.GraphQLResponseError
		if errors.As(err, &gerr) {
			err = gerr.Err
		}
		return err
	})
	if err != nil {
		return nil, c.wrap(what, err)
	}
	if len(resp.Errors) > 0 {
		return nil, fmt.Errorf("%s: GitLab GraphQL: %s", what, resp.Errors[0].Message)
	}
	if resp.Data.Runner == nil {
		return nil, fmt.Errorf("%s: %w (GitLab %s)", what, ErrNotFound, c.url)
	}
	return resp.Data.Runner.TokenExpiresAt, nil
}

// VerifySystemID is the system_id VerifyRunnerToken sends. GitLab records
// a runner manager for every system_id a runner token is verified with
// (API::Ci::Helpers::Runner#current_runner_manager; "<legacy>" without
// one), so runnerctl names its own: the manager it leaves is recognisable
// as runnerctl's check, not a runner process, and status ignores it.
const VerifySystemID = "runnerctl-verify"

// VerifyRunnerToken asks GitLab whose current token tok is (POST
// /runners/verify, authenticated by the runner token itself): the runner's
// ID, or ErrTokenRefused when GitLab does not accept tok (403: reset since,
// expired, or its runner deleted).
//
// It is the check that changes no token: the other way to prove a token,
// POST /runners/reset_authentication_token with the token itself, replaces
// it, which is a rotation, not a check. Verifying is not free of effects
// all the same: GitLab counts it as the runner's contact (contacted_at)
// and records a runner manager for VerifySystemID. runnerctl verifies only
// a token it is about to store from a recovery file, so these show only
// after an interrupted run. The answer echoes the token; it is never kept.
func (c *Client) VerifyRunnerToken(ctx context.Context, tok secrets.Token) (int64, error) {
	body := struct {
		Token    string `json:"token"`
		SystemID string `json:"system_id"`
	}{tok.Reveal(), VerifySystemID}
	var answer struct {
		ID int64 `json:"id"`
	}
	// A check changes nothing that matters: repeat it when the answer is
	// lost, like a GET, although it is a POST.
	err := retryLost(ctx, func() error {
		req, err := c.api.NewRequest(http.MethodPost, "runners/verify", body, []gl.RequestOptionFunc{gl.WithContext(ctx)})
		if err != nil {
			return err
		}
		_, err = c.api.Do(req, &answer)
		return err
	})
	var er *gl.ErrorResponse
	if errors.As(err, &er) && er.StatusCode == http.StatusForbidden {
		return 0, fmt.Errorf("verify runner token: %w (GitLab %s)", ErrTokenRefused, c.url)
	}
	if err != nil {
		return 0, c.wrap("verify runner token", err)
	}
	if answer.ID == 0 {
		return 0, errors.New("verify runner token: GitLab's answer names no runner")
	}
	return answer.ID, nil
}

// ContactedAt is when runner id last contacted GitLab (nil: never): the
// one field of GET /runners/:id that says whether a restarted runner is
// back. A runner GitLab does not know is ErrNotFound.
func (c *Client) ContactedAt(ctx context.Context, id int64) (*time.Time, error) {
	d, err := c.runnerDetails(ctx, id)
	if err != nil {
		return nil, err
	}
	return d.ContactedAt, nil
}

// DeleteRunner removes runner id (the rollback when its token cannot be
// stored).
func (c *Client) DeleteRunner(ctx context.Context, id int64) error {
	_, err := c.api.Runners.RemoveRunner(id, gl.WithContext(ctx))
	if err != nil {
		return c.wrap(fmt.Sprintf("delete runner %d", id), err)
	}
	return nil
}

// wrap maps the library's errors to runnerctl's, keeping GitLab's message:
// it says what was wrong with a parameter. No answer at all, a 5xx and a
// 429 are also ErrTransient.
func (c *Client) wrap(what string, err error) error {
	var er *gl.ErrorResponse
	if errors.As(err, &er) {
		switch {
		case er.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("%s: %w", what, ErrUnauthorized)
		case er.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w (GitLab %s)", what, ErrNotFound, c.url)
		case er.StatusCode == http.StatusBadRequest:
			if ve := parseValidation(er.Body); ve != nil {
				return fmt.Errorf("%s: %w", what, ve)
			}
		case er.StatusCode >= 500 || er.StatusCode == http.StatusTooManyRequests:
			return transientError{fmt.Errorf("%s: %s", what, c.describe(err))}
		}
		return fmt.Errorf("%s: %s", what, c.describe(err))
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return transientError{fmt.Errorf("%s: %w", what, err)}
}

// ValidationError is GitLab refusing a model's values: a 400 whose body is
// render_validation_error!'s {"message":{"attribute":["problem", ...]}}
// (PUT /runners/:id sends these).
type ValidationError struct {
	Fields []FieldError // in GitLab's order
}

// FieldError is one attribute GitLab refused, by its name in GitLab's
// model (tags_list, maximum_timeout, ...).
type FieldError struct {
	Field    string
	Messages []string
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + strings.Join(f.Messages, ", ")
	}
	return "GitLab refused " + strings.Join(parts, "; ")
}

// parseValidation reads a render_validation_error! body, keeping the
// order of its attributes; nil when body is something else.
func parseValidation(body []byte) *ValidationError {
	var v struct {
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(body, &v) != nil || len(v.Message) == 0 || v.Message[0] != '{' {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(v.Message)))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	ve := &ValidationError{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		field, _ := t.(string)
		var msgs []string
		if err := dec.Decode(&msgs); err != nil {
			return nil
		}
		ve.Fields = append(ve.Fields, FieldError{Field: field, Messages: msgs})
	}
	if len(ve.Fields) == 0 {
		return nil
	}
	return ve
}

// describe says what GitLab answered, without the HTML page a proxy sends
// with a 5xx.
func (c *Client) describe(err error) string {
	var er *gl.ErrorResponse
	if !errors.As(err, &er) {
		return err.Error()
	}
	switch {
	case er.StatusCode == http.StatusForbidden:
		return fmt.Sprintf("forbidden by GitLab (403): %s", strings.TrimSpace(string(er.Body)))
	case er.StatusCode >= 500 || !json.Valid(er.Body):
		// Proxies answer 5xx with HTML pages; the status says enough.
		return fmt.Sprintf("GitLab answered %d %s", er.StatusCode, http.StatusText(er.StatusCode))
	}
	return fmt.Sprintf("GitLab answered %d: %s", er.StatusCode, strings.TrimSpace(string(er.Body)))
}

// CreateMergeRequest opens a merge request in project (a full path) from
// source into target and returns its web URL.
func (c *Client) CreateMergeRequest(ctx context.Context, project, source, target, title, description string) (string, error) {
	remove := true
	mr, _, err := c.api.MergeRequests.CreateMergeRequest(project, &gl.CreateMergeRequestOptions{
		SourceBranch:       &source,
		TargetBranch:       &target,
		Title:              &title,
		Description:        &description,
		RemoveSourceBranch: &remove,
	}, gl.WithContext(ctx))
	if err != nil {
		return "", c.wrap(fmt.Sprintf("create merge request in project %q", project), err)
	}
	return mr.WebURL, nil
}
