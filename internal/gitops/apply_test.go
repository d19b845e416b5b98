package gitops

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
	"github.com/runnerctl/runnerctl/internal/profile"
	"github.com/runnerctl/runnerctl/internal/render"
)

// Generated files as render writes them, for runner name at generation gen.
func appFile(name, gen string) render.File {
	return render.File{Path: "argocd-apps/gitlab-runner-" + name + ".yaml",
		Content: []byte(render.Header + "# Runner \"" + name + "\"\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: " + gen + "\n")}
}

func valuesFile(name, gen string) render.File {
	return render.File{Path: "values/gitlab-runner-" + name + ".yaml",
		Content: []byte(render.Header + "gitlabUrl: " + gen + "\n")}
}

func secretFile(name, gen string) render.File {
	return render.File{Path: "manifests/gitlab-runner-" + name + "-external-secret.yaml",
		Content: []byte(render.Header + "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  name: " + gen + "\n")}
}

func runnerFiles(gen string, names ...string) []render.File {
	var files []render.File
	for _, n := range names {
		files = append(files, appFile(n, gen), valuesFile(n, gen), secretFile(n, gen))
	}
	return files
}

var managed = []string{"argocd-apps", "manifests", "values"}

func writeTree(t *testing.T, root string, files []render.File) {
	t.Helper()
	p, err := NewPlan(root, files, managed, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(); err != nil {
		t.Fatal(err)
	}
}

// tree maps each file under root to its content.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == ".runnerctl" {
			return filepath.SkipDir // the repository lock
		}
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		rel, _ := filepath.Rel(root, path)
		got[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestApplyOrder(t *testing.T) {
	old := runnerFiles("1", "gone", "kept")
	changes := []Change{
		{Path: old[0].Path, Action: Delete, Old: old[0].Content},
		{Path: old[1].Path, Action: Delete, Old: old[1].Content},
		{Path: old[2].Path, Action: Delete, Old: old[2].Content},
		{Path: old[3].Path, Action: Unchanged, Old: old[3].Content, New: old[3].Content},
	}
	for _, f := range runnerFiles("2", "new", "kept")[3:] {
		changes = append(changes, Change{Path: f.Path, Action: Update, New: f.Content})
	}
	for _, f := range runnerFiles("2", "new") {
		changes = append(changes, Change{Path: f.Path, Action: Create, New: f.Content})
	}
	var got [][]string
	for _, step := range ApplyOrder(changes) {
		var s []string
		for _, c := range step {
			s = append(s, string(c.Action)+" "+c.Path)
		}
		got = append(got, s)
	}
	want := [][]string{
		{"delete argocd-apps/gitlab-runner-gone.yaml"},
		{
			"create manifests/gitlab-runner-new-external-secret.yaml",
			"update manifests/gitlab-runner-kept-external-secret.yaml",
			"update values/gitlab-runner-kept.yaml",
			"create values/gitlab-runner-new.yaml",
		},
		{"update argocd-apps/gitlab-runner-kept.yaml", "create argocd-apps/gitlab-runner-new.yaml"},
		// Last: nothing written refers to them any more.
		{"delete manifests/gitlab-runner-gone-external-secret.yaml", "delete values/gitlab-runner-gone.yaml"},
	}
	slices.Sort(want[1])
	slices.Sort(got[1])
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("steps:\n%q\nwant\n%q", got, want)
	}
}

// A render that fails halfway (here: renaming one values file fails)
// leaves the Applications of removed runners deleted, and no Application
// written or updated: none refers to values or manifests that are not
// there, or not as planned. Every file is as before or as planned.
func TestApplyStoppedHalfway(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, runnerFiles("1", "gone", "kept", "zz"))
	before := tree(t, root)

	want := runnerFiles("2", "kept", "new", "zz")
	p, err := NewPlan(root, want, managed, false)
	if err != nil {
		t.Fatal(err)
	}
	// Between plan and apply, the last values file in ApplyOrder becomes a
	// non-empty directory: its rename fails.
	victim := filepath.Join(root, "values", "gitlab-runner-zz.yaml")
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(victim, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err = p.Apply()
	var partial *PartialError
	if !errors.As(err, &partial) || partial.Path != "values/gitlab-runner-zz.yaml" {
		t.Fatalf("Apply: %v, want a PartialError at values/gitlab-runner-zz.yaml", err)
	}
	if !strings.Contains(err.Error(), "no Application refers to a missing file") {
		t.Errorf("message %q does not say what state the files are in", err)
	}
	got := tree(t, root)
	for path, content := range got {
		if strings.Contains(path, "/.") {
			t.Errorf("temporary file left: %s", path)
		}
		if strings.HasPrefix(path, "argocd-apps/") && content != before[path] {
			t.Errorf("%s was written before every values file was", path)
		}
	}
	if _, ok := got["argocd-apps/gitlab-runner-gone.yaml"]; ok {
		t.Error("the removed runner's Application is still there")
	}
	if _, ok := got["argocd-apps/gitlab-runner-new.yaml"]; ok {
		t.Error("the new runner's Application was written")
	}
	for _, f := range runnerFiles("2", "kept", "new") {
		if f.Path[:strings.Index(f.Path, "/")] != "argocd-apps" && got[f.Path] != string(f.Content) {
			t.Errorf("%s: not written before the failure", f.Path)
		}
	}
	// Once the cause is gone, the next render finishes the job.
	if err := os.RemoveAll(victim); err != nil {
		t.Fatal(err)
	}
	writeTree(t, root, want)
	got = tree(t, root)
	if len(got) != len(want) {
		t.Errorf("%d files, want %d: %v", len(got), len(want), slices.Sorted(maps.Keys(got)))
	}
	for _, f := range want {
		if got[f.Path] != string(f.Content) {
			t.Errorf("%s not as rendered", f.Path)
		}
	}
}

// A failure before any file is replaced (a directory that cannot be made,
// a file that cannot be written) changes no file.
func TestApplyWriteFailureChangesNothing(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, runnerFiles("1", "a", "b"))
	before := tree(t, root)
	p, err := NewPlan(root, runnerFiles("2", "a", "b", "c"), managed, false)
	if err != nil {
		t.Fatal(err)
	}
	// manifests/ becomes a file: nothing can be written into it.
	if err := os.RemoveAll(filepath.Join(root, "manifests")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "manifests"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	delete(before, "manifests/gitlab-runner-a-external-secret.yaml")
	delete(before, "manifests/gitlab-runner-b-external-secret.yaml")
	before["manifests"] = ""
	err = p.Apply()
	if err == nil || !strings.Contains(err.Error(), "no file was changed") {
		t.Fatalf("Apply: %v, want an error saying no file was changed", err)
	}
	if got := tree(t, root); !maps.Equal(got, before) {
		t.Errorf("files changed:\n%v\nwant\n%v", got, before)
	}
}

// The temporary files a killed render left are removed by the next one
// (which holds the repository lock); other dot files stay.
func TestApplySweepsTemporaryFiles(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, runnerFiles("1", "a"))
	left := []string{"values/.gitlab-runner-a.yaml4611686018427387904", "argocd-apps/.gitlab-runner-gone.yaml1234567890"}
	kept := []string{"values/.gitlab-runner-a.yaml123", "values/.keep", "values/.gitlab-runner-a.yaml.bak1234567890x"}
	for _, f := range append(slices.Clone(left), kept...) {
		if err := os.WriteFile(filepath.Join(root, f), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeTree(t, root, runnerFiles("2", "a"))
	got := tree(t, root)
	for _, f := range left {
		if _, ok := got[f]; ok {
			t.Errorf("%s left", f)
		}
	}
	for _, f := range kept {
		if _, ok := got[f]; !ok {
			t.Errorf("%s removed", f)
		}
	}
}

// A fleet losing a cluster: its ApplicationSet (which deploys, and lists
// the cluster until rewritten) is written before the cluster's files are
// deleted, so that no generated Application ever points at values that
// are gone. Rendered from a real fleet, before and after.
func TestApplyOrderFleetLosesACluster(t *testing.T) {
	spec := func(clusters ...string) *config.Config {
		var b strings.Builder
		b.WriteString("apiVersion: runnerctl.dev/v1alpha1\nkind: Config\ngitlab: {url: https://gitlab.example.com/}\n" +
			"gitops: {repoURL: https://gitlab.example.com/gitops.git}\nsecrets: {backend: vault, store: {name: vault}}\nclusters:\n")
		for _, c := range []string{"eu", "us"} {
			b.WriteString("  - {name: " + c + ", destination: {server: https://" + c + ".example.com}}\n")
		}
		b.WriteString("runners:\n  - name: ci\n    clusters:\n")
		for _, c := range clusters {
			b.WriteString("      - name: " + c + "\n")
		}
		cfg, err := config.Parse("runnerctl.yaml", []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	ps, err := profile.Load("")
	if err != nil {
		t.Fatal(err)
	}
	files := func(cfg *config.Config) []render.File {
		res, err := render.Render(cfg, ps)
		if err != nil {
			t.Fatal(err)
		}
		return res.Files
	}
	root := t.TempDir()
	writeTree(t, root, files(spec("eu", "us")))
	p, err := NewPlan(root, files(spec("eu")), managed, false)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, step := range ApplyOrder(p.Pending()) {
		for _, c := range step {
			order = append(order, string(c.Action)+" "+c.Path)
		}
	}
	want := []string{
		"update argocd-apps/gitlab-runner-ci.yaml",
		"delete manifests/gitlab-runner-ci-us-external-secret.yaml",
		"delete values/gitlab-runner-ci-us.yaml",
	}
	if !slices.Equal(order, want) {
		t.Errorf("order:\n%q\nwant\n%q", order, want)
	}
}
