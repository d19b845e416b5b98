package remote

import "github.com/runnerctl/runnerctl/internal/childenv"

// Env is the environment the helper gets: environ (runnerctl's own, as
// os.Environ gives it) without runnerctl's secrets (childenv.Credentials:
// the GitLab token, the Vault and Infisical credentials).
//
// A denylist, not an allowlist: the helper runs code nobody can list in
// advance. A kubeconfig's exec credential plugin runs under it with the
// helper's environment, and each reads its own variables: aws eks
// get-token the AWS SDK's (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...),
// gke-gcloud-auth-plugin gcloud's (CLOUDSDK_*, HOME, GOOGLE_*), Azure's
// kubelogin AZURE_*, others their own; Helm reads HELM_*, client-go
// KUBECONFIG. An allowlist would break real clusters. That is also why the
// AWS and GCP identities stay: they are the user's cloud identity, which
// those plugins authenticate with to the same clouds. The Vault and
// Infisical credentials only ever serve runnerctl-secrets. (A plugin that
// calls the vault CLI still finds the token that vault login keeps in
// ~/.vault-token.)
func Env(environ []string) []string {
	return childenv.Drop(environ, childenv.Credentials())
}
