package remote

import (
	"slices"
	"testing"
)

// runnerctl-kube loses runnerctl's own secrets and keeps everything else:
// kubeconfig exec plugins read variables of their own.
func TestEnv(t *testing.T) {
	environ := []string{
		"PATH=/usr/bin",
		"HOME=/home/u",
		"KUBECONFIG=/home/u/.kube/config",
		"GITLAB_TOKEN=glpat-x",
		"VAULT_TOKEN=hvs.x",
		"VAULT_ADDR=https://vault.example.com",
		"VAULT_ROLE_ID=role",
		"VAULT_SECRET_ID=secret",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_ID=id",
		"INFISICAL_UNIVERSAL_AUTH_CLIENT_SECRET=secret",
		"INFISICAL_TOKEN=tok",
		"AWS_PROFILE=eks",
		"AWS_ACCESS_KEY_ID=AKIA",
		"AWS_SECRET_ACCESS_KEY=s",
		"CLOUDSDK_CORE_PROJECT=p",
		"GOOGLE_APPLICATION_CREDENTIALS=/k.json",
		"AZURE_CLIENT_ID=c",
		"HELM_REGISTRY_CONFIG=/h.json",
	}
	got := Env(environ)
	want := []string{
		"PATH=/usr/bin",
		"HOME=/home/u",
		"KUBECONFIG=/home/u/.kube/config",
		"VAULT_ADDR=https://vault.example.com",
		"AWS_PROFILE=eks",
		"AWS_ACCESS_KEY_ID=AKIA",
		"AWS_SECRET_ACCESS_KEY=s",
		"CLOUDSDK_CORE_PROJECT=p",
		"GOOGLE_APPLICATION_CREDENTIALS=/k.json",
		"AZURE_CLIENT_ID=c",
		"HELM_REGISTRY_CONFIG=/h.json",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Env:\n got %q\nwant %q", got, want)
	}
}
