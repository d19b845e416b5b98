package adopt

import (
	"bytes"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/profile"
)

// hardeningPath matches the chart values and runners.config keys that a
// hardening profile decides.
var hardeningPath = regexp.MustCompile(`^(securityContext|podSecurityContext|rbac|unregisterRunners|runners\.config\.runners\[0\]\.kubernetes\.(privileged|allow_privilege_escalation|automount_service_account_token|volumes|.*security_context|pod_spec))`)

// hardeningDiffs counts the lines where a render would change the
// hardening the files have.
func hardeningDiffs(lines []Line) int {
	n := 0
	for _, l := range lines {
		if l.Class == Differs && objectKind(l.Object) == "values" && hardeningPath.MatchString(l.Field) {
			n++
		}
	}
	return n
}

// ProfileFile is a profile import proposes: written to profilesDir, it
// makes render reproduce the hardening of the files.
type ProfileFile struct {
	Name string
	Data []byte
}

// proposeProfile writes the hardening of the files as a profile of their
// own, named imported-NAME: every setting the files make, and where they
// make none that runnerctl requires (RBAC rules: an empty list is a
// wildcard Role), closest's. It returns nil when the files hold a setting a
// profile cannot express; the report then shows the differences of the
// closest profile instead.
func proposeProfile(in *inputs, runner string, closest *profile.Profile) *ProfileFile {
	name := "imported-" + runner
	p := profile.Profile{
		Name: name,
		Description: fmt.Sprintf("The hardening of runner %q as it was before runnerctl import: its chart values'\n"+
			"security contexts, RBAC rules and unregisterRunners, and the job settings of its\n"+
			"runners.config. Compare it with the built-in profiles (runnerctl profiles show)\n"+
			"and move to one of them when you can.\n", runner),
	}
	v := in.values
	if !strictInto(v["securityContext"], &p.RunnerPod.SecurityContext) ||
		!strictInto(v["podSecurityContext"], &p.RunnerPod.PodSecurityContext) ||
		!strictInto(get(v, "rbac", "rules"), &p.RBAC.Rules) {
		return nil
	}
	if b, ok := v["unregisterRunners"].(bool); ok {
		p.RunnerPod.UnregisterRunners = &b
	}
	if len(p.RBAC.Rules) == 0 {
		p.RBAC.Rules = closest.RBAC.Rules
	}
	if !jobsFromTOML(in, &p.Jobs) {
		return nil
	}
	data, err := yaml.Marshal(&p)
	if err != nil {
		return nil
	}
	return &ProfileFile{Name: name, Data: data}
}

// strictInto decodes v (a generic YAML value, nil for none) into out,
// refusing fields out does not have.
func strictInto(v any, out any) bool {
	if v == nil {
		return true
	}
	data, err := yaml.Marshal(v)
	if err != nil {
		return false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(out) == nil
}

// jobsFromTOML reads the job hardening of runners.config into j.
func jobsFromTOML(in *inputs, j *profile.Jobs) bool {
	rs, _ := in.toml["runners"].([]any)
	if len(rs) == 0 {
		return true
	}
	k := getMap(rs[0], "kubernetes")
	boolOf := func(key string) *bool {
		if b, ok := k[key].(bool); ok {
			return &b
		}
		return nil
	}
	j.Privileged = boolOf("privileged")
	j.AllowPrivilegeEscalation = boolOf("allow_privilege_escalation")
	j.AutomountServiceAccountToken = boolOf("automount_service_account_token")
	if ps := getMap(k, "pod_security_context"); ps != nil {
		int64Of := func(key string) *int64 {
			if n, ok := toInt(ps[key]); ok {
				x := int64(n)
				return &x
			}
			return nil
		}
		j.PodSecurityContext = &profile.JobPodSecurityContext{
			RunAsUser: int64Of("run_as_user"), RunAsGroup: int64Of("run_as_group"), FSGroup: int64Of("fs_group"),
		}
		if b, ok := ps["run_as_non_root"].(bool); ok {
			j.PodSecurityContext.RunAsNonRoot = &b
		}
		j.SeccompProfile = getString(ps, "seccomp_profile", "type")
	}
	if cs := getMap(k, "build_container_security_context"); cs != nil {
		j.ContainerSecurityContext = &profile.JobContainerSecurityContext{
			DropCapabilities: stringList(get(cs, "capabilities", "drop")),
			AddCapabilities:  stringList(get(cs, "capabilities", "add")),
		}
		if b, ok := cs["run_as_non_root"].(bool); ok {
			j.ContainerSecurityContext.RunAsNonRoot = &b
		}
	}
	dirs, _ := get(k, "volumes", "empty_dir").([]any)
	for _, d := range dirs {
		j.EmptyDirs = append(j.EmptyDirs, profile.EmptyDir{Name: getString(d, "name"), MountPath: getString(d, "mount_path"), Medium: getString(d, "medium")})
	}
	return true
}
