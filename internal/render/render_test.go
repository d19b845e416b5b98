package render_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

var update = flag.Bool("update", false, "rewrite golden files with the current output")

// baseSpec is a complete runnerctl.yaml for one backend; {{.Backend}} and
// {{.Profile}} are filled per test case.
const baseSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.example.com/gitlab/
gitops:
  repoURL: https://gitlab.example.com/platform/gitops.git
  revision: main
secrets:
  backend: %s
  store:
    name: %s-store
runners:
  - name: ci
    profile: %s
`

func mustLoad(t testing.TB, spec string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("runnerctl.yaml", []byte(spec))
	if err != nil {
		t.Fatalf("parse spec: %v\n%s", err, spec)
	}
	return cfg
}

func mustProfiles(t testing.TB) *profile.Set {
	t.Helper()
	ps, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// joinFiles is the whole render as one text, each file under its path.
func joinFiles(res *render.Result) []byte {
	var b bytes.Buffer
	for _, f := range res.Files {
		fmt.Fprintf(&b, "### %s\n%s", f.Path, f.Content)
	}
	return b.Bytes()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (rerun with -update after checking the change):\n%s", path, lineDiff(want, got))
	}
}

func lineDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("first difference at line %d:\n- %s\n+ %s", i+1, wl, gl)
		}
	}
	return ""
}

// TestGoldenProfilesBackends covers every profile with every backend.
func TestGoldenProfilesBackends(t *testing.T) {
	ps := mustProfiles(t)
	for _, backend := range config.Backends {
		for _, prof := range []string{"baseline", "restricted", "privileged-dind"} {
			t.Run(backend+"-"+prof, func(t *testing.T) {
				cfg := mustLoad(t, fmt.Sprintf(baseSpec, backend, backend, prof))
				res, err := render.Render(cfg, ps)
				if err != nil {
					t.Fatal(err)
				}
				checkWellFormed(t, res)
				golden(t, backend+"-"+prof, joinFiles(res))
			})
		}
	}
}

// TestGoldenFeatures covers the seed's "what I'd change" options.
func TestGoldenFeatures(t *testing.T) {
	ps := mustProfiles(t)
	cases := map[string]string{
		"multi-runner-cache-hpa-netpol": `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com"}
gitops: {repoURL: "git@gitlab.example.com:platform/gitops.git", paths: {applications: apps/runners, manifests: k8s/runners, values: helm/runners}}
argocd: {namespace: argo, project: ci, destination: {name: prod}}
chart: {version: 0.85.1, runnerVersion: 18.9.0}
secrets:
  backend: vault
  esoAPIVersion: v1beta1
  refreshInterval: 1h
  store: {kind: SecretStore, name: vault}
  vault: {mount: kv, path: "ci/{runner}/token", property: value}
runners:
  - name: shared
    profile: restricted
    concurrent: 8
    registration: {description: shared runner, tags: [k8s, linux]}
    cache:
      shared: true
      s3:
        serverAddress: minio.minio.svc:9000
        bucketName: runner-cache
        insecure: true
        credentials:
          accessKey: {key: ci/cache, property: access}
          secretKey: {key: ci/cache, property: secret}
    autoscaling: {minReplicas: 2, maxReplicas: 6}
    networkPolicy:
      gitlabCIDRs: [203.0.113.10/32]
      registryCIDRs: [0.0.0.0/0]
      apiServerCIDRs: [10.96.0.1/32, 192.0.2.0/28]
  - name: app-heavy
    namespace: ci-heavy
    profile: restricted
    image: golang:1.26
    jobResources: {requests: {cpu: "2", memory: 4Gi, ephemeralStorage: 10Gi}, limits: {cpu: "4", memory: 8Gi}}
    registration: {scope: {type: project, path: my-org/app}, tags: [heavy], runUntagged: false, locked: true, accessLevel: ref_protected, maximumTimeout: 7200}
    runnerImage: {tag: ubuntu-v18.9.0}
    metrics: true
    networkPolicy:
      flavor: cilium
      fqdns: [registry.example.com, "*.docker.io"]
      extraPorts: [8443]
`,
		// A self-managed GitLab on a non-default port behind a private CA:
		// one CA Secret per runner, in the runner's namespace, keyed by the
		// host without the port.
		"gitlab-ca-file": `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.corp.example:8443/gitlab/
  tls: {caFile: testdata/gitlab-ca.pem}
gitops: {repoURL: "https://gitlab.corp.example:8443/gitlab/ops/gitops.git", revision: main}
secrets: {backend: vault, store: {name: vault}}
runners:
  - name: ci
  - name: edge
    namespace: ci-edge
    profile: baseline
    networkPolicy: {gitlabCIDRs: [10.20.0.10/32], apiServerCIDRs: [10.96.0.1/32]}
`,
		// A cluster on ESO 1.3, whose CRD also defaults three fields of
		// every remoteRef.
		"eso-1.3": `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: aws, esoVersion: "1.3", store: {name: aws}}
runners:
  - name: ci
    cache:
      s3:
        serverAddress: s3.amazonaws.com
        bucketName: runner-cache
        credentials:
          accessKey: {key: ci/cache, property: accessKeyId}
          secretKey: {key: ci/cache, property: secretAccessKey}
`,
		"gitlab-ca-secret": `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.corp.example/
  tls: {secretName: corp-root-ca}
gitops: {repoURL: "https://gitlab.corp.example/ops/gitops.git"}
secrets: {backend: gcp, store: {name: gcp}}
runners:
  - name: ci
`,
	}
	for name, spec := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := render.Render(mustLoad(t, spec), ps)
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, res)
			golden(t, name, joinFiles(res))
		})
	}
}

// TestGoldenReloader covers runnerPod.restartOnSecretChange: reloader, set in
// a repository's profile that extends a built-in one: the Deployment names
// the token Secret, plus the cache credentials Secret when there is one; a
// runner on a profile without the option gets no annotation.
func TestGoldenReloader(t *testing.T) {
	ps, err := profile.Load("testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	spec := `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
runners:
  - name: ci
    profile: restricted-reloader
  - name: cached
    profile: restricted-reloader
    cache:
      s3:
        serverAddress: minio.minio.svc:9000
        bucketName: runner-cache
        credentials:
          accessKey: {key: ci/cache, property: access}
          secretKey: {key: ci/cache, property: secret}
  - name: plain
    profile: restricted
`
	res, err := render.Render(mustLoad(t, spec), ps)
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, res)
	golden(t, "reloader", joinFiles(res))

	want := map[string]string{
		"values/gitlab-runner-ci.yaml":     "gitlab-runner-ci-token",
		"values/gitlab-runner-cached.yaml": "gitlab-runner-cached-token,gitlab-runner-cached-cache-s3",
		"values/gitlab-runner-plain.yaml":  "",
	}
	for _, f := range res.Files {
		w, ok := want[f.Path]
		if !ok {
			continue
		}
		var v struct {
			DeploymentAnnotations map[string]string `json:"deploymentAnnotations"`
			PodAnnotations        map[string]string `json:"podAnnotations"`
			Runners               struct {
				Secret string
				Cache  struct{ SecretName string } `json:"cache"`
			}
		}
		if err := sigsyaml.Unmarshal(f.Content, &v); err != nil {
			t.Fatal(err)
		}
		got := v.DeploymentAnnotations[render.ReloaderSecretAnnotation]
		if got != w || len(v.PodAnnotations) != 0 {
			t.Errorf("%s: deploymentAnnotations %v, podAnnotations %v; want %s: %q", f.Path, v.DeploymentAnnotations, v.PodAnnotations, render.ReloaderSecretAnnotation, w)
		}
		// The names are the Secrets the chart actually reads.
		if w != "" && !strings.HasPrefix(got, v.Runners.Secret) || v.Runners.Cache.SecretName != "" && !strings.HasSuffix(got, ","+v.Runners.Cache.SecretName) {
			t.Errorf("%s: annotation %q does not name runners.secret %q and runners.cache.secretName %q", f.Path, got, v.Runners.Secret, v.Runners.Cache.SecretName)
		}
		delete(want, f.Path)
	}
	if len(want) > 0 {
		t.Errorf("values files not rendered: %v", want)
	}
}

// checkWellFormed parses every generated document and the runner config
// inside each values file, so a golden file can never hold broken output:
// runners.config decodes strictly into runnerctl's model, and gitlab-runner
// 18.9.0 (the default chart's) knows every key in it.
func checkWellFormed(t *testing.T, res *render.Result) {
	t.Helper()
	checkWellFormedFor(t, res, "18.9.0", true)
}

// checkWellFormedFor is checkWellFormed for runner version v; model false
// skips the strict decoding into runnerctl's model, for runners.config
// holding runners[].extraConfig.
func checkWellFormedFor(t *testing.T, res *render.Result, v string, model bool) {
	t.Helper()
	rv, err := runnerkeys.Lookup(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if !bytes.HasPrefix(f.Content, []byte(render.Header)) {
			t.Errorf("%s: missing header", f.Path)
		}
		dec := yaml.NewDecoder(bytes.NewReader(f.Content))
		application := false
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if err != nil {
				if err.Error() != "EOF" {
					t.Errorf("%s: invalid YAML: %v", f.Path, err)
				}
				break
			}
			application = application || doc["kind"] == "Application" || doc["kind"] == "ApplicationSet" ||
				doc["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1" && doc["kind"] == "Kustomization"
			values := doc
			if doc["kind"] == "HelmRelease" {
				values = doc["spec"].(map[string]any)["values"].(map[string]any)
			}
			valuesFile := strings.Contains(f.Path, "values/") || strings.Contains(f.Path, "helm/")
			if doc["kind"] == "HelmRelease" || valuesFile {
				runners := values["runners"].(map[string]any)
				tomlText := untpl(t, runners["config"].(string))
				if _, err := render.DecodeRunnerConfig(tomlText); model && err != nil {
					t.Errorf("%s: runners.config: %v", f.Path, err)
				}
				for _, i := range rv.Check(tomlText) {
					t.Errorf("%s: runners.config for gitlab-runner %s: %s", f.Path, v, i.Msg)
				}
			}
			if !valuesFile && (doc["apiVersion"] == nil || doc["kind"] == nil) {
				t.Errorf("%s: document without apiVersion/kind", f.Path)
			}
		}
		// gitops writes Applications last and prunes them first.
		if render.Deploys(f.Content) != application {
			t.Errorf("%s: render.Deploys says %v", f.Path, !application)
		}
	}
}

// untpl runs text through Go's text/template the way the chart's tpl does,
// and returns what the runner would finally read.
func untpl(t testing.TB, s string) string {
	t.Helper()
	tmpl, err := template.New("config").Option("missingkey=error").Parse(s)
	if err != nil {
		t.Fatalf("runners.config is not a valid template: %v", err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, map[string]any{}); err != nil {
		t.Fatalf("runners.config does not execute as a template: %v", err)
	}
	return b.String()
}

func TestDeterministic(t *testing.T) {
	ps := mustProfiles(t)
	spec := fmt.Sprintf(baseSpec, "aws", "aws", "restricted")
	first, err := render.Render(mustLoad(t, spec), ps)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, err := render.Render(mustLoad(t, spec), mustProfiles(t))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(joinFiles(first), joinFiles(again)) {
			t.Fatalf("render %d differs from the first", i)
		}
	}
}

// TestProfileClaims checks the hardening each profile promises in the
// rendered values and runner config, not just in the golden text.
func TestProfileClaims(t *testing.T) {
	ps := mustProfiles(t)
	for _, prof := range []string{"baseline", "restricted", "privileged-dind"} {
		t.Run(prof, func(t *testing.T) {
			res, err := render.Render(mustLoad(t, fmt.Sprintf(baseSpec, "gcp", "gcp", prof)), ps)
			if err != nil {
				t.Fatal(err)
			}
			var vals struct {
				RBAC struct {
					Rules []struct{ APIGroups, Resources, Verbs []string } `json:"rules"`
				} `json:"rbac"`
				SecurityContext struct {
					RunAsNonRoot             bool                    `json:"runAsNonRoot"`
					AllowPrivilegeEscalation bool                    `json:"allowPrivilegeEscalation"`
					Capabilities             struct{ Drop []string } `json:"capabilities"`
					SeccompProfile           *struct{ Type string }  `json:"seccompProfile"`
				} `json:"securityContext"`
				UnregisterRunners bool                            `json:"unregisterRunners"`
				Runners           struct{ Config, Secret string } `json:"runners"`
			}
			var app struct {
				Spec struct {
					SyncPolicy struct {
						ManagedNamespaceMetadata *struct{ Labels map[string]string } `json:"managedNamespaceMetadata"`
					} `json:"syncPolicy"`
				} `json:"spec"`
			}
			for _, f := range res.Files {
				body := bytes.TrimPrefix(f.Content, []byte(render.Header))
				switch {
				case strings.HasPrefix(f.Path, "values/"):
					if err := sigsyaml.UnmarshalStrict(body, &vals); err != nil && !strings.Contains(err.Error(), "unknown field") {
						t.Fatal(err)
					}
					if err := sigsyaml.Unmarshal(body, &vals); err != nil {
						t.Fatal(err)
					}
				case strings.HasPrefix(f.Path, "argocd-apps/"):
					if err := sigsyaml.Unmarshal(body, &app); err != nil {
						t.Fatal(err)
					}
				}
			}
			if len(vals.RBAC.Rules) == 0 {
				t.Fatal("rbac.rules is empty: the chart would create a wildcard Role")
			}
			for _, r := range vals.RBAC.Rules {
				for _, s := range append(append(r.APIGroups, r.Resources...), r.Verbs...) {
					if s == "*" {
						t.Errorf("wildcard in RBAC rule %+v", r)
					}
				}
			}
			if !vals.SecurityContext.RunAsNonRoot || vals.SecurityContext.AllowPrivilegeEscalation ||
				len(vals.SecurityContext.Capabilities.Drop) != 1 || vals.SecurityContext.Capabilities.Drop[0] != "ALL" {
				t.Errorf("runner pod is not hardened: %+v", vals.SecurityContext)
			}
			if vals.Runners.Secret != "gitlab-runner-ci-token" {
				t.Errorf("runners.secret = %q", vals.Runners.Secret)
			}
			rc, err := render.DecodeRunnerConfig(untpl(t, vals.Runners.Config))
			if err != nil {
				t.Fatal(err)
			}
			k := rc.Runners[0].Kubernetes
			// Every profile leaves token rotation to rotate-token.
			if ff, ok := rc.Runners[0].FeatureFlags[render.FlagDisableAutomaticTokenRotation]; !ok || !ff {
				t.Errorf("%s: runner may rotate its own token: feature flags %v", prof, rc.Runners[0].FeatureFlags)
			}
			psa := app.Spec.SyncPolicy.ManagedNamespaceMetadata
			switch prof {
			case "baseline":
				if k.Privileged == nil || *k.Privileged || !vals.UnregisterRunners || psa != nil {
					t.Errorf("baseline: privileged=%v unregister=%v psa=%v", k.Privileged, vals.UnregisterRunners, psa)
				}
			case "restricted":
				if vals.UnregisterRunners || vals.SecurityContext.SeccompProfile == nil || vals.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
					t.Errorf("restricted runner pod: unregister=%v seccomp=%v", vals.UnregisterRunners, vals.SecurityContext.SeccompProfile)
				}
				if psa == nil || psa.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
					t.Errorf("restricted: namespace labels %v", psa)
				}
				for name, cs := range map[string]*render.ContainerSecurityContext{
					"build": k.BuildContainerSecurityContext, "helper": k.HelperContainerSecurityContext,
					"service": k.ServiceContainerSecurityContext, "init": k.InitPermissionsContainerSecurityContext,
				} {
					if cs == nil || cs.Capabilities == nil || strings.Join(cs.Capabilities.Drop, ",") != "ALL" ||
						cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
						t.Errorf("restricted: %s container security context %+v", name, cs)
					}
				}
				if ps := k.PodSecurityContext; ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
					t.Errorf("restricted: job pod security context %+v", ps)
				}
				if !rc.Runners[0].FeatureFlags["FF_USE_ADVANCED_POD_SPEC_CONFIGURATION"] || len(k.PodSpec) != 1 || !strings.Contains(k.PodSpec[0].Patch, "RuntimeDefault") {
					t.Errorf("restricted: job pods get no seccomp RuntimeDefault: %+v %+v", rc.Runners[0].FeatureFlags, k.PodSpec)
				}
				if k.AutomountServiceAccountToken == nil || *k.AutomountServiceAccountToken {
					t.Error("restricted: job pods mount a service account token")
				}
			case "privileged-dind":
				if k.Privileged == nil || !*k.Privileged {
					t.Error("privileged-dind: jobs are not privileged")
				}
				// Its own warning, and the one no profile can silence.
				if len(res.Warnings) != 2 || !strings.Contains(res.Warnings[0], "PRIVILEGED") || !strings.Contains(res.Warnings[1], "weakens isolation: jobs.privileged is true") {
					t.Errorf("privileged-dind: warnings %q", res.Warnings)
				}
				for _, f := range res.Files {
					if !bytes.Contains(f.Content, []byte("# WARNING: job pods run PRIVILEGED")) || !bytes.Contains(f.Content, []byte("# WARNING: this profile weakens isolation: ")) {
						t.Errorf("%s has no warning comment", f.Path)
					}
				}
			}
		})
	}
}

// TestSelfRotatingProfile: a repository's profile that lets the runner
// rotate its own token renders the flag off, keeps the other feature flags,
// and warns on every render and in every file, even though it empties its
// own warning field.
func TestSelfRotatingProfile(t *testing.T) {
	ps, err := profile.Load("testdata/profiles")
	if err != nil {
		t.Fatal(err)
	}
	spec := `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
runners:
  - name: ci
    profile: restricted-self-rotating
  - name: plain
    profile: restricted
`
	res, err := render.Render(mustLoad(t, spec), ps)
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, res)
	golden(t, "self-rotating", joinFiles(res))

	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], `runner "ci" (profile restricted-self-rotating): runnerToken.automaticRotation is true`) ||
		!strings.Contains(res.Warnings[0], "rotate-token") {
		t.Errorf("warnings %q, want one for runner ci's automatic token rotation", res.Warnings)
	}
	for _, f := range res.Files {
		warned := bytes.Contains(f.Content, []byte("\n# WARNING: runnerToken.automaticRotation is true"))
		if mine := strings.Contains(f.Path, "gitlab-runner-ci"); warned != mine {
			t.Errorf("%s: warning in the header = %v, want %v", f.Path, warned, mine)
		}
		if !strings.HasPrefix(f.Path, "values/") {
			continue
		}
		var v struct{ Runners struct{ Config string } }
		if err := sigsyaml.Unmarshal(f.Content, &v); err != nil {
			t.Fatal(err)
		}
		rc, err := render.DecodeRunnerConfig(untpl(t, v.Runners.Config))
		if err != nil {
			t.Fatal(err)
		}
		ff := rc.Runners[0].FeatureFlags
		wantDisabled := !strings.Contains(f.Path, "gitlab-runner-ci")
		if got, ok := ff[render.FlagDisableAutomaticTokenRotation]; !ok || got != wantDisabled || !ff[render.FlagUseAdvancedPodSpec] {
			t.Errorf("%s: feature flags %v, want %s = %v next to the seccomp patch's flag", f.Path, ff, render.FlagDisableAutomaticTokenRotation, wantDisabled)
		}
	}
}

func TestTplEscape(t *testing.T) {
	// Nothing in runnerctl.yaml validation lets "{{" reach the TOML today;
	// the escape is defence in depth, so test it on the model directly.
	ps := mustProfiles(t)
	cfg := mustLoad(t, fmt.Sprintf(baseSpec, "aws", "aws", "baseline"))
	cfg.Runners[0].Image = `evil{{ .Values.runnerToken }}"x`
	res, err := render.Render(cfg, ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		if !strings.HasPrefix(f.Path, "values/") {
			continue
		}
		var v struct{ Runners struct{ Config string } }
		if err := sigsyaml.Unmarshal(f.Content, &v); err != nil {
			t.Fatal(err)
		}
		rc, err := render.DecodeRunnerConfig(untpl(t, v.Runners.Config))
		if err != nil {
			t.Fatal(err)
		}
		if got := rc.Runners[0].Kubernetes.Image; got != cfg.Runners[0].Image {
			t.Errorf("image after tpl = %q, want %q", got, cfg.Runners[0].Image)
		}
	}
}

// TestGitLabCA checks what the runner needs to trust a private CA, in the
// rendered objects rather than in golden text: the Secret holds the checked
// certificates under HOST.crt, the values name it, and the Application
// deploys it.
func TestGitLabCA(t *testing.T) {
	ps := mustProfiles(t)
	spec := fmt.Sprintf(baseSpec, "aws", "aws", "restricted")
	spec = strings.Replace(spec, "  url: https://gitlab.example.com/gitlab/\n",
		"  url: https://gitlab.example.com:8443/gitlab/\n  tls: {caFile: testdata/gitlab-ca.pem}\n", 1)
	cfg := mustLoad(t, spec)
	res, err := render.Render(cfg, ps)
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, res)
	wantPEM, err := os.ReadFile("testdata/gitlab-ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	wantPEM = wantPEM[bytes.Index(wantPEM, []byte("-----BEGIN")):]
	files := map[string][]byte{}
	for _, f := range res.Files {
		files[f.Path] = f.Content
	}
	var sec struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct {
			Name, Namespace string
			Labels          map[string]string
		}
		Type       string
		StringData map[string]string `json:"stringData"`
	}
	if err := sigsyaml.UnmarshalStrict(files["manifests/gitlab-runner-ci-gitlab-ca.yaml"], &sec); err != nil {
		t.Fatalf("CA Secret: %v", err)
	}
	if sec.APIVersion != "v1" || sec.Kind != "Secret" || sec.Metadata.Name != "gitlab-runner-ci-gitlab-ca" || sec.Metadata.Namespace != "gitlab-runner" {
		t.Errorf("CA Secret: %+v", sec)
	}
	// The port is not part of the name gitlab-runner looks for.
	if len(sec.StringData) != 1 || sec.StringData["gitlab.example.com.crt"] != string(wantPEM) {
		t.Errorf("CA Secret data = %q, want gitlab.example.com.crt = the file's certificate", sec.StringData)
	}
	var vals struct {
		CertsSecretName string `json:"certsSecretName"`
	}
	if err := sigsyaml.Unmarshal(files["values/gitlab-runner-ci.yaml"], &vals); err != nil {
		t.Fatal(err)
	}
	if vals.CertsSecretName != "gitlab-runner-ci-gitlab-ca" {
		t.Errorf("certsSecretName = %q", vals.CertsSecretName)
	}
	var app struct {
		Spec struct {
			Sources []struct {
				Directory *struct{ Include string }
			}
		}
	}
	if err := sigsyaml.Unmarshal(files["argocd-apps/gitlab-runner-ci.yaml"], &app); err != nil {
		t.Fatal(err)
	}
	if got := app.Spec.Sources[2].Directory.Include; got != "{gitlab-runner-ci-external-secret.yaml,gitlab-runner-ci-gitlab-ca.yaml}" {
		t.Errorf("Application include = %q", got)
	}

	// A Config that did not go through Parse has no checked CA: render
	// refuses rather than emitting an empty Secret.
	cfg.GitLab.TLS = &config.GitLabTLS{CAFile: "testdata/gitlab-ca.pem"}
	if _, err := render.Render(cfg, ps); err == nil || !strings.Contains(err.Error(), "was not read") {
		t.Errorf("render of an unread CA file: %v", err)
	}
}
