#!/usr/bin/env bash
# README command 2: set up what the tests need (system packages when root, PostgreSQL when installed,
# the virtualenv with the dev tools), check generated code, lint, run the tests.
# Extra arguments go to pytest, e.g. `scripts/test.sh -m "not e2e"` for the fast tiers only.
source "$(dirname "$0")/_venv.sh"
source "$(dirname "$0")/_system.sh"
install_system_parts
start_postgres
ensure_venv all,dev
lint_protos
.venv/bin/python tools/genproto.py --check
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# pyright fetches its own Node package on first use; keep it in the checkout, not under $HOME.
PYRIGHT_PYTHON_CACHE_DIR=.ci/tools/pyright-cache .venv/bin/pyright
# The documentation site, warnings as errors (a broken link or a docstring reference fails).
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir build/site
# Two workers (pytest-xdist; MAAS_TEST_WORKERS=0 for one process): most tests wait on servers in
# other processes, so two share two cores well. A file stays on one worker, and the end-to-end
# tier, with its session stack, on one (tests/conftest.py). The slowest tests are listed at the end
# of every run: where to look when the suite grows. The order is fixed (`-p no:randomly`) unless
# MAAS_TEST_SEED is set: then pytest-randomly shuffles it with that seed, to find tests that depend
# on each other (README, Development).
if [ -n "${MAAS_TEST_SEED:-}" ]; then order=(--randomly-seed="$MAAS_TEST_SEED"); else order=(-p no:randomly); fi
exec .venv/bin/pytest "${order[@]}" -n "${MAAS_TEST_WORKERS:-2}" --dist loadfile --durations=20 "$@"
