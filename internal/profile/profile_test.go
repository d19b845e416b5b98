package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeProfiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBuiltinsResolve(t *testing.T) {
	set, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(set.Names(), ","); got != "baseline,privileged-dind,restricted" {
		t.Fatalf("built-in profiles = %s", got)
	}
	r, _ := set.Get("restricted")
	// Inherited from baseline, untouched by restricted.
	if r.RunnerPod.SecurityContext.RunAsUser == nil || *r.RunnerPod.SecurityContext.RunAsUser != 999 {
		t.Error("restricted lost baseline's runAsUser")
	}
	// Overridden: restricted's explicit false must beat baseline's true.
	if u := r.RunnerPod.UnregisterRunners; u == nil || *u {
		t.Error("restricted's unregisterRunners: false was overwritten by baseline's true")
	}
	// Lists replace: restricted has its own RBAC rules, not baseline's plus more.
	for _, rule := range r.RBAC.Rules {
		for _, res := range rule.Resources {
			if res == "configmaps" {
				t.Error("restricted inherited baseline's configmaps rule: lists must replace")
			}
		}
	}
	// Maps merge key by key; baseline's emptyDir list is inherited.
	if len(r.Jobs.EmptyDirs) != 1 || r.Jobs.EmptyDirs[0].Name != "docker-certs" {
		t.Errorf("restricted job volumes = %+v", r.Jobs.EmptyDirs)
	}
	b, _ := set.Get("baseline")
	if b.Warning != "" || b.Privileged() {
		t.Error("baseline must be unprivileged and silent")
	}
	d, _ := set.Get("privileged-dind")
	if !d.Privileged() || d.Warning == "" {
		t.Error("privileged-dind must be privileged and warn")
	}
}

func TestUserProfiles(t *testing.T) {
	dir := writeProfiles(t, map[string]string{
		"team.yaml": `name: team
extends: restricted
description: Team profile.
namespace:
  labels:
    team: ci
    pod-security.kubernetes.io/warn: baseline
`,
		"notes.txt": "not a profile",
	})
	set, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("team")
	if err != nil {
		t.Fatal(err)
	}
	l := p.Namespace.Labels
	if l["team"] != "ci" || l["pod-security.kubernetes.io/warn"] != "baseline" || l["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("labels did not merge key by key: %v", l)
	}
	if p.Source != filepath.Join(dir)+"/team.yaml" || p.Extends != "restricted" {
		t.Errorf("source %q extends %q", p.Source, p.Extends)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing profiles directory is not an error: %v", err)
	}
}

func TestProfileErrors(t *testing.T) {
	cases := map[string]struct {
		files map[string]string
		want  string
	}{
		"loop": {map[string]string{
			"a.yaml": "name: a\nextends: b\ndescription: x\n",
			"b.yaml": "name: b\nextends: a\ndescription: x\n",
		}, "loop"},
		"unknown parent":  {map[string]string{"a.yaml": "name: a\nextends: nope\ndescription: x\n"}, `profile "a" extends unknown profile "nope"`},
		"name mismatch":   {map[string]string{"a.yaml": "name: b\ndescription: x\n"}, `name "b" must match the file name`},
		"shadows builtin": {map[string]string{"baseline.yaml": "name: baseline\ndescription: x\n"}, `profile "baseline" is already defined by built-in/baseline.yaml`},
		"unknown field":   {map[string]string{"a.yaml": "name: a\nextends: baseline\ndescription: x\njobs: {privilegd: true}\n"}, `line 4: unknown field "privilegd"`},
		"no rules":        {map[string]string{"a.yaml": "name: a\ndescription: x\n"}, "rbac.rules is empty"},
		"wildcard verb": {map[string]string{"a.yaml": `name: a
extends: baseline
description: x
rbac: {rules: [{apiGroups: [""], resources: [pods], verbs: ["*"]}]}
`}, `wildcard "*"`},
		"missing resources": {map[string]string{"a.yaml": `name: a
extends: baseline
description: x
rbac: {rules: [{apiGroups: [""], verbs: [get]}]}
`}, "must list apiGroups, resources and verbs"},
		"no description": {map[string]string{"a.yaml": "name: a\nextends: baseline\n"}, "description is required"},
		"bad seccomp":    {map[string]string{"a.yaml": "name: a\nextends: baseline\ndescription: x\njobs: {seccompProfile: Strict}\n"}, "jobs.seccompProfile"},
		"bad restart":    {map[string]string{"a.yaml": "name: a\nextends: baseline\ndescription: x\nrunnerPod: {restartOnSecretChange: kubectl}\n"}, `runnerPod.restartOnSecretChange "kubectl" must be reloader or none`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeProfiles(t, c.files))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// TestRestartOnSecretChange: the option is inherited through extends, and a
// child profile turns it off again with none.
func TestRestartOnSecretChange(t *testing.T) {
	set, err := Load(writeProfiles(t, map[string]string{
		"reload.yaml": "name: reload\nextends: restricted\ndescription: x\nrunnerPod: {restartOnSecretChange: reloader}\n",
		"child.yaml":  "name: child\nextends: reload\ndescription: x\n",
		"off.yaml":    "name: off\nextends: reload\ndescription: x\nrunnerPod: {restartOnSecretChange: none}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"restricted": false, "reload": true, "child": true, "off": false} {
		p, err := set.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.RestartsWithReloader() != want {
			t.Errorf("%s: RestartsWithReloader() = %v, want %v", name, !want, want)
		}
	}
	// The rest of runnerPod still merges key by key under the option.
	p, _ := set.Get("child")
	if u := p.RunnerPod.UnregisterRunners; u == nil || *u {
		t.Error("child lost restricted's unregisterRunners: false")
	}
}

// TestTokenRotation: every built-in profile leaves token rotation to
// rotate-token, explicitly; a profile that lets the runner rotate its own
// token warns, and no profile can silence that warning, neither with an
// empty warning field nor by inheriting it.
func TestTokenRotation(t *testing.T) {
	rules := "rbac: {rules: [{apiGroups: [\"\"], resources: [pods], verbs: [get]}]}\n"
	set, err := Load(writeProfiles(t, map[string]string{
		"standalone.yaml": "name: standalone\ndescription: x\n" + rules,
		"self.yaml":       "name: self\nextends: restricted\ndescription: x\nwarning: \"\"\nrunnerToken: {automaticRotation: true}\n",
		"self-child.yaml": "name: self-child\nextends: self\ndescription: x\n",
		"fixed.yaml":      "name: fixed\nextends: self\ndescription: x\nrunnerToken: {automaticRotation: false}\n",
		"dind-self.yaml":  "name: dind-self\nextends: privileged-dind\ndescription: x\nrunnerToken: {automaticRotation: true}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"baseline", "restricted", "privileged-dind"} {
		p, _ := set.Get(name)
		if a := p.RunnerToken.AutomaticRotation; a == nil || *a || p.AutomaticTokenRotation() || p.TokenRotationWarning() != "" {
			t.Errorf("built-in %s: runnerToken.automaticRotation = %v, want an explicit false and no warning", name, a)
		}
	}
	// dind-self also inherits privileged-dind's own warning and has its
	// loosened isolation warned about.
	for name, want := range map[string]int{"standalone": 0, "self": 1, "self-child": 1, "fixed": 0, "dind-self": 3} {
		p, err := set.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		var rotation []string
		for _, w := range p.Warnings() {
			if strings.Contains(w, "runnerToken.automaticRotation is true") && strings.Contains(w, "runnerctl rotate-token") {
				rotation = append(rotation, w)
			}
		}
		if p.AutomaticTokenRotation() != (want > 0) || len(rotation) != min(want, 1) || len(p.Warnings()) != want {
			t.Errorf("%s: automatic rotation %v, warnings %q", name, p.AutomaticTokenRotation(), p.Warnings())
		}
	}
	// The profile's own warning comes first.
	if w := mustGet(t, set, "dind-self").Warnings(); !strings.Contains(w[0], "PRIVILEGED") {
		t.Errorf("dind-self warnings in the wrong order: %q", w)
	}
}

func mustGet(t *testing.T, s *Set, name string) *Profile {
	t.Helper()
	p, err := s.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
