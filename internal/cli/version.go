package cli

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/config"
)

// version is set at release time with -ldflags "-X ...cli.version=v1.2.3".
var version = ""

// versionString is the release version, or the module version recorded by
// `go install`, or "devel" for a plain build.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCmd(e env, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of runnerctl and of the chart it pins by default",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := struct {
				Version      string `json:"version"`
				ChartVersion string `json:"defaultChartVersion"`
				AppVersion   string `json:"defaultChartAppVersion"`
			}{versionString(), config.DefaultChartVersion, config.DefaultChartAppVersion}
			if g.output == "json" {
				return writeJSON(e.stdout, info)
			}
			_, err := fmt.Fprintf(e.stdout, "runnerctl %s (default chart gitlab-runner %s, runner %s)\n", info.Version, info.ChartVersion, info.AppVersion)
			return err
		},
	}
}
