package render_test

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"
	"text/template"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// clustersSpec is a fleet of two runners on three clusters, one of them
// reached by its ArgoCD name rather than its server, with every kind of
// per-cluster override. %s is the argocd block.
const clustersSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab: {url: "https://gitlab.example.com/"}
gitops: {repoURL: "https://gitlab.example.com/platform/gitops.git"}
secrets: {backend: vault, store: {name: vault}}
%s
clusters:
  - name: eu-1
%s
  - name: eu-2
%s
  - name: us-1
%s
runners:
  - name: single
  - name: build
    registration:
      tags: [docker]
    networkPolicy:
      gitlabCIDRs: [10.0.0.0/24]
      apiServerCIDRs: [10.96.0.1/32]
    patches:
      application:
        metadata:
          annotations:
            # Data, not an ApplicationSet template action: ArgoCD must
            # write it as is.
            runnerctl.dev/note: "{{ .server }} stays literal"
    clusters:
      - name: eu-1
        runnerID: 41
      - name: eu-2
        concurrent: 6
        resources:
          requests: {cpu: 250m, memory: 256Mi}
          limits: {cpu: "1", memory: 512Mi}
      - name: us-1
        concurrent: 8
        tags: [docker, us]
        nodeSelector:
          pool: ci
          kubernetes.io/arch: arm64
        patches:
          values:
            podLabels: {zone: us}
  - name: deploy
    profile: baseline
    namespace: deploy-runner
    clusters:
      - name: us-1
`

// fleetList and fleetClusters are clustersSpec for each generator.
var (
	fleetList = fmt.Sprintf(clustersSpec, "",
		"    destination: {server: https://eu-1.k8s.example.com}",
		"    destination: {server: https://eu-2.k8s.example.com}",
		"    destination: {name: us-1-prod}")
	fleetClusters = fmt.Sprintf(clustersSpec, "argocd:\n  applicationSet: {generator: clusters, selector: {runnerctl.dev/fleet: ci}}", "", "", "")
)

func TestGoldenFleet(t *testing.T) {
	for name, spec := range map[string]string{"fleet-list": fleetList, "fleet-clusters": fleetClusters} {
		t.Run(name, func(t *testing.T) {
			res, err := render.Render(mustLoad(t, spec), mustProfiles(t))
			if err != nil {
				t.Fatal(err)
			}
			checkWellFormed(t, res)
			golden(t, name, joinFiles(res))
		})
	}
}

// generatedApp is the part of a generated Application the tests read.
type generatedApp struct {
	Metadata struct {
		Name        string
		Namespace   string
		Labels      map[string]string
		Annotations map[string]string
	}
	Spec struct {
		Destination struct{ Server, Name, Namespace string }
		Sources     []struct {
			RepoURL string `yaml:"repoURL"`
			Chart   string
			Ref     string
			Path    string
			Helm    *struct {
				ReleaseName string   `yaml:"releaseName"`
				ValueFiles  []string `yaml:"valueFiles"`
			}
			Directory *struct{ Include string }
		}
	}
}

// appSet is the part of a generated ApplicationSet the tests read.
type appSet struct {
	Kind     string
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		GoTemplate        bool     `yaml:"goTemplate"`
		GoTemplateOptions []string `yaml:"goTemplateOptions"`
		Generators        []struct {
			List *struct {
				Elements []map[string]string
			}
			Clusters *struct {
				Selector struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				}
			}
			Selector *struct {
				MatchExpressions []struct {
					Key, Operator string
					Values        []string
				} `yaml:"matchExpressions"`
			}
		}
		Template yaml.Node
	}
}

func decodeAppSet(t *testing.T, content []byte) appSet {
	t.Helper()
	var s appSet
	if err := yaml.Unmarshal(content, &s); err != nil {
		t.Fatal(err)
	}
	if s.Kind != "ApplicationSet" {
		t.Fatalf("kind %q, want ApplicationSet", s.Kind)
	}
	return s
}

// generate does what ArgoCD's ApplicationSet controller does with the
// template for the parameters of one cluster (goTemplate with the set's
// options): every key and string of the template run as a Go template.
func generate(t *testing.T, s appSet, params map[string]any) (generatedApp, error) {
	t.Helper()
	var tmpl any
	if err := s.Spec.Template.Decode(&tmpl); err != nil {
		t.Fatal(err)
	}
	out, err := execAll(tmpl, params, s.Spec.GoTemplateOptions)
	if err != nil {
		return generatedApp{}, err
	}
	raw, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var app generatedApp
	if err := yaml.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	return app, nil
}

func execAll(v any, params map[string]any, opts []string) (any, error) {
	switch v := v.(type) {
	case string:
		tm, err := template.New("").Option(opts...).Parse(v)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		if err := tm.Execute(&b, params); err != nil {
			return nil, err
		}
		return b.String(), nil
	case map[string]any:
		out := map[string]any{}
		for k, item := range v {
			kk, err := execAll(k, params, opts)
			if err != nil {
				return nil, err
			}
			if out[kk.(string)], err = execAll(item, params, opts); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			var err error
			if out[i], err = execAll(item, params, opts); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// TestFleetGeneratesEachCluster generates every cluster's Application from
// the ApplicationSet as ArgoCD would and checks that it deploys that
// cluster's runner: its name, destination, the release shared by all
// clusters, and exactly the cluster's values and manifests files, which
// render wrote.
func TestFleetGeneratesEachCluster(t *testing.T) {
	for name, spec := range map[string]string{"list": fleetList, "clusters": fleetClusters} {
		t.Run(name, func(t *testing.T) {
			cfg := mustLoad(t, spec)
			res, err := render.Render(cfg, mustProfiles(t))
			if err != nil {
				t.Fatal(err)
			}
			written := map[string]bool{}
			for _, f := range res.Files {
				written[f.Path] = true
			}
			for _, def := range cfg.Runners {
				if len(def.Clusters) == 0 {
					continue
				}
				s := decodeAppSet(t, fileOf(t, res, render.ApplicationPath(cfg, &def)))
				if !s.Spec.GoTemplate || !slices.Equal(s.Spec.GoTemplateOptions, []string{"missingkey=error"}) {
					t.Errorf("runner %s: goTemplate %v, options %q", def.Name, s.Spec.GoTemplate, s.Spec.GoTemplateOptions)
				}
				params := paramsOf(t, cfg, s)
				if len(params) != len(def.Clusters) {
					t.Fatalf("runner %s: %d clusters generated, want %d", def.Name, len(params), len(def.Clusters))
				}
				for _, inst := range cfg.Instances() {
					if inst.Name != def.Name {
						continue
					}
					app, err := generate(t, s, params[inst.Cluster])
					if err != nil {
						t.Fatalf("%s: %v", inst.ID(), err)
					}
					checkGenerated(t, cfg, inst, app, written)
				}
			}
		})
	}
}

// paramsOf gives, per cluster name, the parameters the set's generator
// gives its template: the list's elements, or for the cluster generator
// what ArgoCD gives for a registered cluster (its name and server) that
// carries the selector's labels, filtered by the post-selector.
func paramsOf(t *testing.T, cfg *config.Config, s appSet) map[string]map[string]any {
	t.Helper()
	if len(s.Spec.Generators) != 1 {
		t.Fatalf("%d generators, want 1", len(s.Spec.Generators))
	}
	g := s.Spec.Generators[0]
	out := map[string]map[string]any{}
	switch {
	case g.List != nil:
		for _, e := range g.List.Elements {
			p := map[string]any{}
			for k, v := range e {
				p[k] = v
			}
			out[e["cluster"]] = p
		}
	case g.Clusters != nil:
		if !maps.Equal(g.Clusters.Selector.MatchLabels, cfg.ArgoCD.ApplicationSet.Selector) {
			t.Errorf("cluster selector %v, want %v", g.Clusters.Selector.MatchLabels, cfg.ArgoCD.ApplicationSet.Selector)
		}
		if g.Selector == nil || len(g.Selector.MatchExpressions) != 1 {
			t.Fatal("the cluster generator is not restricted to the runner's clusters")
		}
		m := g.Selector.MatchExpressions[0]
		if m.Key != "name" || m.Operator != "In" {
			t.Fatalf("post-selector %+v, want name In", m)
		}
		// Every cluster of clusters[] is registered and labelled; one
		// more, "other", too: only the listed ones may pass.
		for _, name := range append([]string{"other"}, clusterNames(cfg)...) {
			if slices.Contains(m.Values, name) {
				out[name] = map[string]any{"name": name, "server": "https://" + name + ".registered.example"}
			}
		}
	default:
		t.Fatal("neither a list nor a cluster generator")
	}
	return out
}

func clusterNames(cfg *config.Config) []string {
	var out []string
	for _, c := range cfg.Clusters {
		out = append(out, c.Name)
	}
	return out
}

func checkGenerated(t *testing.T, cfg *config.Config, inst *config.Runner, app generatedApp, written map[string]bool) {
	t.Helper()
	n := render.NamesOf(inst)
	if want := "gitlab-runner-" + inst.Name + "-" + inst.Cluster; app.Metadata.Name != want || n.Application != want {
		t.Errorf("%s: Application %q, NamesOf %q, want %q", inst.ID(), app.Metadata.Name, n.Application, want)
	}
	if app.Metadata.Namespace != cfg.ArgoCD.Namespace || app.Metadata.Labels["runnerctl.dev/runner"] != inst.Name {
		t.Errorf("%s: namespace %q, labels %v", inst.ID(), app.Metadata.Namespace, app.Metadata.Labels)
	}
	if inst.Name == "build" && app.Metadata.Annotations["runnerctl.dev/note"] != "{{ .server }} stays literal" {
		t.Errorf("%s: the patched annotation became %q", inst.ID(), app.Metadata.Annotations["runnerctl.dev/note"])
	}
	d := app.Spec.Destination
	want := inst.Destination
	if cfg.ArgoCD.ApplicationSet.Generator == config.GeneratorClusters {
		want = config.Destination{Server: "https://" + inst.Cluster + ".registered.example"}
	}
	if d.Server != want.Server || d.Name != want.Name || d.Namespace != inst.Namespace {
		t.Errorf("%s: destination %+v, want %+v in namespace %s", inst.ID(), d, want, inst.Namespace)
	}
	var sawChart, sawDir bool
	for _, s := range app.Spec.Sources {
		switch {
		case s.Helm != nil:
			sawChart = true
			if s.Helm.ReleaseName != n.Release || n.Release != "gitlab-runner-"+inst.Name {
				t.Errorf("%s: release %q, NamesOf %q", inst.ID(), s.Helm.ReleaseName, n.Release)
			}
			if want := []string{"$values/" + render.ValuesPath(cfg, inst)}; !slices.Equal(s.Helm.ValueFiles, want) {
				t.Errorf("%s: valueFiles %q, want %q", inst.ID(), s.Helm.ValueFiles, want)
			}
			if !written[render.ValuesPath(cfg, inst)] {
				t.Errorf("%s: values file %s not rendered", inst.ID(), render.ValuesPath(cfg, inst))
			}
		case s.Directory != nil:
			sawDir = true
			var want []string
			for p := range written {
				if path.Dir(p) == cfg.GitOps.Paths.Manifests && strings.HasPrefix(path.Base(p), n.Application+"-") {
					want = append(want, path.Base(p))
				}
			}
			slices.Sort(want)
			got := strings.Split(strings.Trim(s.Directory.Include, "{}"), ",")
			slices.Sort(got)
			if !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("%s: include %q, the cluster's manifests are %q", inst.ID(), s.Directory.Include, want)
			}
		}
	}
	if !sawChart || !sawDir {
		t.Errorf("%s: chart source %v, manifests source %v", inst.ID(), sawChart, sawDir)
	}
}

// TestFleetTemplateMissingKey checks that the template uses only
// parameters the generator gives: with missingkey=error, a cluster whose
// element lacked one would get no Application at all.
func TestFleetTemplateMissingKey(t *testing.T) {
	cfg := mustLoad(t, fleetList)
	res, err := render.Render(cfg, mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	s := decodeAppSet(t, fileOf(t, res, "argocd-apps/gitlab-runner-build.yaml"))
	if _, err := generate(t, s, map[string]any{"cluster": "eu-1"}); err == nil {
		t.Error("the template ran without the destination's parameters")
	}
	var execErr template.ExecError
	if _, err := generate(t, s, map[string]any{"cluster": "eu-1", "server": "s"}); !errors.As(err, &execErr) {
		t.Errorf("a missing destinationName gave %v, want a template execution error", err)
	}
}
