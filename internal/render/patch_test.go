package render_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// patchSpec is two runners sharing the top-level patches; ci has its own
// on top, plain has none of its own. %s is ci's patches (indented under
// it) and is followed by ci's network policy.
const patchSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.example.com/
gitops:
  repoURL: https://gitlab.example.com/platform/gitops.git
secrets:
  backend: vault
  store:
    name: vault
patches:
  application:
    metadata:
      annotations:
        argocd.argoproj.io/sync-wave: "5"
runners:
  - name: plain
  - name: ci
    networkPolicy:
      gitlabCIDRs: [203.0.113.10/32]
      apiServerCIDRs: [10.96.0.1/32]
    patches:
%s`

const harmlessPatches = `      application:
        metadata:
          annotations:
            notifications.argoproj.io/subscribe.on-sync-failed.slack: ci
        spec:
          ignoreDifferences:
            - group: apps
              kind: Deployment
              jsonPointers: [/spec/replicas]
      externalSecret:
        metadata:
          labels:
            policy.example.com/team: ci
      values:
        nodeSelector:
          pool: ci
        concurrent: 8
`

func renderPatched(t *testing.T, patches string) (*render.Result, error) {
	t.Helper()
	return render.Render(mustLoad(t, fmt.Sprintf(patchSpec, patches)), mustProfiles(t))
}

func fileOf(t *testing.T, res *render.Result, path string) []byte {
	t.Helper()
	for _, f := range res.Files {
		if f.Path == path {
			return f.Content
		}
	}
	t.Fatalf("no file %s", path)
	return nil
}

// TestPatchApplied: patches land where they say, top-level before the
// runner's, keys keep render's order, and a runner without patches of its
// own gets exactly the unpatched output plus the top-level patch.
func TestPatchApplied(t *testing.T) {
	res, err := renderPatched(t, harmlessPatches)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("harmless patches warned: %q", res.Warnings)
	}
	golden(t, "patches", joinFiles(res))

	var app struct {
		Metadata struct{ Annotations map[string]string }
		Spec     struct {
			IgnoreDifferences []map[string]any `json:"ignoreDifferences"`
			Sources           []struct{ Chart string }
		}
	}
	body := fileOf(t, res, "argocd-apps/gitlab-runner-ci.yaml")
	if err := sigsyaml.Unmarshal(body, &app); err != nil {
		t.Fatal(err)
	}
	if app.Metadata.Annotations["argocd.argoproj.io/sync-wave"] != "5" ||
		app.Metadata.Annotations["notifications.argoproj.io/subscribe.on-sync-failed.slack"] != "ci" ||
		len(app.Spec.IgnoreDifferences) != 1 || app.Spec.Sources[0].Chart != "gitlab-runner" {
		t.Errorf("Application not patched as asked: %+v", app)
	}
	// render's order stays (apiVersion, kind, metadata's name first), and
	// what a patch adds comes after what runnerctl writes: a small diff.
	if !render.Deploys(body) || !bytes.Contains(body, []byte("metadata:\n  name: gitlab-runner-ci\n")) {
		t.Errorf("patched Application lost render's key order:\n%s", body)
	}
	values := fileOf(t, res, "values/gitlab-runner-ci.yaml")
	if !bytes.Contains(values, []byte("\nconcurrent: 8\n")) || !bytes.Contains(values, []byte("\nnodeSelector:\n  pool: ci\n")) {
		t.Errorf("values not patched:\n%s", values)
	}
	if !bytes.Contains(values, []byte("\n  config: |\n")) {
		t.Errorf("runners.config lost its block style:\n%s", values)
	}

	// plain has no patches of its own: everything but its Application is
	// byte for byte what it is without any patch.
	noTop := strings.Replace(fmt.Sprintf(patchSpec, harmlessPatches), "patches:\n  application:\n    metadata:\n      annotations:\n        argocd.argoproj.io/sync-wave: \"5\"\n", "", 1)
	unpatched, err := render.Render(mustLoad(t, noTop), mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"values/gitlab-runner-plain.yaml", "manifests/gitlab-runner-plain-external-secret.yaml"} {
		if !bytes.Equal(fileOf(t, res, p), fileOf(t, unpatched, p)) {
			t.Errorf("%s changed although no patch applies to it", p)
		}
	}
	if bytes.Equal(fileOf(t, res, "argocd-apps/gitlab-runner-plain.yaml"), fileOf(t, unpatched, "argocd-apps/gitlab-runner-plain.yaml")) {
		t.Error("the top-level patch did not reach runner plain")
	}
}

// TestPatchNullRemoves: null removes a field (RFC 7386), and a patch of a
// runner can undo what the top-level one added.
func TestPatchNullRemoves(t *testing.T) {
	res, err := renderPatched(t, "      application:\n        metadata:\n          annotations:\n            argocd.argoproj.io/sync-wave: null\n        spec:\n          syncPolicy:\n            syncOptions: null\n")
	if err != nil {
		t.Fatal(err)
	}
	body := fileOf(t, res, "argocd-apps/gitlab-runner-ci.yaml")
	if bytes.Contains(body, []byte("sync-wave")) || bytes.Contains(body, []byte("syncOptions")) {
		t.Errorf("null did not remove the fields:\n%s", body)
	}
	if !bytes.Contains(fileOf(t, res, "argocd-apps/gitlab-runner-plain.yaml"), []byte("sync-wave")) {
		t.Error("runner plain lost the top-level patch")
	}
}

// TestPatchOwned: a patch may not change what runnerctl owns; the error
// (exit 2) names the patch, the runner, the field and what to do.
func TestPatchOwned(t *testing.T) {
	cases := []struct{ name, patches, want string }{
		{"application name", "      application: {metadata: {name: other}}\n",
			`runners[1].patches.application: runner "ci": the patch changes metadata.name, which runnerctl sets`},
		{"chart", "      application: {spec: {sources: [{repoURL: https://charts.gitlab.io, chart: other, targetRevision: 1.0.0}]}}\n",
			"changes spec.sources[].repoURL"},
		{"destination", "      application: {spec: {destination: {namespace: kube-system}}}\n",
			"changes spec.destination, which runnerctl sets for the runner to work; set argocd.destination"},
		{"runner label", "      application: {metadata: {labels: {runnerctl.dev/runner: null}}}\n",
			`changes metadata.labels["runnerctl.dev/runner"]`},
		{"remote ref", "      externalSecret: {spec: {data: null}}\n",
			"runners[1].patches.externalSecret: runner \"ci\": the patch changes spec.data"},
		{"target name", "      externalSecret: {spec: {target: {name: mine}}}\n", "changes spec.target.name"},
		{"token keys", "      externalSecret: {spec: {target: {template: {data: {x: y}}}}}\n", "changes spec.target.template.data"},
		{"namespace", "      networkPolicy: {metadata: {namespace: default}}\n", "changes metadata.namespace"},
		{"runners.secret", "      values: {runners: {secret: mine}}\n", "changes runners.secret, which runnerctl sets for the runner to work; the ExternalSecret fills"},
		{"gitlab url", "      values: {gitlabUrl: https://other/}\n", "changes gitlabUrl"},
		{"no such object", "      cacheExternalSecret: {metadata: {labels: {a: b}}}\n",
			`runners[1].patches.cacheExternalSecret: runner "ci" generates no cacheExternalSecret object`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := renderPatched(t, c.patches)
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.ExitCode() != 2 {
				t.Fatalf("want an InvalidError (exit 2), got %v", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not contain %q:\n%v", c.want, err)
			}
		})
	}
	// The top-level patch is named when it is the one at fault.
	spec := strings.Replace(fmt.Sprintf(patchSpec, harmlessPatches), "argocd.argoproj.io/sync-wave: \"5\"", "argocd.argoproj.io/sync-wave: \"5\"\n    spec: {project: other}", 1)
	_, err := render.Render(mustLoad(t, spec), mustProfiles(t))
	if err == nil || !strings.Contains(err.Error(), "patches.application: runner \"plain\": the patch changes spec.project") {
		t.Errorf("top-level patch not named: %v", err)
	}
	// Once, not once per runner.
	var inv *config.InvalidError
	if !errors.As(err, &inv) || len(inv.Errors) != 1 {
		t.Errorf("want one error for the top-level patch, got %v", err)
	}
}

// TestPatchTightensQuietly: a patch that changes a hardened field to
// something as strict or stricter is not a loosening.
func TestPatchTightensQuietly(t *testing.T) {
	res, err := renderPatched(t, "      values: {securityContext: {readOnlyRootFilesystem: true, runAsUser: 1001, capabilities: {drop: [ALL, NET_RAW]}}}\n"+
		"      application: {spec: {syncPolicy: {managedNamespaceMetadata: {labels: {team: ci}}}}}\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings = %q, want none", res.Warnings)
	}
}

// TestPatchLoosens: a patch that weakens the profile's hardening is
// rendered, with a warning on stderr (Result.Warnings) and in the header
// of every file of the runner, as a loosening profile's.
func TestPatchLoosens(t *testing.T) {
	cases := []struct{ name, patches, want string }{
		{"privileged", "      values: {securityContext: {privileged: true}}\n", "values: securityContext.privileged is true (the runner pod runs privileged)"},
		{"escalation removed", "      values: {securityContext: {allowPrivilegeEscalation: null}}\n", "values: securityContext.allowPrivilegeEscalation is removed"},
		{"run as non-root false", "      values: {podSecurityContext: {runAsNonRoot: false}}\n", "values: podSecurityContext.runAsNonRoot is false"},
		{"root", "      values: {securityContext: {runAsUser: 0}}\n", "values: securityContext.runAsUser is 0 (the runner runs as root)"},
		{"capabilities drop removed", "      values: {securityContext: {capabilities: {drop: null}}}\n", "values: securityContext.capabilities.drop no longer drops ALL"},
		{"capability added", "      values: {securityContext: {capabilities: {add: [NET_ADMIN]}}}\n", "values: securityContext.capabilities.add adds NET_ADMIN"},
		{"seccomp unconfined", "      values: {podSecurityContext: {seccompProfile: {type: Unconfined}}}\n", "values: podSecurityContext.seccompProfile is Unconfined"},
		{"rbac wildcard", "      values: {rbac: {rules: []}}\n", "values: rbac differs from the profile's"},
		{"runner config", "      values: {runners: {config: \"[[runners]]\\n\"}}\n", "values: runners.config is replaced"},
		{"unregister", "      values: {unregisterRunners: true}\n", "values: unregisterRunners is true"},
		{"pod security", "      application: {spec: {syncPolicy: {managedNamespaceMetadata: {labels: {pod-security.kubernetes.io/enforce: privileged}}}}}\n",
			`application: spec.syncPolicy.managedNamespaceMetadata.labels["pod-security.kubernetes.io/enforce"] is privileged, looser than the profile's restricted`},
		{"egress", "      networkPolicy: {spec: {egress: [{}]}}\n", "networkPolicy: spec differs from what runnerctl generated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := renderPatched(t, c.patches)
			if err != nil {
				t.Fatal(err)
			}
			kind, why, _ := strings.Cut(c.want, ": ")
			want := fmt.Sprintf("patches.%s weakens the isolation of profile %q: %s", kind, "restricted", why)
			if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], `runner "ci": `+want) {
				t.Errorf("warnings = %q, want one starting %q", res.Warnings, want)
			}
			for _, f := range res.Files {
				inHeader := bytes.Contains(f.Content, []byte("\n# WARNING: "+want))
				if ci := strings.Contains(f.Path, "-ci"); inHeader != ci {
					t.Errorf("%s: warning in header = %v", f.Path, inHeader)
				}
			}
		})
	}
}

// TestPatchDeterministic: the same patches give the same bytes.
func TestPatchDeterministic(t *testing.T) {
	first, err := renderPatched(t, harmlessPatches)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		again, err := renderPatched(t, harmlessPatches)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(joinFiles(first), joinFiles(again)) {
			t.Fatalf("render %d differs from the first", i)
		}
	}
}
