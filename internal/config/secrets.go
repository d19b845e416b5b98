package config

import (
	"fmt"
	"strings"
)

// TokenRef is where runner r's token lives in the backend, in the form ESO's
// remoteRef takes for that backend. init and rotate-token write exactly here,
// so the rendered ExternalSecret reads what they stored.
func (c *Config) TokenRef(r *Runner) (RemoteRef, error) {
	expand := func(s string) string { return expandLayout(s, r) }
	if r.TokenSecret != nil {
		return RemoteRef{Key: expand(r.TokenSecret.Key), Property: r.TokenSecret.Property}, nil
	}
	s := c.Secrets
	switch {
	case s.Backend == BackendInfisical && s.Infisical != nil:
		// ESO's Infisical provider takes a secret's folder and name as one key.
		return RemoteRef{Key: strings.TrimSuffix(expand(s.Infisical.Path), "/") + "/" + s.Infisical.SecretName}, nil
	case s.Backend == BackendVault && s.Vault != nil:
		// The mount is part of the store (spec.provider.vault.path), not the key.
		return RemoteRef{Key: expand(s.Vault.Path), Property: s.Vault.Property}, nil
	case s.Backend == BackendAWS && s.AWS != nil:
		return RemoteRef{Key: expand(s.AWS.Name), Property: s.AWS.Property}, nil
	case s.Backend == BackendGCP && s.GCP != nil:
		return RemoteRef{Key: expand(s.GCP.Name)}, nil
	}
	return RemoteRef{}, fmt.Errorf("secrets backend %q has no layout", s.Backend)
}
