package validate

import (
	"fmt"
	"regexp"
	"strings"
)

// refKeyRE is what ArgoCD accepts as a source's ref (util/argo's
// GetRefSources at v3.5.7).
var refKeyRE = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// ApplicationSources checks an ArgoCD Application's spec.sources against
// the rules ArgoCD itself applies to multi-source applications (v3.5.7:
// util/argo's source validation and GetRefSources, the repo server's
// resolution of $ref value files). The CRD's schema allows all of these
// mistakes; ArgoCD reports them only once it tries to sync, as a
// ComparisonError or InvalidSpecError on the Application.
//
//   - every source names a repoURL and one of path, chart or ref;
//   - a Helm chart source names its targetRevision;
//   - a ref is letters, digits, '_' and '-' only, and unique;
//   - a value file that starts with $NAME/ needs a source with ref NAME,
//     and that source must not be a Helm chart (a ref source is a Git
//     repository);
//   - "$values" (any $ref) anywhere but at the start of a value file path
//     is taken literally, as a file inside the chart, which does not exist.
//
// obj is the Application decoded from YAML or JSON.
func ApplicationSources(obj map[string]any) []Problem {
	spec, _ := obj["spec"].(map[string]any)
	sources, _ := spec["sources"].([]any)
	if len(sources) == 0 {
		return nil
	}
	var ps []Problem
	bad := func(field, format string, args ...any) {
		ps = append(ps, Problem{Severity: Error, Field: field, Message: fmt.Sprintf(format, args...) + " (ArgoCD refuses this source when it syncs)"})
	}
	refs := map[string]map[string]any{} // ref name: its source
	for i, s := range sources {
		src, _ := s.(map[string]any)
		f := fmt.Sprintf("spec.sources[%d]", i)
		repoURL, _ := src["repoURL"].(string)
		path, _ := src["path"].(string)
		chart, _ := src["chart"].(string)
		ref, _ := src["ref"].(string)
		rev, _ := src["targetRevision"].(string)
		if repoURL == "" || path == "" && chart == "" && ref == "" {
			bad(f, "a source needs repoURL and one of path, chart or ref")
		}
		if chart != "" && rev == "" {
			bad(f+".targetRevision", "a Helm chart source needs targetRevision (the chart version)")
		}
		if ref == "" {
			continue
		}
		switch {
		case !refKeyRE.MatchString(ref):
			bad(f+".ref", "%q: a ref may hold letters, digits, '_' and '-' only", ref)
		case refs[ref] != nil:
			bad(f+".ref", "%q: another source has the same ref; $%s would be ambiguous", ref, ref)
		}
		if refs[ref] == nil {
			refs[ref] = src // once reported, not again through the value files
		}
	}
	for i, s := range sources {
		src, _ := s.(map[string]any)
		helm, _ := src["helm"].(map[string]any)
		files, _ := helm["valueFiles"].([]any)
		for j, v := range files {
			file, _ := v.(string)
			f := fmt.Sprintf("spec.sources[%d].helm.valueFiles[%d]", i, j)
			if !strings.HasPrefix(file, "$") {
				if k := strings.Index(file, "$"); k >= 0 && refKeyRE.MatchString(refName(file[k:])) {
					bad(f, "%q: $%s must start the path: elsewhere ArgoCD reads it as a file inside the chart", file, refName(file[k:]))
				}
				continue
			}
			name := refName(file)
			target, ok := refs[name]
			switch {
			case !ok && len(refs) == 0:
				bad(f, "%q refers to $%s, but no source has a ref", file, name)
			case !ok:
				bad(f, "%q refers to $%s, which no source's ref defines", file, name)
			case target["chart"] != nil && target["chart"] != "":
				bad(f, "%q refers to $%s, a Helm chart source: a ref source must be a Git repository", file, name)
			}
		}
	}
	return ps
}

// refName is the ref a value file names: "$values/x.yaml" is "values".
func refName(file string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(file, "$"), "/")
	return name
}
