package gitlab

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"
)

// Status is what GitLab says about a runner's health (runnerctl status).
type Status struct {
	ID int64
	// Status is GitLab's own verdict from GET /runners/:id: online,
	// offline, stale or never_contacted (and paused, which the REST API
	// still sends for a paused runner that has made contact).
	Status      string
	Paused      bool
	ContactedAt *time.Time // nil: never contacted
	// Version is the gitlab-runner version of the runner manager (a pod,
	// a host) that contacted GitLab last, from GET /runners/:id/managers;
	// "" when no manager has registered yet. The version field of GET
	// /runners/:id is deprecated in favour of the managers.
	Version string
	// Managers is how many runner managers use the runner's token.
	Managers int
	// TokenExpiresAt is when the runner's token expires; nil: never.
	TokenExpiresAt *time.Time
}

// ReadScopeError says that the personal access token cannot read runners.
type ReadScopeError struct{ Have []string }

func (e *ReadScopeError) Error() string {
	return fmt.Sprintf("the personal access token has scopes [%s] but reading runners needs read_api or api; create a token with read_api (or api)",
		strings.Join(e.Have, ", "))
}

// CheckReadToken verifies that the token is valid and may read runners,
// their managers and (through GraphQL) their token expiry: read_api or api.
func (c *Client) CheckReadToken(ctx context.Context) error {
	pat, _, err := c.api.PersonalAccessTokens.GetSinglePersonalAccessToken(gl.WithContext(ctx))
	if err != nil {
		return c.wrap("check personal access token", err)
	}
	if !pat.Active || pat.Revoked {
		return ErrUnauthorized
	}
	if slices.Contains(pat.Scopes, "api") || slices.Contains(pat.Scopes, "read_api") {
		return nil
	}
	return &ReadScopeError{Have: pat.Scopes}
}

// RunnerStatus reads runner id's status, last contact, version and token
// expiry: GET /runners/:id, GET /runners/:id/managers and one GraphQL
// query (GET /runners/:id does not carry token_expires_at; see
// TokenExpiresAt). A runner GitLab does not know is ErrNotFound.
func (c *Client) RunnerStatus(ctx context.Context, id int64) (*Status, error) {
	what := fmt.Sprintf("runner %d", id)
	d, _, err := c.api.Runners.GetRunnerDetails(id, gl.WithContext(ctx))
	if err != nil {
		return nil, c.wrap(what, err)
	}
	st := &Status{ID: d.ID, Status: d.Status, Paused: d.Paused, ContactedAt: d.ContactedAt}
	managers, _, err := c.api.Runners.ListRunnerManagers(id, gl.WithContext(ctx))
	if err != nil {
		return nil, c.wrap(fmt.Sprintf("managers of runner %d", id), err)
	}
	// The manager GitLab records when runnerctl verifies a kept token
	// (VerifySystemID) is no runner process: it neither counts nor says
	// which gitlab-runner version runs.
	managers = slices.DeleteFunc(managers, func(m *gl.RunnerManager) bool { return m.SystemID == VerifySystemID })
	st.Managers = len(managers)
	if m := latestManager(managers); m != nil {
		st.Version = m.Version
	}
	st.TokenExpiresAt, err = c.TokenExpiresAt(ctx, id)
	if err != nil {
		return nil, err
	}
	return st, nil
}

// latestManager is the manager that contacted GitLab last (the newest one
// when none has), or nil.
func latestManager(ms []*gl.RunnerManager) *gl.RunnerManager {
	var best *gl.RunnerManager
	for _, m := range ms {
		if best == nil || later(m.ContactedAt, best.ContactedAt) ||
			(timeEqual(m.ContactedAt, best.ContactedAt) && m.ID > best.ID) {
			best = m
		}
	}
	return best
}

func later(a, b *time.Time) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	return a.After(*b)
}

func timeEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
