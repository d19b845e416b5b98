package render_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/render"
)

// clusterValues is the part of a cluster's values the tests read.
type clusterValues struct {
	Concurrent   int               `json:"concurrent"`
	NodeSelector map[string]string `json:"nodeSelector"`
	PodLabels    map[string]string `json:"podLabels"`
	Resources    struct {
		Requests map[string]string `json:"requests"`
	} `json:"resources"`
	Runners struct{ Config, Secret string } `json:"runners"`
}

func valuesOf(t *testing.T, res *render.Result, p string) clusterValues {
	t.Helper()
	var v clusterValues
	if err := sigsyaml.Unmarshal(fileOf(t, res, p), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFleetOverrides: each cluster's values carry its overrides and the
// runner's settings elsewhere; the runner pod's and the job pods' node
// selectors are the cluster's; each cluster reads its own token.
func TestFleetOverrides(t *testing.T) {
	cfg := mustLoad(t, fleetList)
	res, err := render.Render(cfg, mustProfiles(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cluster      string
		concurrent   int
		cpu          string
		nodeSelector map[string]string
		podLabels    map[string]string
		tokenKey     string
	}{
		{"eu-1", 2, "100m", nil, nil, "gitlab/runners/build-eu-1"},
		{"eu-2", 6, "250m", nil, nil, "gitlab/runners/build-eu-2"},
		{"us-1", 8, "100m", map[string]string{"pool": "ci", "kubernetes.io/arch": "arm64"}, map[string]string{"zone": "us"}, "gitlab/runners/build-us-1"},
	} {
		t.Run(tc.cluster, func(t *testing.T) {
			v := valuesOf(t, res, "values/gitlab-runner-build-"+tc.cluster+".yaml")
			if v.Concurrent != tc.concurrent || v.Resources.Requests["cpu"] != tc.cpu {
				t.Errorf("concurrent %d, cpu request %q; want %d, %q", v.Concurrent, v.Resources.Requests["cpu"], tc.concurrent, tc.cpu)
			}
			if !maps.Equal(v.NodeSelector, tc.nodeSelector) || !maps.Equal(v.PodLabels, tc.podLabels) {
				t.Errorf("nodeSelector %v, podLabels %v; want %v, %v", v.NodeSelector, v.PodLabels, tc.nodeSelector, tc.podLabels)
			}
			rc, err := render.DecodeRunnerConfig(untpl(t, v.Runners.Config))
			if err != nil {
				t.Fatal(err)
			}
			if got := rc.Runners[0].Kubernetes.NodeSelector; !maps.Equal(got, tc.nodeSelector) {
				t.Errorf("job pods' node_selector %v, want %v", got, tc.nodeSelector)
			}
			if v.Runners.Secret != "gitlab-runner-build-token" {
				t.Errorf("runners.secret %q: every cluster's token Secret has the runner's name", v.Runners.Secret)
			}
			es := string(fileOf(t, res, "manifests/gitlab-runner-build-"+tc.cluster+"-external-secret.yaml"))
			if !strings.Contains(es, "key: "+tc.tokenKey+"\n") {
				t.Errorf("ExternalSecret does not read %s:\n%s", tc.tokenKey, es)
			}
			inst := cfg.Instance("build@" + tc.cluster)
			if ref, _ := cfg.TokenRef(inst); ref.Key != tc.tokenKey {
				t.Errorf("config.TokenRef says %q, the test %q", ref.Key, tc.tokenKey)
			}
		})
	}
	// A runner without clusters stays an Application of its own.
	if app := fileOf(t, res, "argocd-apps/gitlab-runner-single.yaml"); !bytes.Contains(app, []byte("\nkind: Application\n")) {
		t.Errorf("runner single is not an Application:\n%s", app)
	}
}

// TestFleetDeterministic: the same fleet renders to the same bytes.
func TestFleetDeterministic(t *testing.T) {
	ps := mustProfiles(t)
	first, err := render.Render(mustLoad(t, fleetList), ps)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		again, err := render.Render(mustLoad(t, fleetList), ps)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(joinFiles(first), joinFiles(again)) {
			t.Fatalf("render %d differs from the first", i)
		}
	}
}

// replaceOnce replaces from in s exactly once, failing when it is absent.
func replaceOnce(t *testing.T, s, from, to string) string {
	t.Helper()
	if !strings.Contains(s, from) {
		t.Fatalf("%q is not in the spec", from)
	}
	return strings.Replace(s, from, to, 1)
}

func fieldErrors(t *testing.T, err error) []config.FieldError {
	t.Helper()
	var inv *config.InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("want an InvalidError, got %v", err)
	}
	return inv.Errors
}

// TestFleetClusterPatches: a cluster's patch reaches only its cluster's
// objects and is refused, at its own path, where a runner's would be.
func TestFleetClusterPatches(t *testing.T) {
	ps := mustProfiles(t)
	const us1 = "        patches:\n          values:\n            podLabels: {zone: us}\n"
	for _, tc := range []struct {
		name, patch, path, msg string
	}{
		{"owned field", "        patches:\n          externalSecret:\n            spec:\n              target: {name: other}\n",
			"runners[1].clusters[2].patches.externalSecret", "the patch changes spec.target.name"},
		{"no such object", "        patches:\n          cacheExternalSecret:\n            metadata: {annotations: {a: b}}\n",
			"runners[1].clusters[2].patches.cacheExternalSecret", `runner "build" generates no cacheExternalSecret object`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render.Render(mustLoad(t, replaceOnce(t, fleetList, us1, tc.patch)), ps)
			errs := fieldErrors(t, err)
			if len(errs) != 1 || errs[0].Path != tc.path || !strings.Contains(errs[0].Msg, tc.msg) {
				t.Errorf("want one error at %s (%s), got %v", tc.path, tc.msg, errs)
			}
		})
	}
	t.Run("runner patch refused once for all clusters", func(t *testing.T) {
		spec := replaceOnce(t, fleetList, "    patches:\n      application:\n", "    patches:\n      externalSecret:\n        spec: {refreshInterval: null, secretStoreRef: {name: other}}\n      application:\n")
		_, err := render.Render(mustLoad(t, spec), ps)
		errs := fieldErrors(t, err)
		if len(errs) != 1 || errs[0].Path != "runners[1].patches.externalSecret" {
			t.Errorf("want one error at runners[1].patches.externalSecret, got %v", errs)
		}
	})
	t.Run("loosening warns for its cluster", func(t *testing.T) {
		loosen := "        patches:\n          values:\n            securityContext: {runAsNonRoot: false}\n"
		res, err := render.Render(mustLoad(t, replaceOnce(t, fleetList, us1, loosen)), ps)
		if err != nil {
			t.Fatal(err)
		}
		want := `runner "build": cluster "us-1": patches.values weakens the isolation of profile "restricted": securityContext.runAsNonRoot`
		found := false
		for _, w := range res.Warnings {
			found = found || strings.HasPrefix(w, want)
		}
		if !found {
			t.Errorf("no warning %q in %q", want, res.Warnings)
		}
		for p, warned := range map[string]bool{
			"values/gitlab-runner-build-us-1.yaml":                true,
			"values/gitlab-runner-build-eu-1.yaml":                false,
			"argocd-apps/gitlab-runner-build.yaml":                true,
			"manifests/gitlab-runner-single-external-secret.yaml": false,
		} {
			if got := bytes.Contains(fileOf(t, res, p), []byte("# WARNING: ")); got != warned {
				t.Errorf("%s: warning in its header %v, want %v", p, got, warned)
			}
		}
	})
}

// TestFleetNodeSelectorAndExtraConfig: a cluster's nodeSelector is set by
// runnerctl in the runner's config, so extraConfig may add other node
// labels but not set one of the cluster's.
func TestFleetNodeSelectorAndExtraConfig(t *testing.T) {
	ps := mustProfiles(t)
	withExtra := func(toml string) string {
		return replaceOnce(t, fleetList, "  - name: build\n", fmt.Sprintf("  - name: build\n    extraConfig: %q\n", toml))
	}
	res, err := render.Render(mustLoad(t, withExtra("[runners.kubernetes.node_selector]\ndisk = 'ssd'\n")), ps)
	if err != nil {
		t.Fatal(err)
	}
	v := valuesOf(t, res, "values/gitlab-runner-build-us-1.yaml")
	text := untpl(t, v.Runners.Config)
	for _, want := range []string{"disk = 'ssd'", "pool = 'ci'"} {
		if !strings.Contains(text, want) {
			t.Errorf("runners.config lacks %s:\n%s", want, text)
		}
	}
	_, err = render.Render(mustLoad(t, withExtra("[runners.kubernetes.node_selector]\npool = 'other'\n")), ps)
	if err == nil || !strings.Contains(err.Error(), "runners.kubernetes.node_selector.pool") {
		t.Errorf("extraConfig setting the cluster's node label: %v", err)
	}
}
