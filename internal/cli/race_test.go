//go:build race

package cli

// raceEnabled: this test binary runs under the race detector, and so do
// the helpers it builds.
const raceEnabled = true
