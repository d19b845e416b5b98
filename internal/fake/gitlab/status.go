package gitlab

import (
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Runner contact, for runnerctl status. A real runner manager (a
// gitlab-runner process using the runner's token) records its contact and
// version in GitLab each time it asks for jobs; this fake has no runner
// processes, so tests set contact with SetRunnerContact.
//
// Modelled on gitlab-org/gitlab:
//   - app/models/ci/runner.rb: ONLINE_CONTACT_TIMEOUT (2 hours),
//     STALE_TIMEOUT, stale? ([created_at, contacted_at].compact.max older
//     than STALE_TIMEOUT) and deprecated_rest_status, which GET
//     /runners/:id sends as "status": stale, never_contacted, online or
//     offline, and paused for a paused runner that has made contact.
//   - lib/api/ci/runners.rb: GET /runners/:id/managers has the same
//     authorization as GET /runners/:id (authenticate_show_runner!) and
//     presents Entities::Ci::RunnerManager (id, system_id, version,
//     revision, platform, architecture, created_at, contacted_at,
//     ip_address, status). It is not paginated. This fake counts it as
//     OpGetRunner for faults and delays.
//   - GET /runners/:id's version, revision, platform and architecture are
//     deprecated in favour of the managers; this fake fills version from
//     the manager that made contact last (unverified: how GitLab picks one).

// onlineContactTimeout is Ci::Runner::ONLINE_CONTACT_TIMEOUT.
const onlineContactTimeout = 2 * time.Hour

// Manager is one runner manager of a runner.
type Manager struct {
	ID          int64
	SystemID    string
	Version     string
	CreatedAt   time.Time
	ContactedAt time.Time
}

// SetRunnerContact records that runner id's manager (one per runner in
// this fake) contacted GitLab at at, running gitlab-runner version.
// It reports false when there is no such runner.
func (s *Server) SetRunnerContact(id int64, at time.Time, version string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runners[id]
	if !ok {
		return false
	}
	at = at.UTC()
	r.ContactedAt = &at
	sys := fmt.Sprintf("r_fake%010d", id)
	i := slices.IndexFunc(r.Managers, func(m Manager) bool { return m.SystemID == sys })
	if i < 0 {
		r.Managers = append(r.Managers, Manager{ID: id, SystemID: sys, CreatedAt: at})
		i = len(r.Managers) - 1
	}
	m := &r.Managers[i]
	m.Version, m.ContactedAt = version, at
	return true
}

// restStatus is Ci::Runner#deprecated_rest_status.
func restStatus(created time.Time, contacted *time.Time, paused bool, now time.Time) string {
	last := created
	if contacted != nil && contacted.After(last) {
		last = *contacted
	}
	switch {
	case now.Sub(last) > staleTimeout:
		return "stale"
	case contacted == nil:
		return "never_contacted"
	case paused:
		return "paused"
	case now.Sub(*contacted) < onlineContactTimeout:
		return "online"
	}
	return "offline"
}

// latestVersion is the version of the manager that made contact last.
func (r *Runner) latestVersion() *string {
	if len(r.Managers) == 0 {
		return nil
	}
	best := r.Managers[0]
	for _, m := range r.Managers[1:] {
		if m.ContactedAt.After(best.ContactedAt) {
			best = m
		}
	}
	return &best.Version
}

type managerJSON struct {
	ID           int64   `json:"id"`
	SystemID     string  `json:"system_id"`
	Version      string  `json:"version"`
	Revision     string  `json:"revision"`
	Platform     string  `json:"platform"`
	Architecture string  `json:"architecture"`
	CreatedAt    string  `json:"created_at"`
	ContactedAt  *string `json:"contacted_at"`
	IPAddress    string  `json:"ip_address"`
	Status       string  `json:"status"`
}

// listRunnerManagers answers GET /runners/:id/managers.
func (s *Server) listRunnerManagers(c *call) *response {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, errResp := s.readableRunner(c)
	if errResp != nil {
		return errResp
	}
	now := time.Now()
	out := []managerJSON{}
	for _, m := range r.Managers {
		contacted := m.ContactedAt
		status := restStatus(m.CreatedAt, &contacted, false, now)
		out = append(out, managerJSON{
			ID: m.ID, SystemID: m.SystemID, Version: m.Version, Revision: "fake", Platform: "linux",
			Architecture: "amd64", CreatedAt: ts(m.CreatedAt), ContactedAt: tsPtr(&contacted),
			IPAddress: "", Status: status,
		})
	}
	return jsonResponse(http.StatusOK, out)
}
