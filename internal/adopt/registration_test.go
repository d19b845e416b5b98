package adopt

import (
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

// regValues is a values file with the chart's registration values, as
// hand-written values for a registration token had them.
func regValues(runners string) []File {
	return []File{{Path: "values/gitlab-runner-ci.yaml", Data: []byte(`gitlabUrl: https://gitlab.example.com/
runners:
` + runners + `  config: |
    [[runners]]
      [runners.kubernetes]
        namespace = "gitlab-runner"
        image = "alpine:3.20"
`)}}
}

const regAll = `  name: CI runner
  tags: "k8s, linux,,k8s"
  runUntagged: false
  locked: true
  protected: true
`

func regLine(t *testing.T, res *Result, key string) Line {
	t.Helper()
	i := slices.IndexFunc(res.Report.Lines, func(l Line) bool { return l.Field == "runners."+key })
	if i < 0 {
		t.Fatalf("no report line for runners.%s:\n%s", key, res.Report.Text())
	}
	if n := len(slices.DeleteFunc(slices.Clone(res.Report.Lines), func(l Line) bool { return l.Field != "runners."+key })); n != 1 {
		t.Errorf("%d report lines for runners.%s, want 1", n, key)
	}
	return res.Report.Lines[i]
}

func runnerOf(t *testing.T, res *Result) config.Runner {
	t.Helper()
	for _, r := range res.Config.Runners {
		if r.Name == res.Runner {
			return r
		}
	}
	t.Fatalf("runner %q not in the result", res.Runner)
	return config.Runner{}
}

// Without GitLab's settings, the values' registration settings become
// runnerctl.yaml's registration, each reported as equivalent (the chart
// ignores them with a glrt- token) and saying that GitLab's may differ.
func TestRegistrationFromValues(t *testing.T) {
	files := regValues(regAll)
	profiles := builtins(t)
	res, err := Import(files, Options{Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, files, res, profiles)
	reg := runnerOf(t, res).Registration
	if reg == nil {
		t.Fatal("no registration")
	}
	if reg.Description != "CI runner" || !slices.Equal(reg.Tags, []string{"k8s", "linux"}) || reg.RunUntagged == nil || *reg.RunUntagged ||
		reg.AccessLevel != "ref_protected" || reg.Locked || reg.Scope != (config.Scope{}) {
		t.Errorf("registration %+v", *reg)
	}
	for _, key := range []string{"name", "tags", "runUntagged", "locked", "protected"} {
		l := regLine(t, res, key)
		if l.Class != Equivalent || !strings.Contains(l.Detail, "--runner-id") || !strings.Contains(l.Detail, "glrt-") || !strings.Contains(l.Detail, "may differ") {
			t.Errorf("runners.%s: %s: %s", key, l.Class, l.Detail)
		}
	}
	if l := regLine(t, res, "locked"); !strings.Contains(l.Detail, "project runners only") {
		t.Errorf("runners.locked does not say why it is left out: %s", l.Detail)
	}
	if l := regLine(t, res, "tags"); !strings.Contains(l.Detail, "registration.tags [k8s, linux]") {
		t.Errorf("runners.tags does not say what runnerctl.yaml has: %s", l.Detail)
	}
	if res.Report.Has(Unsupported) {
		t.Errorf("unsupported lines:\n%s", res.Report.Text())
	}
}

// GitLab's settings, read with --runner-id, are what is live: they win,
// and a value that says otherwise is a difference naming both.
func TestRegistrationGitLabWins(t *testing.T) {
	untagged := true
	live := &config.Registration{Scope: config.Scope{Type: config.ScopeProject, Path: "my-org/my-app"}, Description: "CI runner",
		Tags: []string{"linux", "k8s"}, RunUntagged: &untagged, Locked: true, AccessLevel: "not_protected"}
	res, err := Import(regValues(regAll), Options{Profiles: builtins(t), RunnerID: 42, Registration: live})
	if err != nil {
		t.Fatal(err)
	}
	r := runnerOf(t, res)
	if r.RunnerID != 42 || r.Registration != live {
		t.Errorf("runnerID %d, registration %+v; want GitLab's", r.RunnerID, r.Registration)
	}
	for key, want := range map[string]Class{"name": Equivalent, "tags": Equivalent, "locked": Equivalent, "runUntagged": Differs, "protected": Differs} {
		l := regLine(t, res, key)
		if l.Class != want || !strings.Contains(l.Detail, "GitLab runner 42") {
			t.Errorf("runners.%s: %s: %s; want %s", key, l.Class, l.Detail, want)
		}
	}
	if l := regLine(t, res, "runUntagged"); !strings.Contains(l.Detail, "has true") || !strings.Contains(l.Detail, "the values say false") {
		t.Errorf("runners.runUntagged does not name both settings: %s", l.Detail)
	}
	if l := regLine(t, res, "protected"); !strings.Contains(l.Detail, `"not_protected"`) || !strings.Contains(l.Detail, `"ref_protected"`) {
		t.Errorf("runners.protected does not name both settings: %s", l.Detail)
	}
}

// A value GitLab would refuse, or that runnerctl.yaml cannot hold, is not
// imported, and the report says so as a difference.
func TestRegistrationNotImported(t *testing.T) {
	res, err := Import(regValues("  tags: 3\n  runUntagged: \"yes\"\n  name: \"a\\u0007b\"\n"), Options{Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	if reg := runnerOf(t, res).Registration; reg != nil {
		t.Errorf("registration %+v from values it cannot take", *reg)
	}
	for _, key := range []string{"name", "tags", "runUntagged"} {
		if l := regLine(t, res, key); l.Class != Differs || !strings.Contains(l.Detail, "not imported") {
			t.Errorf("runners.%s: %s: %s", key, l.Class, l.Detail)
		}
	}
	// runUntagged false without tags would never get a job: left out.
	res, err = Import(regValues("  runUntagged: false\n"), Options{Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	if reg := runnerOf(t, res).Registration; reg != nil {
		t.Errorf("registration %+v", *reg)
	}
	if l := regLine(t, res, "runUntagged"); l.Class != Equivalent || !strings.Contains(l.Detail, "no job") {
		t.Errorf("runners.runUntagged: %s: %s", l.Class, l.Detail)
	}
}
