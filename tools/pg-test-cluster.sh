#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: .cache/pg under the repository (gitignored), loopback
# only, trust authentication, fsync on, TLS offered (ssl = on) with a certificate for DNS name
# `localhost` only, issued by a CA of its own: <cluster dir>/tls/ca.crt, found by tests through
# `SHOW ssl_cert_file` (the CA sits beside it).
#
#   tools/pg-test-cluster.sh start   # idempotent; prints the URL
#   tools/pg-test-cluster.sh url     # prints the URL of the running cluster
#   tools/pg-test-cluster.sh stop
#
#   export KEYHOLD_TEST_POSTGRES_URL="$(tools/pg-test-cluster.sh url)"
#
# PostgreSQL refuses to run as root, so as root the cluster belongs to an unprivileged system user,
# keyhold-pg (created on first use). When that user cannot reach .cache/pg (a repository under a private
# home directory), the cluster lives in /tmp/keyhold-pg-<hash of the repository path>; KEYHOLD_PG_DIR
# overrides either.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Every parent directory of $1 lets other users through (the cluster runs as an unprivileged user).
reachable_by_others() {
    local d="$1" mode
    while [[ "$d" != "/" ]]; do
        mode="$(stat -c %A "$d")"
        [[ "${mode:9:1}" == [xt] ]] || return 1
        d="$(dirname "$d")"
    done
}
if [[ -n "${KEYHOLD_PG_DIR:-}" ]]; then
    base="$KEYHOLD_PG_DIR"
elif reachable_by_others "$root"; then
    base="$root/.cache/pg"
else
    # A repository under a private directory (e.g. /root): a stable place of its own under /tmp.
    base="/tmp/keyhold-pg-$(printf %s "$root" | sha256sum | cut -c1-12)"
fi
data="$base/data"
log="$base/postgres.log"
port_file="$base/port"
run_user=keyhold-pg

die() {
    echo "pg-test-cluster: $*" >&2
    exit 1
}

# Directory holding initdb/pg_ctl: on PATH, else Debian's versioned directories (newest first).
find_bindir() {
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

install_postgres() {
    [[ $(id -u) -eq 0 ]] || die "initdb not found and not root: install PostgreSQL (Debian: apt-get install postgresql)"
    echo "pg-test-cluster: installing PostgreSQL from the Debian packages" >&2
    # Only the binaries are wanted: no system cluster started by the package scripts.
    mkdir -p /etc/postgresql-common
    if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends postgresql >&2
}

bindir="$(find_bindir || true)"

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        # From /, which the unprivileged user can always enter (the caller's directory may be private).
        (cd / && runuser -u "$run_user" -- "$@")
    else
        "$@"
    fi
}

ensure_user() {
    [[ $(id -u) -eq 0 ]] || return 0
    if ! id "$run_user" >/dev/null 2>&1; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$run_user"
    fi
}

running() {
    [[ -n "$bindir" && -f "$data/PG_VERSION" ]] || return 1
    as_owner "$bindir/pg_ctl" status -D "$data" >/dev/null 2>&1
}

url() {
    [[ -f "$port_file" ]] || die "no cluster: run '$0 start'"
    echo "postgres://postgres@127.0.0.1:$(cat "$port_file")/postgres"
}

port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
    local p tries
    for tries in $(seq 1 200); do
        p=$((20000 + RANDOM % 40000))
        if ! port_in_use "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free loopback port found"
}

start() {
    if running; then
        url
        return 0
    fi
    if [[ -z "$bindir" ]]; then
        install_postgres
        bindir="$(find_bindir)" || die "PostgreSQL installed but initdb not found"
    fi
    ensure_user
    mkdir -p "$base"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$run_user:$run_user" "$base"
        chmod 700 "$base"
        as_owner test -w "$base" ||
            die "$run_user cannot write $base (a parent directory is private?): set KEYHOLD_PG_DIR"
    fi
    if [[ ! -f "$data/PG_VERSION" ]]; then
        rm -rf "$data"
        as_owner "$bindir/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C \
            >"$base/initdb.log" 2>&1 || die "initdb failed: see $base/initdb.log"
    fi
    make_tls
    local attempt port
    for attempt in 1 2 3 4 5; do
        port="$(cat "$port_file" 2>/dev/null || true)"
        if [[ -z "$port" ]] || port_in_use "$port"; then
            port="$(free_port)"
        fi
        as_owner bash -c "cat >'$data/postgresql.auto.conf'" <<EOF
# Written by tools/pg-test-cluster.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$base'
fsync = on
synchronous_commit = on
max_connections = 300
ssl = on
ssl_cert_file = '$base/tls/server.crt'
ssl_key_file = '$base/tls/server.key'
EOF
        if as_owner "$bindir/pg_ctl" start -D "$data" -l "$log" -w -t 60 >/dev/null; then
            echo "$port" >"$port_file"
            url
            return 0
        fi
        echo "pg-test-cluster: start on port $port failed (attempt $attempt), see $log" >&2
        rm -f "$port_file"
    done
    die "could not start PostgreSQL: see $log"
}

# A CA and a server certificate (DNS:localhost, no IP: so that verify-full to 127.0.0.1 fails), once.
make_tls() {
    local tls="$base/tls"
    if [[ ! -f "$tls/server.crt" ]]; then
        command -v openssl >/dev/null 2>&1 || die "openssl not found (Debian: apt-get install openssl)"
        mkdir -p "$tls"
        openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 3650 \
            -subj "/CN=keyhold test PostgreSQL CA" -keyout "$tls/ca.key" -out "$tls/ca.crt" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
            >/dev/null 2>&1 || die "could not make the test CA"
        openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=localhost" \
            -keyout "$tls/server.key" -out "$tls/server.csr" >/dev/null 2>&1 || die "could not make the server key"
        printf 'subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' >"$tls/server.ext"
        openssl x509 -req -in "$tls/server.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
            -days 3650 -extfile "$tls/server.ext" -out "$tls/server.crt" >/dev/null 2>&1 ||
            die "could not sign the server certificate"
        rm -f "$tls/ca.key" "$tls/server.csr" "$tls/ca.srl"
    fi
    chmod 600 "$tls/server.key"
    chmod 644 "$tls/ca.crt" "$tls/server.crt"
    if [[ $(id -u) -eq 0 ]]; then
        chown -R "$run_user:$run_user" "$tls"
    fi
}

stop() {
    if running; then
        as_owner "$bindir/pg_ctl" stop -D "$data" -m fast -w >/dev/null
        echo "pg-test-cluster: stopped" >&2
    else
        echo "pg-test-cluster: not running" >&2
    fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
url)
    running || die "not running: run '$0 start'"
    url
    ;;
*)
    echo "usage: $0 start|stop|url" >&2
    exit 2
    ;;
esac
