// Package upstream finds the upstream CRDs that tests validate against:
// ArgoCD's, External Secrets Operator's and Flux's (helm-controller,
// source-controller, kustomize-controller), from pinned module versions in
// the Go module cache (downloaded through the module proxy when missing),
// and ESO v2.9.0's from the shared reference directory next to the
// repository (its Go module needs a newer Go than this one to download).
// They are never committed to this repository.
package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
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
	// Flux: the controllers' main modules hold their CRDs. These versions
	// need Go 1.26.0 (their go.mod) and download with this repository's
	// Go; their API submodules (.../api) at these versions need Go 1.27,
	// which is one reason render defines the few Flux types itself.
	{Name: "helm-controller", Path: "github.com/fluxcd/helm-controller", Version: "v1.6.0", Dir: "config/crd/bases"},
	{Name: "source-controller", Path: "github.com/fluxcd/source-controller", Version: "v1.9.0", Dir: "config/crd/bases"},
	{Name: "kustomize-controller", Path: "github.com/fluxcd/kustomize-controller", Version: "v1.9.0", Dir: "config/crd/bases"},
}

// FluxModules are the Flux controllers among Modules.
var FluxModules = Modules[2:]

// Dirs returns the CRD directories of every pinned module, in the order
// of Modules, downloading a module into the module cache when it is not
// there yet.
func Dirs() ([]string, error) { return dirsOf(Modules) }

// dirsOf returns the CRD directories of ms, in order.
func dirsOf(ms []Module) ([]string, error) {
	var dirs []string
	for _, m := range ms {
		d, err := moduleDir(m)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, d)
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

// Flux returns the CRD directories of the pinned Flux controllers, in the
// order of FluxModules.
func Flux() ([]string, error) { return dirsOf(FluxModules) }

// ArgoCD returns the directory of ArgoCD v3.5.7's CRDs.
func ArgoCD() (string, error) { return moduleDir(Modules[0]) }

// ESO returns the directory of the External Secrets Operator CRDs that a
// render for ESO release line rel (a secrets.esoVersion value) is checked
// against, and the ESO release they come from:
//
//   - "2.9": v2.9.0, from the shared reference directory; an error wrapping
//     fs.ErrNotExist when that directory is absent (a fresh clone has no
//     ../shared), which tests turn into a skip;
//   - "1.3": v1.3.2, from the Go module cache;
//   - "0.16": ESO before 0.17 served only external-secrets.io/v1beta1. No
//     such release is pinned here; its CRDs are v1.3.2's, whose v1beta1
//     schema (defined there, no longer served) is the newest one, and what
//     tests check v1beta1 renders against.
func ESO(rel string) (dir, release string, err error) {
	switch rel {
	case "2.9":
		dir, err := ReferenceDir("eso-crds-v2.9.0")
		return dir, "v2.9.0", err
	case "1.3", "0.16":
		dir, err := moduleDir(Modules[1])
		return dir, Modules[1].Version, err
	}
	return "", "", fmt.Errorf("no CRDs known for ESO %q", rel)
}

func moduleDir(m Module) (string, error) {
	d, err := download(m)
	if err != nil {
		return "", err
	}
	return filepath.Join(d, filepath.FromSlash(m.Dir)), nil
}

// ReferenceDir returns the absolute path of ../shared/reference/NAME,
// relative to the root of this module (found from the working directory
// up, as go test runs each package in its own directory). The error wraps
// fs.ErrNotExist when the directory is absent.
func ReferenceDir(name string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "reference", name)
	info, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("reference CRDs %q: %w", name, err)
	}
	if !info.IsDir() {
		return "", fmt.Errorf("reference CRDs %q: %s is not a directory: %w", name, dir, fs.ErrNotExist)
	}
	return dir, nil
}

const modulePath = "github.com/runnerctl/runnerctl"

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("the root of module " + modulePath + " is not above the working directory")
		}
		dir = parent
	}
}
