package chartcheck

import (
	"context"
	"os"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// homelabValues are the values runnerctl renders for the bundled homelab
// example (profile baseline).
const homelabValues = "../../../examples/homelab/values/gitlab-runner-homelab.yaml"

func miniChart(t *testing.T) *chart.Chart {
	t.Helper()
	ch, err := loader.LoadDir("testdata/mini-runner")
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// withTemplate returns ch with template name's text edited by edit, which
// must change it.
func withTemplate(t *testing.T, ch *chart.Chart, name string, edit func(string) string) *chart.Chart {
	t.Helper()
	for _, tpl := range ch.Templates {
		if tpl.Name == "templates/"+name {
			before := string(tpl.Data)
			tpl.Data = []byte(edit(before))
			if string(tpl.Data) == before {
				t.Fatalf("edit of %s changed nothing", name)
			}
			return ch
		}
	}
	t.Fatalf("no template %s", name)
	return nil
}

func input(t *testing.T, values []byte) Input {
	t.Helper()
	set, err := profile.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("baseline")
	if err != nil {
		t.Fatal(err)
	}
	return Input{ValuesPath: "values/gitlab-runner-homelab.yaml", Values: values, ReleaseName: "gitlab-runner-homelab", Namespace: "gitlab-runner", Claims: validate.ClaimsOf(p)}
}

func readValues(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(homelabValues)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantProblem(t *testing.T, ps []validate.Problem, sev validate.Severity, field, msgPart string) {
	t.Helper()
	for _, p := range ps {
		if p.Severity == sev && p.Field == field && strings.Contains(p.Message, msgPart) {
			return
		}
	}
	t.Errorf("want a %s at %q containing %q; got:\n%s", sev, field, msgPart, dump(ps))
}

func dump(ps []validate.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  [" + string(p.Severity) + "] " + p.String() + "\n")
	}
	return b.String()
}

func TestHomelabValuesKeepTheirClaims(t *testing.T) {
	in := input(t, readValues(t))
	if !in.Claims.RunAsNonRoot || !in.Claims.DropAllCapabilities || !in.Claims.NoPrivilegeEscalation || len(in.Claims.Rules) == 0 {
		t.Fatalf("baseline should claim non-root, drop ALL, no escalation and list rules: %+v", in.Claims)
	}
	if ps := Check(context.Background(), miniChart(t), in); len(ps) > 0 {
		t.Errorf("want no problems, got:\n%s", dump(ps))
	}
}

func TestUnreadValuesKeys(t *testing.T) {
	vals := string(readValues(t)) + "runnerz:\n  privileged: true\nsecurityContextt: {}\n"
	vals = strings.Replace(vals, "runners:\n", "runners:\n  privileged: true\n", 1)
	ps := Check(context.Background(), miniChart(t), input(t, []byte(vals)))
	wantProblem(t, ps, validate.Warning, "runnerz", "no template of chart mini-runner 0.1.0 reads this key")
	wantProblem(t, ps, validate.Warning, "securityContextt", "reads this key")
	wantProblem(t, ps, validate.Warning, "runners.privileged", "reads this key")
	if validate.HasErrors(ps) {
		t.Errorf("unread keys are warnings only:\n%s", dump(ps))
	}
	if len(ps) != 3 {
		t.Errorf("want exactly the 3 unread keys, got:\n%s", dump(ps))
	}
}

func TestChartIgnoringSecurityContextBreaksClaims(t *testing.T) {
	ch := withTemplate(t, miniChart(t), "deployment.yaml", func(s string) string {
		return strings.Replace(s, "{{- with .Values.securityContext }}", "{{- with .Values.nothing }}", 1)
	})
	ps := Check(context.Background(), ch, input(t, readValues(t)))
	const c = "spec.template.spec.containers[0].securityContext."
	wantProblem(t, ps, validate.Error, c+"runAsNonRoot", `container "runner" may run as root`)
	wantProblem(t, ps, validate.Error, c+"capabilities.drop", "does not drop ALL")
	wantProblem(t, ps, validate.Error, c+"allowPrivilegeEscalation", "allows it")
	wantProblem(t, ps, validate.Warning, "securityContext", "reads this key")
}

func TestWildcardRoleAndUnlistedRules(t *testing.T) {
	vals := strings.Replace(string(readValues(t)), "  rules:\n", "  rules: []\n  oldRules:\n", 1)
	ps := Check(context.Background(), miniChart(t), input(t, []byte(vals)))
	for _, f := range []string{"apiGroups", "resources", "verbs"} {
		wantProblem(t, ps, validate.Error, "rules[0]."+f, "wildcard")
	}
	wantProblem(t, ps, validate.Error, "rules[0]", "which profile \"baseline\" does not list")
	extra := strings.Replace(string(readValues(t)), "        - pods/log\n", "        - pods/log\n        - nodes\n", 1)
	ps = Check(context.Background(), miniChart(t), input(t, []byte(extra)))
	wantProblem(t, ps, validate.Error, "rules[2]", "grants get on pods/log,nodes")
}

func TestTokenKeysMounted(t *testing.T) {
	ch := withTemplate(t, miniChart(t), "deployment.yaml", func(s string) string {
		return strings.Replace(s, "                    - key: runner-token\n                      path: runner-token\n", "", 1)
	})
	ps := Check(context.Background(), ch, input(t, readValues(t)))
	wantProblem(t, ps, validate.Error, "spec.template.spec.volumes", `keys runner-token of it are not mounted`)

	ch = withTemplate(t, miniChart(t), "deployment.yaml", func(s string) string {
		return strings.Replace(s, "            - name: token\n              mountPath: /secrets\n", "", 1)
	})
	ps = Check(context.Background(), ch, input(t, readValues(t)))
	wantProblem(t, ps, validate.Error, "spec.template.spec.volumes", "runner-token, runner-registration-token")
}

func TestRenderFailureAndStrictDecoding(t *testing.T) {
	vals := strings.Replace(string(readValues(t)), "  secret: gitlab-runner-homelab-token\n", "", 1)
	ps := Check(context.Background(), miniChart(t), input(t, []byte(vals)))
	wantProblem(t, ps, validate.Error, "", "runners.secret is required")

	ch := withTemplate(t, miniChart(t), "deployment.yaml", func(s string) string {
		return strings.Replace(s, "      containers:\n", "      containerz: []\n      containers:\n", 1)
	})
	ps = Check(context.Background(), ch, input(t, readValues(t)))
	wantProblem(t, ps, validate.Error, "spec.template.spec.containerz", "unknown field")
}

// What rotate-token and the runner assume of the chart: the Deployment is
// named after the release, and runners.config reaches a ConfigMap.
func TestDeploymentNameAndRunnerConfigPlacement(t *testing.T) {
	ch := withTemplate(t, miniChart(t), "_helpers.tpl", func(s string) string {
		return strings.Replace(s, `hasPrefix "gitlab-runner" .Release.Name`, `hasPrefix "never" .Release.Name`, 1)
	})
	ps := Check(context.Background(), ch, input(t, readValues(t)))
	wantProblem(t, ps, validate.Error, "metadata.name", "names the runner's Deployment gitlab-runner-homelab-mini-runner, not gitlab-runner-homelab: rotate-token --kubeconfig restarts deployment/gitlab-runner-homelab")

	ch = withTemplate(t, miniChart(t), "configmap.yaml", func(s string) string {
		return strings.Replace(s, "tpl .Values.runners.config .", `"[[runners]]"`, 1)
	})
	ps = Check(context.Background(), ch, input(t, readValues(t)))
	wantProblem(t, ps, validate.Error, "runners.config", "puts runners.config in no ConfigMap")
}
