package render

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/templates"
)

// bases are the base documents of templates/, decoded into the typed
// objects that render copies and fills for each runner. They are shared
// by every runner, rendered in parallel: whatever render changes in a copy
// that is a map, a slice or a pointer must be copied first.
type bases struct {
	Application         application
	ApplicationSet      applicationSet
	TokenExternalSecret externalSecret
	CacheExternalSecret externalSecret
	GitLabCASecret      secret
	NetworkPolicy       k8sNetworkPolicy
	CiliumPolicy        ciliumNetworkPolicy
	Values              valuesBase
	// gitops.engine flux
	FluxKustomization fluxKustomization
	HelmRelease       helmRelease
	HelmRepository    helmRepository
	OCIRepository     ociRepository
	Namespace         namespace
	Kustomize         kustomizeConfig
}

// valuesBase is values.yaml: the runner's part of the values and its
// profile's, which are encoded apart (see runnerValues).
type valuesBase struct {
	runnerValues  `yaml:",inline"`
	profileValues `yaml:",inline"`
}

// loadBases decodes templates/ the first time something is rendered, not
// when the program starts: `runnerctl --help` pays nothing for it. The
// files are embedded, so an error here is a bug of the build, which
// TestBases catches before any user does.
var loadBases = sync.OnceValues(decodeBases)

// baseFile is a file of templates/ and the object it decodes into.
type baseFile struct {
	name string
	into any
}

// files lists every file of templates/ with the field of b it fills.
func (b *bases) files() []baseFile {
	return []baseFile{
		{"application.yaml", &b.Application},
		{"applicationset.yaml", &b.ApplicationSet},
		{"externalsecret-token.yaml", &b.TokenExternalSecret},
		{"externalsecret-cache.yaml", &b.CacheExternalSecret},
		{"secret-gitlab-ca.yaml", &b.GitLabCASecret},
		{"networkpolicy.yaml", &b.NetworkPolicy},
		{"ciliumnetworkpolicy.yaml", &b.CiliumPolicy},
		{"values.yaml", &b.Values},
		{"flux-kustomization.yaml", &b.FluxKustomization},
		{"flux-helmrelease.yaml", &b.HelmRelease},
		{"flux-helmrepository.yaml", &b.HelmRepository},
		{"flux-ocirepository.yaml", &b.OCIRepository},
		{"namespace.yaml", &b.Namespace},
		{"kustomize.yaml", &b.Kustomize},
	}
}

func decodeBases() (*bases, error) {
	b := &bases{}
	for _, f := range b.files() {
		data, err := templates.FS.ReadFile(f.name)
		if err != nil {
			return nil, fmt.Errorf("templates/%s: %w", f.name, err)
		}
		if err := decodeBase(data, f.into); err != nil {
			return nil, fmt.Errorf("templates/%s: %w", f.name, err)
		}
	}
	if b.Values.HPA == nil || b.Values.Metrics == nil {
		return nil, errors.New("templates/values.yaml: no hpa or metrics, which render writes when autoscaling asks for them")
	}
	return b, nil
}

// decodeBase decodes data, one YAML document, into the typed object into.
// It is strict: a key that the object does not have is an error, not
// ignored, so that no part of a base document is silently left out of the
// output.
func decodeBase(data []byte, into any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil {
		return err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return errors.New("more than one document")
	}
	return nil
}
