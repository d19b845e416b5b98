// Package profiles embeds the built-in hardening profiles, which are data:
// each *.yaml file here is one profile (see internal/profile for the schema).
package profiles

import "embed"

// FS holds the built-in profile files.
//
//go:embed *.yaml
var FS embed.FS
