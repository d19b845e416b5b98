// Command runnerctl-kube gives runnerctl access to a Kubernetes cluster in
// its own process, so that client-go never slows runnerctl's start-up.
// runnerctl starts it (rotate-token --kubeconfig/--context); it is not
// meant to be run by hand.
package main

import (
	"os"

	"github.com/runnerctl/runnerctl/internal/kube"
)

func main() { os.Exit(kube.Main()) }
