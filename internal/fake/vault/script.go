package vault

import (
	"fmt"
	"strings"
)

// What a ScriptStore is set up with. None of it is a runner token.
const (
	scriptToken  = "hvs.runnerctl-script-token"
	scriptPolicy = "runnerctl-script"
	scriptMount  = "secret"
	scriptRule   = "secret/data/gitlab/runners/*"
)

// ScriptStore is the fake vault as the fake-store testscript command
// drives it: mount "secret", one token whose policy Grant sets, and keys
// written as runnerctl prints a location (path#property).
type ScriptStore struct{ *Server }

// NewScriptStore starts a ScriptStore and returns it with the environment
// runnerctl reads (VAULT_ADDR, VAULT_TOKEN).
func NewScriptStore() (ScriptStore, []string) {
	s := ScriptStore{New()}
	s.SetToken(scriptToken, scriptPolicy)
	return s, []string{"VAULT_ADDR=" + s.URL(), "VAULT_TOKEN=" + scriptToken}
}

// Lookup returns the value at key (path#property under mount "secret");
// ok is false when there is none.
func (s ScriptStore) Lookup(key string) (string, bool, error) {
	path, prop, ok := strings.Cut(key, "#")
	if !ok || path == "" || prop == "" {
		return "", false, fmt.Errorf("vault location %q is not PATH#PROPERTY", key)
	}
	data, _, ok := s.Secret(scriptMount + "/" + strings.Trim(path, "/"))
	if !ok {
		return "", false, nil
	}
	val, ok := data[prop]
	return val, ok && val != "", nil
}

// Grant makes the token's policy read the runner tokens, and with write
// also create and update them.
func (s ScriptStore) Grant(write bool) {
	caps := []string{CapRead}
	if write {
		caps = append(caps, CapCreate, CapUpdate)
	}
	s.SetPolicy(scriptPolicy, scriptRule, caps...)
}
