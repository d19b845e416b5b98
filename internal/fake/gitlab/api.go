package gitlab

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// GitLab's timestamps: 2024-05-03T10:00:00.000Z.
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

func ts(t time.Time) string { return t.UTC().Format(timeLayout) }

func tsPtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := ts(*t)
	return &s
}

// ---- users and permissions ------------------------------------------------

type userBasic struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Locked    bool   `json:"locked"`
	AvatarURL string `json:"avatar_url"`
	WebURL    string `json:"web_url"`
}

func (s *Server) user(id int64) userBasic {
	u := userBasic{ID: id, State: "active", AvatarURL: "https://www.gravatar.com/avatar/00000000000000000000000000000000?s=80&d=identicon"}
	if id == 1 {
		u.Username, u.Name = "root", "Administrator"
	} else {
		u.Username, u.Name = fmt.Sprintf("user%d", id), fmt.Sprintf("User %d", id)
	}
	u.WebURL = s.URL() + u.Username
	return u
}

// isAncestorOrSelf reports whether path a is b or one of b's parents.
func isAncestorOrSelf(a, b string) bool {
	a, b = strings.ToLower(a), strings.ToLower(b)
	return a == b || strings.HasPrefix(b, a+"/")
}

func parentPath(p string) string {
	if i := strings.LastIndex(p, "/"); i >= 0 {
		return p[:i]
	}
	return ""
}

// Permission checks; s.mu must be held.

// ownsPath: the user owns a group that is path or one of its parents.
func (s *Server) ownsPath(t *pat, path string) bool {
	if t == nil {
		return false
	}
	if t.opts.Admin {
		return true
	}
	for _, id := range t.opts.OwnedGroups {
		if g, ok := s.groups[id]; ok && isAncestorOrSelf(g.fullPath, path) {
			return true
		}
	}
	return false
}

func (s *Server) ownsGroup(t *pat, g *group) bool { return s.ownsPath(t, g.fullPath) }

// maintainsProject: admin, a maintainer of p, or an owner of its namespace.
func (s *Server) maintainsProject(t *pat, p *project) bool {
	if t == nil {
		return false
	}
	if t.opts.Admin || slices.Contains(t.opts.MaintainedProjects, p.id) {
		return true
	}
	return s.ownsPath(t, parentPath(p.fullPath))
}

// canSeeGroup: private groups are visible to their members, and to members
// of anything below them.
func (s *Server) canSeeGroup(t *pat, g *group) bool {
	if t == nil {
		return false
	}
	if s.ownsGroup(t, g) {
		return true
	}
	for _, id := range t.opts.OwnedGroups {
		if o, ok := s.groups[id]; ok && isAncestorOrSelf(g.fullPath, o.fullPath) {
			return true
		}
	}
	for _, id := range t.opts.MaintainedProjects {
		if p, ok := s.projects[id]; ok && isAncestorOrSelf(g.fullPath, p.fullPath) {
			return true
		}
	}
	return false
}

func (s *Server) canSeeProject(t *pat, p *project) bool { return s.maintainsProject(t, p) }

// canUpdateRunner: the user may update and delete r (owner of its group,
// maintainer of its project, or admin).
func (s *Server) canUpdateRunner(t *pat, r *Runner) bool {
	if t == nil {
		return false
	}
	if t.opts.Admin {
		return true
	}
	switch r.RunnerType {
	case "group_type":
		if g, ok := s.groups[r.GroupID]; ok {
			return s.ownsGroup(t, g)
		}
	case "project_type":
		if p, ok := s.projects[r.ProjectID]; ok {
			return s.maintainsProject(t, p)
		}
	}
	return false
}

// canReadRunner: authenticate_show_runner! lets anyone read instance runners.
func (s *Server) canReadRunner(t *pat, r *Runner) bool {
	return r.RunnerType == "instance_type" || s.canUpdateRunner(t, r)
}

// findGroup resolves an :id that is a number or a full path; s.mu must be
// held.
func (s *Server) findGroup(id string) *group {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return s.groups[n]
	}
	for _, g := range s.groups {
		if strings.EqualFold(g.fullPath, id) {
			return g
		}
	}
	return nil
}

func (s *Server) findProject(id string) *project {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return s.projects[n]
	}
	for _, p := range s.projects {
		if strings.EqualFold(p.fullPath, id) {
			return p
		}
	}
	return nil
}

func (s *Server) groupByPath(path string) *group {
	for _, g := range s.groups {
		if strings.EqualFold(g.fullPath, path) {
			return g
		}
	}
	return nil
}

// ---- personal access tokens -----------------------------------------------

func (s *Server) tokenSelf(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	t := c.tok
	var expires *string
	if t.opts.ExpiresAt != nil {
		d := t.opts.ExpiresAt.UTC().Format("2006-01-02")
		expires = &d
	}
	now := ts(time.Now())
	scopes := t.opts.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	// Entities::PersonalAccessTokenWithLastUsedIps
	return jsonResponse(http.StatusOK, struct {
		ID          int64    `json:"id"`
		Name        string   `json:"name"`
		Revoked     bool     `json:"revoked"`
		CreatedAt   string   `json:"created_at"`
		Description string   `json:"description"`
		Scopes      []string `json:"scopes"`
		UserID      int64    `json:"user_id"`
		LastUsedAt  string   `json:"last_used_at"`
		Active      bool     `json:"active"`
		ExpiresAt   *string  `json:"expires_at"`
		LastUsedIPs []string `json:"last_used_ips"`
	}{t.id, t.opts.Name, false, ts(t.createdAt), "", scopes, t.userID, now, true, expires, []string{"127.0.0.1"}})
}

// ---- groups and projects --------------------------------------------------

type groupJSON struct {
	ID          int64  `json:"id"`
	WebURL      string `json:"web_url"`
	Name        string `json:"name"`
	Path        string `json:"path"`
	Description string `json:"description"`
	Visibility  string `json:"visibility"`
	FullName    string `json:"full_name"`
	FullPath    string `json:"full_path"`
	CreatedAt   string `json:"created_at"`
	ParentID    *int64 `json:"parent_id"`
}

func lastSegment(p string) string { return p[strings.LastIndex(p, "/")+1:] }

func fullName(p string) string { return strings.Join(strings.Split(p, "/"), " / ") }

func (s *Server) groupJSON(g *group) groupJSON {
	var parent *int64
	if pg := s.groupByPath(parentPath(g.fullPath)); pg != nil && parentPath(g.fullPath) != "" {
		id := pg.id
		parent = &id
	}
	return groupJSON{
		ID: g.id, WebURL: s.URL() + "groups/" + g.fullPath, Name: lastSegment(g.fullPath),
		Path: lastSegment(g.fullPath), Visibility: "private", FullName: fullName(g.fullPath),
		FullPath: g.fullPath, CreatedAt: ts(g.createdAt), ParentID: parent,
	}
}

func (s *Server) getGroup(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.findGroup(c.path["id"])
	// find_group! answers 404 for groups the user cannot see, not 403.
	if g == nil || !s.canSeeGroup(c.tok, g) {
		return messageError(http.StatusNotFound, msgGroupNotFound)
	}
	return jsonResponse(http.StatusOK, s.groupJSON(g))
}

func (s *Server) getProject(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.findProject(c.path["id"])
	if p == nil || !s.canSeeProject(c.tok, p) {
		return messageError(http.StatusNotFound, msgProjectNotFound)
	}
	type namespace struct {
		ID       int64  `json:"id"`
		Name     string `json:"name"`
		Path     string `json:"path"`
		Kind     string `json:"kind"`
		FullPath string `json:"full_path"`
		WebURL   string `json:"web_url"`
	}
	nsPath := parentPath(p.fullPath)
	ns := namespace{Name: lastSegment(nsPath), Path: lastSegment(nsPath), Kind: "group", FullPath: nsPath, WebURL: s.URL() + "groups/" + nsPath}
	if g := s.groupByPath(nsPath); g != nil {
		ns.ID = g.id
	}
	return jsonResponse(http.StatusOK, struct {
		ID                int64     `json:"id"`
		Description       *string   `json:"description"`
		Name              string    `json:"name"`
		NameWithNamespace string    `json:"name_with_namespace"`
		Path              string    `json:"path"`
		PathWithNamespace string    `json:"path_with_namespace"`
		CreatedAt         string    `json:"created_at"`
		DefaultBranch     string    `json:"default_branch"`
		WebURL            string    `json:"web_url"`
		Visibility        string    `json:"visibility"`
		Namespace         namespace `json:"namespace"`
	}{
		ID: p.id, Name: lastSegment(p.fullPath), NameWithNamespace: fullName(p.fullPath),
		Path: lastSegment(p.fullPath), PathWithNamespace: p.fullPath, CreatedAt: ts(p.createdAt),
		DefaultBranch: "main", WebURL: s.URL() + p.fullPath, Visibility: "private", Namespace: ns,
	})
}

// ---- POST /user/runners ---------------------------------------------------

var (
	runnerTypes  = []string{"instance_type", "group_type", "project_type"}
	accessLevels = []string{"not_protected", "ref_protected"}
)

const maxTags = 50

func (s *Server) createRunner(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	p, errResp := c.params()
	if errResp != nil {
		return errResp
	}

	// Grape parameter validation, in declaration order (lib/api/user_runners.rb).
	var errs []string
	rtRaw, hasType := p["runner_type"]
	runnerType, _ := coerceString(rtRaw)
	switch {
	case !hasType:
		errs = append(errs, "runner_type is missing", "runner_type does not have a valid value")
	case !slices.Contains(runnerTypes, runnerType):
		errs = append(errs, "runner_type does not have a valid value")
	}
	var scopeID *int64
	checkID := func(name string) {
		v, ok := p[name]
		if !ok {
			errs = append(errs, name+" is missing")
			return
		}
		if v == nil {
			return
		}
		n, ok := coerceInt(v)
		if !ok {
			errs = append(errs, name+" is invalid")
			return
		}
		scopeID = &n
	}
	switch runnerType {
	case "group_type":
		checkID("group_id")
	case "project_type":
		checkID("project_id")
	}
	str := func(name string) string {
		v, ok := p[name]
		if !ok || v == nil {
			return ""
		}
		sv, ok := coerceString(v)
		if !ok {
			errs = append(errs, name+" is invalid")
		}
		return sv
	}
	boolean := func(name string, def bool) bool {
		v, ok := p[name]
		if !ok || v == nil {
			return def
		}
		b, ok := coerceBool(v)
		if !ok {
			errs = append(errs, name+" is invalid")
			return def
		}
		return b
	}
	description := str("description")
	note := str("maintenance_note")
	paused := boolean("paused", false)
	locked := boolean("locked", false)
	accessLevel := "not_protected"
	if v, ok := p["access_level"]; ok && v != nil {
		al, _ := coerceString(v)
		if !slices.Contains(accessLevels, al) {
			errs = append(errs, "access_level does not have a valid value")
		} else {
			accessLevel = al
		}
	}
	runUntagged := boolean("run_untagged", true)
	var tags []string
	if v, ok := p["tag_list"]; ok && v != nil {
		t, ok := coerceTags(v)
		if !ok {
			errs = append(errs, "tag_list is invalid")
		}
		tags = t
	}
	var maxTimeout *int64
	if v, ok := p["maximum_timeout"]; ok && v != nil && present(v) {
		n, ok := coerceInt(v)
		if !ok {
			errs = append(errs, "maximum_timeout is invalid")
		} else {
			maxTimeout = &n
		}
	}
	if len(errs) > 0 {
		return grapeError(http.StatusBadRequest, strings.Join(errs, ", "))
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	// CreateRunnerService: the strategy's validate_params, then authorized_user?.
	var g *group
	var proj *project
	switch runnerType {
	case "group_type":
		if scopeID != nil {
			g = s.groups[*scopeID] // ::Group.find_by_id: no visibility check
		}
		if g == nil {
			return messageError(http.StatusBadRequest, "400 Bad request - Missing/invalid group")
		}
		if !s.ownsGroup(c.tok, g) {
			return messageError(http.StatusForbidden, msgInsufficientPerm)
		}
	case "project_type":
		if scopeID != nil {
			proj = s.projects[*scopeID]
		}
		if proj == nil {
			return messageError(http.StatusBadRequest, "400 Bad request - Missing/invalid project")
		}
		if !s.maintainsProject(c.tok, proj) {
			return messageError(http.StatusForbidden, msgInsufficientPerm)
		}
	default: // instance_type: can?(:create_instance_runner), administrators only
		if !c.tok.opts.Admin {
			return messageError(http.StatusForbidden, msgInsufficientPerm)
		}
	}

	// Ci::Runner validations; save errors are full_messages.to_sentence.
	var invalid []string
	if len(tags) == 0 && !runUntagged {
		invalid = append(invalid, "Tags list can not be empty when runner is not allowed to pick untagged jobs")
	}
	if len(tags) > maxTags {
		invalid = append(invalid, fmt.Sprintf("Tags list Too many tags specified. Please limit the number of tags to %d", maxTags))
	}
	if len([]rune(description)) > 1024 {
		invalid = append(invalid, "Description is too long (maximum is 1024 characters)")
	}
	if maxTimeout != nil && *maxTimeout < 600 {
		invalid = append(invalid, "Maximum timeout needs to be at least 10 minutes")
	}
	if len([]rune(note)) > 1024 {
		invalid = append(invalid, "Maintenance note is too long (maximum is 1024 characters)")
	}
	if len(invalid) > 0 {
		return messageError(http.StatusBadRequest, "400 Bad request - "+toSentence(invalid))
	}

	now := time.Now().UTC().Truncate(time.Millisecond)
	r := &Runner{
		ID:              s.nextRunner,
		RunnerType:      runnerType,
		Description:     description,
		Paused:          paused,
		Locked:          locked,
		RunUntagged:     runUntagged,
		TagList:         tags,
		AccessLevel:     accessLevel,
		MaintenanceNote: note,
		Token:           s.newRunnerToken(),
		TokenExpiresAt:  s.newTokenExpiry(now),
		CreatedAt:       now,
		CreatorID:       c.tok.userID,
	}
	if !present(description) {
		r.Description = ""
	}
	if !present(note) {
		r.MaintenanceNote = ""
	}
	if maxTimeout != nil {
		r.MaximumTimeout = *maxTimeout
	}
	if g != nil {
		r.GroupID = g.id
	}
	if proj != nil {
		r.ProjectID = proj.id
	}
	s.nextRunner++
	s.runners[r.ID] = r
	s.creates++

	// Entities::Ci::RunnerRegistrationDetails
	return jsonResponse(http.StatusCreated, struct {
		ID             int64   `json:"id"`
		Token          string  `json:"token"`
		TokenExpiresAt *string `json:"token_expires_at"`
	}{r.ID, r.Token, tsPtr(r.TokenExpiresAt)})
}

// ---- runners --------------------------------------------------------------

// staleTimeout is Ci::Runner::STALE_TIMEOUT.
const staleTimeout = 7 * 24 * time.Hour

// status is Ci::Runner#deprecated_rest_status; fake runners contact GitLab
// only through SetRunnerContact (status.go).
func runnerStatus(r *Runner, now time.Time) string {
	return restStatus(r.CreatedAt, r.ContactedAt, r.Paused, now)
}

type runnerJSON struct {
	ID                 int64     `json:"id"`
	Description        string    `json:"description"`
	IPAddress          *string   `json:"ip_address"`
	Active             bool      `json:"active"`
	Paused             bool      `json:"paused"`
	IsShared           bool      `json:"is_shared"`
	RunnerType         string    `json:"runner_type"`
	Name               *string   `json:"name"`
	Online             bool      `json:"online"`
	CreatedBy          userBasic `json:"created_by"`
	CreatedAt          string    `json:"created_at"`
	Status             string    `json:"status"`
	JobExecutionStatus string    `json:"job_execution_status"`
}

func (s *Server) runnerJSON(r *Runner, now time.Time) runnerJSON {
	return runnerJSON{
		ID: r.ID, Description: r.Description, Active: !r.Paused, Paused: r.Paused,
		IsShared: r.RunnerType == "instance_type", RunnerType: r.RunnerType,
		CreatedBy: s.user(r.CreatorID), CreatedAt: ts(r.CreatedAt),
		Status: runnerStatus(r, now), JobExecutionStatus: "idle",
	}
}

// runnerID parses the :id of /runners/:id routes (requires :id, type: Integer).
func runnerID(c *call) (int64, *response) {
	id, err := strconv.ParseInt(c.path["id"], 10, 64)
	if err != nil {
		return 0, grapeError(http.StatusBadRequest, "id is invalid")
	}
	return id, nil
}

// liveRunner finds runner id for a PAT-authenticated route; s.mu must be held.
func (s *Server) liveRunner(c *call) (*Runner, *response) {
	if c.tok == nil {
		return nil, messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	id, errResp := runnerID(c)
	if errResp != nil {
		return nil, errResp
	}
	r, ok := s.runners[id]
	if !ok || r.Deleted {
		return nil, messageError(http.StatusNotFound, msgRunnerNotFound)
	}
	return r, nil
}

// readableRunner is the runner of the path, if it exists (404) and the
// token may read it (403), as GET /runners/:id and its sub-resources check.
// s.mu must be held.
func (s *Server) readableRunner(c *call) (*Runner, *response) {
	r, errResp := s.liveRunner(c)
	if errResp != nil {
		return nil, errResp
	}
	if !c.tok.opts.Admin && !s.canReadRunner(c.tok, r) {
		return nil, messageError(http.StatusForbidden, msgNoAccess)
	}
	return r, nil
}

func (s *Server) getRunner(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, errResp := s.readableRunner(c)
	if errResp != nil {
		return errResp
	}
	return jsonResponse(http.StatusOK, s.runnerDetails(c, r))
}

// runnerDetails is Entities::Ci::RunnerDetails (no token, no
// token_expires_at; no projects either: the entity exposes them only with
// include_projects, which GET and PUT /runners/:id do not pass); s.mu must
// be held.
func (s *Server) runnerDetails(c *call, r *Runner) any {
	type basicGroup struct {
		ID     int64  `json:"id"`
		WebURL string `json:"web_url"`
		Name   string `json:"name"`
	}
	groups := []basicGroup{}
	// The runner's groups that the user may read (authorized_groups).
	if g, ok := s.groups[r.GroupID]; ok && r.RunnerType == "group_type" && s.canSeeGroup(c.tok, g) {
		groups = append(groups, basicGroup{g.id, s.URL() + "groups/" + g.fullPath, lastSegment(g.fullPath)})
	}
	var maxTimeout *int64
	if r.MaximumTimeout > 0 {
		v := r.MaximumTimeout
		maxTimeout = &v
	}
	var note *string
	if s.canUpdateRunner(c.tok, r) {
		n := r.MaintenanceNote
		note = &n
	}
	tags := slices.Clone(r.TagList)
	if tags == nil {
		tags = []string{}
	}
	return struct {
		runnerJSON
		TagList         []string     `json:"tag_list"`
		RunUntagged     bool         `json:"run_untagged"`
		Locked          bool         `json:"locked"`
		MaximumTimeout  *int64       `json:"maximum_timeout"`
		AccessLevel     string       `json:"access_level"`
		Version         *string      `json:"version"`
		Revision        *string      `json:"revision"`
		Platform        *string      `json:"platform"`
		Architecture    *string      `json:"architecture"`
		ContactedAt     *string      `json:"contacted_at"`
		MaintenanceNote *string      `json:"maintenance_note"`
		Groups          []basicGroup `json:"groups"`
	}{
		runnerJSON: s.runnerJSON(r, time.Now()), TagList: tags, RunUntagged: r.RunUntagged,
		Locked: r.Locked, MaximumTimeout: maxTimeout, AccessLevel: r.AccessLevel,
		MaintenanceNote: note, Groups: groups,
		ContactedAt: tsPtr(r.ContactedAt), Version: r.latestVersion(),
	}
}

func (s *Server) deleteRunner(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, errResp := s.liveRunner(c)
	if errResp != nil {
		return errResp
	}
	if !s.canUpdateRunner(c.tok, r) {
		return messageError(http.StatusForbidden, msgNoAccess)
	}
	r.Deleted = true
	return noContent()
}

func (s *Server) resetToken(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, errResp := s.liveRunner(c)
	if errResp != nil {
		return errResp
	}
	if !s.canUpdateRunner(c.tok, r) {
		return messageError(http.StatusForbidden, msgNoAccess)
	}
	now := time.Now().UTC()
	r.OldTokens = append(r.OldTokens, r.Token)
	r.Token = s.newRunnerToken()
	r.TokenExpiresAt = s.newTokenExpiry(now)
	// Entities::Ci::ResetTokenResult
	return jsonResponse(http.StatusCreated, struct {
		Token          string  `json:"token"`
		TokenExpiresAt *string `json:"token_expires_at"`
	}{r.Token, tsPtr(r.TokenExpiresAt)})
}

// verifyRunner is POST /runners/verify, authenticated by the runner token
// itself (lib/api/ci/runner.rb): 200 when valid, 403 otherwise. As
// authenticate_runner! does, it counts as the runner's contact (heartbeat:
// contacted_at) and records a runner manager for the system_id sent, or
// "<legacy>" without one (current_runner_manager's ensure_manager).
func (s *Server) verifyRunner(c *call) *response {
	p, errResp := c.params()
	if errResp != nil {
		return errResp
	}
	v, ok := p["token"]
	if !ok {
		return grapeError(http.StatusBadRequest, "token is missing")
	}
	token, _ := coerceString(v)
	systemID := "<legacy>"
	if sv, ok := p["system_id"]; ok {
		systemID, _ = coerceString(sv)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runnerByToken(token)
	if r == nil {
		return messageError(http.StatusForbidden, msgForbidden)
	}
	now := time.Now().UTC()
	r.ContactedAt = &now
	if i := slices.IndexFunc(r.Managers, func(m Manager) bool { return m.SystemID == systemID }); i >= 0 {
		r.Managers[i].ContactedAt = now
	} else {
		s.nextManager++
		r.Managers = append(r.Managers, Manager{ID: s.nextManager, SystemID: systemID, CreatedAt: now, ContactedAt: now})
	}
	return jsonResponse(http.StatusOK, struct {
		ID             int64   `json:"id"`
		Token          string  `json:"token"`
		TokenExpiresAt *string `json:"token_expires_at"`
	}{r.ID, r.Token, tsPtr(r.TokenExpiresAt)})
}

// ---- runner lists ---------------------------------------------------------

var runnerStatuses = []string{"active", "paused", "online", "offline", "never_contacted", "stale"}

type listFilter struct {
	scope, typ, status string
	paused             *bool
	tags               []string
	page, perPage      int
}

// parseFilter validates filter_params (and the deprecated scope where the
// route has it) and pagination.
func parseFilter(c *call, withScope bool) (listFilter, *response) {
	f := listFilter{page: 1, perPage: 20}
	q := c.query
	var errs []string
	if withScope && q.Has("scope") {
		f.scope = q.Get("scope")
		if !slices.Contains(runnerStatuses, f.scope) && !slices.Contains(runnerTypes, f.scope) {
			errs = append(errs, "scope does not have a valid value")
		}
	}
	if q.Has("type") {
		f.typ = q.Get("type")
		if !slices.Contains(runnerTypes, f.typ) {
			errs = append(errs, "type does not have a valid value")
		}
	}
	if q.Has("paused") {
		b, ok := coerceBool(q.Get("paused"))
		if !ok {
			errs = append(errs, "paused is invalid")
		} else {
			f.paused = &b
		}
	}
	if q.Has("status") {
		f.status = q.Get("status")
		if !slices.Contains(runnerStatuses, f.status) {
			errs = append(errs, "status does not have a valid value")
		}
	}
	if q.Has("tag_list") {
		f.tags, _ = coerceTags(q.Get("tag_list"))
	}
	if q.Has("page") {
		n, err := strconv.Atoi(q.Get("page"))
		if err != nil {
			errs = append(errs, "page is invalid")
		} else if n > 0 {
			f.page = n
		}
	}
	if q.Has("per_page") {
		n, err := strconv.Atoi(q.Get("per_page"))
		if err != nil {
			errs = append(errs, "per_page is invalid")
		} else if n > 0 {
			f.perPage = min(n, 100)
		}
	}
	if len(errs) > 0 {
		return f, grapeError(http.StatusBadRequest, strings.Join(errs, ", "))
	}
	return f, nil
}

func matchesState(r *Runner, state string, now time.Time) bool {
	switch state {
	case "", r.RunnerType:
		return true
	case "active":
		return !r.Paused
	case "paused":
		return r.Paused
	case "never_contacted", "stale", "online", "offline":
		return runnerStatus(r, now) == state
	}
	return false
}

// list filters, paginates and renders runners; s.mu must be held.
func (s *Server) list(rs []*Runner, f listFilter) *response {
	now := time.Now()
	var out []*Runner
	for _, r := range rs {
		if r.Deleted {
			continue
		}
		if f.typ != "" && r.RunnerType != f.typ {
			continue
		}
		if !matchesState(r, f.scope, now) || !matchesState(r, f.status, now) {
			continue
		}
		if f.paused != nil && r.Paused != *f.paused {
			continue
		}
		if !hasAllTags(r.TagList, f.tags) {
			continue
		}
		out = append(out, r)
	}
	total := len(out)
	totalPages := max(1, (total+f.perPage-1)/f.perPage)
	start := min((f.page-1)*f.perPage, total)
	end := min(start+f.perPage, total)
	items := make([]runnerJSON, 0, end-start)
	for _, r := range out[start:end] {
		items = append(items, s.runnerJSON(r, now))
	}
	resp := jsonResponse(http.StatusOK, items)
	h := resp.Header
	h.Set("X-Page", strconv.Itoa(f.page))
	h.Set("X-Per-Page", strconv.Itoa(f.perPage))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(totalPages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	if f.page < totalPages {
		h.Set("X-Next-Page", strconv.Itoa(f.page+1))
	}
	if f.page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(f.page-1))
	}
	return resp
}

func hasAllTags(have, want []string) bool {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return false
		}
	}
	return true
}

// GET /runners: current_user.ci_owned_runners, which never holds instance
// runners, even for an administrator.
func (s *Server) listOwnedRunners(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	f, errResp := parseFilter(c, true)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*Runner
	for _, r := range s.sortedRunners() {
		if r.RunnerType != "instance_type" && s.canUpdateRunner(c.tok, r) {
			rs = append(rs, r)
		}
	}
	return s.list(rs, f)
}

// GET /runners/all: administrators only.
func (s *Server) listAllRunners(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	if !c.tok.opts.Admin {
		return messageError(http.StatusForbidden, msgForbidden)
	}
	f, errResp := parseFilter(c, true)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.list(s.sortedRunners(), f)
}

// GET /groups/:id/runners: Ci::Runner.group_or_instance_wide, the group's
// and its parents' runners and instance runners.
func (s *Server) listGroupRunners(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	s.mu.Lock()
	g := s.findGroup(c.path["id"])
	visible := g != nil && s.canSeeGroup(c.tok, g)
	allowed := visible && s.ownsGroup(c.tok, g)
	s.mu.Unlock()
	if !visible {
		return messageError(http.StatusNotFound, msgGroupNotFound)
	}
	if !allowed {
		return messageError(http.StatusForbidden, msgForbidden)
	}
	f, errResp := parseFilter(c, false)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*Runner
	for _, r := range s.sortedRunners() {
		switch r.RunnerType {
		case "instance_type":
			rs = append(rs, r)
		case "group_type":
			if rg, ok := s.groups[r.GroupID]; ok && isAncestorOrSelf(rg.fullPath, g.fullPath) {
				rs = append(rs, r)
			}
		}
	}
	return s.list(rs, f)
}

// GET /projects/:id/runners: Ci::Runner.owned_or_instance_wide, the
// project's runners, its parent groups' runners and instance runners.
func (s *Server) listProjectRunners(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	s.mu.Lock()
	p := s.findProject(c.path["id"])
	visible := p != nil && s.canSeeProject(c.tok, p)
	s.mu.Unlock()
	if !visible {
		return messageError(http.StatusNotFound, msgProjectNotFound)
	}
	f, errResp := parseFilter(c, true)
	if errResp != nil {
		return errResp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*Runner
	for _, r := range s.sortedRunners() {
		switch r.RunnerType {
		case "instance_type":
			rs = append(rs, r)
		case "group_type":
			if rg, ok := s.groups[r.GroupID]; ok && isAncestorOrSelf(rg.fullPath, parentPath(p.fullPath)) {
				rs = append(rs, r)
			}
		case "project_type":
			if r.ProjectID == p.id {
				rs = append(rs, r)
			}
		}
	}
	return s.list(rs, f)
}

// ---- PUT /runners/:id -----------------------------------------------------

// fieldErrors is ActiveModel's errors.messages, in the order the model's
// validations ran: {"tags_list":["can not be empty ..."]}.
type fieldErrors []struct {
	field string
	msgs  []string
}

func (e *fieldErrors) add(field, msg string) {
	for i := range *e {
		if (*e)[i].field == field {
			(*e)[i].msgs = append((*e)[i].msgs, msg)
			return
		}
	}
	*e = append(*e, struct {
		field string
		msgs  []string
	}{field, []string{msg}})
}

// MarshalJSON keeps the validations' order, as Ruby's Hash does.
func (e fieldErrors) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range e {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.field)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.msgs)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// validationError is render_validation_error!(model) (lib/api/helpers.rb):
// 400 {"message":{"field":["problem", ...]}}.
func validationError(errs fieldErrors) *response {
	return jsonResponse(http.StatusBadRequest, struct {
		Message fieldErrors `json:"message"`
	}{errs})
}

// updateParams are the parameters PUT /runners/:id declares, in order
// (lib/api/ci/runners.rb).
var updateParams = []string{"description", "active", "paused", "tag_list", "run_untagged", "locked", "access_level", "maximum_timeout", "maintenance_note"}

// updateRunner is PUT /runners/:id: Grape's parameter validation, then
// get_runner (404), authenticate_update_runner! (403), and
// Ci::Runners::UpdateRunnerService, whose model errors are sent by
// render_validation_error!. Nothing changes unless every check passes.
func (s *Server) updateRunner(c *call) *response {
	if c.tok == nil {
		return messageError(http.StatusUnauthorized, msgUnauthorized)
	}
	p, errResp := c.params()
	if errResp != nil {
		return errResp
	}

	// Grape parameter validation, in declaration order; every error is
	// reported at once.
	var errs []string
	if _, err := strconv.ParseInt(c.path["id"], 10, 64); err != nil {
		errs = append(errs, "id is invalid")
	}
	// Each setter runs only once every parameter is valid. A null value is
	// what Rails' update does with nil: it clears strings, tags and the
	// maximum timeout. Null booleans are ignored (unverified: GitLab's
	// NOT NULL columns would refuse them).
	var apply []func(r *Runner)
	str := func(name string, set func(r *Runner, v string)) {
		v, ok := p[name]
		if !ok {
			return
		}
		if v == nil {
			apply = append(apply, func(r *Runner) { set(r, "") })
			return
		}
		sv, ok := coerceString(v)
		if !ok {
			errs = append(errs, name+" is invalid")
			return
		}
		apply = append(apply, func(r *Runner) { set(r, sv) })
	}
	boolean := func(name string, set func(r *Runner, v bool)) {
		v, ok := p[name]
		if !ok || v == nil {
			return
		}
		b, ok := coerceBool(v)
		if !ok {
			errs = append(errs, name+" is invalid")
			return
		}
		apply = append(apply, func(r *Runner) { set(r, b) })
	}
	str("description", func(r *Runner, v string) { r.Description = v })
	boolean("active", func(r *Runner, v bool) { r.Paused = !v })
	if v, ok := p["paused"]; ok && v == nil {
		// params[:active] = !params.delete(:paused): !nil is true.
		apply = append(apply, func(r *Runner) { r.Paused = false })
	} else {
		boolean("paused", func(r *Runner, v bool) { r.Paused = v })
	}
	if v, ok := p["tag_list"]; ok {
		var tags []string
		valid := true
		if v != nil {
			tags, valid = coerceTags(v)
		}
		if !valid {
			errs = append(errs, "tag_list is invalid")
		} else {
			apply = append(apply, func(r *Runner) { r.TagList = tags })
		}
	}
	boolean("run_untagged", func(r *Runner, v bool) { r.RunUntagged = v })
	boolean("locked", func(r *Runner, v bool) { r.Locked = v })
	if v, ok := p["access_level"]; ok {
		al, _ := coerceString(v)
		switch {
		case v == nil: // the values validator skips nil; the model refuses it
			apply = append(apply, func(r *Runner) { r.AccessLevel = "" })
		case !slices.Contains(accessLevels, al):
			errs = append(errs, "access_level does not have a valid value")
		default:
			apply = append(apply, func(r *Runner) { r.AccessLevel = al })
		}
	}
	// maximum_timeout is kept apart: 0 is a value the model refuses, null
	// (or "", which Grape coerces to nil) removes the limit.
	var timeoutGiven bool
	var timeout *int64
	if v, ok := p["maximum_timeout"]; ok {
		if !present(v) {
			timeoutGiven = true
		} else if n, ok := coerceInt(v); !ok {
			errs = append(errs, "maximum_timeout is invalid")
		} else {
			timeoutGiven, timeout = true, &n
		}
	}
	str("maintenance_note", func(r *Runner, v string) { r.MaintenanceNote = v })
	given := 0
	for _, name := range updateParams {
		if _, ok := p[name]; ok {
			given++
		}
	}
	if given == 0 {
		errs = append(errs, strings.Join(updateParams, ", ")+" are missing, at least one parameter must be provided")
	}
	if _, a := p["active"]; a {
		if _, b := p["paused"]; b {
			errs = append(errs, "active, paused are mutually exclusive")
		}
	}
	if len(errs) > 0 {
		return grapeError(http.StatusBadRequest, strings.Join(errs, ", "))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	r, errResp := s.liveRunner(c)
	if errResp != nil {
		return errResp
	}
	if !s.canUpdateRunner(c.tok, r) {
		return messageError(http.StatusForbidden, msgNoAccess)
	}
	next := r.clone()
	for _, f := range apply {
		f(&next)
	}
	if timeoutGiven {
		next.MaximumTimeout = 0
		if timeout != nil {
			next.MaximumTimeout = *timeout
		}
	}

	// Ci::Runner validations, in the model's order.
	var invalid fieldErrors
	if len(next.TagList) == 0 && !next.RunUntagged {
		invalid.add("tags_list", "can not be empty when runner is not allowed to pick untagged jobs")
	}
	if !slices.Equal(next.TagList, r.TagList) && len(next.TagList) > maxTags {
		invalid.add("tags_list", fmt.Sprintf("Too many tags specified. Please limit the number of tags to %d", maxTags))
	}
	if next.Description != r.Description && len([]rune(next.Description)) > 1024 {
		invalid.add("description", "is too long (maximum is 1024 characters)")
	}
	if next.AccessLevel == "" {
		invalid.add("access_level", "can't be blank")
	}
	if timeout != nil && *timeout < 600 {
		invalid.add("maximum_timeout", "needs to be at least 10 minutes")
	}
	if len([]rune(next.MaintenanceNote)) > 1024 {
		invalid.add("maintenance_note", "is too long (maximum is 1024 characters)")
	}
	if len(invalid) > 0 {
		return validationError(invalid)
	}
	*r = next
	r.Updates++
	return jsonResponse(http.StatusOK, s.runnerDetails(c, r))
}
