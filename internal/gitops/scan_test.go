package gitops

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/render"
)

func TestGeneratedDirs(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"old-apps/gitlab-runner-a.yaml":         render.Header + "kind: Application\n",
		"deep/er/values/gitlab-runner-a.yaml":   render.Header,
		"mine/gitlab-runner-b.yaml":             "# my own\n",
		"other/notes.yaml":                      render.Header,
		".git/x/gitlab-runner-a.yaml":           render.Header,
		"team/runnerctl.yaml":                   "apiVersion: runnerctl.dev/v1alpha1\n",
		"team/values/gitlab-runner-t.yaml":      render.Header,
		"short/gitlab-runner-c.yaml":            "# Gen",
		"argocd-apps/gitlab-runner-a.yaml":      render.Header,
		"argocd-apps/gitlab-runner-a.yaml.orig": render.Header,
	}
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirs, complete, err := GeneratedDirs(root, MaxScanEntries)
	if err != nil || !complete {
		t.Fatalf("complete %v, err %v", complete, err)
	}
	if want := []string{"argocd-apps", "deep/er/values", "old-apps"}; !slices.Equal(dirs, want) {
		t.Errorf("dirs = %q, want %q", dirs, want)
	}
	if _, complete, _ := GeneratedDirs(root, 5); complete {
		t.Error("a scan cut short says it is complete")
	}
	if dirs, complete, err := GeneratedDirs(filepath.Join(root, "nothing-here"), 10); err != nil || !complete || dirs != nil {
		t.Errorf("missing root: %q, %v, %v", dirs, complete, err)
	}
}

// TestPlanReadsBounded: a file in the way that is larger than any
// generated file is not read whole.
func TestPlanReadsBounded(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "values"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := append([]byte(render.Header), make([]byte, MaxFileSize)...)
	if err := os.WriteFile(filepath.Join(root, "values", "gitlab-runner-a.yaml"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := NewPlan(root, []render.File{{Path: "values/gitlab-runner-a.yaml", Content: []byte(render.Header)}}, []string{"values"}, true)
	if err == nil || !strings.Contains(err.Error(), "is larger than 4 MiB") {
		t.Errorf("NewPlan: %v", err)
	}
	if err := os.WriteFile(filepath.Join(root, "values", "gitlab-runner-b.yaml"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = NewPlan(root, nil, []string{"values"}, false)
	if err == nil || !strings.Contains(err.Error(), "is larger than 4 MiB") {
		t.Errorf("NewPlan pruning: %v", err)
	}
}
