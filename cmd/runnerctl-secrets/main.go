// Command runnerctl-secrets runs runnerctl's secrets backends in their own
// process, so that their SDKs never slow runnerctl's start-up. runnerctl
// starts it; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/runnerctl/runnerctl/internal/secrets/backends"
)

func main() { os.Exit(backends.Main()) }
