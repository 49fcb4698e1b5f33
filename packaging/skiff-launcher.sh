#!/bin/sh
# skiff: runs Skiff's bundled program (lib/skiff/skiff.js) on the deno that
# came with it (lib/skiff/deno), whatever deno.json the working directory has.
set -eu
self=$(readlink -f "$0")
lib=$(cd "$(dirname "$self")/../lib/skiff" && pwd)
export DENO_NO_UPDATE_CHECK=1
if [ -z "${DENO_DIR:-}" ] && [ -z "${HOME:-}" ]; then
  export DENO_DIR=/var/cache/skiff/deno
fi
exec "$lib/deno" run --allow-all --no-config --no-lock --no-prompt --v8-flags=--max-semi-space-size=1 "$lib/skiff.js" "$@"
