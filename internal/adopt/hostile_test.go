package adopt

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

// TestLeakInValuesObject reports a token in an Application's inline
// valuesObject once, at its place in the values. The token is a made-up
// canary, not a real one.
func TestLeakInValuesObject(t *testing.T) {
	app := `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: gitlab-runner-x
spec:
  source:
    repoURL: https://charts.gitlab.io
    chart: gitlab-runner
    targetRevision: 0.86.0
    helm:
      valuesObject:
        gitlabUrl: https://gitlab.example.com/
        runnerRegistrationToken: GR1348941CANARYvalu3s0bj
`
	res, err := Import([]File{{Path: "app.yaml", Data: []byte(app)}}, Options{Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	var leaks []string
	for _, l := range res.Report.Lines {
		if l.Class == Leak {
			leaks = append(leaks, l.Object+": "+l.Field)
		}
	}
	if want := []string{"Application/gitlab-runner-x helm.valuesObject: runnerRegistrationToken"}; !slices.Equal(leaks, want) {
		t.Errorf("leaks = %q, want %q", leaks, want)
	}
	if strings.Contains(res.Report.Text(), "CANARYvalu3s0bj") {
		t.Errorf("the report shows the token:\n%s", res.Report.Text())
	}
}

// leakyValues holds made-up tokens (fixtures, never real ones: the
// letters spell what they are) in each place a user pastes one.
const leakyValues = `gitlabUrl: https://gitlab.example.com/
runnerToken: glrt-PASTEDpastedPASTED1234
concurrent: 1
runners:
  config: |
    [[runners]]
      token = "glrt-INTOMLintomlINTOML99"
      [runners.kubernetes]
        namespace = "ci"
        image = "alpine:3.20"
        [runners.kubernetes.pod_labels]
          note = "GR1348941oldRegistrationToken"
`

// TestLeaksAreReportedNeverShown pastes tokens into the values: each must
// be a leak line with its file and field, and no token may appear in the
// report or in the imported runnerctl.yaml.
func TestLeaksAreReportedNeverShown(t *testing.T) {
	res, err := Import([]File{{Path: "values/build.yaml", Data: []byte(leakyValues)}}, Options{Name: "build", Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"runnerToken", "runners.config.runners[0].token", "runners.config.runners[0].kubernetes.pod_labels.note"} {
		if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool {
			return l.Class == Leak && l.File == "values/build.yaml" && l.Field == field
		}) {
			t.Errorf("no leak line for values/build.yaml %s; report:\n%s", field, res.Report.Text())
		}
	}
	text, err := config.Marshal(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"PASTEDpasted", "INTOMLintoml", "oldRegistrationToken"} {
		if strings.Contains(res.Report.Text(), secret) {
			t.Errorf("the report shows a token (%s):\n%s", secret, res.Report.Text())
		}
		if strings.Contains(string(text), secret) {
			t.Errorf("runnerctl.yaml holds a token (%s):\n%s", secret, text)
		}
	}
}

// TestRefusedInput is input import must refuse, naming the file, before
// anything is written.
func TestRefusedInput(t *testing.T) {
	app := func(name string) string {
		return "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: " + name +
			"\nspec:\n  source:\n    chart: gitlab-runner\n    repoURL: https://charts.gitlab.io\n    targetRevision: 0.86.0\n"
	}
	for _, tc := range []struct {
		name  string
		files []File
		want  string
	}{
		{"not YAML", []File{{Path: "a.yaml", Data: []byte("kind: [unclosed\n")}}, "a.yaml: not valid YAML"},
		{"two runners in one file", []File{{Path: "apps.yaml", Data: []byte(app("gitlab-runner-a") + "---\n" + app("gitlab-runner-b"))}}, "apps.yaml: a second gitlab-runner Application"},
		{"two [[runners]]", []File{{Path: "v.yaml", Data: []byte("gitlabUrl: https://g/\nrunners:\n  config: |\n    [[runners]]\n    [[runners]]\n")}}, "v.yaml: values: runners.config has 2 [[runners]] entries"},
		{"no runner", []File{{Path: "cm.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")}}, "no gitlab-runner Application"},
		{"no name", []File{{Path: "app.yaml", Data: []byte(app("gitlab-runner"))}}, "give one with --name"},
		{"values file missing", []File{{Path: "app.yaml", Data: []byte(app("gitlab-runner-x") + "    helm:\n      valueFiles: [$values/values/x.yaml]\n")}},
			"app.yaml: Application \"gitlab-runner-x\" reads its values from $values/values/x.yaml, which is not among the files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Import(tc.files, Options{Profiles: builtins(t)})
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an InputError containing %q", err, tc.want)
			}
		})
	}
}

// TestOtherKindsAreIgnored keeps objects of other kinds out of the runner
// and says so.
func TestOtherKindsAreIgnored(t *testing.T) {
	files := []File{{Path: "v.yaml", Data: []byte("gitlabUrl: https://gitlab.example.com/\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n")}}
	res, err := Import(files, Options{Name: "x", Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool { return l.Class == Ignored && l.Object == "ConfigMap/extra" }) {
		t.Errorf("no ignored line for ConfigMap/extra:\n%s", res.Report.Text())
	}
}

// TestProposedProfileWarns imports a runner whose jobs run privileged and
// that no profile reproduces: the proposed profile keeps privileged (never
// weakening or silently tightening what the user had) and carries the
// warning every profile that loosens isolation gets.
func TestProposedProfileWarns(t *testing.T) {
	values := `gitlabUrl: https://gitlab.example.com/
securityContext:
  runAsNonRoot: true
  runAsUser: 100
runners:
  config: |
    [[runners]]
      [runners.kubernetes]
        namespace = "dind"
        image = "docker:27"
        privileged = true
`
	res, err := Import([]File{{Path: "values.yaml", Data: []byte(values)}}, Options{Name: "dind", Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.ProfileFile == nil {
		t.Fatalf("no profile proposed; report:\n%s", res.Report.Text())
	}
	if !strings.Contains(string(res.ProfileFile.Data), "privileged: true") || !strings.Contains(string(res.ProfileFile.Data), "runAsUser: 100") {
		t.Errorf("the proposed profile does not reproduce the files:\n%s", res.ProfileFile.Data)
	}
	if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool {
		return l.Class == Warning && strings.Contains(l.Detail, "jobs.privileged is true")
	}) {
		t.Errorf("no privilege warning; report:\n%s", res.Report.Text())
	}
	checkRoundTrip(t, []File{{Path: "values.yaml", Data: []byte(values)}}, res, builtins(t))
}

// TestMergeIntoExisting imports a runner into an existing runnerctl.yaml:
// its runners and config-level settings stay, and where the files say
// otherwise (another store here) the report shows the difference instead
// of changing the other runners' settings.
func TestMergeIntoExisting(t *testing.T) {
	base, err := config.Decode([]byte(`apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.example.com/
gitops:
  repoURL: https://gitlab.example.com/ops/gitops.git
secrets:
  backend: vault
  store:
    name: vault
runners:
  - name: web
`))
	if err != nil {
		t.Fatal(err)
	}
	files := []File{
		{Path: "values/gitlab-runner-build.yaml", Data: []byte("gitlabUrl: https://gitlab.example.com/\nconcurrent: 3\n")},
		{Path: "manifests/es.yaml", Data: []byte(`apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: gitlab-runner-build-token
  namespace: gitlab-runner
spec:
  secretStoreRef: {name: other-store, kind: ClusterSecretStore}
  target:
    name: gitlab-runner-build-token
    template:
      data: {runner-token: "{{ .runnerToken }}", runner-registration-token: ""}
  data:
    - secretKey: runnerToken
      remoteRef: {key: gitlab/runners/build, property: runner-token}
`)},
	}
	res, err := Import(files, Options{Name: "build", Base: base, Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range res.Config.Runners {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"web", "build"}) || res.Config.Secrets.Store.Name != "vault" {
		t.Errorf("runners %v, store %q; want [web build] and the existing store vault", names, res.Config.Secrets.Store.Name)
	}
	if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool {
		return l.File == "manifests/es.yaml" && l.Field == "spec.secretStoreRef.name" && l.Class == Differs
	}) {
		t.Errorf("the store the files name is not reported as a difference:\n%s", res.Report.Text())
	}
	checkRoundTrip(t, files, res, builtins(t))
}

// TestHostileNamesAreNotPrinted feeds keys and values with terminal escape
// sequences: the text report must not pass them to the terminal.
func TestHostileNamesAreNotPrinted(t *testing.T) {
	values := "gitlabUrl: https://gitlab.example.com/\n\"\\e]0;pwned\\a\\e[31mkey\": \"\\e[2Jvalue\"\n"
	res, err := Import([]File{{Path: "v\x1b[1m.yaml", Data: []byte(values)}}, Options{Name: "x", Profiles: builtins(t)})
	if err != nil {
		t.Fatal(err)
	}
	text := res.Report.Text()
	if strings.ContainsAny(text, "\x1b\a") {
		t.Errorf("the report passes control characters through:\n%q", text)
	}
	if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool { return l.Class == Unsupported }) {
		t.Errorf("the hostile key is not reported as unsupported:\n%s", text)
	}
}
