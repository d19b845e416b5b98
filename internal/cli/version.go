package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/runnerctl/runnerctl/internal/config"
)

// Set at release time (see .goreleaser.yaml) with
//
//	-ldflags "-X github.com/runnerctl/runnerctl/internal/cli.version=1.2.3
//	          -X ...cli.commit=SHA -X ...cli.date=RFC3339"
//
// date is the commit's date, not the build's, so that a rebuild of one
// commit is byte for byte the same binary.
var version, commit, date string

// buildInfo says which runnerctl this is; its JSON names are a contract.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// currentBuild is what the linker set, completed from the build
// information that the Go toolchain records in every binary.
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return resolveBuild(version, commit, date, bi)
}

// resolveBuild prefers the values set with -ldflags (a release), then the
// module version and VCS stamps of the build information (go install
// module@version records the version; a build inside a Git checkout records
// vcs.revision and vcs.time), then "devel" for the version and "unknown"
// for the commit and date.
func resolveBuild(ldVersion, ldCommit, ldDate string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: ldVersion, Commit: ldCommit, Date: ldDate, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && ldCommit == "" && b.Commit != "" {
			b.Commit += "-dirty"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// versionString is what --version prints.
func versionString() string {
	return currentBuild().Version
}

func newVersionCmd(f *factory, g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of runnerctl and of the chart it pins by default",
		Long: `version prints runnerctl's version, the Git commit and commit date it was built
from, and the gitlab-runner chart (and runner) version that runnerctl.yaml
gets by default. A release binary carries all three; one built with
go install module@version knows its version, and one built in a Git checkout
knows its commit; what is not known is shown as devel or unknown.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := struct {
				buildInfo
				ChartVersion string `json:"defaultChartVersion"`
				AppVersion   string `json:"defaultChartAppVersion"`
			}{currentBuild(), config.DefaultChartVersion, config.DefaultChartAppVersion}
			if g.output == "json" {
				return writeJSON(f.stdout, info)
			}
			_, err := fmt.Fprintf(f.stdout, "runnerctl %s (commit %s, %s; %s %s)\ndefault chart gitlab-runner %s (runner %s)\n",
				info.Version, info.Commit, info.Date, info.GoVersion, info.Platform, info.ChartVersion, info.AppVersion)
			return err
		},
	}
}
