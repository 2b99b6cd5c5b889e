#!/usr/bin/env bash
# make demo: the bird-flock pipeline end to end on this machine.
#   1. runner's own registry (on disk under .runner/registry, on its stable
#      address: 127.0.0.1:5000 unless that port was taken the first time),
#      seeded with offline stand-ins for alpine:latest and nginx:stable-alpine;
#   2. a scratch "fork" of examples/bird-flock: a git repository with a bare
#      origin under .runner/demo/ (made once; REPO=PATH uses another repository);
#   3. runner exec build-bird-app against it;
#   4. what it produced: images with tags and digests, the commit on origin
#      and its k8s/ diff, the per-job timings.
# A second run reuses the warm caches (BuildKit's cache, npm, Go) and, since
# the source did not change, publishes no new commit.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
runner=$top/bin/runner
state=$top/.runner
demo=$state/demo

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# The registry's address is stable per state dir (127.0.0.1:5000 when that
# was free the first time, recorded in .runner/registry/home.addr): image
# references and the manifests committed to origin name it, so it must not
# change between runs. Another server on it is an error, never a detour.
mkdir -p "$state/registry"
set +e
registry=$("$runner" registry address --dir "$state/registry")
rc=$?
set -e
case $rc in
  0) say "registry on $registry (runner's, already serving $state/registry)" ;;
  3)
    say "registry on $registry"
    nohup "$runner" registry serve --dir "$state/registry" >"$state/registry.log" 2>&1 &
    echo "started runner registry serve (pid $!, log $state/registry.log)"
    for _ in $(seq 100); do curl -fsS "http://$registry/v2/" >/dev/null 2>&1 && break; sleep 0.05; done
    ;;
  *) exit 1 ;;
esac
go run ./tools/baseimages -registry "$registry" -runner "$runner" -dir "$state/registry"

repo=${REPO:-}
if [ -z "$repo" ]; then
  repo=$demo/bird-flock
  if [ ! -d "$repo/.git" ]; then
    say "scratch fork of examples/bird-flock in $repo (origin: $demo/origin.git)"
    rm -rf "$demo" && mkdir -p "$demo"
    git init -q --bare -b main "$demo/origin.git"
    git init -q -b main "$repo"
    (cd examples/bird-flock && tar --exclude=node_modules --exclude=build --exclude=back-end/app -cf - .) | tar -C "$repo" -xf -
    mkdir -p "$repo/.github/workflows" && cp workflows/build-bird-app.yaml "$repo/.github/workflows/"
    git -C "$repo" add -A
    git -C "$repo" -c user.name="Demo Student" -c user.email=student@example.com commit -qm "Start from the bird-flock example"
    git -C "$repo" remote add origin "$demo/origin.git"
    git -C "$repo" push -q -u origin main
  elif ! cmp -s workflows/build-bird-app.yaml "$repo/.github/workflows/build-bird-app.yaml"; then
    # The scratch fork is runner's: it follows this checkout's pipeline.
    say "scratch fork: the workflow changed in this checkout; committing it to $repo"
    git -C "$repo" pull -q --ff-only origin main 2>/dev/null || true
    mkdir -p "$repo/.github/workflows" && cp workflows/build-bird-app.yaml "$repo/.github/workflows/"
    git -C "$repo" add .github/workflows/build-bird-app.yaml
    git -C "$repo" -c user.name="Demo Student" -c user.email=student@example.com commit -qm "Update the workflow from runner's checkout"
    git -C "$repo" push -q origin main
  fi
fi
origin=$(git -C "$repo" remote get-url origin 2>/dev/null || echo "$repo")
before=$(git --git-dir="$(git -C "$repo" rev-parse --absolute-git-dir 2>/dev/null || echo "$origin")" rev-parse HEAD 2>/dev/null || true)
before_origin=$(git -C "$origin" rev-parse HEAD 2>/dev/null || true)

say "runner exec build-bird-app --repo $repo"
set +e
"$runner" exec build-bird-app --repo "$repo" --state "$state" --registry-mirror "docker.io=http://$registry"
rc=$?
set -e

say "images in $registry"
for name in $(curl -fsS "http://$registry/v2/_catalog" | python3 -c 'import json,sys; print("\n".join(r for r in json.load(sys.stdin)["repositories"] if "birds-app" in r))'); do
  for tag in $(curl -fsS "http://$registry/v2/$name/tags/list" | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["tags"] or []))'); do
    digest=$(curl -fsSI -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
      "http://$registry/v2/$name/manifests/$tag" | tr -d '\r' | awk -F': ' 'tolower($1)=="docker-content-digest"{print $2}')
    printf '  %s:%s  %s\n' "$registry/$name" "$tag" "$digest"
  done
done

say "origin $origin"
after_origin=$(git -C "$origin" rev-parse HEAD 2>/dev/null || true)
if [ -n "$after_origin" ] && [ "$after_origin" != "$before_origin" ]; then
  git -C "$origin" log --format='new commit %H%n  by %an <%ae>: %s' -1
  git -C "$origin" diff --stat "$before_origin" "$after_origin"
  git -C "$origin" diff "$before_origin" "$after_origin" -- k8s | head -60
else
  echo "no new commit: the manifests for this source commit are already on origin"
fi
say "see it in a browser"
echo "  bin/runner preview --repo $origin --addr 127.0.0.1:8080   # then open http://127.0.0.1:8080 (Ctrl-C removes everything)"
exit $rc
