package cli

import (
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

// The drift lines name no engine; the summary says what the drift does
// under the engine of runnerctl.yaml. Flux reports no drift for a server
// default (its server-side apply dry-runs with it), so telling a Flux user
// that an object goes OutOfSync would send them looking for the wrong
// thing.
func TestDriftNoteFollowsTheEngine(t *testing.T) {
	argo := driftNote(2, false, config.EngineArgoCD)
	if !strings.Contains(argo, "; 2 of them ") || !strings.Contains(argo, "ArgoCD would show their objects OutOfSync") {
		t.Errorf("argocd: %q", argo)
	}
	flux := driftNote(2, false, config.EngineFlux)
	if strings.Contains(flux, "ArgoCD") || strings.Contains(flux, "OutOfSync") || !strings.Contains(flux, "Flux applies them") {
		t.Errorf("flux: %q", flux)
	}
	for _, engine := range []string{config.EngineArgoCD, config.EngineFlux} {
		if !strings.HasSuffix(driftNote(1, false, engine), "or pass --allow-drift") {
			t.Errorf("%s: no way out named: %q", engine, driftNote(1, false, engine))
		}
		if got := driftNote(0, false, engine) + driftNote(3, true, engine); got != "" {
			t.Errorf("%s: a note with no drift, or with drift allowed: %q", engine, got)
		}
	}
}
