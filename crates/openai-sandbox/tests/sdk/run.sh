#!/usr/bin/env bash
# Drive openai-sandbox with an official `openai` SDK (OpenAI and Azure OpenAI clients): the Python
# SDK by default, the Node SDK with `node`. Installs the pinned SDK on first use (idempotent:
# tests/sdk/.venv or tests/sdk/node/node_modules), starts the sandbox on a free port, runs the
# check script against it and stops the sandbox.
#   crates/openai-sandbox/tests/sdk/run.sh [python|node]        # builds target/debug/openai-sandbox if missing
#   OPENAI_SANDBOX_BIN=path crates/openai-sandbox/tests/sdk/run.sh [python|node]
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
CLIENT="${1:-python}"
VENV="$HERE/.venv"
OPENAI_VERSION="3.57.0"
NODE_DIR="$HERE/node"

case "$CLIENT" in
python)
    if ! "$VENV/bin/python" -c "import openai, sys; sys.exit(0 if openai.__version__ == '$OPENAI_VERSION' else 1)" 2>/dev/null; then
        echo "sdk: creating $VENV with openai==$OPENAI_VERSION" >&2
        python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "openai==$OPENAI_VERSION"
    fi
    ;;
node)
    command -v node >/dev/null 2>&1 || { echo "sdk: node is not installed (scripts/ensure-tools.sh installs it)" >&2; exit 1; }
    # The version package-lock.json pins; reinstalled when node_modules holds another.
    want="$(node -e 'console.log(require(process.argv[1]).packages["node_modules/openai"].version)' "$NODE_DIR/package-lock.json")"
    have="$(node -e 'try { console.log(require(process.argv[1]).version) } catch { console.log("") }' "$NODE_DIR/node_modules/openai/package.json")"
    if [ "$want" != "$have" ]; then
        echo "sdk: installing the openai Node SDK $want into $NODE_DIR/node_modules" >&2
        (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
    ;;
*)
    echo "sdk: unknown client '$CLIENT' (python or node)" >&2
    exit 2
    ;;
esac

BIN="${OPENAI_SANDBOX_BIN:-$ROOT/target/debug/openai-sandbox}"
if [ ! -x "$BIN" ]; then
    (cd "$ROOT" && cargo build --quiet -p openai-sandbox --bin openai-sandbox)
fi

KEY="sk-sandbox-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
OUT="$(mktemp)"
"$BIN" --listen 127.0.0.1:0 --api-key "$KEY" --job-seconds "${SDK_JOB_SECONDS:-3}" --seed 11 >"$OUT" 2>&1 &
PID=$!
cleanup() {
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    rm -f "$OUT"
}
trap cleanup EXIT

URL=""
for _ in $(seq 1 100); do
    URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$OUT" | head -n1)"
    [ -n "$URL" ] && break
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "sdk: sandbox exited early:" >&2
        cat "$OUT" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$URL" ]; then
    echo "sdk: sandbox did not report its address" >&2
    exit 1
fi

if [ "$CLIENT" = node ]; then
    SANDBOX_URL="$URL" SANDBOX_KEY="$KEY" node "$NODE_DIR/sdk_check.mjs"
else
    SANDBOX_URL="$URL" SANDBOX_KEY="$KEY" "$VENV/bin/python" "$HERE/sdk_check.py"
fi
