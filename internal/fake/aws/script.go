package aws

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ScriptStore is the fake Secrets Manager as the fake-store testscript
// command drives it: the fixed credentials, whose access Grant sets, and
// keys written as runnerctl prints a location (name, with #property for a
// key of a JSON object).
type ScriptStore struct{ *Server }

// NewScriptStore starts a ScriptStore and returns it with the environment
// runnerctl reads.
func NewScriptStore() (ScriptStore, []string) {
	s := ScriptStore{New()}
	return s, s.Env()
}

// Lookup returns the value at key; ok is false when there is none.
func (s ScriptStore) Lookup(key string) (string, bool, error) {
	name, prop, _ := strings.Cut(key, "#")
	val, ok := s.Secret(name)
	if !ok || prop == "" {
		return val, ok && val != "", nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(val), &obj); err != nil {
		return "", false, fmt.Errorf("aws secret %q does not hold a JSON object", name)
	}
	v, ok := obj[prop].(string)
	return v, ok && v != "", nil
}

// Grant gives the credentials AccessReadOnly (GetSecretValue,
// DescribeSecret), or with write AccessFull.
func (s ScriptStore) Grant(write bool) {
	access := AccessReadOnly
	if write {
		access = AccessFull
	}
	s.AddCredentials(Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Access: access})
}
