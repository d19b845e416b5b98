// Package chartcheck renders the gitlab-runner chart with the values
// runnerctl generated, through the Helm v4 SDK as `helm template` would,
// and holds the result against the profile's claims: the runner's pod runs
// as non-root, drops every capability, is not privileged; its Role has no
// wildcard and grants what the profile lists; it mounts the token Secret's
// keys. It also names the values keys that no template of the chart ever
// reads — a hardening setting under a key the chart ignores does nothing.
//
// It links Helm and Kubernetes' types, so only runnerctl-kube imports it.
package chartcheck

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"

	"github.com/runnerctl/runnerctl/internal/kube/kubeschema"
	"github.com/runnerctl/runnerctl/internal/kube/tplreads"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// Input is one runner's values and what its profile claims.
type Input = validate.ChartInput

// Token Secret keys the chart's runner reads (DESIGN: the chart's
// runners.secret).
var tokenKeys = []string{"runner-token", "runner-registration-token"}

// Check renders ch with in's values and checks the result.
func Check(ctx context.Context, ch *chart.Chart, in Input) []validate.Problem {
	chartName := fmt.Sprintf("chart %s %s", ch.Name(), ch.Metadata.Version)
	errorf := func(field, format string, args ...any) validate.Problem {
		return validate.Problem{Severity: validate.Error, File: in.ValuesPath, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	vals, err := common.ReadValues(in.Values)
	if err != nil {
		return []validate.Problem{errorf("", "not valid YAML: %v", err)}
	}
	var ps []validate.Problem

	// Keys no template reads.
	templates := map[string]string{}
	for _, t := range ch.Templates {
		templates[t.Name] = string(t.Data)
	}
	rp, err := tplreads.Analyze(templates)
	if err != nil {
		ps = append(ps, validate.Problem{Severity: validate.Warning, File: in.ValuesPath, Message: fmt.Sprintf("%s: templates could not be analysed for unread values keys: %v", chartName, err)})
	} else {
		for _, k := range rp.Unread(vals) {
			ps = append(ps, validate.Problem{Severity: validate.Warning, File: in.ValuesPath, Field: k,
				Message: fmt.Sprintf("no template of %s reads this key: it has no effect", chartName)})
		}
	}

	// Render as `helm template` does, the chart's values.schema.json
	// included.
	top, err := chartutil.ToRenderValues(ch, vals, common.ReleaseOptions{
		Name: in.ReleaseName, Namespace: in.Namespace, Revision: 1, IsInstall: true,
	}, common.DefaultCapabilities)
	if err != nil {
		return append(ps, errorf("", "%s rejects these values: %v", chartName, err))
	}
	out, err := engine.Engine{Strict: false}.RenderWithContext(ctx, ch, top)
	if err != nil {
		return append(ps, errorf("", "%s does not render with these values: %v", chartName, err))
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	slices.Sort(names)

	kv := kubeschema.New()
	kv.IgnoreMissing = true // the chart's own CRs (if any) are not ours to judge
	var deployments []appsv1.Deployment
	var roles []rbacv1.Role
	var configMaps []corev1.ConfigMap
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") && !strings.HasSuffix(n, ".yml") || strings.HasPrefix(path.Base(n), "_") {
			continue
		}
		docs, err := validate.SplitDocs([]byte(out[n]))
		if err != nil {
			ps = append(ps, errorf("", "%s rendered %s, which is not valid YAML: %v", chartName, n, err))
			continue
		}
		for _, d := range docs {
			var raw map[string]any
			var doc []byte
			err := d.Node.Decode(&raw)
			if err == nil {
				doc, err = yaml.Marshal(raw)
			}
			if err != nil {
				ps = append(ps, errorf("", "%s rendered %s: %v", chartName, n, err))
				continue
			}
			for _, p := range kv.Object(ctx, doc) {
				if p.Severity == validate.Warning {
					continue
				}
				p.File, p.Message = in.ValuesPath, fmt.Sprintf("%s (rendered from %s): %s", p.Message, n, chartName)
				ps = append(ps, p)
			}
			av, _ := raw["apiVersion"].(string)
			kind, _ := raw["kind"].(string)
			switch {
			case av == "apps/v1" && kind == "Deployment":
				var dep appsv1.Deployment
				if yaml.Unmarshal(doc, &dep) == nil {
					deployments = append(deployments, dep)
				}
			case av == "v1" && kind == "ConfigMap":
				var cm corev1.ConfigMap
				if yaml.Unmarshal(doc, &cm) == nil {
					configMaps = append(configMaps, cm)
				}
			case av == "rbac.authorization.k8s.io/v1" && (kind == "Role" || kind == "ClusterRole"):
				var r rbacv1.Role
				if yaml.Unmarshal(doc, &r) == nil {
					r.Kind = kind
					roles = append(roles, r)
				}
			}
		}
	}
	ps = append(ps, checkDeployments(in, chartName, vals, deployments)...)
	ps = append(ps, checkRoles(in, chartName, roles)...)
	ps = append(ps, checkRunnerConfig(in, chartName, vals, configMaps)...)
	return ps
}

// checkRunnerConfig makes sure that runners.config reaches the runner: the
// chart passes it through tpl into a ConfigMap that its entrypoint merges
// into config.toml. A chart that put it nowhere would run the runner with
// none of the profile's job-pod hardening.
func checkRunnerConfig(in Input, chartName string, vals common.Values, cms []corev1.ConfigMap) []validate.Problem {
	v, _ := vals.PathValue("runners.config")
	cfg, _ := v.(string)
	if strings.TrimSpace(cfg) == "" {
		return nil
	}
	want := strings.TrimSpace(render.UnescapeTpl(cfg))
	for _, cm := range cms {
		for _, data := range cm.Data {
			if strings.TrimSpace(data) == want {
				return nil
			}
		}
	}
	return []validate.Problem{{Severity: validate.Error, File: in.ValuesPath, Field: "runners.config",
		Message: fmt.Sprintf("%s puts runners.config in no ConfigMap: the runner would start without its config.toml (job pod hardening included)", chartName)}}
}

func checkDeployments(in Input, chartName string, vals common.Values, deps []appsv1.Deployment) []validate.Problem {
	if len(deps) == 0 {
		return []validate.Problem{{Severity: validate.Error, File: in.ValuesPath, Message: chartName + " rendered no Deployment: the runner would not run"}}
	}
	var ps []validate.Problem
	// rotate-token restarts deployment/RELEASE (the chart's fullname is the
	// release name when it starts with the chart's name); a chart that
	// names it otherwise would leave rotated runners on their old token.
	if !slices.ContainsFunc(deps, func(d appsv1.Deployment) bool { return d.Name == in.ReleaseName }) {
		var names []string
		for _, d := range deps {
			names = append(names, d.Name)
		}
		ps = append(ps, validate.Problem{Severity: validate.Error, File: in.ValuesPath, Field: "metadata.name",
			Message: fmt.Sprintf("%s names the runner's Deployment %s, not %s: rotate-token --kubeconfig restarts deployment/%s", chartName, strings.Join(names, ", "), in.ReleaseName, in.ReleaseName)})
	}
	c := in.Claims
	for _, dep := range deps {
		obj := validate.ObjectName("Deployment", dep.Namespace, dep.Name)
		bad := func(field, format string, args ...any) {
			ps = append(ps, validate.Problem{Severity: validate.Error, File: in.ValuesPath, Object: obj, Field: field,
				Message: fmt.Sprintf("profile %q claims %s (rendered by %s)", c.Profile, fmt.Sprintf(format, args...), chartName)})
		}
		spec := dep.Spec.Template.Spec
		pod := spec.SecurityContext
		if pod == nil {
			pod = &corev1.PodSecurityContext{}
		}
		type ctr struct {
			field string
			c     corev1.Container
		}
		var ctrs []ctr
		for i, x := range spec.InitContainers {
			ctrs = append(ctrs, ctr{fmt.Sprintf("spec.template.spec.initContainers[%d]", i), x})
		}
		for i, x := range spec.Containers {
			ctrs = append(ctrs, ctr{fmt.Sprintf("spec.template.spec.containers[%d]", i), x})
		}
		for _, x := range ctrs {
			sc := x.c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			f := x.field + ".securityContext"
			if c.RunAsNonRoot && !isTrue(sc.RunAsNonRoot) && !(sc.RunAsNonRoot == nil && isTrue(pod.RunAsNonRoot)) {
				bad(f+".runAsNonRoot", "runAsNonRoot, but container %q may run as root", x.c.Name)
			}
			if c.DropAllCapabilities && (sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL")) {
				bad(f+".capabilities.drop", "all capabilities dropped, but container %q does not drop ALL", x.c.Name)
			}
			if c.NotPrivileged && isTrue(sc.Privileged) {
				bad(f+".privileged", "no privileged container, but container %q is privileged", x.c.Name)
			}
			if c.NoPrivilegeEscalation && (sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation) {
				bad(f+".allowPrivilegeEscalation", "no privilege escalation, but container %q allows it", x.c.Name)
			}
			if c.ReadOnlyRootFilesystem && !isTrue(sc.ReadOnlyRootFilesystem) {
				bad(f+".readOnlyRootFilesystem", "a read-only root filesystem, but container %q writes to its own", x.c.Name)
			}
			if c.SeccompRuntimeDefault && !seccompDefault(sc.SeccompProfile) && !(sc.SeccompProfile == nil && seccompDefault(pod.SeccompProfile)) {
				bad(f+".seccompProfile", "the RuntimeDefault seccomp profile, but container %q runs without it", x.c.Name)
			}
		}
		if c.TokenSecretKeysMounted {
			secret, _ := vals.PathValue("runners.secret")
			name, _ := secret.(string)
			if missing := tokenMounted(spec, name); len(missing) > 0 {
				bad("spec.template.spec.volumes", "that the runner reads its token from Secret %q, but keys %s of it are not mounted", name, strings.Join(missing, ", "))
			}
		}
	}
	return ps
}

func isTrue(b *bool) bool { return b != nil && *b }

func seccompDefault(p *corev1.SeccompProfile) bool {
	return p != nil && p.Type == corev1.SeccompProfileTypeRuntimeDefault
}

// tokenMounted lists the token keys of Secret name that no container of
// spec mounts (through a secret or projected volume) or reads as an
// environment variable.
func tokenMounted(spec corev1.PodSpec, name string) []string {
	have := map[string]bool{}
	mounted := map[string]bool{}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		for _, m := range c.VolumeMounts {
			mounted[m.Name] = true
		}
		for _, e := range c.Env {
			if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil && r.SecretKeyRef.Name == name {
				have[r.SecretKeyRef.Key] = true
			}
		}
	}
	addItems := func(items []corev1.KeyToPath) {
		if items == nil { // every key of the Secret
			for _, k := range tokenKeys {
				have[k] = true
			}
		}
		for _, it := range items {
			have[it.Key] = true
		}
	}
	for _, v := range spec.Volumes {
		if !mounted[v.Name] {
			continue
		}
		if s := v.Secret; s != nil && s.SecretName == name {
			addItems(s.Items)
		}
		if p := v.Projected; p != nil {
			for _, src := range p.Sources {
				if s := src.Secret; s != nil && s.Name == name {
					addItems(s.Items)
				}
			}
		}
	}
	var missing []string
	for _, k := range tokenKeys {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	return missing
}

func checkRoles(in Input, chartName string, roles []rbacv1.Role) []validate.Problem {
	c := in.Claims
	if len(roles) == 0 {
		if len(c.Rules) > 0 {
			return []validate.Problem{{Severity: validate.Error, File: in.ValuesPath, Field: "rbac",
				Message: fmt.Sprintf("profile %q lists RBAC rules, but %s rendered no Role: the runner could not start job pods", c.Profile, chartName)}}
		}
		return nil
	}
	var ps []validate.Problem
	for _, r := range roles {
		obj := validate.ObjectName(r.Kind, r.Namespace, r.Name)
		for i, rule := range r.Rules {
			f := fmt.Sprintf("rules[%d]", i)
			for _, part := range []struct {
				name string
				vals []string
			}{{"apiGroups", rule.APIGroups}, {"resources", rule.Resources}, {"verbs", rule.Verbs}} {
				if slices.Contains(part.vals, "*") {
					ps = append(ps, validate.Problem{Severity: validate.Error, File: in.ValuesPath, Object: obj, Field: f + "." + part.name,
						Message: fmt.Sprintf("wildcard %q: the runner would get every %s (rendered by %s); list them in the profile's rbac.rules", "*", part.name, chartName)})
				}
			}
			if len(c.Rules) > 0 && !granted(c.Rules, rule) {
				ps = append(ps, validate.Problem{Severity: validate.Error, File: in.ValuesPath, Object: obj, Field: f,
					Message: fmt.Sprintf("grants %s on %s (apiGroups %q), which profile %q does not list (rendered by %s)",
						strings.Join(rule.Verbs, ","), strings.Join(rule.Resources, ","), rule.APIGroups, c.Profile, chartName)})
			}
		}
	}
	return ps
}

// granted reports whether every (group, resource, verb) of rule is in the
// profile's rules.
func granted(rules []validate.Rule, rule rbacv1.PolicyRule) bool {
	for _, g := range rule.APIGroups {
		for _, res := range rule.Resources {
			for _, v := range rule.Verbs {
				if !slices.ContainsFunc(rules, func(r validate.Rule) bool {
					return slices.Contains(r.APIGroups, g) && slices.Contains(r.Resources, res) && slices.Contains(r.Verbs, v)
				}) {
					return false
				}
			}
		}
	}
	return true
}
