// Command runnerctl-kube gives runnerctl access to a Kubernetes cluster and
// to Helm chart repositories in its own process, so that neither client-go
// nor the Helm SDK ever slows runnerctl's start-up. runnerctl starts it
// (rotate-token --kubeconfig/--context; doctor's chart check, which opens
// no cluster); it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/runnerctl/runnerctl/internal/kube"
)

func main() { os.Exit(kube.Main()) }
