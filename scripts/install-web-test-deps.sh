#!/usr/bin/env bash
# Installs what the browser end-to-end test (tests/web_e2e.rs) needs: Debian's Chromium and the
# pinned playwright-core from tests/web/package-lock.json. Idempotent and quick when everything is
# already there. A failure here is not fatal for CI: the test prints "SKIPPED: ..." when Chromium,
# node or playwright-core is missing, so callers may tolerate a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

# Root installs directly; anyone else needs password-less sudo (never prompt in CI).
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        echo "install-web-test-deps: not root and no sudo; cannot run: $*" >&2
        return 1
    fi
}

# apt's progress goes to a log that is shown only when something fails.
apt_log=$(mktemp)
trap 'rm -f "$apt_log"' EXIT
apt_updated=0
apt_install() {
    if [ "$apt_updated" -eq 0 ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >>"$apt_log" 2>&1 ||
            { tail -n 20 "$apt_log" >&2; return 1; }
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >>"$apt_log" 2>&1 ||
        { tail -n 20 "$apt_log" >&2; return 1; }
}

status=0

# Chromium: Debian's package (a test tool's own browser download does not work on this network).
# fonts-liberation gives the screenshot real glyphs instead of boxes.
if [ ! -x /usr/bin/chromium ]; then
    echo "install-web-test-deps: installing Debian chromium"
    apt_install chromium fonts-liberation || {
        echo "install-web-test-deps: chromium could not be installed" >&2
        status=1
    }
fi

# Node.js and npm drive the browser through playwright-core.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-web-test-deps: installing Debian nodejs and npm"
    apt_install nodejs npm || {
        echo "install-web-test-deps: node/npm could not be installed" >&2
        status=1
    }
fi

# playwright-core, exactly as pinned by the committed lock file. The stamp records which lock file
# node_modules was installed from, so an edited lock file reinstalls and an unchanged one is a no-op.
if command -v npm >/dev/null 2>&1; then
    stamp=tests/web/node_modules/.onair-lock.sha256
    want=$(sha256sum tests/web/package-lock.json | cut -d' ' -f1)
    have=$(cat "$stamp" 2>/dev/null || true)
    if [ "$want" != "$have" ] || [ ! -d tests/web/node_modules/playwright-core ]; then
        echo "install-web-test-deps: npm ci in tests/web"
        # --ignore-scripts: playwright-core needs no install step, and none may download a browser.
        if (cd tests/web && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
            echo "$want" >"$stamp"
        else
            echo "install-web-test-deps: npm ci failed" >&2
            status=1
        fi
    fi
fi

if [ "$status" -eq 0 ]; then
    echo "install-web-test-deps: ready ($(/usr/bin/chromium --version 2>/dev/null || echo chromium), node $(node --version))"
fi
exit "$status"
