package profile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoosenedWarnings: a profile that makes the runner or its jobs
// privileged, root, gives them capabilities or privilege escalation, or
// loosens Pod Security enforcement is warned about, whatever its own
// warning field says (issue 13, item 1).
func TestLoosenedWarnings(t *testing.T) {
	set, err := Load(writeProfiles(t, map[string]string{
		"jobs-privileged.yaml": "name: jobs-privileged\nextends: restricted\ndescription: x\njobs: {privileged: true}\n",
		"runner-privileged.yaml": "name: runner-privileged\nextends: restricted\ndescription: x\n" +
			"runnerPod: {securityContext: {privileged: true}}\n",
		"runner-root.yaml": "name: runner-root\nextends: restricted\ndescription: x\n" +
			"runnerPod: {securityContext: {runAsUser: 0}, podSecurityContext: {runAsUser: 0}}\n",
		"job-root.yaml":     "name: job-root\nextends: restricted\ndescription: x\njobs: {podSecurityContext: {runAsUser: 0}}\n",
		"caps.yaml":         "name: caps\nextends: restricted\ndescription: x\nrunnerPod: {securityContext: {capabilities: {add: [NET_ADMIN]}}}\n",
		"job-caps.yaml":     "name: job-caps\nextends: restricted\ndescription: x\njobs: {containerSecurityContext: {addCapabilities: [SYS_ADMIN]}}\n",
		"escalation.yaml":   "name: escalation\nextends: restricted\ndescription: x\njobs: {allowPrivilegeEscalation: true}\n",
		"psa.yaml":          "name: psa\nextends: restricted\ndescription: x\nnamespace: {labels: {pod-security.kubernetes.io/enforce: privileged}}\n",
		"psa-baseline.yaml": "name: psa-baseline\nextends: restricted\ndescription: x\nnamespace: {labels: {pod-security.kubernetes.io/enforce: baseline}}\n",
		"quiet-dind.yaml":   "name: quiet-dind\nextends: privileged-dind\ndescription: x\nwarning: \"\"\n",
		"unconfined.yaml":   "name: unconfined\nextends: restricted\ndescription: x\njobs: {seccompProfile: Unconfined}\n",
		"stricter.yaml":     "name: stricter\nextends: restricted\ndescription: x\nrunnerPod: {securityContext: {readOnlyRootFilesystem: true}}\n",
		"warn-only.yaml":    "name: warn-only\nextends: restricted\ndescription: x\nnamespace: {labels: {pod-security.kubernetes.io/warn: baseline}}\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"jobs-privileged":   "jobs.privileged is true (job pods run PRIVILEGED",
		"runner-privileged": "runnerPod.securityContext.privileged is true",
		"runner-root":       "runnerPod.securityContext.runAsUser is 0 (the runner runs as root); runnerPod.podSecurityContext.runAsUser is 0",
		"job-root":          "jobs.podSecurityContext.runAsUser is 0 (jobs run as root)",
		"caps":              "runnerPod.securityContext.capabilities.add adds NET_ADMIN",
		"job-caps":          "jobs.containerSecurityContext.addCapabilities adds SYS_ADMIN",
		"escalation":        "jobs.allowPrivilegeEscalation is true",
		"psa":               "namespace label pod-security.kubernetes.io/enforce is privileged",
		"psa-baseline":      `namespace label pod-security.kubernetes.io/enforce is baseline, looser than restricted in profile "restricted" that it extends`,
		"quiet-dind":        "jobs.privileged is true",
		"privileged-dind":   "jobs.privileged is true",
		"unconfined":        "jobs.seccompProfile is Unconfined",
		"stricter":          "",
		"warn-only":         "",
		"restricted":        "",
		"baseline":          "",
	} {
		p := mustGet(t, set, name)
		got := p.LoosenedWarning()
		if want == "" {
			if got != "" || len(p.Warnings()) != 0 {
				t.Errorf("%s: unexpected warnings %q", name, p.Warnings())
			}
			continue
		}
		if !strings.HasPrefix(got, "this profile weakens isolation: ") || !strings.Contains(got, want) {
			t.Errorf("%s: warning %q, want it to contain %q", name, got, want)
		}
		if !strings.Contains(strings.Join(p.Warnings(), "\n"), got) {
			t.Errorf("%s: Warnings() lacks the loosened-isolation warning", name)
		}
	}
	if w := mustGet(t, set, "quiet-dind").Warnings(); len(w) != 1 {
		t.Errorf("quiet-dind: warning: \"\" silenced more than its own warning: %q", w)
	}
}

// TestProfileRefusals: what a profile may not hold (issue 13, items 1, 3
// and 9).
func TestProfileRefusals(t *testing.T) {
	const base = "extends: restricted\ndescription: x\n"
	cases := map[string]struct {
		file, body, want string
	}{
		"escape in description": {"a.yaml", "name: a\nextends: restricted\ndescription: \"red \\e[31m\"\n", "description contains a control or bidirectional character at byte 4"},
		"bidi in description":   {"a.yaml", "name: a\nextends: restricted\ndescription: \"a \\u202e b\"\n", "description contains a control or bidirectional character"},
		"newline in warning":    {"a.yaml", "name: a\n" + base + "warning: \"x\\nkind: Secret\"\n", "warning contains a line break or tab (it must be one line)"},
		"long warning":          {"a.yaml", "name: a\n" + base + "warning: " + strings.Repeat("w", 1025) + "\n", "warning is 1025 bytes long; at most 1024"},
		"negative user":         {"a.yaml", "name: a\n" + base + "jobs: {podSecurityContext: {runAsUser: -1}}\n", "jobs.podSecurityContext.runAsUser -1 is not a user or group ID"},
		"fractional user":       {"a.yaml", "name: a\n" + base + "runnerPod: {securityContext: {runAsUser: 0.5}}\n", "runnerPod.securityContext.runAsUser: wrong type: number 0.5 where a whole number is expected"},
		"null capability":       {"a.yaml", "name: a\n" + base + "jobs: {containerSecurityContext: {dropCapabilities: [~]}}\n", "jobs.containerSecurityContext.dropCapabilities[0] is empty"},
		"bad capability":        {"a.yaml", "name: a\n" + base + "jobs: {containerSecurityContext: {addCapabilities: [\"ALL; rm\"]}}\n", `"ALL; rm" is not a Linux capability name`},
		"empty enforce level":   {"a.yaml", "name: a\n" + base + "namespace: {labels: {pod-security.kubernetes.io/enforce: \"\"}}\n", `"" is not a Pod Security level`},
		"bad label":             {"a.yaml", "name: a\n" + base + "namespace: {labels: {\"a b\": x}}\n", `"a b" is not a Kubernetes label key`},
		"file name":             {"A B.yaml", "name: A B\n" + base, "a profile file is named NAME.yaml"},
		"extends control":       {"a.yaml", "name: a\nextends: \"x\\e\"\ndescription: x\n", `extends "x\x1b" is not a profile name`},
		"not a profile":         {"a.yaml", "some text\nhashhash more text\n", "line 1: wrong type: string \"some te...\" where a mapping is expected"},
		"lines of another file": {"a.yaml", "root:$6$salt$hash:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\nhashhash:x:1::::::\n", `line 1: unknown field "root:$6$salt$hash:19000:0:99999:7::" (and 2 more)`},
		"go type":               {"a.yaml", "name: a\n" + base + "jobs: [x]\n", "line 4: wrong type: a list where a mapping is expected"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Load(writeProfiles(t, map[string]string{c.file: c.body}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			for _, leak := range []string{"profile.", "hashhash", "\x1b", "\u202e"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q contains %q", err, leak)
				}
			}
		})
	}
}

// TestProfileFileLimits: the number and size of a repository's profile
// files are bounded.
func TestProfileFileLimits(t *testing.T) {
	big := "name: big\nextends: restricted\ndescription: x\n# " + strings.Repeat("x", MaxFileSize) + "\n"
	if _, err := Load(writeProfiles(t, map[string]string{"big.yaml": big})); err == nil ||
		!strings.Contains(err.Error(), `big.yaml": is larger than 64 KiB`) {
		t.Errorf("a profile over 64 KiB: %v", err)
	}
	many := map[string]string{}
	for i := range MaxFiles + 1 {
		many[strings.Repeat("p", 1)+string(rune('a'+i%26))+strings.Repeat("q", i/26)+".yaml"] = ""
	}
	if _, err := Load(writeProfiles(t, many)); err == nil || !strings.Contains(err.Error(), "257 profile files; runnerctl reads at most 256") {
		t.Errorf("too many profiles: %v", err)
	}
	total := map[string]string{}
	for i := range 17 {
		name := string(rune('a' + i))
		total[name+".yaml"] = "name: " + name + "\nextends: restricted\ndescription: x\n# " + strings.Repeat("x", MaxFileSize-100) + "\n"
	}
	if _, err := Load(writeProfiles(t, total)); err == nil || !strings.Contains(err.Error(), "the profile files hold more than 1 MiB in all") {
		t.Errorf("profiles over 1 MiB in all: %v", err)
	}
}

// TestLoadInStaysInTheRepository: profiles that are, or pass through,
// links leading out of the repository are never read (issue 13, item 3).
func TestLoadInStaysInTheRepository(t *testing.T) {
	repo, outside := t.TempDir(), t.TempDir()
	secret := filepath.Join(outside, "shadow")
	if err := os.WriteFile(secret, []byte("root:$6$hashhashhash:19000::::::\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(repo, "runnerctl-profiles")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "x.yaml")); err != nil {
		t.Skip("no symlinks:", err)
	}
	_, err := LoadIn(repo, "runnerctl-profiles")
	if err == nil || !strings.Contains(err.Error(), "path escapes from parent") || strings.Contains(err.Error(), "hash") {
		t.Errorf("a profile linked outside: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "x.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(repo, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "y.yaml"), []byte("name: y\nextends: restricted\ndescription: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIn(repo, "linked"); err == nil || !strings.Contains(err.Error(), "path escapes from parent") {
		t.Errorf("a profiles directory linked outside: %v", err)
	}
	// A link that stays inside the repository is followed.
	if err := os.WriteFile(filepath.Join(repo, "shared.yaml"), []byte("name: z\nextends: restricted\ndescription: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../shared.yaml", filepath.Join(dir, "z.yaml")); err != nil {
		t.Fatal(err)
	}
	if set, err := LoadIn(repo, "runnerctl-profiles"); err != nil {
		t.Errorf("a link inside the repository: %v", err)
	} else {
		mustGet(t, set, "z")
	}
}
