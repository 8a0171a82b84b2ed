#!/usr/bin/env bash
# README command 2: install with the dev tools, check generated code and lint, run the tests.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not e2e"` for the fast tiers only.
source "$(dirname "$0")/_venv.sh"
ensure_venv all,dev
.venv/bin/python tools/genproto.py --check
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/pytest "$@"
