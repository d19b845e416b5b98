package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/runnerctl/runnerctl/internal/config"
)

// TestESODefaultsFile: the embedded defaults decode, and cover exactly
// the release lines that runnerctl.yaml accepts, each for the API version
// it serves. (Package kubeschema's TestESODefaults checks the values
// against the CRDs.)
func TestESODefaultsFile(t *testing.T) {
	m, err := loadESODefaults()
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != len(config.ESOReleases) {
		t.Errorf("esodefaults.yaml has %d release lines, config.ESOReleases %d", len(m), len(config.ESOReleases))
	}
	for _, rel := range config.ESOReleases {
		d, ok := m[rel.Version]
		switch {
		case !ok:
			t.Errorf("esodefaults.yaml lacks ESO %s", rel.Version)
		case d.APIVersion != "external-secrets.io/"+rel.APIVersion:
			t.Errorf("ESO %s: apiVersion %s, config says %s", rel.Version, d.APIVersion, rel.APIVersion)
		case d.CRDs == "":
			t.Errorf("ESO %s: no crds: which CRDs it comes from is unknown", rel.Version)
		}
	}
}

// TestESODefaultsStrict: a default that a new ESO release adds and render
// does not know yet makes rendering fail rather than leave it out.
func TestESODefaultsStrict(t *testing.T) {
	data := bytes.Replace(esoDefaultsFile, []byte("    metadataPolicy: None\n"), []byte("    metadataPolicy: None\n    nullBytePolicy: Ignore\n"), 1)
	if bytes.Equal(data, esoDefaultsFile) {
		t.Fatal("esodefaults.yaml has no metadataPolicy line to extend")
	}
	if _, err := decodeESODefaults(data); err == nil || !strings.Contains(err.Error(), "nullBytePolicy") {
		t.Errorf("an unknown default: got %v, want an error naming it", err)
	}
}
