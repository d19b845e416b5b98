package infisical

import (
	"fmt"
	"strings"
)

// What a ScriptStore is set up with. None of it is a runner token.
const (
	scriptID      = "runnerctl-script-client-id"
	scriptSecret  = "runnerctl-script-client-secret"
	scriptProject = "runners"
	scriptEnv     = "prod"
)

// ScriptStore is the fake Infisical as the fake-store testscript command
// drives it: project "runners", environment prod, one machine identity
// whose role Grant sets, and keys written as runnerctl prints a location
// (/folder/NAME).
type ScriptStore struct{ *Server }

// NewScriptStore starts a ScriptStore and returns it with the environment
// runnerctl reads.
func NewScriptStore() (ScriptStore, []string) {
	s := ScriptStore{New()}
	s.AddProject(scriptProject)
	s.AddIdentity(scriptID, scriptSecret)
	return s, []string{
		"INFISICAL_API_URL=" + s.URL(),
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=" + scriptID,
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=" + scriptSecret,
	}
}

// Lookup returns the value at key (/folder/NAME); ok is false when there
// is none.
func (s ScriptStore) Lookup(key string) (string, bool, error) {
	i := strings.LastIndex(key, "/")
	if !strings.HasPrefix(key, "/") || i == len(key)-1 {
		return "", false, fmt.Errorf("infisical location %q is not /FOLDER/NAME", key)
	}
	folder := key[:i]
	if folder == "" {
		folder = "/"
	}
	val, _, ok := s.Secret(scriptProject, scriptEnv, folder, key[i+1:])
	return val, ok && val != "", nil
}

// Grant gives the identity the viewer role, or with write the member role.
func (s ScriptStore) Grant(write bool) {
	role := RoleViewer
	if write {
		role = RoleMember
	}
	s.Server.Grant(scriptID, scriptProject, role)
}
