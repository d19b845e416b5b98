package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
)

func TestClusterStepsAfterRotation(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "reload.yaml"), "name: reload\nextends: restricted\ndescription: restricted, restarted by Reloader\nrunnerPod:\n  restartOnSecretChange: reloader\n")
	profiles, err := profile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plain := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "restricted"}
	want := []string{
		"kubectl -n ci-ns annotate externalsecret gitlab-runner-ci-token force-sync=$(date +%s) --overwrite",
		"kubectl -n ci-ns rollout restart deployment/gitlab-runner-ci",
	}
	if got := clusterSteps(plain, "", reloads(profiles, plain), false); !slices.Equal(got, want) {
		t.Errorf("restricted: %q, want %q", got, want)
	}
	// Reloader restarts the Deployment once ESO refreshed the Secret: only
	// the refresh is left to do.
	reloaded := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "reload"}
	if got := clusterSteps(reloaded, "", reloads(profiles, reloaded), false); !slices.Equal(got, want[:1]) {
		t.Errorf("reload: %q, want %q", got, want[:1])
	}
}

// Under flux the commands left to run by hand are owned by Flux's field
// manager, as the rotate engine's patches are: kustomize-controller would
// take over, and undo, an annotation made as kubectl's default manager.
func TestClusterStepsUnderFlux(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "reload.yaml"), "name: reload\nextends: restricted\ndescription: restricted, restarted by Reloader\nrunnerPod:\n  restartOnSecretChange: reloader\n")
	profiles, err := profile.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	plain := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "restricted"}
	want := []string{
		"kubectl --context prod -n ci-ns annotate externalsecret gitlab-runner-ci-token force-sync=$(date +%s) --overwrite --field-manager=flux-client-side-apply",
		"kubectl --context prod -n ci-ns rollout restart deployment/gitlab-runner-ci --field-manager=flux-client-side-apply",
	}
	if got := clusterSteps(plain, "prod", reloads(profiles, plain), true); !slices.Equal(got, want) {
		t.Errorf("restricted: %q, want %q", got, want)
	}
	reloaded := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "reload"}
	if got := clusterSteps(reloaded, "prod", reloads(profiles, reloaded), true); !slices.Equal(got, want[:1]) {
		t.Errorf("reload: %q, want %q", got, want[:1])
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
