# Shared shell helpers for Berth's set-up, run and test scripts. Sourced, not executed.
set -euo pipefail

BERTH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$BERTH_ROOT/.venv"
VAR="${BERTH_VAR_DIR:-$BERTH_ROOT/var}"

say() { printf '\033[1m[berth]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[berth] %s\033[0m\n' "$*" >&2; exit 1; }

# Finds a Python >= 3.12: plain names first, then pyenv's versions (a bare pyenv shim may refuse).
find_python() {
    local candidate version
    for candidate in python3.13 python3.12 python3; do
        if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    if command -v pyenv >/dev/null 2>&1 || [ -d "${PYENV_ROOT:-$HOME/.pyenv}/versions" ]; then
        for version in $(ls -1 "${PYENV_ROOT:-$HOME/.pyenv}/versions" 2>/dev/null | grep -E '^3\.(1[2-9])(\.|$)' | sort -V -r); do
            for candidate in "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version/bin/python3"; do
                if [ -x "$candidate" ] && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
                    echo "$candidate"; return 0
                fi
            done
        done
    fi
    return 1
}

# Installs the Debian packages listed in scripts/debian-packages.txt that are not yet installed.
install_debian_packages() {
    local missing=() package
    while read -r package; do
        package="${package%%#*}"; package="$(echo "$package" | xargs)"
        [ -z "$package" ] && continue
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done < "$BERTH_ROOT/scripts/debian-packages.txt"
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages (${missing[*]}); run as root or install them first"
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_venv() {
    local python stamp="$VENV/.requirements.sha256" want
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        python="$(find_python)" || die "Berth needs Python 3.12 or newer: install python3.12 (or python3.13) and run again"
        say "creating the virtual environment with $python"
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
    fi
    want="$(cat "$BERTH_ROOT/requirements.txt" "$BERTH_ROOT/requirements-dev.txt" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing Python dependencies"
        "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
        "$VENV/bin/pip" install -q --disable-pip-version-check -r "$BERTH_ROOT/requirements-dev.txt"
        echo "$want" > "$stamp"
    fi
}

# Builds the browser UI when its sources changed since the last build.
ensure_frontend() {
    local dir="$BERTH_ROOT/frontend" stamp want
    [ -f "$dir/package.json" ] || return 0
    command -v npm >/dev/null 2>&1 || die "npm is needed to build the UI: install Node.js 20 and npm"
    stamp="$dir/node_modules/.berth-install.sha256"
    # The files' contents only, not their paths: a checkout moved or shared by a worktree is not a new install.
    want="$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing UI packages"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
    want="$(cd "$dir" && find src index.html package.json vite.config.* tsconfig*.json -type f 2>/dev/null | sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$dir/dist/.berth-build.sha256" 2>/dev/null)" != "$want" ]; then
        say "building the UI"
        (cd "$dir" && npm run --silent build)
        echo "$want" > "$dir/dist/.berth-build.sha256"
    fi
}

setup() {
    install_debian_packages
    ensure_venv
    ensure_frontend
    mkdir -p "$VAR"
}

# Starts a private PostgreSQL cluster (as the postgres user: it refuses root) on 127.0.0.1:$2 in $1.
start_postgres() {
    local datadir="$1" port="$2" bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -n "$bindir" ] || die "PostgreSQL server binaries not found (Debian package postgresql)"
    mkdir -p "$datadir"
    chown postgres:postgres "$datadir"
    chmod 700 "$datadir"
    if [ ! -f "$datadir/PG_VERSION" ]; then
        runuser -u postgres -- "$bindir/initdb" -D "$datadir" --auth=trust --username=postgres -E UTF8 >/dev/null
    fi
    if ! runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
        runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" -w -l "$datadir/server.log" \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $datadir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
    fi
}

stop_postgres() {
    local datadir="$1" bindir
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
    [ -f "$datadir/postmaster.pid" ] && runuser -u postgres -- "$bindir/pg_ctl" -D "$datadir" -m fast stop >/dev/null 2>&1 || true
}

# Starts a private Redis on 127.0.0.1:$2 with its files in $1 (daemonized; stop with stop_redis).
# start_redis DIR PORT [durable]: "durable" keeps an append-only file (fsync every second), so the work
# queued for workers and agents survives a restart or a crash of Redis; the test suite's Redis needs none.
start_redis() {
    local dir="$1" port="$2" durability=(--save '' --appendonly no)
    [ "${3:-}" = durable ] && durability=(--save '' --appendonly yes --appendfsync everysec)
    mkdir -p "$dir"
    redis-cli -p "$port" ping >/dev/null 2>&1 && return 0
    redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes "${durability[@]}" \
        --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    die "Redis did not start on port $port (see $dir/redis.log)"
}

stop_redis() {
    local dir="$1" port="$2"
    # With an append-only file, "nosave" still keeps what it logged; without one it discards nothing wanted.
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
}
