package render

import (
	"bytes"
	_ "embed"
	"fmt"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/runnerctl/runnerctl/internal/config"
)

// esoDefaultsFile holds, for each ESO release line, the fields that its
// ExternalSecret CRD fills in with defaults in the objects runnerctl
// writes. It is generated from the CRDs themselves (see its header), never
// typed by hand: a default that render left out would make the live
// object differ from the file, and ArgoCD would report it OutOfSync for
// ever (spec.data is a list, compared item by item as a whole).
//
//go:embed esodefaults.yaml
var esoDefaultsFile []byte

// esoDefaults is one release line of esodefaults.yaml. It is decoded
// strictly: when a new ESO release defaults a field that runnerctl does
// not know yet, regenerating the file makes rendering fail (and its
// tests) until the field is added here and to the object that holds it.
type esoDefaults struct {
	APIVersion string `yaml:"apiVersion"`
	CRDs       string `yaml:"crds"`
	Spec       struct {
		// RefreshInterval is not used: runnerctl always writes
		// secrets.refreshInterval.
		RefreshInterval string `yaml:"refreshInterval"`
	} `yaml:"spec"`
	SecretStoreRef struct{} `yaml:"secretStoreRef"`
	Target         struct {
		// CreationPolicy is not used: templates/ always sets Owner, so
		// that the Secret goes with its ExternalSecret.
		CreationPolicy string `yaml:"creationPolicy"`
		DeletionPolicy string `yaml:"deletionPolicy"`
	} `yaml:"target"`
	Template struct {
		EngineVersion string `yaml:"engineVersion"`
		MergePolicy   string `yaml:"mergePolicy"`
	} `yaml:"template"`
	Data      struct{} `yaml:"data"`
	RemoteRef struct {
		ConversionStrategy string `yaml:"conversionStrategy"`
		DecodingStrategy   string `yaml:"decodingStrategy"`
		MetadataPolicy     string `yaml:"metadataPolicy"`
	} `yaml:"remoteRef"`
}

var loadESODefaults = sync.OnceValues(func() (map[string]*esoDefaults, error) {
	return decodeESODefaults(esoDefaultsFile)
})

func decodeESODefaults(data []byte) (map[string]*esoDefaults, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var m map[string]*esoDefaults
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("esodefaults.yaml: %w", err)
	}
	return m, nil
}

// esoDefaultsFor returns the defaults of the ESO release line cfg names,
// which must serve the API version cfg writes (config.Validate checks
// both).
func esoDefaultsFor(cfg *config.Config) (*esoDefaults, error) {
	m, err := loadESODefaults()
	if err != nil {
		return nil, err
	}
	d, ok := m[cfg.Secrets.ESOVersion]
	if !ok {
		return nil, fmt.Errorf("secrets.esoVersion %q: no CRD defaults known for this ESO release line", cfg.Secrets.ESOVersion)
	}
	if d.APIVersion != esAPIVersion(cfg) {
		return nil, fmt.Errorf("secrets.esoVersion %q: its CRD defaults are for %s, not %s", cfg.Secrets.ESOVersion, d.APIVersion, esAPIVersion(cfg))
	}
	return d, nil
}

// remoteRef is a remote reference with the release's defaults.
func (d *esoDefaults) remoteRef(key, property string) esRemoteRef {
	return esRemoteRef{
		Key: key, Property: property,
		ConversionStrategy: d.RemoteRef.ConversionStrategy,
		DecodingStrategy:   d.RemoteRef.DecodingStrategy,
		MetadataPolicy:     d.RemoteRef.MetadataPolicy,
	}
}

// target is base, an ExternalSecret target of templates/, for the Secret
// name, with the release's defaults.
func (d *esoDefaults) target(name string, base esTarget) esTarget {
	t := base
	t.Name = name
	t.DeletionPolicy = d.Target.DeletionPolicy
	if base.Template != nil {
		tpl := *base.Template
		tpl.EngineVersion = d.Template.EngineVersion
		tpl.MergePolicy = d.Template.MergePolicy
		t.Template = &tpl
	}
	return t
}
