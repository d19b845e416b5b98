package config_test

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

const minimal = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
gitlab:
  url: https://gitlab.com/
gitops:
  repoURL: https://gitlab.com/org/gitops.git
secrets:
  backend: vault
  store:
    name: vault
runners:
  - name: ci
`

func TestMinimalDefaults(t *testing.T) {
	cfg, err := config.Parse("runnerctl.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Runners[0]
	checks := map[string][2]any{
		"chart.version":      {cfg.Chart.Version, config.DefaultChartVersion},
		"chart.repoURL":      {cfg.Chart.RepoURL, "https://charts.gitlab.io"},
		"argocd.namespace":   {cfg.ArgoCD.Namespace, "argocd"},
		"destination.server": {cfg.ArgoCD.Destination.Server, "https://kubernetes.default.svc"},
		"eso":                {cfg.Secrets.ESOAPIVersion, "v1"},
		"store.kind":         {cfg.Secrets.Store.Kind, "ClusterSecretStore"},
		"vault.path":         {cfg.Secrets.Vault.Path, "gitlab/runners/{runner}"},
		"runner.namespace":   {r.Namespace, "gitlab-runner"},
		"runner.profile":     {r.Profile, "restricted"},
		"runner.sa":          {r.ServiceAccount, "gitlab-runner-ci"},
		"runner.concurrent":  {r.Concurrent, 2},
		"paths.values":       {cfg.GitOps.Paths.Values, "values"},
	}
	for name, c := range checks {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if got := cfg.ArgoCD.SyncPolicy; !reflect.DeepEqual(got, config.DefaultSyncPolicy()) {
		t.Errorf("sync policy = %+v", got)
	}
	ref, err := cfg.TokenRef(&cfg.Runners[0])
	if err != nil || ref.Key != "gitlab/runners/ci" || ref.Property != "runner-token" {
		t.Errorf("token ref = %+v, %v", ref, err)
	}
}

// TestDocumentedDefaults keeps the default:"..." tags that docs/config.md
// shows in line with what ApplyDefaults really does, for scalar fields.
func TestDocumentedDefaults(t *testing.T) {
	cfg, err := config.Parse("runnerctl.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			name := path + "." + strings.Split(f.Tag.Get("yaml"), ",")[0]
			if name == ".flux" {
				continue // defaulted only under gitops.engine flux: TestFluxDefaults
			}
			if def, ok := f.Tag.Lookup("default"); ok && !strings.ContainsAny(def, " [") && !strings.Contains(def, "NAME") {
				var got string
				switch fv := v.Field(i); fv.Kind() {
				case reflect.String:
					got = fv.String()
				case reflect.Int, reflect.Int64:
					got = strconv.FormatInt(fv.Int(), 10)
				default:
					continue
				}
				checked++
				if got != def {
					t.Errorf("%s: documented default %q, applied %q", name, def, got)
				}
			}
			walk(v.Field(i), name)
		}
	}
	walk(reflect.ValueOf(cfg).Elem(), "")
	for i := range cfg.Runners {
		walk(reflect.ValueOf(&cfg.Runners[i]).Elem(), "runners[]")
	}
	if checked < 15 {
		t.Errorf("only %d documented defaults checked; the walk is broken", checked)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		spec string
		want []string // each must appear in the error
	}{
		{"unknown field with path and line", minimal + "    concurent: 3\n",
			[]string{"line 13: runners[0].concurent: unknown field \"concurent\""}},
		{"wrong type", strings.Replace(minimal, "  - name: ci\n", "  - name: ci\n    concurrent: lots\n", 1),
			[]string{"line 13: runners[0].concurrent: wrong type: string \"lots\" where a whole number is expected"}},
		{"bad name", strings.Replace(minimal, "name: ci", "name: CI_Runner", 1),
			[]string{"line 12: runners[0].name: \"CI_Runner\" is not a DNS label"}},
		{"several problems at once", strings.NewReplacer("https://gitlab.com/\n", "ftp://gitlab.com\n", "backend: vault", "backend: consul").Replace(minimal),
			[]string{"gitlab.url: \"ftp://gitlab.com\" must start with https:// or http://", "secrets.backend: \"consul\" is not one of infisical, vault, aws, gcp", "(2 problems)"}},
		{"credentials in URL", strings.Replace(minimal, "https://gitlab.com/org", "https://user:glpat-secret@gitlab.com/org", 1),
			[]string{"gitops.repoURL: must not contain credentials"}},
		{"path escape", minimal + "profilesDir: ../elsewhere\n", []string{"profilesDir: \"../elsewhere\" must be a clean relative path"}},
		{"absolute output path", strings.Replace(minimal, "  repoURL: https://gitlab.com/org/gitops.git\n", "  repoURL: https://gitlab.com/org/gitops.git\n  paths: {values: /etc}\n", 1),
			[]string{"gitops.paths.values: \"/etc\" must be a clean relative path"}},
		{"duplicate runner", minimal + "  - name: ci\n", []string{"runners[1].name: \"ci\" is already used by runners[0]"}},
		{"shared token location", strings.Replace(minimal, "    name: vault\n", "    name: vault\n  vault: {path: gitlab/shared}\n", 1) + "  - name: other\n",
			[]string{"runners[1].tokenSecret: token location \"gitlab/shared\" is already used by runners[0]"}},
		{"other backend block", strings.Replace(minimal, "    name: vault\n", "    name: vault\n  infisical: {}\n", 1),
			[]string{"line 11: secrets.infisical: is set but secrets.backend is \"vault\""}},
		{"wrong apiVersion", strings.Replace(minimal, "v1alpha1", "v1", 1), []string{"apiVersion: \"runnerctl.dev/v1\" is not supported"}},
		{"empty", "", []string{"the file is empty"}},
		{"two documents", minimal + "---\nkind: Config\n", []string{"more than one YAML document"}},
		{"syntax", "apiVersion: [", []string{"YAML syntax"}},
		{"control character", strings.Replace(minimal, "name: ci", "name: \"c\\u0007i\"", 1), []string{"control character"}},
		{"untagged without tags", minimal + "    registration: {runUntagged: false}\n", []string{"runners[0].registration.runUntagged: is false but no tags are set"}},
		{"tag with comma", minimal + "    registration: {tags: [\"a,b\"]}\n", []string{"registration.tags[0]: \"a,b\" must have no commas"}},
		{"51 tags", minimal + "    registration: {tags: [" + strings.Repeat("t,", 50) + "t]}\n", []string{"runners[0].registration.tags: has 51 tags; GitLab allows at most 50"}},
		{"note leaves no room for the marker", minimal + "    registration: {maintenanceNote: " + strings.Repeat("é", 991) + "}\n", []string{"runners[0].registration.maintenanceNote: is longer than 990 characters"}},
		{"bad quantity", minimal + "    jobResources: {limits: {memory: 2GB}}\n", []string{"runners[0].jobResources.limits.memory: \"2GB\" is not a Kubernetes quantity"}},
		{"cache without credentials", minimal + "    cache: {s3: {serverAddress: minio:9000, bucketName: cache}}\n", []string{"runners[0].cache.s3.credentials: is required with authenticationType access-key"}},
		{"netpol fqdn without cilium", minimal + "    networkPolicy: {fqdns: [x.example.com], gitlabCIDRs: [1.2.3.4/32], apiServerCIDRs: [10.0.0.1/32]}\n", []string{"networkPolicy.fqdns: needs flavor cilium"}},
		{"bad cidr", minimal + "    networkPolicy: {flavor: cilium, gitlabCIDRs: [1.2.3.4]}\n", []string{"networkPolicy.gitlabCIDRs[0]: \"1.2.3.4\" is not a CIDR"}},
		{"chart range", minimal + "chart: {version: \"~0.86\"}\n", []string{"chart.version: \"~0.86\" is not an exact chart version"}},
		{"long name", strings.Replace(minimal, "name: ci", "name: "+strings.Repeat("a", 40), 1), []string{"is longer than 39 characters"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("runnerctl.yaml", []byte(c.spec))
			if err == nil {
				t.Fatal("invalid spec accepted")
			}
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.ExitCode() != 2 {
				t.Errorf("error %T is not an InvalidError with exit code 2", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestExtraChecksGetLines(t *testing.T) {
	check := func(*config.Config) []config.FieldError {
		return []config.FieldError{{Path: "runners[0].profile", Msg: "unknown profile"}}
	}
	_, err := config.Parse("runnerctl.yaml", []byte(minimal+"    profile: nope\n"), check)
	if err == nil || !strings.Contains(err.Error(), "line 13: runners[0].profile: unknown profile") {
		t.Fatalf("got %v", err)
	}
}

// TestESOVersion: secrets.esoVersion picks the ExternalSecret API version
// unless esoAPIVersion is given, and a file that only says v1beta1 (as
// files did before esoVersion existed) means an ESO before 0.17.
func TestESOVersion(t *testing.T) {
	withSecrets := func(extra string) string {
		return strings.Replace(minimal, "    name: vault\n", "    name: vault\n"+extra, 1)
	}
	for _, c := range []struct {
		extra, version, api string
	}{
		{"", "2.9", "v1"},
		{"  esoVersion: \"1.3\"\n", "1.3", "v1"},
		{"  esoVersion: 1.3\n", "1.3", "v1"},
		{"  esoVersion: \"0.16\"\n", "0.16", "v1beta1"},
		{"  esoAPIVersion: v1beta1\n", "0.16", "v1beta1"},
		{"  esoAPIVersion: v1\n", "2.9", "v1"},
	} {
		cfg, err := config.Parse("runnerctl.yaml", []byte(withSecrets(c.extra)))
		if err != nil {
			t.Errorf("%q: %v", c.extra, err)
			continue
		}
		if s := cfg.Secrets; s.ESOVersion != c.version || s.ESOAPIVersion != c.api {
			t.Errorf("%q: esoVersion %q, esoAPIVersion %q; want %q, %q", c.extra, s.ESOVersion, s.ESOAPIVersion, c.version, c.api)
		}
	}
	for extra, want := range map[string]string{
		"  esoVersion: \"2.5\"\n":                           `line 11: secrets.esoVersion: "2.5" is not an ESO release line runnerctl renders for; use one of 2.9, 1.3, 0.16`,
		"  esoVersion: v2.9.0\n":                            `secrets.esoVersion: "v2.9.0" is not an ESO release line`,
		"  esoVersion: \"2.9\"\n  esoAPIVersion: v1beta1\n": `line 12: secrets.esoAPIVersion: v1beta1 is not served by ESO 2.9, which serves ExternalSecrets in v1 only`,
		"  esoVersion: \"0.16\"\n  esoAPIVersion: v1\n":     `secrets.esoAPIVersion: v1 is not served by ESO 0.16, which serves ExternalSecrets in v1beta1 only`,
		"  esoAPIVersion: v2\n":                             `secrets.esoAPIVersion: "v2" is not one of v1, v1beta1`,
	} {
		_, err := config.Parse("runnerctl.yaml", []byte(withSecrets(extra)))
		var inv *config.InvalidError
		if !errors.As(err, &inv) || inv.ExitCode() != 2 || len(inv.Errors) != 1 || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: want one field error containing %q (exit 2), got %v", extra, want, err)
		}
	}
}
