package gcp

import "fmt"

// ScriptStore is the fake Secret Manager as the fake-store testscript
// command drives it: project Project, a service account whose role Grant
// sets, and keys that are secret IDs.
type ScriptStore struct{ *Server }

// NewScriptStore starts a ScriptStore and returns it with the environment
// runnerctl reads; the service account's key file goes into dir, which
// must be outside the script's $WORK (it is a credential).
func NewScriptStore(dir string) (ScriptStore, []string, error) {
	s := ScriptStore{New()}
	env, err := s.Env(dir)
	if err != nil {
		s.Close()
		return ScriptStore{}, nil, fmt.Errorf("fake gcp: %w", err)
	}
	return s, env, nil
}

// Lookup returns the value of secret key; ok is false when there is none.
func (s ScriptStore) Lookup(key string) (string, bool, error) {
	val, ok := s.Secret(key)
	return val, ok && val != "", nil
}

// Grant sets the role of the tokens the fake issues from now on (each
// runnerctl run exchanges the key file for a new token): read-only is
// roles/secretmanager.secretAccessor, what External Secrets Operator needs.
func (s ScriptStore) Grant(write bool) {
	role := RoleAccessor
	if write {
		role = RoleAdmin
	}
	s.SetServiceAccountRole(role)
}
