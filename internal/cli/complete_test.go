package cli

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// complete runs cobra's hidden __complete command in-process, as a shell
// does, and returns the candidates (without descriptions) and the directive
// line.
func complete(t *testing.T, getenv map[string]string, args ...string) ([]string, string) {
	t.Helper()
	var out, errOut strings.Builder
	e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(k string) string { return getenv[k] }}
	if code := Run(append([]string{"__complete"}, args...), e); code != ExitOK {
		t.Fatalf("__complete %q: exit %d: %s", args, code, errOut.String())
	}
	var got []string
	directive := ""
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.HasPrefix(line, ":") {
			directive = line
			continue
		}
		name, _, _ := strings.Cut(line, "\t")
		got = append(got, name)
	}
	return got, directive
}

const completeSpec = `apiVersion: runnerctl.dev/v1alpha1
kind: Config
profilesDir: own-profiles
clusters:
  - name: eu-1
    destination: {server: https://eu-1.example.com}
  - name: us-1
    destination: {name: us}
runners:
  - name: ci
  - name: build
  - name: build-arm
    clusters:
      - name: eu-1
      - name: us-1
`

func writeCompleteRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "runnerctl.yaml"), []byte(completeSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "own-profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	profile := "name: team-strict\nextends: restricted\ndescription: The team's own profile. More text.\n"
	if err := os.WriteFile(filepath.Join(dir, "own-profiles", "team-strict.yaml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "runnerctl.yaml")
}

func TestCompleteRunnerNames(t *testing.T) {
	cfg := writeCompleteRepo(t)
	noFiles := ":4" // cobra.ShellCompDirectiveNoFileComp
	for _, tc := range []struct {
		name   string
		env    map[string]string
		args   []string
		want   []string
		direct string
	}{
		// A runner with clusters: its name (every cluster) and each
		// cluster's runner NAME@CLUSTER.
		{"rotate-token, all", nil, []string{"rotate-token", "--config", cfg, ""}, []string{"ci", "build", "build-arm", "build-arm@eu-1", "build-arm@us-1"}, noFiles},
		{"rotate-token, by prefix", nil, []string{"rotate-token", "--config", cfg, "bu"}, []string{"build", "build-arm", "build-arm@eu-1", "build-arm@us-1"}, noFiles},
		{"rotate-token, a cluster", nil, []string{"rotate-token", "--config", cfg, "build-arm@u"}, []string{"build-arm@us-1"}, noFiles},
		{"rotate-token, not twice", nil, []string{"rotate-token", "--config", cfg, "build", "build-arm@eu-1", ""}, []string{"ci", "build-arm", "build-arm@us-1"}, noFiles},
		{"status", nil, []string{"status", "--config", cfg, "c"}, []string{"ci"}, noFiles},
		{"config from RUNNERCTL_CONFIG", map[string]string{"RUNNERCTL_CONFIG": cfg}, []string{"status", ""}, []string{"ci", "build", "build-arm", "build-arm@eu-1", "build-arm@us-1"}, noFiles},
		{"init --name", nil, []string{"init", "--config", cfg, "--name", "b"}, []string{"build", "build-arm", "build-arm@eu-1", "build-arm@us-1"}, noFiles},
		{"no config file", nil, []string{"rotate-token", "--config", filepath.Join(t.TempDir(), "none.yaml"), ""}, nil, noFiles},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, directive := complete(t, tc.env, tc.args...)
			if !slices.Equal(got, tc.want) || directive != tc.direct {
				t.Errorf("got %q %s, want %q %s", got, directive, tc.want, tc.direct)
			}
		})
	}
}

// init --clusters completes the last item of its list with the clusters
// the file has and the list does not name yet, leaving room for a comma.
func TestCompleteClusterNames(t *testing.T) {
	cfg := writeCompleteRepo(t)
	const noFilesNoSpace = ":6" // cobra.ShellCompDirectiveNoFileComp | ShellCompDirectiveNoSpace
	for _, tc := range []struct {
		toComplete string
		want       []string
	}{
		{"", []string{"eu-1", "us-1"}},
		{"u", []string{"us-1"}},
		{"eu-1,", []string{"eu-1,us-1"}},
		{"ap-1=https://ap-1.example.com,e", []string{"ap-1=https://ap-1.example.com,eu-1"}},
		{"eu-1=https://eu-1.example.com, us-1,", nil},
	} {
		got, directive := complete(t, nil, "init", "--config", cfg, "--clusters", tc.toComplete)
		if !slices.Equal(got, tc.want) || directive != noFilesNoSpace {
			t.Errorf("--clusters %q: got %q %s, want %q %s", tc.toComplete, got, directive, tc.want, noFilesNoSpace)
		}
	}
}

func TestCompleteProfileNames(t *testing.T) {
	cfg := writeCompleteRepo(t)
	builtin := []string{"baseline", "privileged-dind", "restricted"}
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"profiles show, with the repository's own", []string{"profiles", "show", "--config", cfg, ""}, append(slices.Clone(builtin), "team-strict")},
		{"profiles show, by prefix", []string{"profiles", "show", "--config", cfg, "te"}, []string{"team-strict"}},
		{"profiles show, one argument only", []string{"profiles", "show", "--config", cfg, "baseline", ""}, nil},
		{"init --profile", []string{"init", "--config", cfg, "--profile", "r"}, []string{"restricted"}},
		{"without runnerctl.yaml: the built-in ones", []string{"profiles", "show", "--config", filepath.Join(t.TempDir(), "none.yaml"), ""}, builtin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, directive := complete(t, nil, tc.args...)
			slices.Sort(got)
			if !slices.Equal(got, tc.want) || directive != ":4" {
				t.Errorf("got %q %s, want %q :4", got, directive, tc.want)
			}
		})
	}
}

func TestCompleteFixedChoices(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"init", "--backend", ""}, []string{"infisical", "vault", "aws", "gcp"}},
		{[]string{"init", "--scope", ""}, []string{"instance", "group", "project"}},
		{[]string{"status", "--output", ""}, []string{"text", "json"}},
		{[]string{"completion", ""}, []string{"bash", "fish", "powershell", "zsh"}},
	} {
		got, _ := complete(t, nil, tc.args...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %q, want %q", tc.args, got, tc.want)
		}
	}
}

// TestCompletionScripts checks that cobra's completion command is there,
// visible, and writes a script for every shell.
func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{"bash": "__start_runnerctl", "zsh": "#compdef runnerctl", "fish": "complete -c runnerctl", "powershell": "Register-ArgumentCompleter"} {
		var out, errOut strings.Builder
		e := &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
		if code := Run([]string{"completion", shell}, e); code != ExitOK || !strings.Contains(out.String(), marker) {
			t.Errorf("completion %s: exit %d, %d bytes without %q; stderr %s", shell, code, out.Len(), marker, errOut.String())
		}
	}
	var out strings.Builder
	Run([]string{"--help"}, &factory{stdin: strings.NewReader(""), stdout: &out, stderr: &out, getenv: func(string) string { return "" }})
	if !strings.Contains(out.String(), "completion") {
		t.Errorf("runnerctl --help does not list the completion command:\n%s", out.String())
	}
}
