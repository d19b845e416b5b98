package cli

import (
	"context"
	"fmt"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/secrets"
)

// newStore builds the secrets backend of cfg, with credentials from the
// environment only.
func newStore(ctx context.Context, cfg *config.Config, getenv func(string) string) (secrets.Store, error) {
	return nil, fmt.Errorf("secrets backend %q: not wired yet", cfg.Secrets.Backend)
}
