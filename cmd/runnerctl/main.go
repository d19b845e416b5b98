// Command runnerctl bootstraps self-hosted GitLab Runners on Kubernetes the
// GitOps way. Everything lives in internal/cli; main only sets the exit code.
package main

import (
	"os"

	"github.com/runnerctl/runnerctl/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
