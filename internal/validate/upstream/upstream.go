// Package upstream finds the upstream CRDs that tests validate against:
// ArgoCD's and External Secrets Operator's, from pinned module versions in
// the Go module cache (downloaded through the module proxy when missing).
// They are never committed to this repository.
package upstream

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Module is a pinned Go module holding CRDs in Dir; Name is short.
type Module struct {
	Name, Path, Version, Dir string
}

// Modules are the pinned CRD sources. ESO v1.3.2 no longer serves
// external-secrets.io/v1beta1; ArgoCD v3.6 needs a newer Go to be unpacked
// by `go mod download`.
var Modules = []Module{
	{Name: "argo-cd", Path: "github.com/argoproj/argo-cd/v3", Version: "v3.5.7", Dir: "manifests/crds"},
	{Name: "external-secrets", Path: "github.com/external-secrets/external-secrets", Version: "v1.3.2", Dir: "config/crds/bases"},
}

// Dirs returns the CRD directories of every pinned module, in the order
// of Modules, downloading a module into the module cache when it is not
// there yet.
func Dirs() ([]string, error) {
	var dirs []string
	for _, m := range Modules {
		d, err := download(m)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(d, filepath.FromSlash(m.Dir)))
	}
	return dirs, nil
}

func download(m Module) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", m.Path+"@"+m.Version)
	// Outside any module, so that this repository's go.mod is not touched.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr == nil && info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", m.Path, m.Version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", m.Path, m.Version, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: no directory in its answer", m.Path, m.Version)
	}
	return info.Dir, nil
}
