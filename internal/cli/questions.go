package cli

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/prompt"
)

// question is one input of init: a flag (and so an env var), where its
// value lives in runnerctl.yaml, and how to ask for it. One table drives
// flags, prompts, defaults from an existing file, and the list of what is
// missing in non-interactive mode.
type question struct {
	flag     string
	title    string
	help     string
	kind     string // text, bool, select, list, int
	options  func(s *initState) []prompt.Option
	def      func(s *initState) string // default when nothing else gives a value
	get      func(s *initState) string // value in the existing runnerctl.yaml ("" if none)
	set      func(s *initState, v string) error
	required func(s *initState) bool
	when     func(s *initState) bool // asked only when true
	// implicit: the default is runnerctl.yaml's own default, so an answer
	// equal to it is not written into the file.
	implicit bool
	// suggest offers a default in the prompt only, and says why: a value
	// that the user must choose, which a run without prompts never invents.
	suggest func(s *initState) (value, why string)
	// flagOpens takes the answer of a flag (or its variable) even when
	// when is false: the question is asked only where runnerctl.yaml
	// already uses what it sets, so that a wizard's questions, and the
	// lines piped to them in accessible mode, stay the same for everyone
	// else, who opt in with the flag.
	flagOpens bool
}

// initState is the configuration init is building.
type initState struct {
	raw      *config.Config
	runner   *config.Runner // raw.Runners[idx]
	idx      int
	profiles *profile.Set

	existing   []byte // runnerctl.yaml as it was read (empty if none)
	configPath string
	getenv     func(string) string
	// origin is the URL of the git remote init pushes to, the GitOps
	// repository URL's default (originDefault).
	origin, originRemote string
}

func (s *initState) reg() *config.Registration {
	if s.runner.Registration == nil {
		s.runner.Registration = &config.Registration{}
	}
	return s.runner.Registration
}

func always(*initState) bool { return true }

func strField(get func(s *initState) *string) (func(*initState) string, func(*initState, string) error) {
	return func(s *initState) string { return *get(s) },
		func(s *initState, v string) error { *get(s) = v; return nil }
}

func questions() []question {
	var qs []question
	add := func(q question) {
		if q.kind == "" {
			q.kind = "text"
		}
		if q.required == nil {
			q.required = func(*initState) bool { return false }
		}
		if q.when == nil {
			q.when = always
		}
		if q.def == nil {
			q.def = func(*initState) string { return "" }
		}
		qs = append(qs, q)
	}
	text := func(flag, title, help string, required bool, field func(s *initState) *string, def string) {
		get, set := strField(field)
		add(question{flag: flag, title: title, help: help, get: get, set: set, implicit: def != "",
			required: func(*initState) bool { return required },
			def:      func(*initState) string { return def }})
	}
	text("gitlab-url", "GitLab URL", "Base URL of your GitLab, for example https://gitlab.example.com/ (a path prefix such as /gitlab/ is fine).", true,
		func(s *initState) *string { return &s.raw.GitLab.URL }, "")
	text("repo-url", "GitOps repository URL", "Clone URL of this repository as ArgoCD reaches it (under gitops.engine flux only init uses it, for its commit and merge request: Flux reads the repository through its own GitRepository).", true,
		func(s *initState) *string { return &s.raw.GitOps.RepoURL }, "")
	qs[len(qs)-1].def = func(s *initState) string { return s.origin }
	text("name", "Runner name", "A DNS label: names the release gitlab-runner-NAME and the generated files.", true,
		func(s *initState) *string { return &s.runner.Name }, "")
	add(question{flag: "scope", implicit: true, title: "Runner scope", help: "Who may use the runner.", kind: "select",
		options: func(*initState) []prompt.Option {
			return []prompt.Option{{Value: "instance", Label: "instance: every project (needs an administrator's token)"},
				{Value: "group", Label: "group: the projects of one group"}, {Value: "project", Label: "project: one project"}}
		},
		def: func(*initState) string { return config.ScopeInstance },
		get: func(s *initState) string { return s.reg().Scope.Type },
		set: func(s *initState, v string) error { s.reg().Scope.Type = v; return nil }})
	add(question{flag: "scope-path", title: "Group or project path", help: "Full path, for example my-org or my-org/my-app.",
		when: func(s *initState) bool {
			return s.reg().Scope.Type == config.ScopeGroup || s.reg().Scope.Type == config.ScopeProject
		},
		required: func(s *initState) bool { return true },
		get:      func(s *initState) string { return s.reg().Scope.Path },
		set:      func(s *initState, v string) error { s.reg().Scope.Path = v; return nil }})
	add(question{flag: "description", implicit: true, title: "Description", help: "Shown in GitLab's runner list.",
		def: func(s *initState) string { return "runnerctl " + s.runner.Name },
		get: func(s *initState) string { return s.reg().Description },
		set: func(s *initState, v string) error { s.reg().Description = v; return nil }})
	add(question{flag: "tags", title: "Tags", help: "Comma-separated job tags this runner picks up (empty for none).", kind: "list",
		get: func(s *initState) string { return strings.Join(s.reg().Tags, ",") },
		set: func(s *initState, v string) error { s.reg().Tags = splitList(v); return nil }})
	// boolQ asks a yes/no question; get reports the file's value ("" when
	// unset, so that the default applies), set stores the answer.
	boolQ := func(flag, title, help string, def func(*initState) bool, get func(*initState) *bool, set func(*initState, bool), when func(*initState) bool) {
		add(question{flag: flag, title: title, help: help, kind: "bool", when: when, implicit: true,
			def: func(s *initState) string { return strconv.FormatBool(def(s)) },
			get: func(s *initState) string {
				if p := get(s); p != nil && *p {
					return "true"
				}
				return ""
			},
			set: func(s *initState, v string) error {
				b, err := parseYesNo(v)
				if err == nil {
					set(s, b)
				}
				return err
			}})
	}
	boolQ("run-untagged", "Run untagged jobs?", "Also pick up jobs without tags.",
		func(s *initState) bool { return len(s.reg().Tags) == 0 },
		func(s *initState) *bool { return s.reg().RunUntagged },
		func(s *initState, b bool) { s.reg().RunUntagged = &b }, always)
	boolQ("locked", "Lock to the current project?", "Project runners only.", func(*initState) bool { return false },
		func(s *initState) *bool { return &s.reg().Locked },
		func(s *initState, b bool) { s.reg().Locked = b },
		func(s *initState) bool { return s.reg().Scope.Type == config.ScopeProject })
	add(question{flag: "protected", implicit: true, title: "Protected branches and tags only?", help: "Run jobs of protected refs only (access level ref_protected).", kind: "bool",
		def: func(*initState) string { return "false" },
		get: func(s *initState) string {
			if s.reg().AccessLevel == "ref_protected" {
				return "true"
			}
			return ""
		},
		set: func(s *initState, v string) error {
			b, err := parseYesNo(v)
			if err == nil {
				s.reg().AccessLevel = map[bool]string{true: "ref_protected", false: "not_protected"}[b]
			}
			return err
		}})
	add(question{flag: "maximum-timeout", implicit: true, title: "Maximum job timeout (seconds)", help: "0 for none, else at least 600.", kind: "int",
		def: func(*initState) string { return "0" },
		get: func(s *initState) string {
			if s.reg().MaximumTimeout == 0 {
				return ""
			}
			return strconv.Itoa(s.reg().MaximumTimeout)
		},
		set: func(s *initState, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("%q is not a number of seconds", v)
			}
			s.reg().MaximumTimeout = n
			return nil
		}})
	boolQ("paused", "Pause the runner?", "A paused runner takes no jobs until resumed; init sets this in GitLab on every run.", func(*initState) bool { return false },
		func(s *initState) *bool { return &s.reg().Paused },
		func(s *initState, b bool) { s.reg().Paused = b }, always)
	add(question{flag: "maintenance-note", implicit: true, title: "Maintenance note", help: "Free text for administrators (optional).",
		get: func(s *initState) string { return s.reg().MaintenanceNote },
		set: func(s *initState, v string) error { s.reg().MaintenanceNote = v; return nil }})
	add(question{flag: "backend", title: "Secrets backend", help: "Where the runner token is stored; External Secrets Operator reads it from there.", kind: "select",
		options: func(*initState) []prompt.Option {
			return []prompt.Option{{Value: "infisical", Label: "infisical: Infisical (universal auth)"}, {Value: "vault", Label: "vault: HashiCorp Vault KV v2"},
				{Value: "aws", Label: "aws: AWS Secrets Manager"}, {Value: "gcp", Label: "gcp: GCP Secret Manager"}}
		},
		required: func(*initState) bool { return true },
		suggest:  suggestBackend,
		get:      func(s *initState) string { return s.raw.Secrets.Backend },
		set:      func(s *initState, v string) error { s.raw.Secrets.Backend = v; return nil }})
	text("store-name", "ESO store name", "Name of the ClusterSecretStore (or SecretStore) that reads this backend.", true,
		func(s *initState) *string { return &s.raw.Secrets.Store.Name }, "")
	qs[len(qs)-1].suggest = suggestStoreName
	backendQ := func(flag, backend, title, help string, required bool, field func(s *initState) *string) {
		get, set := strField(field)
		add(question{flag: flag, title: title, help: help, get: get, set: set, implicit: !required,
			when:     func(s *initState) bool { return s.raw.Secrets.Backend == backend },
			required: func(*initState) bool { return required }})
	}
	backendQ("infisical-project", "infisical", "Infisical project slug", "The project holding the runner tokens.", true,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.Infisical).ProjectSlug })
	backendQ("infisical-env", "infisical", "Infisical environment", "Environment slug, such as prod (default prod).", false,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.Infisical).Environment })
	backendQ("vault-mount", "vault", "Vault KV v2 mount", "Mount path of the KV version 2 engine (default secret).", false,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.Vault).Mount })
	backendQ("aws-region", "aws", "AWS region", "Region of Secrets Manager (empty: the SDK's default).", false,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.AWS).Region })
	backendQ("gcp-project", "gcp", "GCP project ID", "Project of Secret Manager.", true,
		func(s *initState) *string { return &ensure(&s.raw.Secrets.GCP).Project })
	add(question{flag: "profile", implicit: true, title: "Hardening profile", help: "How the runner and its job pods are locked down (runnerctl profiles show NAME).", kind: "select",
		options: func(s *initState) []prompt.Option {
			var opts []prompt.Option
			for _, n := range s.profiles.Names() {
				p, _ := s.profiles.Get(n)
				opts = append(opts, prompt.Option{Value: n, Label: n + ": " + firstSentence(p.Description)})
			}
			return opts
		},
		def: func(*initState) string { return config.DefaultProfile },
		get: func(s *initState) string { return s.runner.Profile },
		set: func(s *initState, v string) error { s.runner.Profile = v; return nil }})
	text("namespace", "Namespace", "Kubernetes namespace of the runner and its job pods.", false,
		func(s *initState) *string { return &s.runner.Namespace }, config.DefaultNamespace)
	add(question{flag: "clusters", title: "Clusters", kind: "list", flagOpens: true,
		help: "Deploy this runner to several clusters, one GitLab runner in each: comma-separated NAME=DESTINATION (the cluster's API server URL, or its name in ArgoCD), or NAME alone for a cluster runnerctl.yaml's clusters[] already has. Empty: one runner, deployed to argocd.destination.",
		when: func(s *initState) bool {
			return s.raw.GitOps.Engine != config.EngineFlux && (len(s.raw.Clusters) > 0 || len(s.runner.Clusters) > 0)
		},
		get: func(s *initState) string {
			var names []string
			for _, rc := range s.runner.Clusters {
				names = append(names, rc.Name)
			}
			return strings.Join(names, ",")
		},
		set: setClusters})
	text("chart-version", "Chart version", "Version of the gitlab-runner Helm chart.", false,
		func(s *initState) *string { return &s.raw.Chart.Version }, config.DefaultChartVersion)
	return qs
}

// ensure allocates *p when nil and returns it.
func ensure[T any](p **T) *T {
	if *p == nil {
		*p = new(T)
	}
	return *p
}

func splitList(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func envName(flag string) string {
	return strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// parseYesNo reads the answer to a yes/no question (a flag value, a
// RUNNERCTL_* variable, a line typed in accessible mode) as
// strconv.ParseBool does.
func parseYesNo(v string) (bool, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%q is not true or false", v)
	}
	return b, nil
}

// setClusters sets the clusters runner s.runner is deployed to from a
// list of NAME=DESTINATION or NAME (v, comma-separated). A new NAME gets
// its entry in clusters[] (without a destination under ArgoCD's cluster
// generator, which finds it by name); a known one keeps its destination,
// which is every runner's. init adds clusters and never drops one: a cluster's
// runner exists in GitLab and its token in the store, and dropping the
// entry would forget them while ArgoCD deleted the runner there.
func setClusters(s *initState, v string) error {
	r := s.runner
	if v == "" && len(r.Clusters) == 0 {
		return nil
	}
	if r.RunnerID != 0 && len(r.Clusters) == 0 {
		return fmt.Errorf("runner %q is one GitLab runner already (id %d), deployed to argocd.destination; a runner in clusters is one GitLab runner per cluster: give the clusters to a new runner (another --name)", r.Name, r.RunnerID)
	}
	byArgoCD := s.raw.ArgoCD.ApplicationSet.Generator == config.GeneratorClusters
	listed := map[string]bool{}
	for _, item := range splitList(v) {
		name, dest, hasDest := clusterItem(item)
		if listed[name] {
			return fmt.Errorf("cluster %q is listed twice", name)
		}
		listed[name] = true
		j := slices.IndexFunc(s.raw.Clusters, func(c config.Cluster) bool { return c.Name == name })
		switch {
		case j < 0 && !hasDest && byArgoCD:
			// ArgoCD's cluster generator gives the destination.
			s.raw.Clusters = append(s.raw.Clusters, config.Cluster{Name: name})
		case j < 0 && !hasDest:
			return fmt.Errorf("cluster %q is not in runnerctl.yaml's clusters[]: give it as %s=DESTINATION (its API server URL, or its name in ArgoCD)", name, name)
		case j < 0:
			s.raw.Clusters = append(s.raw.Clusters, config.Cluster{Name: name, Destination: destinationOf(dest)})
		case hasDest && s.raw.Clusters[j].Destination != destinationOf(dest):
			return fmt.Errorf("cluster %q is in clusters[%d] with another destination; give %q alone (a cluster's destination is every runner's: change it in runnerctl.yaml)", name, j, name)
		}
		if !slices.ContainsFunc(r.Clusters, func(rc config.RunnerCluster) bool { return rc.Name == name }) {
			r.Clusters = append(r.Clusters, config.RunnerCluster{Name: name})
		}
	}
	for _, rc := range r.Clusters {
		if !listed[rc.Name] {
			return fmt.Errorf("runner %q is deployed to cluster %q already, which the answer leaves out: init adds clusters and never removes one (remove it from runnerctl.yaml's runners[].clusters yourself, and its runner from GitLab)", r.Name, rc.Name)
		}
	}
	return nil
}

// clusterItem splits one item of a --clusters answer, NAME or
// NAME=DESTINATION.
func clusterItem(item string) (name, dest string, hasDest bool) {
	name, dest, hasDest = strings.Cut(item, "=")
	return strings.TrimSpace(name), strings.TrimSpace(dest), hasDest
}

// destinationOf reads the destination of a NAME=DESTINATION answer: an
// http(s) URL is the API server's, anything else the cluster's name in
// ArgoCD.
func destinationOf(dest string) config.Destination {
	if strings.HasPrefix(dest, "https://") || strings.HasPrefix(dest, "http://") {
		return config.Destination{Server: dest}
	}
	return config.Destination{Name: dest}
}
