package validate

import (
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/render"
)

func TestGenerated(t *testing.T) {
	values := map[string]bool{"values/a.yaml": true, "values/b.yaml": true, "values/c.yaml": true}
	files := []render.File{
		{Path: "values/a.yaml", Content: []byte("runners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        namespace = 'ci'\n        image = '{{`{{`}}x}}'\n")},
		{Path: "values/b.yaml", Content: []byte("runners:\n  config: |\n    [[runners]]\n      [runners.kubernetes]\n        privilegd = false\n")},
		{Path: "values/c.yaml", Content: []byte("runners:\n  secret: x\n")},
		{Path: "manifests/x.yaml", Content: []byte("# header\n---\napiVersion: v1\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: y}\n")},
		{Path: "manifests/bad.yaml", Content: []byte("a: [\n")},
	}
	ps := Generated(files, values)
	want := []string{
		"manifests/bad.yaml: not valid YAML",
		"manifests/x.yaml: kind: required (document 1, line 3)",
		"values/b.yaml: runners.config: unknown key \"runners.kubernetes.privilegd\" (TOML line 3): gitlab-runner ignores keys it does not know",
		"values/c.yaml: runners.config: missing",
	}
	if len(ps) != len(want) {
		t.Fatalf("want %d problems, got:\n%v", len(want), ps)
	}
	for i, p := range ps {
		if p.Severity != Error || !strings.HasPrefix(p.String(), want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, p.String(), want[i])
		}
	}
}

func TestRunnerConfigTypeMismatch(t *testing.T) {
	ps := RunnerConfig("v.yaml", "runners.config", "[[runners]]\n  [runners.kubernetes]\n    privileged = 'yes'\n")
	if len(ps) != 1 || !strings.Contains(ps[0].Message, "privileged") {
		t.Fatalf("want one problem naming the key, got %v", ps)
	}
}
