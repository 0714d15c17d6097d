#!/usr/bin/env bash
# A local base image for offline builds (no registry can be pulled from here): a Debian
# bookworm rootfs with python3 (3.11, as python:3.11-slim) and Debian's PostgreSQL 15 (for
# the test's `db` image), made with debootstrap from Debian's package archive and imported
# into the Engine at DOCKER_HOST as $1 (default atp-base:bookworm).
#
# The rootfs tarball is cached outside the checkout, keyed by the recipe, so CI on a
# clean clone pays the debootstrap once per machine; an import into an Engine that already
# has the tag is skipped. Usage: DOCKER_HOST=unix:///path/docker.sock build-base-image.sh [TAG]
set -euo pipefail
TAG="${1:-atp-base:bookworm}"
CACHE="${ATP_DOCKER_CACHE:-/var/cache/atp-docker}"
PACKAGES=python3,python3-venv,ca-certificates,postgresql-15,tzdata
# The recipe (bump the trailing word when the rootfs steps below change): the cache key.
KEY="$(echo "bookworm minbase $PACKAGES strip-docs" | sha1sum | cut -c1-12)"
TARBALL="$CACHE/base-$KEY.tar"

if [ "$(docker image inspect -f '{{index .Config.Labels "atp.base.key"}}' "$TAG" 2>/dev/null)" \
    = "$KEY" ]; then
  echo "base image $TAG present"
  exit 0
fi
mkdir -p "$CACHE/debs"
exec 9>"$CACHE/base.lock"
flock 9  # two runs on one machine build the tarball once
if [ ! -s "$TARBALL" ]; then
  command -v debootstrap >/dev/null || {
    echo "debootstrap missing: run scripts/ensure-integrity-tools.sh" >&2; exit 1; }
  root="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  start=$SECONDS
  # minbase: dpkg, apt and essentials only; the default mirror of Debian's archive.
  debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$CACHE/debs" \
    bookworm "$root" >"$CACHE/debootstrap.log" 2>&1 || {
      tail -30 "$CACHE/debootstrap.log" >&2; exit 1; }
  # Debian's postinst made a cluster `main` nobody uses; the db image runs initdb itself.
  rm -rf "$root/var/lib/postgresql/15/main" "$root/etc/postgresql/15/main"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/*
  tar -C "$root" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
  find "$CACHE" -maxdepth 1 -name 'base-*.tar' ! -name "base-$KEY.tar" -delete
  echo "debootstrap + tar: $((SECONDS - start)) s ($(du -h "$TARBALL" | cut -f1))"
fi
start=$SECONDS
docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' -c "LABEL atp.base.key=$KEY" \
  "$TARBALL" "$TAG" >/dev/null
echo "imported $TAG in $((SECONDS - start)) s"
