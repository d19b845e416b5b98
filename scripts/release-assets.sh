#!/bin/sh
# Prepares what the release archives and packages carry besides the
# binaries (run by goreleaser's before hooks, from the repository root):
#   completions/  runnerctl.bash, _runnerctl (zsh), runnerctl.fish, runnerctl.ps1
#   manpages/     the committed docs/man/*.1, gzipped without name or time
#                 (gzip -n) so that packages are reproducible
# Both directories are generated and ignored by Git.
set -eu
cd "$(dirname "$0")/.."

rm -rf completions manpages
mkdir -p completions manpages

# Build once for this machine (goreleaser's GOOS/GOARCH are not set here).
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/runnerctl" ./cmd/runnerctl
"$bin/runnerctl" completion bash >completions/runnerctl.bash
"$bin/runnerctl" completion zsh >completions/_runnerctl
"$bin/runnerctl" completion fish >completions/runnerctl.fish
"$bin/runnerctl" completion powershell >completions/runnerctl.ps1

for page in docs/man/*.1; do
  gzip -9 -n -c "$page" >"manpages/$(basename "$page").gz"
done
