#!/usr/bin/env bash
# Installs what the cluster tests (tests/cluster_*.rs) need: a NATS server with JetStream, 2.9 or
# newer, from Debian's `nats-server` package. Idempotent: when `nats-server` is already on the PATH
# it only checks the version. The tests fail with a clear message in CI (`CI` or
# `REQUIRE_NATS_SERVER` set, as .ci/run does) and skip elsewhere when the binary is missing.
set -euo pipefail

# 2.9 is the first release with everything the lease relies on: KV buckets with direct get, and
# expiry by the bucket's max_age (per-message TTL came in 2.11 and is not used).
MIN_MAJOR=2
MIN_MINOR=9

# Root installs directly; anyone else needs password-less sudo (never prompt in CI).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "install-nats-server: not root and no sudo; cannot run: $*" >&2
        return 1
    fi
}

if ! command -v nats-server >/dev/null 2>&1; then
    echo "install-nats-server: installing Debian nats-server"
    # apt's progress goes to a log that is shown only when something fails.
    apt_log=$(mktemp)
    trap 'rm -f "$apt_log"' EXIT
    if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        as_root env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq --no-install-recommends nats-server; } >>"$apt_log" 2>&1; then
        tail -n 20 "$apt_log" >&2
        echo "install-nats-server: nats-server could not be installed" >&2
        exit 1
    fi
fi

# `nats-server --version` prints e.g. "nats-server: v2.9.10".
version=$(nats-server --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 || true)
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
if [ -z "$version" ] || [ "$major" -lt "$MIN_MAJOR" ] ||
    { [ "$major" -eq "$MIN_MAJOR" ] && [ "$minor" -lt "$MIN_MINOR" ]; }; then
    echo "install-nats-server: $(command -v nats-server) is version '${version:-unknown}'; the" \
        "cluster tests need $MIN_MAJOR.$MIN_MINOR or newer" >&2
    exit 1
fi
echo "install-nats-server: ready (nats-server $version at $(command -v nats-server))"
