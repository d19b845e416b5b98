package render_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// fluxSpec has two runners sharing a namespace (one Namespace object, in
// the first runner's directory) and one of their own, an S3 cache, a
// network policy, autoscaling and a dependency.
const fluxSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com"}
gitops:
  repoURL: https://gitlab.example.com/platform/gitops.git
  engine: flux
  paths: {applications: clusters/prod/runners, manifests: runners}
flux: {dependsOn: [external-secrets]}
secrets: {backend: vault, store: {name: vault}}
runners:
  - name: ci
    cache:
      s3:
        serverAddress: minio.minio.svc:9000
        bucketName: runner-cache
        credentials:
          accessKey: {key: ci/cache, property: access}
          secretKey: {key: ci/cache, property: secret}
  - name: docker
    profile: privileged-dind
    namespace: ci-dind
    networkPolicy: {gitlabCIDRs: [10.20.0.10/32], apiServerCIDRs: [10.96.0.1/32]}
  - name: batch
    autoscaling: {minReplicas: 1, maxReplicas: 4, targetAverageJobs: "3"}
`

func TestGoldenFlux(t *testing.T) {
	ps := mustProfiles(t)
	for name, spec := range map[string]string{
		"flux": fluxSpec,
		// An OCI chart repository, a source in another namespace, and
		// GitLab's CA from a file.
		"flux-oci": strings.NewReplacer(
			"gitlab: {url: \"https://gitlab.example.com\"}", "gitlab: {url: \"https://gitlab.example.com\", tls: {caFile: testdata/gitlab-ca.pem}}",
			"flux: {dependsOn: [external-secrets]}", "flux: {namespace: gitops, sourceRef: {kind: OCIRepository, name: platform, namespace: flux-system}, interval: 1h}\nchart: {repoURL: \"oci://registry.example.com/charts/\"}",
		).Replace(fluxSpec),
	} {
		t.Run(name, func(t *testing.T) {
			cfg := mustLoad(t, spec)
			res, err := render.Render(cfg, ps)
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, res)
			golden(t, name, joinFiles(res))
		})
	}
}

// TestFluxLayout checks what the golden files show, so that a careless
// -update cannot bless a broken layout: each runner's directory lists its
// files and nothing else, the Kustomization applies that directory, the
// Namespace is written once, and the Deployment's name rotate-token looks
// for is the release's.
func TestFluxLayout(t *testing.T) {
	res, err := render.Render(mustLoad(t, fluxSpec), mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range res.Files {
		files[f.Path] = f.Content
	}
	namespaces := 0
	for _, r := range []string{"ci", "docker", "batch"} {
		dir := "runners/gitlab-runner-" + r
		kz, ok := files[dir+"/kustomization.yaml"]
		if !ok {
			t.Fatalf("no %s/kustomization.yaml", dir)
		}
		var listed []string
		for _, line := range strings.Split(string(kz), "\n") {
			if s, ok := strings.CutPrefix(line, "  - "); ok {
				listed = append(listed, s)
			}
		}
		var present []string
		for p := range files {
			if d, f, _ := strings.Cut(strings.TrimPrefix(p, dir+"/"), "/"); strings.HasPrefix(p, dir+"/") && f == "" && d != "kustomization.yaml" {
				present = append(present, d)
			}
		}
		if len(listed) != len(present) {
			t.Errorf("%s lists %q, holds %q", dir, listed, present)
		}
		for _, l := range listed {
			if _, ok := files[dir+"/"+l]; !ok {
				t.Errorf("%s/kustomization.yaml lists %s, which is not generated", dir, l)
			}
			if strings.HasSuffix(l, "-namespace.yaml") {
				namespaces++
			}
		}
		ks := files["clusters/prod/runners/gitlab-runner-"+r+".yaml"]
		if !bytes.Contains(ks, []byte("\n  path: ./"+dir+"\n")) || !render.Deploys(ks) {
			t.Errorf("the Kustomization of runner %s does not apply %s:\n%s", r, dir, ks)
		}
		hr := files[dir+"/gitlab-runner-"+r+"-helm-release.yaml"]
		if !bytes.Contains(hr, []byte("\n  releaseName: gitlab-runner-"+r+"\n")) {
			t.Errorf("runner %s: the release is not named gitlab-runner-%s, the Deployment rotate-token restarts", r, r)
		}
	}
	// ci and batch share gitlab-runner; docker has ci-dind.
	if namespaces != 2 {
		t.Errorf("%d Namespace files, want 2 (one per namespace)", namespaces)
	}
	if ns := files["runners/gitlab-runner-docker/gitlab-runner-docker-namespace.yaml"]; !bytes.Contains(ns, []byte("pod-security.kubernetes.io/enforce: privileged")) {
		t.Errorf("the namespace of the privileged-dind runner lacks its Pod Security label:\n%s", ns)
	}
	for p, c := range files {
		if strings.HasPrefix(p, "values/") || strings.HasPrefix(p, "manifests/") || strings.HasPrefix(p, "argocd-apps/") {
			t.Errorf("%s: an ArgoCD path under flux", p)
		}
		if bytes.Contains(c, []byte("argoproj.io")) {
			t.Errorf("%s names ArgoCD", p)
		}
	}
}

// fluxPatchSpec is fluxSpec's first runner with patches (%s, indented
// under it).
const fluxPatchSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com"}
gitops:
  repoURL: https://gitlab.example.com/platform/gitops.git
  engine: flux
  paths: {applications: clusters/prod/runners, manifests: runners}
secrets: {backend: vault, store: {name: vault}}
runners:
  - name: ci
    patches:
%s`

// TestFluxPatches: under flux, patches.application patches the
// HelmRelease, with its own owned fields; patches.values patches the
// values inside it, with the same checks as under ArgoCD.
func TestFluxPatches(t *testing.T) {
	ps := mustProfiles(t)
	res, err := render.Render(mustLoad(t, fmt.Sprintf(fluxPatchSpec, `      application:
        metadata: {annotations: {example.com/team: ci}}
        spec: {timeout: 10m, driftDetection: {mode: warn}}
      values:
        nodeSelector: {pool: ci}
        securityContext: {runAsNonRoot: false}
`)), ps)
	if err != nil {
		t.Fatal(err)
	}
	hr := ""
	for _, f := range res.Files {
		if strings.HasSuffix(f.Path, "-helm-release.yaml") {
			hr = string(f.Content)
		}
	}
	for _, want := range []string{
		"    example.com/team: ci\n",
		"  timeout: 10m\n",
		"    mode: warn\n",
		"  values:\n    gitlabUrl: https://gitlab.example.com\n",
		"    nodeSelector:\n      pool: ci\n",
		"# WARNING: patches.values weakens the isolation of profile \"restricted\": securityContext.runAsNonRoot is false",
		"# WARNING: patches.application weakens the isolation of profile \"restricted\": spec.driftDetection.mode is warn, not enabled",
	} {
		if !strings.Contains(hr, want) {
			t.Errorf("HelmRelease lacks %q:\n%s", want, hr)
		}
	}

	for _, c := range []struct{ patch, field, msg string }{
		{"      application:\n        spec: {values: {concurrent: 50}}\n", "runners[0].patches.application", "spec.values, which runnerctl sets"},
		{"      application:\n        spec: {chart: {spec: {version: 0.90.0}}}\n", "runners[0].patches.application", "spec.chart, which runnerctl sets"},
		{"      application:\n        spec: {releaseName: other}\n", "runners[0].patches.application", "rename the runner instead"},
		{"      application:\n        spec: {kubeConfig: {secretRef: {name: remote}}}\n", "runners[0].patches.application", "spec.kubeConfig"},
		{"      values:\n        runners: {secret: mine}\n", "runners[0].patches.values", "runners.secret"},
		{"      networkPolicy:\n        metadata: {labels: {a: b}}\n", "runners[0].patches.networkPolicy", "generates no networkPolicy object"},
	} {
		_, err := render.Render(mustLoad(t, fmt.Sprintf(fluxPatchSpec, c.patch)), ps)
		var inv *config.InvalidError
		if !errors.As(err, &inv) {
			t.Errorf("patch %q: err = %v, want an InvalidError", c.patch, err)
			continue
		}
		found := false
		for _, e := range inv.Errors {
			found = found || e.Path == c.field && strings.Contains(e.Msg, c.msg)
		}
		if !found {
			t.Errorf("patch %q: want %s containing %q, got %v", c.patch, c.field, c.msg, inv.Errors)
		}
	}
}

// TestFilesOf: FilesOf names every file render writes for a runner, under
// either engine, so that status can tell whose a pending file is.
func TestFilesOf(t *testing.T) {
	ps := mustProfiles(t)
	for name, spec := range map[string]string{"flux": fluxSpec, "argocd": strings.Replace(fluxSpec, "  engine: flux\n", "", 1)} {
		if name == "argocd" {
			spec = strings.Replace(spec, "flux: {dependsOn: [external-secrets]}\n", "", 1)
		}
		cfg := mustLoad(t, spec)
		res, err := render.Render(cfg, ps)
		if err != nil {
			t.Fatal(err)
		}
		owned := map[string]bool{}
		for i := range cfg.Runners {
			for _, p := range render.FilesOf(cfg, &cfg.Runners[i]) {
				owned[p] = true
			}
		}
		for _, f := range res.Files {
			if !owned[f.Path] {
				t.Errorf("%s: FilesOf does not name %s", name, f.Path)
			}
		}
		r := &cfg.Runners[0]
		if !slicesContains(res.Files, render.ValuesSourcePath(cfg, r)) {
			t.Errorf("%s: ValuesSourcePath %s is not generated", name, render.ValuesSourcePath(cfg, r))
		}
	}
}

func slicesContains(files []render.File, path string) bool {
	for _, f := range files {
		if f.Path == path {
			return true
		}
	}
	return false
}

// TestFluxHardenedAsArgoCD: the same runnerctl.yaml rendered for either
// engine gives the same values (the file under ArgoCD, spec.values under
// Flux), the same ExternalSecrets and egress policy, and the same Pod
// Security labels (the Application's managedNamespaceMetadata, the
// Namespace under Flux): the profiles harden both alike.
func TestFluxHardenedAsArgoCD(t *testing.T) {
	ps := mustProfiles(t)
	argoSpec := strings.NewReplacer("  engine: flux\n", "", "flux: {dependsOn: [external-secrets]}\n", "").Replace(fluxSpec)
	flux, err := render.Render(mustLoad(t, fluxSpec), ps)
	if err != nil {
		t.Fatal(err)
	}
	argo, err := render.Render(mustLoad(t, argoSpec), ps)
	if err != nil {
		t.Fatal(err)
	}
	docs := func(res *render.Result, path string) []map[string]any {
		t.Helper()
		for _, f := range res.Files {
			if f.Path != path {
				continue
			}
			var out []map[string]any
			for _, d := range strings.Split(string(f.Content), "\n---\n") {
				var m map[string]any
				if err := sigsyaml.Unmarshal([]byte(d), &m); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				out = append(out, m)
			}
			return out
		}
		t.Fatalf("no %s", path)
		return nil
	}
	for _, r := range []string{"ci", "docker", "batch"} {
		rel := "gitlab-runner-" + r
		values := docs(argo, "values/"+rel+".yaml")[0]
		hr := docs(flux, "runners/"+rel+"/"+rel+"-helm-release.yaml")[0]
		if got := hr["spec"].(map[string]any)["values"]; !reflect.DeepEqual(got, values) {
			t.Errorf("runner %s: the HelmRelease's values differ from ArgoCD's values file", r)
		}
		es := docs(argo, "runners/"+rel+"-external-secret.yaml")
		if got := docs(flux, "runners/"+rel+"/"+rel+"-external-secret.yaml"); !reflect.DeepEqual(got, es) {
			t.Errorf("runner %s: the ExternalSecrets differ:\n%v\n%v", r, got, es)
		}
		app := docs(argo, "clusters/prod/runners/"+rel+".yaml")[0]
		labels := app["spec"].(map[string]any)["syncPolicy"].(map[string]any)["managedNamespaceMetadata"].(map[string]any)["labels"].(map[string]any)
		matched := 0
		for _, f := range flux.Files {
			if !strings.HasSuffix(f.Path, "-namespace.yaml") {
				continue
			}
			ns := docs(flux, f.Path)[0]["metadata"].(map[string]any)
			if ns["name"] != app["spec"].(map[string]any)["destination"].(map[string]any)["namespace"] {
				continue
			}
			matched++
			for k, v := range labels {
				if ns["labels"].(map[string]any)[k] != v {
					t.Errorf("runner %s: Namespace %v label %s = %v, ArgoCD's %v", r, ns["name"], k, ns["labels"].(map[string]any)[k], v)
				}
			}
		}
		if matched != 1 || len(labels) == 0 {
			t.Errorf("runner %s: %d Namespaces of its namespace, %d labels under ArgoCD", r, matched, len(labels))
		}
	}
	np := docs(argo, "runners/gitlab-runner-docker-network-policy.yaml")
	if got := docs(flux, "runners/gitlab-runner-docker/gitlab-runner-docker-network-policy.yaml"); !reflect.DeepEqual(got, np) {
		t.Error("the egress policies differ")
	}
}
