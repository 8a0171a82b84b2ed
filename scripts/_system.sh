# Sourced by scripts/test.sh: the system parts some tests need, outside the virtualenv.
# With root (or password-less sudo) on Debian/Ubuntu the missing packages are installed; without,
# nothing is installed and the tests that need a missing part are skipped, each naming what is
# missing and the command that installs it (tests/system.py), and the run ends with a summary.

# Debian package of each program the tests use.
declare -A SYSTEM_PACKAGES=(
  [prometheus]=prometheus  # the server of the monitoring end-to-end test
  [promtool]=prometheus    # checks and unit-tests the alert rules
  [chromium]=chromium      # the web console's browser tests (Playwright drives it by path)
  [h2load]=nghttp2-client  # the load generator of bench.inference and bench.gateway
)

_as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

install_system_parts() {
  local missing=() program
  for program in "${!SYSTEM_PACKAGES[@]}"; do
    command -v "$program" >/dev/null 2>&1 || missing+=("${SYSTEM_PACKAGES[$program]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "system parts: no apt-get here; not installing ${missing[*]} (their tests will be skipped)" >&2
    return 0
  fi
  if ! _as_root true; then
    echo "system parts: not root and no password-less sudo; not installing ${missing[*]} (their tests will be skipped)" >&2
    return 0
  fi
  local log="${TMPDIR:-/tmp}/maas-test-apt.log"
  echo "system parts: installing ${missing[*]} with apt-get (log: $log) ..."
  if ! { _as_root apt-get update -q && _as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    echo "system parts: apt-get failed (last lines below); the tests that need ${missing[*]} will be skipped" >&2
    tail -n 5 "$log" >&2
  fi
}

# PostgreSQL: started when it is installed here, and used by the storage tests when it answers.
start_postgres() {
  [ -n "${MAAS_TEST_POSTGRES_URL:-}" ] && return 0
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    local version
    version="$(ls /etc/postgresql | head -n 1)"
    _as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 30); do
      pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break
      sleep 1
    done
  fi
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    export MAAS_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
  fi
}

# Proto lint with buf (the npm package @bufbuild/buf ships the binary); needs npm.
lint_protos() {
  if ! command -v npm >/dev/null 2>&1; then
    echo "buf lint: skipped, npm is missing (sudo apt-get install npm)" >&2
    [ -z "${MAAS_TEST_STRICT:-}" ] || return 1
    return 0
  fi
  if ! npm install --silent --no-save --no-audit --no-fund --cache .ci/tools/npm-cache --prefix .ci/tools \
      @bufbuild/buf@1 >/dev/null 2>&1; then
    echo "buf lint: skipped, npm could not install @bufbuild/buf" >&2
    [ -z "${MAAS_TEST_STRICT:-}" ] || return 1
    return 0
  fi
  # buf caches under $HOME by default, which a user such as nobody may not have.
  (cd protos && BUF_CACHE_DIR=../.ci/tools/buf-cache ../.ci/tools/node_modules/.bin/buf lint) && echo "buf lint: ok"
}
