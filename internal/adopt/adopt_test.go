package adopt

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/shapes/*.txtar")

// article is the seed article, read at test time: its objects are the
// first golden case and are never copied into this repository.
const article = "../../../shared/seed/gitlab-runner-on-kubernetes.txt"

func builtins(t *testing.T) *profile.Set {
	t.Helper()
	s, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// blockStart is the line the article puts before each code block.
var blockStart = regexp.MustCompile(`^(yaml|toml)$`)

// codeLine is a line that continues a code block: indented, blank, a
// top-level YAML key, a list item, a comment or a TOML table header. Prose
// ends the block ("The Helm chart references this secret:" has spaces
// before its colon, so it is not a key).
var codeLine = regexp.MustCompile(`^(\s|$|[A-Za-z_][\w.-]*:(\s|$)|- |#|\[)`)

type block struct{ lang, text string }

// articleBlocks cuts the article's code blocks out of its text.
func articleBlocks(text string) []block {
	var out []block
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := blockStart.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		j := i + 1
		for j < len(lines) && codeLine.MatchString(lines[j]) {
			j++
		}
		out = append(out, block{m[1], strings.TrimRight(strings.Join(lines[i+1:j], "\n"), "\n ") + "\n"})
		i = j - 1
	}
	return out
}

// articleFiles assembles the article's setup as its reader writes it: the
// Application (with the sync policy the article shows apart, and every
// values snippet in its inline helm.values, where the article's
// "# ... more config" says they go) in argocd-apps/gitlab-runner.yaml and
// the ExternalSecret in manifests/gitlab-runner-external-secret.yaml, the
// paths of the article's "Files Reference".
func articleFiles(t *testing.T) []File {
	t.Helper()
	data, err := os.ReadFile(article)
	if err != nil {
		t.Skipf("the seed article is not here (%v): the golden case needs /work/shared/seed", err)
	}
	var app, es map[string]any
	values := map[string]any{}
	var tomlText string
	for _, b := range articleBlocks(string(data)) {
		if b.lang == "toml" {
			tomlText = b.text
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(b.text), &m); err != nil {
			t.Fatalf("article block does not decode: %v\n%s", err, b.text)
		}
		switch {
		case m["kind"] == "Application":
			app = m
		case m["kind"] == "ExternalSecret":
			es = m
		case m["stages"] != nil || m["build-image"] != nil:
			// .gitlab-ci.yml examples, not the runner's
		case m["syncPolicy"] != nil:
			if app == nil {
				t.Fatal("the sync policy comes before the Application")
			}
			app["spec"].(map[string]any)["syncPolicy"] = m["syncPolicy"]
		default:
			for k, v := range m {
				if k == "runners" {
					r := getMap(values, "runners")
					if r == nil {
						r = map[string]any{}
						values["runners"] = r
					}
					for rk, rv := range v.(map[string]any) {
						r[rk] = rv
					}
					continue
				}
				values[k] = v
			}
		}
	}
	if app == nil || es == nil || tomlText == "" {
		t.Fatalf("the article's Application, ExternalSecret or runners.config was not found (app %v, es %v)", app != nil, es != nil)
	}
	src := chartSource(app)
	var inline map[string]any
	if err := yaml.Unmarshal([]byte(getString(src, "helm", "values")), &inline); err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		inline[k] = v
	}
	getMap(inline, "runners")["config"] = tomlText
	text, err := yaml.Marshal(inline)
	if err != nil {
		t.Fatal(err)
	}
	src["helm"].(map[string]any)["values"] = string(text)
	return []File{
		{Path: "argocd-apps/gitlab-runner.yaml", Data: mustYAML(t, app)},
		{Path: "manifests/gitlab-runner-external-secret.yaml", Data: mustYAML(t, es)},
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestArticleRoundTrip imports the article's setup, renders the imported
// runnerctl.yaml again, and checks that every field where that render
// differs from the article's files is in the report with the same class,
// that no setting is unsupported, and that the settings the article makes
// come out identical.
func TestArticleRoundTrip(t *testing.T) {
	files := articleFiles(t)
	profiles := builtins(t)
	res, err := Import(files, Options{Name: "homelab", Profiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	checkRoundTrip(t, files, res, profiles)
	for _, l := range res.Report.Lines {
		if l.Class == Unsupported || l.Class == Leak {
			t.Errorf("the article's setup has a %s line: %+v", l.Class, l)
		}
	}
	if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool { return l.Field == "profile" && l.Class == Identical }) {
		t.Errorf("the report does not say that the hardening is exactly a profile's:\n%s", res.Report.Text())
	}
	if res.Profile != "baseline" {
		t.Errorf("profile = %q, want baseline (the article's hardening, exactly)", res.Profile)
	}
	for _, want := range []struct{ file, field string }{
		{"argocd-apps/gitlab-runner.yaml", "gitlabUrl"},
		{"argocd-apps/gitlab-runner.yaml", "concurrent"},
		{"argocd-apps/gitlab-runner.yaml", "runners.config.runners[0].kubernetes.image"},
		{"argocd-apps/gitlab-runner.yaml", "runners.config.runners[0].kubernetes.memory_limit"},
		{"argocd-apps/gitlab-runner.yaml", "rbac.rules[3].verbs"},
		{"argocd-apps/gitlab-runner.yaml", "podSecurityContext.fsGroup"},
		{"argocd-apps/gitlab-runner.yaml", "spec.syncPolicy.retry.backoff.maxDuration"},
		{"manifests/gitlab-runner-external-secret.yaml", "spec.secretStoreRef.name"},
		{"manifests/gitlab-runner-external-secret.yaml", "spec.data[0].remoteRef.key"},
		{"manifests/gitlab-runner-external-secret.yaml", "spec.target.template.data.runner-token"},
	} {
		if !slices.ContainsFunc(res.Report.Lines, func(l Line) bool {
			return l.File == want.file && l.Field == want.field && l.Class == Identical
		}) {
			t.Errorf("%s: %s is not identical after the round trip", want.file, want.field)
		}
	}
}

// checkRoundTrip renders the imported runnerctl.yaml as `runnerctl render`
// would, from its bytes, compares the runner's files with the input, and
// checks that every field that is not identical is in the report with the
// same class: the report hides no change that a render would make.
func checkRoundTrip(t *testing.T, files []File, res *Result, profiles Profiles) {
	t.Helper()
	var set render.Profiles = profiles
	if pf := res.ProfileFile; pf != nil {
		// The proposed profile, as the caller writes it into profilesDir.
		s, err := profiles.With(pf.Name+".yaml", pf.Data)
		if err != nil {
			t.Fatalf("the proposed profile does not load: %v\n%s", err, pf.Data)
		}
		set = s
	}
	text, err := config.Marshal(res.Config)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := config.Parse("runnerctl.yaml", text)
	if err != nil {
		t.Fatalf("the imported runnerctl.yaml does not load: %v\n%s", err, text)
	}
	out, err := render.Render(parsed, set)
	if err != nil {
		t.Fatalf("the imported runnerctl.yaml does not render: %v", err)
	}
	var mine []render.File
	for _, f := range out.Files {
		if strings.HasPrefix(filepath.Base(f.Path), render.FilePrefix+res.Runner) {
			mine = append(mine, f)
		}
	}
	docs, _, err := parseFiles(files)
	if err != nil {
		t.Fatal(err)
	}
	in, err := classify(docs)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := compare(in, mine, findLeaks(docs, in))
	if err != nil {
		t.Fatal(err)
	}
	if len(fresh) == 0 {
		t.Fatal("the comparison found nothing to compare")
	}
	for _, l := range fresh {
		if l.Class == Identical {
			continue
		}
		if !slices.ContainsFunc(res.Report.Lines, func(r Line) bool {
			return r.File == l.File && r.Object == l.Object && r.Field == l.Field && r.Class == l.Class
		}) {
			t.Errorf("render changes %s: %s: %s (%s: %s), and the report does not say so", l.File, l.Object, l.Field, l.Class, l.Detail)
		}
	}
}

// TestShapes imports each testdata/shapes/*.txtar: a real-world layout
// described in its comment, its hand-written files, and the runnerctl.yaml
// and report it must give (want/runnerctl.yaml, want/report.txt, or
// want/error.txt for input import must refuse; want/profile.yaml for a
// proposed profile). An optional "name" section
// is --name. go test -update rewrites the want sections.
func TestShapes(t *testing.T) {
	paths, err := filepath.Glob("testdata/shapes/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no shapes in testdata/shapes")
	}
	profiles := builtins(t)
	for _, p := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(p), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if len(bytes.TrimSpace(ar.Comment)) == 0 {
				t.Error("the shape has no comment saying which real-world layout it is")
			}
			var files []File
			var name string
			want := map[string][]byte{}
			for _, f := range ar.Files {
				switch {
				case strings.HasPrefix(f.Name, "want/"):
					want[f.Name] = f.Data
				case f.Name == "name":
					name = strings.TrimSpace(string(f.Data))
				default:
					files = append(files, File{Path: f.Name, Data: f.Data})
				}
			}
			got := map[string][]byte{}
			res, err := Import(files, Options{Name: name, Profiles: profiles})
			if err != nil {
				got["want/error.txt"] = []byte(err.Error() + "\n")
			} else {
				text, err := config.Marshal(res.Config)
				if err != nil {
					t.Fatal(err)
				}
				got["want/runnerctl.yaml"] = text
				got["want/report.txt"] = []byte(res.Report.Text())
				if res.ProfileFile != nil {
					got["want/profile.yaml"] = res.ProfileFile.Data
				}
				checkRoundTrip(t, files, res, profiles)
			}
			if *update {
				var kept []txtar.File
				for _, f := range ar.Files {
					if !strings.HasPrefix(f.Name, "want/") {
						kept = append(kept, f)
					}
				}
				for _, n := range slices.Sorted(maps.Keys(got)) {
					kept = append(kept, txtar.File{Name: n, Data: got[n]})
				}
				ar.Files = kept
				if err := os.WriteFile(p, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if len(want) == 0 {
				t.Fatalf("%s has no want sections: run go test ./internal/adopt -update and review them", p)
			}
			for n, g := range got {
				if w, ok := want[n]; !ok {
					t.Errorf("%s: no %s section, and import gave:\n%s\n(run -update and review)", p, n, g)
				} else if !bytes.Equal(w, g) {
					t.Errorf("%s: %s differs (run -update and review the change):\n--- want\n%s\n--- got\n%s", p, n, w, g)
				}
			}
			for n := range want {
				if _, ok := got[n]; !ok {
					t.Errorf("%s: has %s, but import gave no such result", p, n)
				}
			}
		})
	}
}
