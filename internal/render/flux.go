package render

import (
	"errors"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

// renderFluxRunner renders runner r for gitops.engine flux.
func renderFluxRunner(cfg *config.Config, b *bases, eso *esoDefaults, r *config.Runner, index int, p *profile.Profile, profileYAML []byte) (runnerOutput, error) {
	return runnerOutput{}, errors.New("gitops.engine flux is not rendered yet")
}
