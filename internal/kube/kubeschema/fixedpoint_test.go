package kubeschema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/validate"
	"github.com/runnerctl/runnerctl/internal/validate/upstream"
)

var crdDirs sync.Map // directory -> map[path][]byte

// readCRDDir reads every *.yaml file of dir once per test binary.
func readCRDDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	if files, ok := crdDirs.Load(dir); ok {
		return files.(map[string][]byte)
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no CRD files in %s (%v)", dir, err)
	}
	files := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[p] = b
	}
	crdDirs.Store(dir, files)
	return files
}

// releaseValidator knows ArgoCD v3.5.7's CRDs and the ESO CRDs that a
// render for ESO release line rel is checked against (upstream.ESO). It
// skips the test when those are ESO v2.9.0's and ../shared/reference is
// absent.
func releaseValidator(t *testing.T, rel string) (v *Validator, what string) {
	t.Helper()
	argo, err := upstream.ArgoCD()
	if err != nil {
		t.Fatalf("ArgoCD CRDs: %v", err)
	}
	eso, release, err := upstream.ESO(rel)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("ESO %s CRDs are not here (%v): this part needs ../shared/reference from the repository root", release, err)
	}
	if err != nil {
		t.Fatalf("ESO %s CRDs: %v", release, err)
	}
	flux, err := upstream.Flux()
	if err != nil {
		t.Fatalf("Flux CRDs: %v", err)
	}
	v = New()
	// Drift is what the test lists itself, field by field.
	v.AllowDrift = true
	for _, dir := range append([]string{argo, eso}, flux...) {
		for p, b := range readCRDDir(t, dir) {
			if ps := v.AddCRDs(p, b); len(ps) > 0 {
				t.Fatalf("AddCRDs(%s): %s", p, dump(ps))
			}
		}
	}
	what = fmt.Sprintf("ESO %s + ArgoCD %s + %s", release, upstream.Modules[0].Version, fluxVersions())
	if r, _ := config.ESOReleaseOf(rel); r.APIVersion == "v1beta1" {
		// Current ESO releases define external-secrets.io/v1beta1 without
		// serving it: a v1beta1 render is checked against that schema,
		// the newest v1beta1 there is.
		v.serveAll = true
		what = fmt.Sprintf("ESO %s's v1beta1 schema (not served there) + ArgoCD %s + %s", release, upstream.Modules[0].Version, fluxVersions())
	}
	return v, what
}

// fluxVersions names the pinned Flux controllers.
func fluxVersions() string {
	var parts []string
	for _, m := range upstream.FluxModules {
		parts = append(parts, m.Name+" "+m.Version)
	}
	return strings.Join(parts, ", ")
}

// mustAdmit are the kinds (GROUP/KIND) every generated object of which
// must be admitted: those whose CRDs the validator has.
var mustAdmit = map[string]bool{
	"argoproj.io/Application":                   true,
	"argoproj.io/ApplicationSet":                true,
	"external-secrets.io/ExternalSecret":        true,
	"helm.toolkit.fluxcd.io/HelmRelease":        true,
	"source.toolkit.fluxcd.io/HelmRepository":   true,
	"source.toolkit.fluxcd.io/OCIRepository":    true,
	"kustomize.toolkit.fluxcd.io/Kustomization": true,
}

// fixedPointCase is one runnerctl.yaml to render.
type fixedPointCase struct {
	name     string
	cfg      *config.Config
	profiles *profile.Set
}

// exampleCases loads every example under examples/ (but ci/, which holds
// pipeline templates) as runnerctl loads it.
func exampleCases(t *testing.T) []fixedPointCase {
	t.Helper()
	entries, err := os.ReadDir("../../../examples")
	if err != nil {
		t.Fatal(err)
	}
	var cases []fixedPointCase
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "ci" {
			continue
		}
		dir := filepath.Join("../../../examples", e.Name())
		var ps *profile.Set
		cfg, err := config.Load(filepath.Join(dir, "runnerctl.yaml"), func(cfg *config.Config) []config.FieldError {
			var perr error
			if ps, perr = profile.Load(filepath.Join(dir, filepath.FromSlash(cfg.ProfilesDir))); perr != nil {
				return []config.FieldError{{Path: "profilesDir", Msg: perr.Error()}}
			}
			return render.Check(cfg, ps)
		})
		if err != nil {
			t.Fatalf("example %s: %v", e.Name(), err)
		}
		cases = append(cases, fixedPointCase{name: "examples/" + e.Name(), cfg: cfg, profiles: ps})
	}
	if len(cases) == 0 {
		t.Fatal("no examples found")
	}
	return cases
}

// matrixSpec has every kind of custom resource runnerctl renders: the
// Application, the token's ExternalSecret and the S3 cache credentials'
// ExternalSecret (two remote references).
const matrixSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: %s, store: {name: store}}
runners:
  - name: ci
    profile: %s
    cache:
      s3:
        serverAddress: minio.minio.svc:9000
        bucketName: runner-cache
        credentials:
          accessKey: {key: ci/cache, property: access}
          secretKey: {key: ci/cache, property: secret}
`

// matrixCases are every built-in profile with every backend.
func matrixCases(t *testing.T) []fixedPointCase {
	return profileBackendCases(t, "", func(backend, prof string) string { return fmt.Sprintf(matrixSpec, backend, prof) })
}

// profileBackendCases are the runnerctl.yaml files spec makes for every
// backend and built-in profile, named after both with prefix.
func profileBackendCases(t *testing.T, prefix string, spec func(backend, prof string) string) []fixedPointCase {
	t.Helper()
	ps, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	var cases []fixedPointCase
	for _, backend := range config.Backends {
		for _, prof := range ps.Names() {
			cases = append(cases, parseCase(t, prefix+prof+"×"+backend, spec(backend, prof), ps))
		}
	}
	return cases
}

// parseCase loads spec as runnerctl.yaml, with the built-in profiles ps.
func parseCase(t *testing.T, name, spec string, ps *profile.Set) fixedPointCase {
	t.Helper()
	cfg, err := config.Parse("runnerctl.yaml", []byte(spec), func(cfg *config.Config) []config.FieldError { return render.Check(cfg, ps) })
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return fixedPointCase{name: name, cfg: cfg, profiles: ps}
}

// fluxMatrixSpec is matrixSpec under gitops.engine flux, with an egress
// policy as well; chart is the chart's repoURL (https or oci), which
// decides the chart's source kind.
const fluxMatrixSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops:
  repoURL: "https://gitlab.example.com/platform/gitops.git"
  engine: flux
  paths: {applications: clusters/prod/runners, manifests: runners}
flux: {dependsOn: [external-secrets], sourceRef: {namespace: gitops}}
chart: {repoURL: %q}
secrets: {backend: %s, store: {name: store}}
runners:
  - name: ci
    profile: %s
    autoscaling: {minReplicas: 1, maxReplicas: 3, targetAverageJobs: "2"}
    networkPolicy: {gitlabCIDRs: [10.20.0.10/32], apiServerCIDRs: [10.96.0.1/32]}
    cache:
      s3:
        serverAddress: minio.minio.svc:9000
        bucketName: runner-cache
        credentials:
          accessKey: {key: ci/cache, property: access}
          secretKey: {key: ci/cache, property: secret}
`

// fluxMatrixCases are every built-in profile with every backend under
// flux, from an https chart repository and from an OCI one.
func fluxMatrixCases(t *testing.T) []fixedPointCase {
	var cases []fixedPointCase
	for _, chart := range []string{"https://charts.gitlab.io", "oci://registry.example.com/charts"} {
		cases = append(cases, profileBackendCases(t, "flux "+chart+" ", func(backend, prof string) string {
			return fmt.Sprintf(fluxMatrixSpec, chart, backend, prof)
		})...)
	}
	return cases
}

// fleetSpec deploys runners to clusters, one ApplicationSet each, with
// generator %s, every per-cluster override, a cache, a network policy and
// an application patch on the template.
const fleetSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
argocd:
  applicationSet: %s
clusters:
  - name: eu-1%s
  - name: us-1%s
runners:
  - name: ci
    cache:
      s3:
        serverAddress: minio.minio.svc:9000
        bucketName: runner-cache
        credentials:
          accessKey: {key: ci/cache, property: access}
          secretKey: {key: ci/cache, property: secret}
    networkPolicy: {gitlabCIDRs: [203.0.113.0/24], apiServerCIDRs: [10.0.0.1/32]}
    patches:
      application:
        metadata:
          annotations: {example.com/note: "{{ not a parameter }}"}
    clusters:
      - name: eu-1
      - name: us-1
        concurrent: 6
        tags: [us]
        nodeSelector: {pool: ci}
        resources: {requests: {cpu: 200m, memory: 256Mi}}
        patches:
          values: {podLabels: {zone: us}}
`

// fleetCases are fleetSpec with each generator.
func fleetCases(t *testing.T) []fixedPointCase {
	t.Helper()
	ps, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	var cases []fixedPointCase
	for name, spec := range map[string]string{
		"fleet-list":     fmt.Sprintf(fleetSpec, "{generator: list}", "\n    destination: {server: https://eu-1.example.com}", "\n    destination: {name: us-1}"),
		"fleet-clusters": fmt.Sprintf(fleetSpec, "{generator: clusters, selector: {fleet: ci}}", "", ""),
	} {
		cases = append(cases, parseCase(t, name, spec, ps))
	}
	slices.SortFunc(cases, func(a, b fixedPointCase) int { return strings.Compare(a.name, b.name) })
	return cases
}

// renderFor renders c for ESO release line rel, as runnerctl.yaml would
// with secrets.esoVersion: rel (and esoAPIVersion following it).
func renderFor(t *testing.T, c fixedPointCase, rel string) *render.Result {
	t.Helper()
	r, ok := config.ESOReleaseOf(rel)
	if !ok {
		t.Fatalf("no ESO release line %q", rel)
	}
	cfg := *c.cfg
	cfg.Secrets.ESOVersion, cfg.Secrets.ESOAPIVersion = r.Version, r.APIVersion
	res, err := render.Render(&cfg, c.profiles)
	if err != nil {
		t.Fatalf("%s: render: %v", c.name, err)
	}
	return res
}

// drift admits every object of every generated manifest and returns the
// fields whose stored form differs from the file, as
// "CASE FILE: OBJECT: CHANGE" lines, and how many custom resources were
// admitted.
func drift(t *testing.T, v *Validator, c fixedPointCase, res *render.Result, kinds map[string]int) (lines []string, admitted int) {
	t.Helper()
	for _, f := range res.Files {
		if strings.HasPrefix(f.Path, c.cfg.GitOps.Paths.Values+"/") {
			continue
		}
		docs, err := validate.SplitDocs(f.Content)
		if err != nil {
			t.Fatalf("%s %s: %v", c.name, f.Path, err)
		}
		for _, d := range docs {
			var raw map[string]any
			if err := d.Node.Decode(&raw); err != nil {
				t.Fatalf("%s %s: %v", c.name, f.Path, err)
			}
			doc, err := yaml.Marshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			a := v.Admit(context.Background(), doc)
			kind, _ := raw["kind"].(string)
			apiVersion, _ := raw["apiVersion"].(string)
			group, _, _ := strings.Cut(apiVersion, "/")
			if a.Stored == nil {
				if mustAdmit[group+"/"+kind] {
					t.Errorf("%s %s: %s not admitted:\n%s", c.name, f.Path, kind, dump(a.Problems))
				}
				continue
			}
			admitted++
			kinds[group+"/"+kind]++
			if validate.HasErrors(a.Problems) {
				t.Errorf("%s %s: invalid:\n%s", c.name, f.Path, dump(a.Problems))
			}
			meta, _ := raw["metadata"].(map[string]any)
			obj := fmt.Sprintf("%s %v/%v", kind, meta["namespace"], meta["name"])
			for _, ch := range Changes(a.Given, a.Stored) {
				lines = append(lines, fmt.Sprintf("%s %s: %s: %s", c.name, f.Path, obj, ch))
			}
			if kind == "ApplicationSet" {
				lines = append(lines, generatedDrift(t, v, c.name+" "+f.Path+": "+obj, a.Given)...)
			}
		}
	}
	return lines, admitted
}

// generatedDrift admits every Application that ApplicationSet set
// generates, as ArgoCD's controller creates them, and returns the fields
// whose stored form differs: the controller compares its Applications
// with the template on every reconcile, so each must be a fixed point too.
func generatedDrift(t *testing.T, v *Validator, where string, set map[string]any) []string {
	t.Helper()
	apps, ps := validate.GenerateApplications(set)
	if len(apps) == 0 || validate.HasErrors(ps) {
		t.Errorf("%s: no Application generated:\n%s", where, dump(ps))
	}
	var lines []string
	for _, app := range apps {
		doc, err := json.Marshal(app.Object)
		if err != nil {
			t.Fatal(err)
		}
		a := v.Admit(context.Background(), doc)
		if a.Stored == nil || validate.HasErrors(a.Problems) {
			t.Errorf("%s: %s: generated Application not admitted:\n%s", where, app.What, dump(a.Problems))
			continue
		}
		for _, ch := range Changes(a.Given, a.Stored) {
			lines = append(lines, fmt.Sprintf("%s: %s: generated Application: %s", where, app.What, ch))
		}
	}
	return lines
}

// TestGeneratedObjectsAreFixedPoints renders every example and every
// profile × backend for each ESO release line runnerctl renders for, and
// admits each custom resource as the API server would with that
// release's CRDs (and ArgoCD's): the stored object must equal the file
// field for field. A default the file leaves out would make the live
// object differ from it forever, and ArgoCD report it OutOfSync. Run it
// with -v for the count of differing fields per release line.
func TestGeneratedObjectsAreFixedPoints(t *testing.T) {
	cases := slices.Concat(exampleCases(t), matrixCases(t), fleetCases(t), fluxMatrixCases(t))
	for _, r := range config.ESOReleases {
		rel := r.Version
		t.Run("eso-"+rel, func(t *testing.T) {
			v, what := releaseValidator(t, rel)
			var all []string
			total := 0
			kinds := map[string]int{}
			for _, c := range cases {
				lines, n := drift(t, v, c, renderFor(t, c, rel), kinds)
				all = append(all, lines...)
				total += n
			}
			if total < 2*len(cases) {
				t.Errorf("only %d custom resources admitted for %d cases", total, len(cases))
			}
			for k := range mustAdmit {
				if kinds[k] == 0 {
					t.Errorf("no %s admitted: the cases do not cover it", k)
				}
			}
			t.Logf("%s: %d custom resources from %d runnerctl.yaml files, %d fields differ", what, total, len(cases), len(all))
			if len(all) > 0 {
				t.Errorf("%d fields of the generated objects differ from their stored form (%s):\n  %s", len(all), what, strings.Join(all, "\n  "))
			}
		})
	}
}
