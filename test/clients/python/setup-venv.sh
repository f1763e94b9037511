#!/usr/bin/env bash
# Makes (once) the Python virtual environment the client tests run the
# `livekit` realtime SDK in, and prints its interpreter's path on stdout.
#
# The venv lives outside the work tree, in ~/.cache/volly/venv/<key> (or
# $VOLLY_VENV_DIR/<key>), where <key> hashes requirements.txt and the Python
# version: a changed pin or interpreter gets a fresh venv, an unchanged one is
# reused in under a second. A venv is path-bound, so it is built in place,
# under a lock (parallel runs share it), and marked ready only after the SDK
# imports: an interrupted install is never taken for a finished one.
#
# Used by .ci/run, `npm run setup:python` and test/harness/python.ts.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
req="$here/requirements.txt"
python=${VOLLY_PYTHON3:-python3}
version=$("$python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
key=$( (
  cat "$req"
  echo "python $version"
) | sha256sum | cut -c1-16)
root=${VOLLY_VENV_DIR:-${HOME:-/root}/.cache/volly/venv}
venv="$root/$key"
marker="$venv/.volly-ready"

# The SDK must import (its native FFI library included), not merely be there.
ready() { [[ -f "$marker" ]] && "$venv/bin/python" -c 'import livekit.rtc' >/dev/null 2>&1; }

mkdir -p "$root"
exec 9>"$root/$key.lock"
flock 9
if ! ready; then
  echo "setup-venv: creating $venv (python $version, $(grep -c '==' "$req") pinned packages)" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --requirement "$req" >&2
  "$venv/bin/python" -c 'import livekit.rtc' >&2
  touch "$marker"
fi
echo "$venv/bin/python"
