package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

// TestRefusedPlaces: paths that collide or land in the wrong place, and
// secrets paths that climb out of where ESO reads, are refused naming the
// fields (issue 13, item 6), as are namespaces that are not the runner's
// to take (item 9).
func TestRefusedPlaces(t *testing.T) {
	withGitOps := func(paths string) string {
		return strings.Replace(minimal, "  repoURL: https://gitlab.com/org/gitops.git\n", "  repoURL: https://gitlab.com/org/gitops.git\n  paths: "+paths+"\n", 1)
	}
	withVault := func(vault string) string {
		return strings.Replace(minimal, "    name: vault\n", "    name: vault\n  vault: "+vault+"\n", 1)
	}
	cases := []struct {
		name, spec string
		want       []string
	}{
		{"applications and manifests in one directory", withGitOps("{applications: k8s, manifests: k8s}"),
			[]string{"line 7: gitops.paths.manifests: must differ from gitops.paths.applications"}},
		{"manifests and values in one directory", withGitOps("{manifests: k8s, values: k8s}"),
			[]string{"gitops.paths.values: must differ from gitops.paths.manifests"}},
		{"values in .git", withGitOps("{values: .git/hooks}"),
			[]string{`gitops.paths.values: ".git/hooks" is inside Git's own directory`}},
		{"applications in .GIT", withGitOps("{applications: sub/.GIT}"),
			[]string{`gitops.paths.applications: "sub/.GIT" is inside Git's own directory`}},
		{"values in the profiles directory", withGitOps("{values: runnerctl-profiles}"),
			[]string{`gitops.paths.values: must differ from profilesDir ("runnerctl-profiles")`}},
		{"profiles next to the manifests", withGitOps("{manifests: k8s/manifests}") + "profilesDir: k8s/profiles\n", nil},
		{"profiles at the root", minimal + "profilesDir: .\n", []string{"profilesDir: must not be the repository root"}},
		{"vault path with ..", withVault("{path: \"gitlab/../../sys/{runner}\"}"),
			[]string{`secrets.vault.path: "gitlab/../../sys/{runner}" has a ".." path segment`}},
		{"vault mount with ..", withVault("{mount: \"secret/..\"}"),
			[]string{`secrets.vault.mount: "secret/.." has a ".." path segment`}},
		{"token key with ..", minimal + "    tokenSecret: {key: \"gitlab/../x\", property: t}\n",
			[]string{`runners[0].tokenSecret.key: "gitlab/../x" has a ".." path segment`}},
		{"shared token location, spelt with the mount", minimal + "  - name: other\n    tokenSecret: {key: secret/data/gitlab/runners/ci, property: runner-token}\n",
			[]string{`line 14: runners[1].tokenSecret: token location "secret/data/gitlab/runners/ci" is already used by runners[0]`}},
		{"shared token location, whole secret", strings.Replace(minimal, "backend: vault", "backend: aws", 1) + "  - name: other\n    tokenSecret: {key: gitlab/runners/ci, property: x}\n",
			[]string{`runners[1].tokenSecret: token location "gitlab/runners/ci" is already used by runners[0]`}},
		{"kube-system", minimal + "    namespace: kube-system\n", []string{`runners[0].namespace: "kube-system" belongs to Kubernetes itself`}},
		{"kube-public", minimal + "    namespace: kube-public\n", []string{`runners[0].namespace: "kube-public" belongs to Kubernetes itself`}},
		{"ArgoCD's namespace", minimal + "    namespace: gitops\nargocd: {namespace: gitops}\n",
			[]string{`runners[0].namespace: "gitops" is ArgoCD's own namespace`}},
		{"long image", minimal + "    image: " + strings.Repeat("a", 457) + "\n",
			[]string{"runners[0].image: is 457 bytes long; no image reference is longer than 456"}},
		{"long description", minimal + "    registration: {description: " + strings.Repeat("d", 1025) + "}\n",
			[]string{"runners[0].registration.description: is longer than 1024 characters"}},
		{"long tag, short echo", minimal + "    registration: {tags: [" + strings.Repeat("t", 4000) + "]}\n",
			[]string{`runners[0].registration.tags[0]: "` + strings.Repeat("t", 60) + `"... (4000 bytes) must have no commas`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.Parse("runnerctl.yaml", []byte(c.spec))
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var inv *config.InvalidError
			if !errors.As(err, &inv) || inv.ExitCode() != 2 {
				t.Fatalf("want an InvalidError (exit 2), got %v", err)
			}
			if len(err.Error()) > 1000 {
				t.Errorf("the message is %d bytes long", len(err.Error()))
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	for url, want := range map[string]string{
		"https://gitlab.com/":       "",
		"http://gitlab.lan/":        `gitlab.url "http://gitlab.lan/" uses http://: runner tokens, jobs and their logs cross the network unencrypted`,
		"http://127.0.0.1:8080/":    "",
		"http://localhost/":         "",
		"http://[::1]:8080/gitlab/": "",
	} {
		cfg, err := config.Parse("runnerctl.yaml", []byte(strings.Replace(minimal, "https://gitlab.com/\n", url+"\n", 1)))
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(cfg.Warnings(), "\n")
		if want == "" && got != "" || !strings.Contains(got, want) {
			t.Errorf("%s: warnings %q, want %q", url, got, want)
		}
	}
}
