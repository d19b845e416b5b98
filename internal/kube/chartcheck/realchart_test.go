package chartcheck

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/validate"
)

// publishedChart is the gitlab-runner chart 0.86.0 exactly as published,
// in the workplace's shared reference data (never copied into this
// repository).
const publishedChart = "../../../../shared/reference/gitlab-runner-chart-0.86.0/gitlab-runner-0.86.0.tgz"

func realChart(t *testing.T) *chart.Chart {
	t.Helper()
	if _, err := os.Stat(publishedChart); err != nil {
		t.Skipf("the published chart is not here (%v): it lives in ../shared/reference, outside the repository", err)
	}
	ch, err := loader.Load(publishedChart)
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Version != config.DefaultChartVersion {
		t.Fatalf("reference chart %s, but runnerctl's default is %s", ch.Metadata.Version, config.DefaultChartVersion)
	}
	return ch
}

// Every runner of every example, and every built-in profile with every
// backend, rendered by runnerctl, rendered again by the published chart:
// no error, the profile's claims hold, the Deployment is named as
// rotate-token expects, the token Secret's keys are mounted and
// runners.config reaches the runner. Warnings (values keys no template
// reads) are listed, and allowed only where the test says why.
func TestPublishedChart(t *testing.T) {
	ch := realChart(t)
	ctx := context.Background()
	check := func(t *testing.T, cfg *config.Config, profiles *profile.Set) {
		t.Helper()
		res, err := render.Render(cfg, profiles)
		if err != nil {
			t.Fatal(err)
		}
		// Each cluster of a runner with clusters has its own values.
		for _, r := range cfg.Instances() {
			p, err := profiles.Get(r.Profile)
			if err != nil {
				t.Fatal(err)
			}
			// The values file (each cluster's, for a runner with
			// clusters), or under gitops.engine flux the HelmRelease
			// whose spec.values they are.
			valuesPath := render.ValuesSourcePath(cfg, r)
			i := slices.IndexFunc(res.Files, func(f render.File) bool { return f.Path == valuesPath })
			if i < 0 {
				t.Fatalf("no values file %s", valuesPath)
			}
			values, err := validate.ChartValues(res.Files[i].Content)
			if err != nil {
				t.Fatalf("%s: %v", valuesPath, err)
			}
			in := Input{ValuesPath: valuesPath, Values: values, ReleaseName: "gitlab-runner-" + r.Name, Namespace: r.Namespace, Claims: validate.ClaimsOf(p)}
			for _, pr := range Check(ctx, ch, in) {
				if pr.Severity == validate.Error {
					t.Errorf("runner %q: %s", r.ID(), pr)
				} else {
					t.Logf("runner %q: %s", r.ID(), pr)
				}
			}
		}
	}
	examples, err := filepath.Glob("../../../examples/*/runnerctl.yaml")
	if err != nil || len(examples) == 0 {
		t.Fatalf("examples: %v %v", examples, err)
	}
	for _, spec := range examples {
		t.Run(filepath.Base(filepath.Dir(spec)), func(t *testing.T) {
			var profiles *profile.Set
			cfg, err := config.Load(spec, func(c *config.Config) []config.FieldError {
				var perr error
				profiles, perr = profile.Load(filepath.Join(filepath.Dir(spec), filepath.FromSlash(c.ProfilesDir)))
				if perr != nil {
					return []config.FieldError{{Path: "profilesDir", Msg: perr.Error()}}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			check(t, cfg, profiles)
		})
	}
	profiles, err := profile.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"infisical", "vault", "aws", "gcp"} {
		for _, name := range profiles.Names() {
			t.Run(backend+"/"+name, func(t *testing.T) {
				settings := map[string]string{"infisical": "  infisical:\n    projectSlug: runners\n", "gcp": "  gcp:\n    project: my-project\n"}[backend]
				spec := strings.NewReplacer("BACKEND", backend, "PROFILE", name, "  SETTINGS\n", settings).Replace(specTemplate)
				cfg, err := config.Parse("runnerctl.yaml", []byte(spec))
				if err != nil {
					t.Fatal(err)
				}
				check(t, cfg, profiles)
			})
		}
	}
}

const specTemplate = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.example.com/
gitops:
  repoURL: https://gitlab.example.com/ops/gitops.git
secrets:
  backend: BACKEND
  store:
    name: store
  SETTINGS
runners:
  - name: ci
    profile: PROFILE
`
