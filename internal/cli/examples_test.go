package cli

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// runQuiet runs one command line in-process with an empty environment.
func runQuiet(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Run(args, &factory{
		stdin: &bytes.Buffer{}, stdout: &out, stderr: &errb,
		getenv: func(string) string { return "" },
	})
	return code, out.String(), errb.String()
}

// exampleDirs lists the example repositories: every directory under
// examples/ except ci/, which holds pipeline templates, not a spec.
func exampleDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "ci" {
			dirs = append(dirs, e.Name())
		}
	}
	if len(dirs) == 0 {
		t.Fatal("no examples found")
	}
	return dirs
}

// TestExamplesUpToDate renders every example and fails when its committed
// output differs (regenerate with: go run ./cmd/runnerctl render --config
// examples/NAME/runnerctl.yaml). An example directory without a spec or a
// README is an error, not something to skip.
func TestExamplesUpToDate(t *testing.T) {
	for _, name := range exampleDirs(t) {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("../../examples", name)
			spec := filepath.Join(dir, "runnerctl.yaml")
			if _, err := os.Stat(spec); err != nil {
				t.Fatalf("every example needs a runnerctl.yaml: %v", err)
			}
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil {
				t.Fatalf("every example needs a README.md: %v", err)
			}
			if want := "render --config examples/" + name + "/runnerctl.yaml"; !bytes.Contains(readme, []byte(want)) {
				t.Errorf("README.md does not show how to render it (%q)", want)
			}
			code, stdout, stderr := runQuiet("render", "--check", "--config", spec)
			if code != ExitOK {
				t.Fatalf("render --check exited %d:\n%s%s", code, stdout, stderr)
			}
		})
	}
}

// TestExamplesCheckDetectsStaleOutput keeps TestExamplesUpToDate honest: a
// copy of each example with one generated file changed must fail render
// --check with a diff, and the copy as committed must pass.
func TestExamplesCheckDetectsStaleOutput(t *testing.T) {
	for _, name := range exampleDirs(t) {
		t.Run(name, func(t *testing.T) {
			dst := t.TempDir()
			if err := os.CopyFS(dst, os.DirFS(filepath.Join("../../examples", name))); err != nil {
				t.Fatal(err)
			}
			spec := filepath.Join(dst, "runnerctl.yaml")
			if code, stdout, stderr := runQuiet("render", "--check", "--config", spec); code != ExitOK {
				t.Fatalf("copy: render --check exited %d:\n%s%s", code, stdout, stderr)
			}
			values, err := filepath.Glob(filepath.Join(dst, "values", "*.yaml"))
			if err == nil && len(values) == 0 {
				// gitops.engine flux: the values are inside each runner's
				// HelmRelease, in its directory.
				values, err = filepath.Glob(filepath.Join(dst, "*", "*", "*-helm-release.yaml"))
			}
			if err != nil || len(values) == 0 {
				t.Fatalf("no rendered values committed in examples/%s (values/ or a HelmRelease): %v", name, err)
			}
			f, err := os.OpenFile(values[0], os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.WriteString("concurrent: 99\n")
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runQuiet("render", "--check", "--config", spec)
			if code != ExitFailure || !strings.Contains(stdout, "+concurrent: 99") && !strings.Contains(stdout, "-concurrent: 99") {
				t.Fatalf("render --check of a stale copy exited %d (want 1 and a diff):\n%s%s", code, stdout, stderr)
			}
		})
	}
}

// pendingCommands are documented in examples/ci before they exist: a
// command line calling one of them is skipped while it is not registered,
// and fully checked as soon as it is.
var pendingCommands = []string{"validate"}

// checkCommandLine fails unless args (a runnerctl command line without the
// leading "runnerctl") names a real command and parses with its real flags
// and positional arguments. It returns false when the command is pending.
func checkCommandLine(args []string) (ok bool, pending bool, problem string) {
	root := newRootCmd(&factory{stdin: &bytes.Buffer{}, stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		if len(args) > 0 && slices.Contains(pendingCommands, args[0]) {
			return false, true, ""
		}
		return false, false, "no such command"
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return false, false, err.Error()
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return false, false, err.Error()
	}
	return true, false, ""
}

func TestCheckCommandLineRejects(t *testing.T) {
	for _, line := range []string{
		"nosuch",
		"render --chekc",
		"render extra-argument",
		"rotate-token --all --if-expires-within soon",
		"profiles show",
	} {
		if ok, _, _ := checkCommandLine(strings.Fields(line)); ok {
			t.Errorf("runnerctl %s: accepted", line)
		}
	}
	if ok, _, problem := checkCommandLine(strings.Fields("rotate-token --all --if-expires-within 720h -o json")); !ok {
		t.Errorf("a real command line was rejected: %s", problem)
	}
}

// runnerctlLines returns the runnerctl invocations in shell lines, without
// the leading "runnerctl" and with quotes removed.
func runnerctlLines(lines []string) [][]string {
	var out [][]string
	for _, l := range lines {
		fields := strings.Fields(l)
		if len(fields) == 0 || fields[0] != "runnerctl" {
			continue
		}
		args := fields[1:]
		for i, a := range args {
			args[i] = strings.Trim(a, `"'`)
		}
		out = append(out, args)
	}
	return out
}

func assertCommandLines(t *testing.T, where string, lines [][]string) {
	t.Helper()
	for _, args := range lines {
		ok, pending, problem := checkCommandLine(args)
		switch {
		case pending:
			t.Logf("%s: runnerctl %s: command %q not registered yet; its flags are unchecked", where, strings.Join(args, " "), args[0])
		case !ok:
			t.Errorf("%s: runnerctl %s: %s", where, strings.Join(args, " "), problem)
		}
	}
}

type ciJob struct {
	Extends       string   `yaml:"extends"`
	Stage         string   `yaml:"stage"`
	Image         string   `yaml:"image"`
	ResourceGroup string   `yaml:"resource_group"`
	BeforeScript  []string `yaml:"before_script"`
	Script        []string `yaml:"script"`
	Rules         []struct {
		If string `yaml:"if"`
	} `yaml:"rules"`
}

// TestCITemplate checks examples/ci/.gitlab-ci.yml: valid YAML, the jobs it
// promises with the rules it promises, and every runnerctl command line in
// it a real command with real flags.
func TestCITemplate(t *testing.T) {
	data, err := os.ReadFile("../../examples/ci/.gitlab-ci.yml")
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatalf("not valid YAML: %v", err)
	}
	var stages []string
	if n, ok := top["stages"]; !ok || n.Decode(&stages) != nil {
		t.Fatal("no stages list")
	}
	jobs := map[string]ciJob{}
	for key, node := range top {
		if slices.Contains([]string{"variables", "stages", "default", "include", "workflow"}, key) {
			continue
		}
		var j ciJob
		if err := node.Decode(&j); err != nil {
			t.Fatalf("job %s: %v", key, err)
		}
		jobs[key] = j
	}
	// Resolve extends (one level, as the template uses) and check stages.
	for name, j := range jobs {
		if j.Extends != "" {
			base, ok := jobs[j.Extends]
			if !ok {
				t.Errorf("job %s extends missing %s", name, j.Extends)
				continue
			}
			if j.Image == "" {
				j.Image = base.Image
			}
			if j.BeforeScript == nil {
				j.BeforeScript = base.BeforeScript
			}
			jobs[name] = j
		}
		if !strings.HasPrefix(name, ".") {
			if !slices.Contains(stages, j.Stage) {
				t.Errorf("job %s: stage %q not in stages %v", name, j.Stage, stages)
			}
			if len(j.Script) == 0 {
				t.Errorf("job %s has no script", name)
			}
		}
	}
	want := []struct {
		job, rule, command string
	}{
		{"runnerctl-render-check", `$CI_PIPELINE_SOURCE == "merge_request_event"`, "runnerctl render --check"},
		{"runnerctl-validate", `$CI_PIPELINE_SOURCE == "merge_request_event"`, "runnerctl validate --crds crds/"},
		{"runnerctl-rotate-tokens", `$CI_PIPELINE_SOURCE == "schedule"`, "runnerctl rotate-token --all --if-expires-within 720h"},
	}
	for _, w := range want {
		j, ok := jobs[w.job]
		if !ok {
			t.Errorf("job %s missing", w.job)
			continue
		}
		if len(j.Rules) != 1 || j.Rules[0].If != w.rule {
			t.Errorf("job %s: rules %+v, want only if: %s", w.job, j.Rules, w.rule)
		}
		if !slices.Contains(j.Script, w.command) {
			t.Errorf("job %s: script %q does not run %q", w.job, j.Script, w.command)
		}
		if j.Image == "" || !slices.ContainsFunc(j.BeforeScript, func(s string) bool {
			return strings.HasPrefix(s, "go install github.com/runnerctl/runnerctl/cmd/...@")
		}) {
			t.Errorf("job %s does not install runnerctl with go install", w.job)
		}
		assertCommandLines(t, w.job, runnerctlLines(append(slices.Clone(j.BeforeScript), j.Script...)))
	}
	if jobs["runnerctl-rotate-tokens"].ResourceGroup == "" {
		t.Error("runnerctl-rotate-tokens: no resource_group; parallel rotations of one runner would kill each other's tokens")
	}
	// The install line installs every helper runnerctl needs: they are all
	// under cmd/ of this module.
	mod, err := os.ReadFile("../../go.mod")
	if err != nil || !bytes.HasPrefix(mod, []byte("module github.com/runnerctl/runnerctl\n")) {
		t.Errorf("the template installs github.com/runnerctl/runnerctl, but go.mod says otherwise (%v)", err)
	}
	for _, helper := range []string{"runnerctl", "runnerctl-secrets", "runnerctl-kube"} {
		if _, err := os.Stat(filepath.Join("../../cmd", helper, "main.go")); err != nil {
			t.Errorf("cmd/...@ no longer installs %s: %v", helper, err)
		}
	}
	// Credentials come from CI/CD variables, never from the file itself.
	if regexp.MustCompile(`(?m)^\s*(GITLAB_TOKEN|VAULT_TOKEN|VAULT_SECRET_ID|AWS_SECRET_ACCESS_KEY)\s*:`).Match(data) {
		t.Error("the template sets a credential variable itself; it must come from masked CI/CD variables")
	}
}

type preCommitHook struct {
	ID            string   `yaml:"id"`
	Entry         string   `yaml:"entry"`
	Language      string   `yaml:"language"`
	PassFilenames *bool    `yaml:"pass_filenames"`
	Files         string   `yaml:"files"`
	Args          []string `yaml:"args"`
}

// TestPreCommitHooks checks .pre-commit-hooks.yaml and the example
// configuration that uses it.
func TestPreCommitHooks(t *testing.T) {
	data, err := os.ReadFile("../../.pre-commit-hooks.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var hooks []preCommitHook
	if err := yaml.Unmarshal(data, &hooks); err != nil {
		t.Fatalf(".pre-commit-hooks.yaml: %v", err)
	}
	byID := map[string]preCommitHook{}
	for _, h := range hooks {
		byID[h.ID] = h
	}
	for _, id := range []string{"runnerctl-render-check", "runnerctl-validate"} {
		h, ok := byID[id]
		if !ok {
			t.Errorf("hook %s missing", id)
			continue
		}
		if h.Language != "golang" || h.PassFilenames == nil || *h.PassFilenames {
			t.Errorf("hook %s: language %q, pass_filenames %v; want golang and false", id, h.Language, h.PassFilenames)
		}
		// pre-commit matches files with Python's re.search; this pattern
		// uses only syntax that Go's regexp reads the same way.
		re, err := regexp.Compile(h.Files)
		if err != nil {
			t.Errorf("hook %s: files: %v", id, err)
			continue
		}
		for _, p := range []string{"runnerctl.yaml", "runnerctl-profiles/mine.yaml", "sub/runnerctl.yaml"} {
			if !re.MatchString(p) {
				t.Errorf("hook %s: files does not match %s", id, p)
			}
		}
		for _, p := range []string{"README.md", "src/main.go", "my-runnerctl.yaml.bak"} {
			if re.MatchString(p) {
				t.Errorf("hook %s: files matches %s", id, p)
			}
		}
		assertCommandLines(t, id, runnerctlLines([]string{h.Entry}))
	}

	data, err = os.ReadFile("../../examples/ci/.pre-commit-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Repos []struct {
			Repo  string          `yaml:"repo"`
			Rev   string          `yaml:"rev"`
			Hooks []preCommitHook `yaml:"hooks"`
		} `yaml:"repos"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("examples/ci/.pre-commit-config.yaml: %v", err)
	}
	if len(cfg.Repos) != 1 || cfg.Repos[0].Repo != "https://github.com/runnerctl/runnerctl" || cfg.Repos[0].Rev == "" {
		t.Fatalf("examples/ci/.pre-commit-config.yaml: want one repo, this one, with a rev: %+v", cfg.Repos)
	}
	for _, h := range cfg.Repos[0].Hooks {
		def, ok := byID[h.ID]
		if !ok {
			t.Errorf("example config uses hook %s, which .pre-commit-hooks.yaml does not define", h.ID)
			continue
		}
		line := strings.Join(append([]string{def.Entry}, h.Args...), " ")
		assertCommandLines(t, "example hook "+h.ID, runnerctlLines([]string{line}))
	}
}

// TestREADMECommandLines checks every runnerctl command line in the shell
// blocks of the README, of the guides in docs/ (where most of the README's
// examples moved) and of each example's README (those starting with "runnerctl", after any
// VAR=value assignments) against the real commands and flags. Lines with
// shell expansions or "..." placeholders are checked up to them.
func TestREADMECommandLines(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/README.md")
	if err != nil {
		t.Fatal(err)
	}
	guides, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range append(append([]string{"../../README.md"}, guides...), files...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, shellCommandLines(string(data))...)
	}
	if len(lines) < 20 {
		t.Fatalf("found only %d runnerctl command lines in the READMEs: %q", len(lines), lines)
	}
	assertCommandLines(t, "README", runnerctlLines(lines))
}

// shellCommandLines returns the lines of a Markdown text's sh blocks that
// run runnerctl, without comments, VAR=value prefixes, and anything from
// the first shell expansion, redirection, continuation or placeholder on.
func shellCommandLines(markdown string) []string {
	var lines []string
	inSh := false
	for _, l := range strings.Split(markdown, "\n") {
		switch {
		case strings.HasPrefix(l, "```sh"):
			inSh = true
		case strings.HasPrefix(l, "```"):
			inSh = false
		case inSh:
			if i := strings.Index(l, " #"); i >= 0 {
				l = l[:i]
			}
			fields := strings.Fields(l)
			for len(fields) > 0 && strings.Contains(fields[0], "=") && !strings.HasPrefix(fields[0], "-") {
				fields = fields[1:] // VAR=value prefixes
			}
			for i, f := range fields {
				if strings.ContainsAny(f, "$<>|\\") || strings.Contains(f, "...") || f == "&&" {
					fields = fields[:i]
					break
				}
			}
			if len(fields) > 1 && fields[0] == "runnerctl" {
				lines = append(lines, strings.Join(fields, " "))
			}
		}
	}
	return lines
}
