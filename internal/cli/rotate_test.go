package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

// The commands left to run by hand after a rotation: the refresh and the
// restart, only the refresh when Reloader restarts the runner. Under flux
// they are owned by Flux's field manager, as the rotate engine's patches
// are: kustomize-controller would take over, and undo, an annotation made
// as kubectl's default manager. A context, when given, is named.
func TestClusterStepsAfterRotation(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "reload.yaml"), "name: reload\nextends: restricted\ndescription: restricted, restarted by Reloader\nrunnerPod:\n  restartOnSecretChange: reloader\n")
	profiles, err := profile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name        string
		kubeContext string
		flux        bool
		want        []string
	}{
		{"argocd", "", false, []string{
			"kubectl -n ci-ns annotate externalsecret gitlab-runner-ci-token force-sync=$(date +%s) --overwrite",
			"kubectl -n ci-ns rollout restart deployment/gitlab-runner-ci",
		}},
		{"flux, a context", "prod", true, []string{
			"kubectl --context prod -n ci-ns annotate externalsecret gitlab-runner-ci-token force-sync=$(date +%s) --overwrite --field-manager=flux-client-side-apply",
			"kubectl --context prod -n ci-ns rollout restart deployment/gitlab-runner-ci --field-manager=flux-client-side-apply",
		}},
	} {
		cfg := &config.Config{}
		if c.flux {
			cfg.GitOps.Engine = config.EngineFlux
		}
		plain := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "restricted"}
		if got := clusterTarget(cfg, plain, c.kubeContext, reloads(profiles, plain)).ByHand(); !slices.Equal(got, c.want) {
			t.Errorf("%s, restricted: %q, want %q", c.name, got, c.want)
		}
		// Reloader restarts the Deployment once ESO refreshed the
		// Secret: only the refresh is left to do.
		reloaded := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "reload"}
		if got := clusterTarget(cfg, reloaded, c.kubeContext, reloads(profiles, reloaded)).ByHand(); !slices.Equal(got, c.want[:1]) {
			t.Errorf("%s, reload: %q, want %q", c.name, got, c.want[:1])
		}
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
