package validate

// Request is what `runnerctl validate` asks of the runnerctl-kube helper,
// which links the Kubernetes and Helm code: it crosses the helper's pipe
// as JSON.
type Request struct {
	// Files are manifests whose objects are validated.
	Files []File `json:"files,omitempty"`
	// CRDs are files holding CustomResourceDefinitions.
	CRDs []File `json:"crds,omitempty"`
	// IgnoreMissingSchemas makes an object without a CRD a warning.
	IgnoreMissingSchemas bool `json:"ignoreMissingSchemas,omitempty"`
	// AllowDrift makes a field that the API server would fill in on
	// create a warning.
	AllowDrift bool `json:"allowDrift,omitempty"`
	// Charts are the chart renderings to check, one per runner.
	Charts []ChartRequest `json:"charts,omitempty"`
}

// File is a file's path (as problems name it) and content.
type File struct {
	Path    string `json:"path"`
	Content []byte `json:"content"`
}

// ChartRequest renders one chart with one runner's values.
type ChartRequest struct {
	Source ChartSource `json:"source"`
	Input  ChartInput  `json:"input"`
}

// ChartSource is where the chart comes from: a local chart directory or
// packaged .tgz (Path, absolute), or a chart repository (HTTP(S) or
// oci://) with the chart's name and version.
type ChartSource struct {
	Path    string `json:"path,omitempty"`
	RepoURL string `json:"repoURL,omitempty"`
	Chart   string `json:"chart,omitempty"`
	Version string `json:"version,omitempty"`
}

// String names the source in messages.
func (s ChartSource) String() string {
	if s.Path != "" {
		return s.Path
	}
	return s.RepoURL + " " + s.Chart + " " + s.Version
}

// ChartInput is one runner's generated values and its profile's claims.
type ChartInput struct {
	ValuesPath  string `json:"valuesPath"`
	Values      []byte `json:"values"`
	ReleaseName string `json:"releaseName"`
	Namespace   string `json:"namespace"`
	Claims      Claims `json:"claims"`
}
