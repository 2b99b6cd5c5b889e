#!/usr/bin/env bash
# actionlint-corpus.sh [RUNNER]: runs `runner check` on actionlint's own test
# corpus (testdata/err: workflows actionlint rejects, each with the expected
# .out; testdata/ok: workflows it accepts) and prints how many runner flags
# and how many valid ones it rejects. Run by hand: it fetches the actionlint
# module from the Go module proxy into .cache/actionlint-corpus (once); tests
# and CI never run it. The figure and its date go into docs/benchmarks.md.
#
# Per err file it counts: flagged with an error, flagged with a warning only,
# not flagged; and whether runner reports on every line actionlint's .out
# names ("same lines"). Per ok file: rejected (an error), warned, clean.
# Files not flagged and ok files rejected are listed with runner's output.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runner=${1:-$root/bin/runner}
version=${ACTIONLINT_VERSION:-v1.7.12}
cache=$root/.cache/actionlint-corpus
[ -x "$runner" ] || { echo "no $runner: make build first" >&2; exit 2; }
dir=$(GOMODCACHE=$cache/mod GOFLAGS=-mod=mod go mod download -json "github.com/rhysd/actionlint@$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/testdata/err" ] || { echo "cannot fetch github.com/rhysd/actionlint@$version" >&2; exit 2; }
out=$(mktemp -d)
trap 'chmod -R u+w "$out"; rm -rf "$out"' EXIT

check() { # check KIND FILE: runner's output in $out/KIND.NAME, prints its verdict
  local name rc
  name=$(basename "$2")
  (cd "$(dirname "$2")" && "$runner" check "$name" >"$out/$1.$name" 2>&1)
  rc=$?
  if [ $rc -eq 1 ]; then echo error
  elif [ $rc -ne 0 ]; then echo "fail($rc)"
  elif grep -qE "^$name:[0-9]+:[0-9]+: warning:" "$out/$1.$name"; then echo warning
  else echo clean; fi
}

declare -A n
missed=() rejected=() partial=()
for f in "$dir"/testdata/err/*.yaml; do
  v=$(check err "$f"); n[err.$v]=$((${n[err.$v]:-0} + 1)); n[err]=$((${n[err]:-0} + 1))
  b=$(basename "$f" .yaml)
  [ "$v" = clean ] && missed+=("$b")
  want=$(grep -oE '^/?test\\?\.yaml:[0-9]+' "${f%.yaml}.out" | grep -oE '[0-9]+$' | sort -u)
  got=$(grep -oE "^$b\.yaml:[0-9]+" "$out/err.$b.yaml" | grep -oE '[0-9]+$' | sort -u)
  if [ -n "$want" ] && [ -z "$(comm -23 <(echo "$want") <(echo "$got"))" ]; then
    n[err.lines]=$((${n[err.lines]:-0} + 1))
  elif [ "$v" != clean ]; then partial+=("$b")
  fi
done
for f in "$dir"/testdata/ok/*.yaml "$dir"/testdata/ok/*.yml; do
  [ -f "$f" ] || continue
  v=$(check ok "$f"); n[ok.$v]=$((${n[ok.$v]:-0} + 1)); n[ok]=$((${n[ok]:-0} + 1))
  [ "$v" = error ] && rejected+=("$(basename "$f")")
done

echo "actionlint $version corpus, runner $(git -C "$root" rev-parse --short HEAD)"
echo "err: ${n[err]} files: ${n[err.error]:-0} error, ${n[err.warning]:-0} warning only, ${n[err.clean]:-0} not flagged;" \
  "${n[err.lines]:-0} with a report on every line actionlint names"
echo "ok:  ${n[ok]} files: ${n[ok.error]:-0} rejected (error), ${n[ok.warning]:-0} warning only, ${n[ok.clean]:-0} clean"
for k in "${!n[@]}"; do case $k in *fail*) echo "tool failures ($k): ${n[$k]}";; esac; done
echo
echo "err files runner does not flag:"
for b in "${missed[@]}"; do echo "  $b"; done
echo "err files flagged but not on every line actionlint names:"
echo "  ${partial[*]}"
echo "ok files runner rejects:"
for b in "${rejected[@]}"; do
  echo "  $b"
  grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$out/ok.$b" | grep -v ': warning:' | sed 's/^/    /' | head -3
done
