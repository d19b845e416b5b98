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
	if got := clusterSteps(plain, "", reloads(profiles, plain)); !slices.Equal(got, want) {
		t.Errorf("restricted: %q, want %q", got, want)
	}
	// Reloader restarts the Deployment once ESO refreshed the Secret: only
	// the refresh is left to do.
	reloaded := &config.Runner{Name: "ci", Namespace: "ci-ns", Profile: "reload"}
	if got := clusterSteps(reloaded, "", reloads(profiles, reloaded)); !slices.Equal(got, want[:1]) {
		t.Errorf("reload: %q, want %q", got, want[:1])
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
