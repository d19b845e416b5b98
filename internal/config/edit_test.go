package config_test

import (
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

func TestUpdateKeepsCommentsOfUnchangedParts(t *testing.T) {
	src := `# My runners.
apiVersion: runnerctl.dev/v1alpha1
kind: Config
# where GitLab lives
gitlab:
  url: https://gitlab.com/ # the SaaS
gitops:
  repoURL: https://gitlab.com/org/gitops.git
secrets:
  backend: vault
  store:
    name: vault
runners:
  # the first one
  - name: ci
    concurrent: 3 # busy
  - name: other
`
	raw, err := config.Decode([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	raw.Runners[1].RunnerID = 42
	raw.Runners = append(raw.Runners, config.Runner{Name: "new", Profile: "baseline"})
	out, err := config.Update([]byte(src), raw)
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	for _, want := range []string{"# My runners.", "# where GitLab lives", "url: https://gitlab.com/ # the SaaS", "# the first one", "concurrent: 3 # busy", "runnerID: 42", "name: new", "profile: baseline"} {
		if !strings.Contains(got, want) {
			t.Errorf("updated config lacks %q:\n%s", want, got)
		}
	}
	cfg, err := config.Parse("runnerctl.yaml", out)
	if err != nil {
		t.Fatalf("updated config is invalid: %v\n%s", err, got)
	}
	if cfg.Runners[1].RunnerID != 42 || len(cfg.Runners) != 3 || cfg.Runners[0].Concurrent != 3 {
		t.Errorf("content lost: %+v", cfg.Runners)
	}
	// Unchanged input: unchanged bytes (init's "up to date").
	raw2, _ := config.Decode(out)
	again, err := config.Update(out, raw2)
	if err != nil || string(again) != got {
		t.Errorf("a no-op update changed the file (%v):\n%s", err, again)
	}
}
