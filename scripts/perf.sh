#!/usr/bin/env bash
# perf.sh - whole-process performance comparison of runnerctl against helm.
#
# Usage:
#   scripts/perf.sh CHART_DIR
#
#   CHART_DIR     an unpacked gitlab-runner chart, e.g. from
#                   helm repo add gitlab https://charts.gitlab.io
#                   helm pull gitlab/gitlab-runner --version 0.86.0 --untar
#
# Environment (all optional):
#   HELM          helm binary to time (default: `helm` on PATH; if there is
#                 none, helm $HELM_VERSION is built from source, see below)
#   HELM_VERSION  helm version to build when HELM is unset and helm is not on
#                 PATH (default v4.3.1)
#   RUNS          hyperfine runs per command (default 20)
#   PERF_OUT      directory to keep the hyperfine JSON/CSV in (default: a temp
#                 dir that is deleted at exit)
#
# Needs: go, hyperfine, GNU time (/usr/bin/time; Debian: apt-get install -y
# hyperfine time).
#
# Targets checked (whole process, wall-clock means from hyperfine):
#   1. runnerctl render --stdout (homelab)   <= 25% of helm template (same values)
#   2. render of a 200-runner spec           <= 10x render of the 1-runner spec
#   3. peak RSS of runnerctl render          <= 64 MiB
#   4. runnerctl --version                   <= 5x a hello-world Go binary
#   5. runnerctl binary size                 <= 50% of the helm binary
#
# Nothing is written inside the repository: every input is copied to and every
# output built in a mktemp -d directory. Exit status is 1 if any target fails.
set -euo pipefail

die() { echo "perf.sh: $*" >&2; exit 2; }

[[ $# -ge 1 ]] || die "usage: $0 CHART_DIR   (an unpacked gitlab-runner chart)"
CHART=$(cd "$1" && pwd) || die "no such chart directory: $1"
[[ -f $CHART/Chart.yaml && -d $CHART/templates ]] || die "$CHART is not an unpacked Helm chart"

RUNS=${RUNS:-20}
HELM_VERSION=${HELM_VERSION:-v4.3.1}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RSS_LIMIT_KB=$((64 * 1024))

for tool in go hyperfine awk; do
  command -v "$tool" >/dev/null || die "$tool not found"
done
# The shell builtin `time` has no -v; we need GNU time for peak RSS.
[[ -x /usr/bin/time ]] || die "/usr/bin/time (GNU time) not found; apt-get install -y time"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/runnerctl-perf.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT=${PERF_OUT:-$WORK/results}
mkdir -p "$OUT" "$WORK/bin"

# Keep helm away from the user's own config, cache and repositories so the
# timing does not depend on what happens to be installed there.
export HELM_CACHE_HOME=$WORK/helm/cache HELM_CONFIG_HOME=$WORK/helm/config HELM_DATA_HOME=$WORK/helm/data

size_of() { stat -c %s "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# --- Build -----------------------------------------------------------------
# Stripped (-s -w) and -trimpath is how release binaries are usually built;
# the unstripped build is reported too, since debug info roughly doubles size.
echo "==> building runnerctl"
(cd "$REPO" && go build -trimpath -ldflags="-s -w" -o "$WORK/bin/runnerctl" ./cmd/runnerctl)
(cd "$REPO" && go build -trimpath -o "$WORK/bin/runnerctl-unstripped" ./cmd/runnerctl)
# The secrets helper carries the cloud SDKs so that runnerctl does not; it is
# started only by init and rotate-token. Its size is reported, not judged.
(cd "$REPO" && go build -trimpath -ldflags="-s -w" -o "$WORK/bin/runnerctl-secrets" ./cmd/runnerctl-secrets)
RC=$WORK/bin/runnerctl

# Baseline for start-up cost: the smallest possible Go program, built the same
# way, so the ratio measures what runnerctl adds (init of cobra/viper, etc.).
echo "==> building hello-world"
mkdir -p "$WORK/hello"
cat >"$WORK/hello/main.go" <<'EOF'
package main

import "fmt"

func main() { fmt.Println("hello, world") }
EOF
printf 'module hello\n\ngo 1.21\n' >"$WORK/hello/go.mod"
(cd "$WORK/hello" && go build -trimpath -ldflags="-s -w" -o "$WORK/bin/hello" .)

# helm: use the one given; otherwise build it from source with the same flags
# as runnerctl so that the size comparison is like for like.
HELM_UNSTRIPPED=""
if [[ -z ${HELM:-} ]] && command -v helm >/dev/null; then
  HELM=$(command -v helm)
fi
if [[ -z ${HELM:-} ]]; then
  echo "==> building helm $HELM_VERSION from source (set HELM to skip)"
  (cd "$WORK" && GOBIN=$WORK/bin go install -trimpath -ldflags="-s -w" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
  mv "$WORK/bin/helm" "$WORK/bin/helm-stripped"
  (cd "$WORK" && GOBIN=$WORK/bin go install -trimpath "helm.sh/helm/v4/cmd/helm@$HELM_VERSION")
  mv "$WORK/bin/helm" "$WORK/bin/helm-unstripped"
  HELM=$WORK/bin/helm-stripped
  HELM_UNSTRIPPED=$WORK/bin/helm-unstripped
fi
[[ -x $HELM ]] || die "HELM=$HELM is not executable"

# --- Inputs ----------------------------------------------------------------
# Snapshot the example so that (a) concurrent edits of the repo cannot change
# the input between benchmarks and (b) render can never write into the repo.
cp -r "$REPO/examples/homelab" "$WORK/homelab"
SPEC1=$WORK/homelab/runnerctl.yaml
SPEC200=$WORK/homelab/runnerctl-200.yaml
VALUES=$WORK/homelab/values/gitlab-runner-homelab.yaml
[[ -f $VALUES ]] || die "missing $VALUES"

# 200-runner spec: the first runner of `runners:` repeated as r1..r200,
# everything else kept. serviceAccount gets a -rN suffix because runnerctl
# rejects two releases creating the same service account in one namespace.
awk -v n=200 '
  function emit(   i, j, line) {
    for (i = 1; i <= n; i++)
      for (j = 1; j <= nblk; j++) {
        line = blk[j]
        if (j == 1) sub(/name:[ \t]*[^ \t#]+/, "name: r" i, line)
        else if (line ~ /^    serviceAccount:/) line = line "-r" i
        print line
      }
    done = 1
  }
  /^runners:/                 { print; inrun = 1; next }
  inrun && /^[^ \t#]/         { if (!done) emit(); inrun = 0 }
  inrun && /^  - /            { grab = !done && nblk == 0 }
  inrun                       { if (grab) blk[++nblk] = $0; next }
                              { print }
  END                         { if (inrun && !done) emit() }
' "$SPEC1" >"$SPEC200"
[[ $(grep -c '^  - name: r' "$SPEC200") -eq 200 ]] || die "could not generate the 200-runner spec"

# Fail early, with the tool's own message, if any command does not work.
CMD_HELM="$HELM template gitlab-runner $CHART -n gitlab-runner -f $VALUES"
CMD_RC1="$RC render --stdout --config $SPEC1"
CMD_RC200="$RC render --stdout --config $SPEC200"
CMD_VER="$RC --version"
CMD_HELLO="$WORK/bin/hello"
for c in "$CMD_HELM" "$CMD_RC1" "$CMD_RC200" "$CMD_VER" "$CMD_HELLO"; do
  $c >/dev/null || die "command failed: $c"
done

# --- Timing ----------------------------------------------------------------
# -N (no shell) because the runnerctl and hello-world commands take about a
# millisecond: spawning a shell per run would swamp what we measure.
echo "==> timing (hyperfine, warmup 3, $RUNS runs)"
hyperfine -N --warmup 3 --runs "$RUNS" \
  --export-json "$OUT/hyperfine.json" --export-csv "$OUT/hyperfine.csv" \
  -n helm-template "$CMD_HELM" \
  -n render-homelab "$CMD_RC1" \
  -n render-200 "$CMD_RC200" \
  -n runnerctl-version "$CMD_VER" \
  -n hello-world "$CMD_HELLO"

# Column of a named command in ms, from the CSV (command,mean,stddev,median,...
# in seconds). Targets are judged on the mean; stddev and median are printed
# too because one noisy run on a shared machine can move a ~1 ms mean a lot.
col_ms() { awk -F, -v n="$1" -v c="$2" '$1 == n { printf "%.2f", $c * 1000 }' "$OUT/hyperfine.csv"; }
mean_ms() { col_ms "$1" 2; }
T_HELM=$(mean_ms helm-template)
T_RC1=$(mean_ms render-homelab)
T_RC200=$(mean_ms render-200)
T_VER=$(mean_ms runnerctl-version)
T_HELLO=$(mean_ms hello-world)

# --- Peak RSS --------------------------------------------------------------
# Max over 5 runs of GNU time's "Maximum resident set size" (kB).
peak_rss_kb() {
  local max=0 kb i
  for i in 1 2 3 4 5; do
    kb=$(/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }')
    ((kb > max)) && max=$kb
  done
  echo "$max"
}
RSS_RC1=$(peak_rss_kb $CMD_RC1)
RSS_RC200=$(peak_rss_kb $CMD_RC200)
RSS_HELM=$(peak_rss_kb $CMD_HELM)

# --- Report ----------------------------------------------------------------
SZ_RC=$(size_of "$RC")
SZ_RC_FULL=$(size_of "$WORK/bin/runnerctl-unstripped")
SZ_HELM=$(size_of "$HELM")
SZ_HELLO=$(size_of "$WORK/bin/hello")

FAILS=0
# row NAME VALUE LIMIT UNIT: PASS when VALUE <= LIMIT
row() {
  local verdict
  verdict=$(awk -v v="$2" -v l="$3" 'BEGIN { print (v <= l) ? "PASS" : "FAIL" }')
  [[ $verdict == PASS ]] || FAILS=$((FAILS + 1))
  printf '%-44s %12s %12s  %s\n' "$1" "$2$4" "<= $3$4" "$verdict"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

echo
echo "chart:  $(awk '/^name:/ { n = $2 } /^version:/ { v = $2 } END { print n, v }' "$CHART/Chart.yaml") ($CHART)"
echo "helm:   $HELM ($("$HELM" version --short 2>/dev/null || echo '?'))"
echo "go:     $(go version | awk '{ print $3 }'), hyperfine $(hyperfine --version | awk '{ print $2 }'), $(nproc) CPUs"
echo
printf '%-28s %10s %10s %10s\n' "wall time (ms)" "mean" "stddev" "median"
for n in helm-template render-homelab render-200 runnerctl-version hello-world; do
  printf '%-28s %10s %10s %10s\n' "$n" "$(col_ms $n 2)" "$(col_ms $n 3)" "$(col_ms $n 4)"
done
echo
printf '%-44s %12s %12s  %s\n' "target" "measured" "limit" "result"
row "1. render / helm template" "$(ratio "$T_RC1" "$T_HELM")" 0.25 ""
row "2. render 200 runners / 1 runner" "$(ratio "$T_RC200" "$T_RC1")" 10 ""
row "3. peak RSS render, 1 runner (kB)" "$RSS_RC1" "$RSS_LIMIT_KB" ""
row "3. peak RSS render, 200 runners (kB)" "$RSS_RC200" "$RSS_LIMIT_KB" ""
row "4. runnerctl --version / hello-world" "$(ratio "$T_VER" "$T_HELLO")" 5 ""
row "5. runnerctl size / helm size (stripped)" "$(ratio "$SZ_RC" "$SZ_HELM")" 0.5 ""
echo
echo "peak RSS helm template: $RSS_HELM kB (for reference)"
echo "sizes: runnerctl $(mib "$SZ_RC") stripped, $(mib "$SZ_RC_FULL") unstripped;" \
  "runnerctl-secrets $(mib "$(size_of "$WORK/bin/runnerctl-secrets")") stripped;" \
  "helm $(mib "$SZ_HELM") ($HELM); hello-world $(mib "$SZ_HELLO")"
if [[ -n $HELM_UNSTRIPPED ]]; then
  SZ_HELM_FULL=$(size_of "$HELM_UNSTRIPPED")
  echo "unstripped: runnerctl/helm = $(ratio "$SZ_RC_FULL" "$SZ_HELM_FULL") (helm $(mib "$SZ_HELM_FULL"))"
fi
if [[ -n ${PERF_OUT:-} ]]; then echo "hyperfine results: $OUT/hyperfine.json"; fi

((FAILS == 0)) || { echo "$FAILS target(s) failed"; exit 1; }
echo "all targets met"
