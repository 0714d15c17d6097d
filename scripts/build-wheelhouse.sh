#!/usr/bin/env bash
# The wheelhouse the Dockerfile installs from (`pip install --no-index`: a build needs no
# package index): ATP's runtime dependencies at the versions of requirements.lock, plus the
# atp wheel of this checkout, for CPython 3.11 on Linux x86-64 (the image's Python).
#
# The dependency wheels are cached outside the checkout keyed by requirements.lock and
# pyproject.toml, so only the atp wheel is rebuilt per run. Usage: build-wheelhouse.sh [DIR]
# DIR (default ./wheelhouse) gets deps/ (the dependencies) and atp/ (the atp wheel).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-wheelhouse}"
CACHE="${ATP_DOCKER_CACHE:-/var/cache/atp-docker}"
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3.11 || command -v python3)"
KEY="$( (cat requirements.lock pyproject.toml; "$PY" -c 'import sys; print(sys.version_info[:2])') \
  | sha1sum | cut -c1-12)"
DEPS="$CACHE/wheels-$KEY"
quiet() { grep -v "is ignored: it is neither a file nor a directory" || true; }
mkdir -p "$CACHE"
exec 9>"$CACHE/wheels.lock"
flock 9
if [ ! -d "$DEPS" ]; then
  start=$SECONDS
  tmp="$(mktemp -d "$CACHE/wheels.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  # Runtime dependencies only (no dev extra), pinned by the lock file as a constraint.
  "$PY" -m pip wheel -q --disable-pip-version-check -w "$tmp" -c requirements.lock . \
    2> >(quiet >&2)
  rm -f "$tmp"/atp-*.whl
  mv "$tmp" "$DEPS"
  find "$CACHE" -maxdepth 1 -name 'wheels-*' ! -name "wheels-$KEY" -exec rm -rf {} +
  trap - EXIT
  echo "dependency wheels: $(ls "$DEPS" | wc -l) in $((SECONDS - start)) s"
fi
rm -rf "$OUT"
mkdir -p "$OUT/deps" "$OUT/atp"
cp -pl "$DEPS"/*.whl "$OUT/deps/" 2>/dev/null || cp -p "$DEPS"/*.whl "$OUT/deps/"
UV="$(dirname "$PY")/uv"
if [ -x "$UV" ]; then  # uv caches the build environment: ~3 s instead of pip's ~30 s
  "$UV" build -q --wheel --out-dir "$OUT/atp" .
else
  "$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$OUT/atp" . 2> >(quiet >&2)
fi
rm -rf build atp.egg-info
echo "wheelhouse $OUT: $(ls "$OUT/deps" | wc -l) dependency wheels + $(ls "$OUT/atp")"
