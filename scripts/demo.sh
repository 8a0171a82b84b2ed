#!/usr/bin/env bash
# README command 1: install, start the stack (maas up), run the demo (maas demo), stop the stack.
source "$(dirname "$0")/_venv.sh"
ensure_venv all
exec .venv/bin/maas demo --with-stack "$@"
