# Sourced by the scripts here: create .venv once and install the project with the given extras.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ensure_venv() {
  local extras="$1"
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  .venv/bin/python -m pip install --quiet -e ".[${extras}]"
}
