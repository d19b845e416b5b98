// Package validate holds what `runnerctl validate` reports and the checks
// cheap enough for runnerctl itself to run on every render: each generated
// file parses, each object names its apiVersion, kind and name, and each
// runner's runners.config holds only keys, value types and feature flags
// that the gitlab-runner version deployed knows (package runnerkeys).
//
// The expensive checks (objects against CRD structural schemas with
// k8s.io/apiextensions-apiserver, core objects strictly decoded into
// k8s.io/api types, the chart rendered with the Helm SDK) run in the
// runnerctl-kube helper (packages kube/kubeschema and kube/chartcheck), because
// linking Kubernetes' types alone costs runnerctl about 3 ms of start-up
// (4.4 ms against 1.5 ms for hello world). This package links none of it.
package validate

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/errgroup"

	"github.com/runnerctl/runnerctl/internal/render"
	"github.com/runnerctl/runnerctl/internal/runnerkeys"
)

// Severity of a Problem.
type Severity string

// Severities. An error makes validate exit 1; a warning does not.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
)

// Problem is one finding, located as precisely as it can be: the file, the
// object in it (KIND NAMESPACE/NAME) and the field path inside the object.
type Problem struct {
	Severity Severity `json:"severity"`
	File     string   `json:"file,omitempty"`
	Object   string   `json:"object,omitempty"`
	Field    string   `json:"field,omitempty"`
	Message  string   `json:"message"`
}

// String is the one-line text form: "FILE: OBJECT: FIELD: message".
func (p Problem) String() string {
	var b strings.Builder
	for _, part := range []string{p.File, p.Object, p.Field} {
		if part != "" {
			b.WriteString(part)
			b.WriteString(": ")
		}
	}
	if p.Severity == Warning {
		b.WriteString("warning: ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// DriftNote ends the message of every problem that names a field the API
// server would fill in on create (a CRD schema default the manifest leaves
// out): the live object will then never equal the file. It names no GitOps
// engine: what the difference does depends on the engine (ArgoCD shows the
// object OutOfSync; Flux's server-side apply sees the default too and says
// nothing), and the objects checked may be files runnerctl did not render.
// The validate command's summary says it for the engine in use.
const DriftNote = "the live object will differ from the file"

// IsDrift reports whether p names such a field.
func (p Problem) IsDrift() bool { return strings.HasSuffix(p.Message, DriftNote) }

// HasErrors reports whether any problem is an error.
func HasErrors(ps []Problem) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Severity == Error })
}

// Sort orders problems by file, object, field and message, so that output
// does not depend on the order checks ran in.
func Sort(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(strings.Compare(a.File, b.File), strings.Compare(a.Object, b.Object),
			strings.Compare(a.Field, b.Field), strings.Compare(a.Message, b.Message))
	})
}

// ObjectName is how problems name an object: "KIND NAMESPACE/NAME", or
// "KIND NAME" for an object without a namespace.
func ObjectName(kind, namespace, name string) string {
	switch {
	case kind == "":
		return ""
	case namespace == "":
		return strings.TrimSpace(kind + " " + name)
	}
	return kind + " " + namespace + "/" + name
}

// Doc is one YAML document of a manifest file.
type Doc struct {
	// Index is the document's position in its file, from 0.
	Index int
	// Line is the 1-based line its content starts on.
	Line int
	// Node is the parsed document.
	Node *yaml.Node
}

// SplitDocs parses every YAML document of content. Empty documents (a
// comment-only header, a trailing "---") are skipped. Duplicate keys are
// errors, as the API server's strict decoding has them.
func SplitDocs(content []byte) ([]Doc, error) {
	dec := yaml.NewDecoder(bytes.NewReader(content))
	var docs []Doc
	for i := 0; ; i++ {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, fmt.Errorf("document %d: %w", i+1, err)
		}
		if len(n.Content) == 0 || (n.Content[0].Kind == yaml.ScalarNode && n.Content[0].Tag == "!!null") {
			continue
		}
		docs = append(docs, Doc{Index: i, Line: n.Content[0].Line, Node: &n})
	}
}

// TypeMeta is the identity of a Kubernetes object.
type TypeMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
}

// Name is the object's name for problems.
func (t TypeMeta) Name() string { return ObjectName(t.Kind, t.Metadata.Namespace, t.Metadata.Name) }

// Generated runs the cheap checks over files that render produced from cfg.
// valuesFiles names the Helm values files among them (their documents are
// not Kubernetes objects); rv is the runner version that reads their
// runners.config. A file valuesFiles does not name but that is a values
// file by its content (IsValues) is checked as one too: each cluster of a
// runner with clusters has a values file of its own, which a caller
// listing one path per runner would miss, and a values file is never a
// manifest. Only a file failing the manifest checks is looked at again,
// so a large render parses nothing twice.
func Generated(files []render.File, valuesFiles map[string]bool, rv *runnerkeys.Runner) []Problem {
	// Parsing every file back is most of a large render's time (10,000
	// runners are 40,000 files): the files are checked on every processor,
	// each into its own slot, so the result does not depend on scheduling.
	found := make([][]Problem, len(files))
	// Runners with the same settings have the same runners.config: check
	// each text once (by its digest, so as not to keep the texts).
	var checked sync.Map // [sha256.Size]byte -> []runnerkeys.Issue
	check := func(text string) []runnerkeys.Issue {
		key := sha256.Sum256([]byte(text))
		if is, ok := checked.Load(key); ok {
			return is.([]runnerkeys.Issue)
		}
		is := rv.Check(text)
		checked.Store(key, is)
		return is
	}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range files {
		g.Go(func() error {
			f := &files[i]
			if valuesFiles[f.Path] {
				found[i] = values(f.Path, f.Content, check)
			} else if found[i] = manifest(f.Path, f.Content, check); found[i] != nil && IsValues(f.Content) {
				found[i] = values(f.Path, f.Content, check)
			}
			return nil
		})
	}
	_ = g.Wait() // nothing fails: problems are in their slots
	ps := slices.Concat(found...)
	Sort(ps)
	return ps
}

// Manifest checks that every document of a manifest file parses and names
// its apiVersion, kind and metadata.name. A kustomization.yaml (kustomize's
// configuration, under gitops.engine flux) is no object and needs no name.
func Manifest(path string, content []byte) []Problem {
	return manifest(path, content, nil)
}

// manifest is Manifest that also checks, with check unless it is nil, the
// runners.config of a HelmRelease's inline values as values checks a
// values file's.
func manifest(path string, content []byte, check func(string) []runnerkeys.Issue) []Problem {
	docs, err := SplitDocs(content)
	if err != nil {
		return []Problem{{Severity: Error, File: path, Message: "not valid YAML: " + err.Error()}}
	}
	var ps []Problem
	for _, d := range docs {
		var tm TypeMeta
		if err := d.Node.Decode(&tm); err != nil {
			ps = append(ps, Problem{Severity: Error, File: path, Message: fmt.Sprintf("document %d (line %d) is not a Kubernetes object: %v", d.Index+1, d.Line, err)})
			continue
		}
		if IsKustomizeConfig(tm.APIVersion) {
			continue
		}
		if check != nil && IsHelmRelease(tm.APIVersion, tm.Kind) {
			ps = append(ps, helmReleaseValues(path, d, tm, check)...)
		}
		for field, v := range map[string]string{"apiVersion": tm.APIVersion, "kind": tm.Kind, "metadata.name": tm.Metadata.Name} {
			if v == "" {
				ps = append(ps, Problem{Severity: Error, File: path, Object: tm.Name(), Field: field,
					Message: fmt.Sprintf("required (document %d, line %d)", d.Index+1, d.Line)})
			}
		}
	}
	Sort(ps)
	return ps
}

// IsKustomizeConfig reports whether apiVersion is that of kustomize's own
// configuration (a kustomization.yaml), which kustomize reads and never
// applies: no API server sees it.
func IsKustomizeConfig(apiVersion string) bool {
	return strings.HasPrefix(apiVersion, "kustomize.config.k8s.io/")
}

// IsHelmRelease reports whether apiVersion and kind are Flux's HelmRelease,
// whose spec.values are a chart's values inline.
func IsHelmRelease(apiVersion, kind string) bool {
	return strings.HasPrefix(apiVersion, "helm.toolkit.fluxcd.io/") && kind == "HelmRelease"
}

// helmReleaseValues checks the runners.config of HelmRelease d's inline
// values (spec.values) with check.
func helmReleaseValues(path string, d Doc, tm TypeMeta, check func(string) []runnerkeys.Issue) []Problem {
	var hr struct {
		Spec struct {
			Values struct {
				Runners struct {
					Config *string `yaml:"config"`
				} `yaml:"runners"`
			} `yaml:"values"`
		} `yaml:"spec"`
	}
	const field = "spec.values.runners.config"
	if err := d.Node.Decode(&hr); err != nil {
		return []Problem{{Severity: Error, File: path, Object: tm.Name(), Field: "spec.values", Message: "not the gitlab-runner chart's values: " + err.Error()}}
	}
	c := hr.Spec.Values.Runners.Config
	if c == nil {
		return []Problem{{Severity: Error, File: path, Object: tm.Name(), Field: field, Message: "missing: the runner would start without runnerctl's Kubernetes executor settings"}}
	}
	ps := runnerConfig(path, field, render.UnescapeTpl(*c), check)
	for i := range ps {
		ps[i].Object = tm.Name()
	}
	return ps
}

// IsValues reports whether content is a gitlab-runner chart values file
// rather than a manifest: one YAML document, without apiVersion and kind,
// whose runners.config is a string.
func IsValues(content []byte) bool {
	docs, err := SplitDocs(content)
	if err != nil || len(docs) != 1 {
		return false
	}
	var v struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Runners    struct {
			Config *string `yaml:"config"`
		} `yaml:"runners"`
	}
	if docs[0].Node.Decode(&v) != nil {
		return false
	}
	return v.APIVersion == "" && v.Kind == "" && v.Runners.Config != nil
}

// Values checks a Helm values file, generated or committed: it parses, and
// its runners.config holds only what runner version rv knows (it ignores
// other keys silently, which would make a hardening setting a no-op, and
// fails to start on a value of the wrong type).
func Values(path string, content []byte, rv *runnerkeys.Runner) []Problem {
	return values(path, content, rv.Check)
}

// values is Values with check standing in for rv.Check.
func values(path string, content []byte, check func(string) []runnerkeys.Issue) []Problem {
	var v struct {
		Runners struct {
			Config *string `yaml:"config"`
		} `yaml:"runners"`
	}
	if err := yaml.Unmarshal(content, &v); err != nil {
		return []Problem{{Severity: Error, File: path, Message: "not valid YAML: " + err.Error()}}
	}
	if v.Runners.Config == nil {
		return []Problem{{Severity: Error, File: path, Field: "runners.config", Message: "missing: the runner would start without runnerctl's Kubernetes executor settings"}}
	}
	// The chart passes runners.config through Helm's tpl.
	return runnerConfig(path, "runners.config", render.UnescapeTpl(*v.Runners.Config), check)
}

// RunnerConfig checks runner configuration TOML against runner version rv:
// each unknown key and feature flag by its full name and TOML line, each
// value of the wrong type with the type rv expects.
func RunnerConfig(path, field, text string, rv *runnerkeys.Runner) []Problem {
	return runnerConfig(path, field, text, rv.Check)
}

func runnerConfig(path, field, text string, check func(string) []runnerkeys.Issue) []Problem {
	var ps []Problem
	for _, i := range check(text) {
		sev := Error
		if i.Warning {
			sev = Warning
		}
		ps = append(ps, Problem{Severity: sev, File: path, Field: field, Message: i.Msg})
	}
	return ps
}

// ChartValues returns the chart's values that content holds: content
// itself for a values file, or the inline spec.values of the HelmRelease
// in it (gitops.engine flux), encoded as a values file.
func ChartValues(content []byte) ([]byte, error) {
	docs, err := SplitDocs(content)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		var hr struct {
			APIVersion string `yaml:"apiVersion"`
			Kind       string `yaml:"kind"`
			Spec       struct {
				Values yaml.Node `yaml:"values"`
			} `yaml:"spec"`
		}
		if d.Node.Decode(&hr) != nil || !IsHelmRelease(hr.APIVersion, hr.Kind) {
			continue
		}
		if hr.Spec.Values.Kind != yaml.MappingNode {
			return nil, errors.New("the HelmRelease has no spec.values")
		}
		var b bytes.Buffer
		enc := yaml.NewEncoder(&b)
		enc.SetIndent(2)
		if err := enc.Encode(&hr.Spec.Values); err != nil {
			return nil, err
		}
		if err := enc.Close(); err != nil {
			return nil, err
		}
		return b.Bytes(), nil
	}
	return content, nil
}
