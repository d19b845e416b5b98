package render

import (
	"errors"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

// renderFleetRunner renders runner r, which has clusters: one ArgoCD
// ApplicationSet and, per cluster, that cluster's values and manifests.
func renderFleetRunner(cfg *config.Config, b *bases, eso *esoDefaults, r *config.Runner, index int, p *profile.Profile, profileYAML []byte) (runnerOutput, error) {
	return runnerOutput{}, errors.New("runners with clusters are not rendered yet")
}
