package kubeschema

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/runnerctl/runnerctl/internal/validate"
	"github.com/runnerctl/runnerctl/internal/validate/upstream"
)

var (
	crdOnce  sync.Once
	crdFiles map[string][]byte
	crdErr   error
)

// upstreamValidator knows the pinned upstream CRDs (read once per test
// binary: the ArgoCD ones alone are 1.8 MB).
func upstreamValidator(t *testing.T) *Validator {
	t.Helper()
	crdOnce.Do(func() {
		dirs, err := upstream.Dirs()
		if err != nil {
			crdErr = err
			return
		}
		crdFiles = map[string][]byte{}
		for _, d := range dirs {
			paths, _ := filepath.Glob(filepath.Join(d, "*.yaml"))
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					crdErr = err
					return
				}
				crdFiles[p] = b
			}
		}
	})
	if crdErr != nil {
		t.Fatalf("upstream CRDs: %v", crdErr)
	}
	v := New()
	for p, b := range crdFiles {
		if ps := v.AddCRDs(p, b); len(ps) > 0 {
			t.Fatalf("AddCRDs(%s): %v", p, ps)
		}
	}
	for _, k := range []string{"argoproj.io/Application", "argoproj.io/ApplicationSet", "external-secrets.io/ExternalSecret", "external-secrets.io/SecretStore", "external-secrets.io/ClusterSecretStore"} {
		found := false
		for _, have := range v.Kinds() {
			found = found || have == k
		}
		if !found {
			t.Fatalf("upstream CRDs lack %s; have %v", k, v.Kinds())
		}
	}
	return v
}

func problems(t *testing.T, v *Validator, doc string) []validate.Problem {
	t.Helper()
	return v.Object(context.Background(), []byte(doc))
}

func wantProblem(t *testing.T, ps []validate.Problem, sev validate.Severity, field, msgPart string) {
	t.Helper()
	for _, p := range ps {
		if p.Severity == sev && p.Field == field && strings.Contains(p.Message, msgPart) {
			return
		}
	}
	t.Errorf("want a %s at %q containing %q; got %d problem(s):\n%s", sev, field, msgPart, len(ps), dump(ps))
}

func dump(ps []validate.Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("  " + p.String() + "\n")
	}
	return b.String()
}

const application = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: gitlab-runner-homelab
  namespace: argocd
spec:
  project: default
  destination:
    server: https://kubernetes.default.svc
    namespace: gitlab-runner
  sources:
    - repoURL: https://charts.gitlab.io
      chart: gitlab-runner
      targetRevision: 0.86.0
      helm:
        releaseName: gitlab-runner-homelab
        valueFiles: [$values/values/gitlab-runner-homelab.yaml]
    - repoURL: https://gitlab.example.com/ops/gitops.git
      targetRevision: HEAD
      ref: values
`

const externalSecret = `apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: gitlab-runner-homelab-token
  namespace: gitlab-runner
spec:
  refreshInterval: 1h
  secretStoreRef:
    kind: ClusterSecretStore
    name: infisical
  target:
    name: gitlab-runner-homelab-token
    creationPolicy: Owner
  data:
    - secretKey: runner-token
      remoteRef:
        key: GITLAB_RUNNER_HOMELAB_TOKEN
`

func TestUpstreamCRDsAcceptValidObjects(t *testing.T) {
	v := upstreamValidator(t)
	for name, doc := range map[string]string{"application": application, "externalsecret": externalSecretComplete} {
		if ps := problems(t, v, doc); len(ps) > 0 {
			t.Errorf("%s: want no problems, got:\n%s", name, dump(ps))
		}
	}
}

// externalSecretComplete is externalSecret with every field that ESO
// v1.3.2's CRD defaults.
var externalSecretComplete = strings.NewReplacer(
	"    creationPolicy: Owner\n", "    creationPolicy: Owner\n    deletionPolicy: Retain\n",
	"        key: GITLAB_RUNNER_HOMELAB_TOKEN\n", "        key: GITLAB_RUNNER_HOMELAB_TOKEN\n        conversionStrategy: Default\n        decodingStrategy: None\n        metadataPolicy: None\n",
).Replace(externalSecret)

// TestDrift: each field the API server would fill in is one problem, at
// its path, with the value quoted as JSON; an error, or a warning with
// AllowDrift. A value the file sets, default or not, is no drift.
func TestDrift(t *testing.T) {
	v := upstreamValidator(t)
	ps := problems(t, v, externalSecret)
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
		if !p.IsDrift() || p.Severity != validate.Error || p.Object != "ExternalSecret gitlab-runner/gitlab-runner-homelab-token" {
			t.Errorf("not a drift error of the object: %+v", p)
		}
	}
	note := "on the server; the live object will differ from the file"
	want := []string{
		"ExternalSecret gitlab-runner/gitlab-runner-homelab-token: spec.data[0].remoteRef.conversionStrategy: defaulted to \"Default\" " + note,
		"ExternalSecret gitlab-runner/gitlab-runner-homelab-token: spec.data[0].remoteRef.decodingStrategy: defaulted to \"None\" " + note,
		"ExternalSecret gitlab-runner/gitlab-runner-homelab-token: spec.data[0].remoteRef.metadataPolicy: defaulted to \"None\" " + note,
		"ExternalSecret gitlab-runner/gitlab-runner-homelab-token: spec.target.deletionPolicy: defaulted to \"Retain\" " + note,
	}
	validate.Sort(ps)
	got = got[:0]
	for _, p := range ps {
		got = append(got, p.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("drift:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}

	// A whole defaulted object is one problem per field in it.
	noTarget := strings.Replace(externalSecretComplete, "  target:\n    name: gitlab-runner-homelab-token\n    creationPolicy: Owner\n    deletionPolicy: Retain\n", "", 1)
	ps = problems(t, v, noTarget)
	wantProblem(t, ps, validate.Error, "spec.target.creationPolicy", `defaulted to "Owner" on the server`)
	wantProblem(t, ps, validate.Error, "spec.target.deletionPolicy", `defaulted to "Retain" on the server`)
	if len(ps) != 2 {
		t.Errorf("want 2 problems without a target, got:\n%s", dump(ps))
	}

	v.AllowDrift = true
	ps = problems(t, v, externalSecret)
	if len(ps) != 4 || validate.HasErrors(ps) {
		t.Errorf("with AllowDrift, want 4 warnings:\n%s", dump(ps))
	}
	wantProblem(t, ps, validate.Warning, "spec.data[0].remoteRef.decodingStrategy", `defaulted to "None" on the server`)

	// An unknown field is reported as such, not also as drift.
	v.AllowDrift = false
	ps = problems(t, v, strings.Replace(externalSecretComplete, "    creationPolicy: Owner\n", "    creationPolicy: Owner\n    deletePolicyy: Retain\n", 1))
	if len(ps) != 1 || ps[0].IsDrift() {
		t.Errorf("an unknown field: want one unknown-field error, got:\n%s", dump(ps))
	}
}

func TestUpstreamCRDsRejectMistakes(t *testing.T) {
	v := upstreamValidator(t)
	t.Run("unknown field is reported where it is", func(t *testing.T) {
		doc := strings.Replace(application, "  project: default\n", "  project: default\n  syncPolicyy: {}\n", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.syncPolicyy", "unknown field")
	})
	t.Run("unknown nested field", func(t *testing.T) {
		doc := strings.Replace(externalSecret, "    creationPolicy: Owner\n", "    creationPolicy: Owner\n    deletePolicyy: Retain\n", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.target.deletePolicyy", "unknown field")
	})
	t.Run("enum", func(t *testing.T) {
		doc := strings.Replace(externalSecret, "creationPolicy: Owner", "creationPolicy: Sometimes", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.target.creationPolicy", "Unsupported value")
	})
	t.Run("required field", func(t *testing.T) {
		doc := strings.Replace(application, "  destination:\n", "  destinationn:\n", 1)
		ps := problems(t, v, doc)
		wantProblem(t, ps, validate.Error, "spec.destination", "Required value")
	})
	t.Run("wrong type", func(t *testing.T) {
		doc := strings.Replace(externalSecret, "refreshInterval: 1h", "refreshInterval: [1h]", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.refreshInterval", "must be of type string")
	})
	t.Run("v1beta1 is not served by ESO v1.3.2", func(t *testing.T) {
		doc := strings.Replace(externalSecret, "external-secrets.io/v1\n", "external-secrets.io/v1beta1\n", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "apiVersion", "not served")
	})
	t.Run("metadata name", func(t *testing.T) {
		doc := strings.Replace(externalSecret, "name: gitlab-runner-homelab-token\n  namespace", "name: Gitlab_Runner\n  namespace", 1)
		wantProblem(t, problems(t, v, doc), validate.Error, "metadata.name", "RFC 1123")
	})
	t.Run("CEL rule of the SecretStore CRD", func(t *testing.T) {
		doc := `apiVersion: external-secrets.io/v1
kind: SecretStore
metadata: {name: doppler, namespace: ci}
spec:
  provider:
    doppler:
      auth:
        secretRef:
          dopplerToken: {name: doppler, key: token}
        oidcConfig:
          identity: x
          serviceAccountRef: {name: doppler}
`
		ps := problems(t, v, doc)
		wantProblem(t, ps, validate.Error, "spec.provider.doppler.auth", "Exactly one of 'secretRef' or 'oidcConfig'")
	})
	t.Run("a ClusterSecretStore without a provider", func(t *testing.T) {
		doc := "apiVersion: external-secrets.io/v1\nkind: ClusterSecretStore\nmetadata: {name: vault}\nspec: {}\n"
		wantProblem(t, problems(t, v, doc), validate.Error, "spec.provider", "Required value")
	})
	t.Run("duplicate key", func(t *testing.T) {
		doc := application + "metadata:\n  name: again\n"
		ps := problems(t, v, doc)
		if len(ps) == 0 || !strings.Contains(ps[0].Message, "already") && !strings.Contains(ps[0].Message, "duplicate") {
			t.Errorf("want a duplicate key error, got:\n%s", dump(ps))
		}
	})
}

func TestMissingCRD(t *testing.T) {
	v := New()
	ps := problems(t, v, application)
	wantProblem(t, ps, validate.Error, "apiVersion", "no CRD given for argoproj.io/v1alpha1")
	v.IgnoreMissing = true
	ps = problems(t, v, application)
	wantProblem(t, ps, validate.Warning, "apiVersion", "--crds")
	if validate.HasErrors(ps) {
		t.Errorf("with IgnoreMissing, want warnings only:\n%s", dump(ps))
	}
}

func TestBuiltinStrictDecoding(t *testing.T) {
	v := New()
	np := `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress, namespace: ci}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - ports: [{port: 443, protocol: TCP}]
`
	if ps := problems(t, v, np); len(ps) > 0 {
		t.Fatalf("valid NetworkPolicy: %s", dump(ps))
	}
	bad := strings.Replace(np, "policyTypes:", "policyTypez:", 1)
	wantProblem(t, problems(t, v, bad), validate.Error, "spec.policyTypez", "unknown field")
	wantProblem(t, problems(t, v, "apiVersion: v1\nkind: Namespace\nmetadata: {name: ci.runners}\n"), validate.Error, "metadata.name", "must not contain dots")
	wantProblem(t, problems(t, v, "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: ci}\nstringData: {a: b}\ndata: {c: \"!!\"}\n"), validate.Error, "", "illegal base64")
	wantProblem(t, problems(t, v, "apiVersion: networking.k8s.io/v1beta1\nkind: NetworkPolicy\nmetadata: {name: x}\n"), validate.Error, "apiVersion", "networking.k8s.io/v1")
}
