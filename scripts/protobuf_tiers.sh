#!/usr/bin/env bash
# The unit and integration tiers against both ends of the protobuf ranges pyproject.toml declares,
# each end in a virtualenv of its own (.venv-pb-END), made on first use and remade only when the
# package's requirements (pyproject.toml's dependency tables, not its comments) or those below change,
# so that a second run goes straight to the tests. The ends:
#   oldest     protobuf 5.29.1, the services' floor (the `server` extra's protobuf>=5.29.1), with every
#              extra but `ml` (TensorFlow and tensorflow-serving-api 2.21 need protobuf >=6.31.1):
#              tests marked `tensorflow` are deselected. pip picks grpcio-health-checking/-reflection
#              1.71 and tritonclient 2.41 here (current tritonclient's grpc extra needs >=6.30,<7).
#   ml-oldest  protobuf 6.31.1, the `ml` extra's floor, with every extra. pip picks the current
#              tritonclient (its metadata allows protobuf >=6.30), whose generated code is from protoc
#              6.33.5 and does not import on 6.31: tests marked `tritonclient_grpc` deselected.
#   newest     the newest protobuf release (7.x), with every extra; current tritonclient's grpc extra
#              cannot be installed there, so `tritonclient[http]` only, tests marked
#              `tritonclient_grpc` deselected.
# The markers are applied by tests/conftest.py by a rule from what a test file imports; the script
# counts what each end deselects (a collect-only pass, as pytest-xdist's summary does not say). The SDK alone goes down to protobuf 5.26.1; these tiers
# need the services, and tests/e2e/test_client_install.py runs the SDK on 5.26.1.
#
#   scripts/protobuf_tiers.sh                       all three ends, tests/unit and tests/integration
#   scripts/protobuf_tiers.sh oldest,newest         some ends
#   scripts/protobuf_tiers.sh all tests/unit/test_codec.py   other test paths (or pytest arguments)
source "$(dirname "$0")/_venv.sh"
source "$(dirname "$0")/_system.sh"

# MAAS_PROTOBUF_NEWEST overrides the newest release this was last run against; raise it when a newer
# one is out (the declared range is `<8`).
NEWEST="${MAAS_PROTOBUF_NEWEST:-7.36.2}"
# The test dependencies of the unit and integration tiers (the `dev` extra less the tools: build,
# ruff, pyright, mkdocs, schemathesis, pytest-randomly).
TEST_DEPS=(
  "pytest>=8" "pytest-timeout>=2.3" "pytest-xdist>=3.5" "pytest-rerunfailures>=14" "pytest-asyncio>=0.23"
  "hypothesis>=6.100" "moto[server]>=5.0" "kubernetes-validate>=1.30" "httpx>=0.27"
  "openapi-spec-validator>=0.7" "cryptography>=42" "playwright>=1.45" "pyyaml>=6"
)

ends=(oldest ml-oldest newest)
case "${1:-}" in
  all) shift ;;
  oldest* | ml-oldest* | newest*) IFS=, read -r -a ends <<<"$1"; shift ;;
esac
paths=(tests/unit tests/integration)
[ "$#" -gt 0 ] && paths=()

end_config() {  # END -> version, extras, triton, mark
  case "$1" in
    oldest) version=5.29.1 extras=server,s3,k8s,demo,door triton="tritonclient[grpc,http]>=2.41" mark="not tensorflow" ;;
    ml-oldest) version=6.31.1 extras=server,ml,s3,k8s,demo,door triton="tritonclient[grpc,http]>=2.41" mark="not tritonclient_grpc" ;;
    newest) version="$NEWEST" extras=server,ml,s3,k8s,demo,door triton="tritonclient[http]>=2.41" mark="not tritonclient_grpc" ;;
    *) echo "unknown end: $1 (oldest, ml-oldest, newest)" >&2; exit 2 ;;
  esac
}

make_venv() {  # END: the virtualenv .venv-pb-END for the end's configuration
  local dir=".venv-pb-$1" stamp
  stamp="$( (python3 -c 'import json, tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]
print(json.dumps([p["dependencies"], p["optional-dependencies"]], sort_keys=True))'
    echo "$extras ${TEST_DEPS[*]} $triton $version") | sha256sum | cut -c1-16)"
  if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
    return 0
  fi
  echo "== protobuf $1 ($version): making $dir" >&2
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --upgrade pip
  # One resolution, so that every package is picked to fit the pin.
  "$dir/bin/python" -m pip install --quiet -e ".[${extras}]" "${TEST_DEPS[@]}" "$triton" "protobuf==${version}"
  "$dir/bin/python" -m pip check >&2
  echo "$stamp" >"$dir/.stamp"
}

start_postgres
summary=()
status=0
for end in "${ends[@]}"; do
  end_config "$end"
  make_venv "$end"
  dir=".venv-pb-$end"
  found="$("$dir/bin/python" -c 'import google.protobuf; print(google.protobuf.__version__)')"
  echo "== protobuf $end: google.protobuf $found ($("$dir/bin/python" -c 'import importlib.metadata as m
print(", ".join(f"{n} {m.version(n)}" for n in ("tensorflow", "grpcio-health-checking", "tritonclient")
                if any(d.name == n for d in m.distributions())))')), -m \"$mark\""
  if [ "$found" != "$version" ]; then
    echo "protobuf $end: expected $version, the venv has $found" >&2
    exit 1
  fi
  # What the marker leaves out, counted before the run (pytest-xdist's summary does not say).
  counted="$("$dir/bin/python" -m pytest -p no:randomly --collect-only -q -m "$mark" "${paths[@]}" "$@" 2>&1 |
    grep -E '^[0-9]+(/[0-9]+)? tests? collected' | tail -n 1 || true)"
  echo "== protobuf $end: ${counted:-collection failed}"
  log="$(mktemp)"
  start=$(date +%s)
  set +e
  "$dir/bin/python" -m pytest -p no:randomly -n "${MAAS_TEST_WORKERS:-2}" --dist loadfile -m "$mark" \
    "${paths[@]}" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  took=$(($(date +%s) - start))
  result="$(grep -E '^=+ .*(passed|failed|error|deselected|no tests ran).* =+$' "$log" | tail -n 1 | tr -d '=' || true)"
  summary+=("protobuf $found ($end): ${result# } [pytest ${took}s; -m \"$mark\": ${counted%% in *}]")
  rm -f "$log"
  [ "$rc" -eq 0 ] || status=$rc
done
printf '%s\n' "${summary[@]}"
exit "$status"
