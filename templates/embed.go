// Package templates embeds the base documents of the kinds render
// generates: the fixed parts of each object, as YAML data. Render decodes
// each one strictly into its typed object, once per process and only when
// it renders, and then sets the fields that come from runnerctl.yaml.
//
// They are data, never text templates: nothing here is substituted into
// text, and values from runnerctl.yaml are only ever set on typed fields,
// so no value can break out of its field (FuzzRender checks it).
package templates

import "embed"

// FS holds the base documents, one per file.
//
//go:embed *.yaml
var FS embed.FS
