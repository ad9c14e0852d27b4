#!/usr/bin/env bash
# Build the wheel, install it (not editable) into a fresh virtual environment, make the
# installed package folder read-only and run the tour from there: checks that the package
# data ships in the wheel and that the Numba kernel cache falls back to a writable folder.
#
# Usage: bash .ci/wheel_smoke.sh [tour size]   (from anywhere; needs the dev extra installed
# in python3, whose site-packages the venv reuses for the dependencies)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
size=${1:-20000}
python=${PYTHON:-python3}

tmp=$(mktemp -d)
redis_pid=""
cleanup() {
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
    chmod -R u+w "$tmp" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "-- building the wheel"
"$python" -m pip wheel -q --disable-pip-version-check --no-deps -w "$tmp/dist" "$repo"
wheel=$(ls "$tmp"/dist/sysprims-*.whl)
echo "   $(basename "$wheel")"

echo "-- the wheel holds the package data"
"$python" - "$wheel" "$repo" <<'EOF'
import sys, zipfile
from pathlib import Path
wheel, repo = sys.argv[1], Path(sys.argv[2])
names = set(zipfile.ZipFile(wheel).namelist())
want = {f"sysprims/backends/lua/{p.name}" for p in (repo / "src/sysprims/backends/lua").glob("*.lua")}
want |= {"sysprims/py.typed", "sysprims/_kernels/murmur3.py", "sysprims/cli/cmd_tour.py"}
missing = sorted(want - names)
assert not missing, f"missing from the wheel: {missing}"
assert any(n.endswith(".dist-info/entry_points.txt") for n in names), "no console script"
assert any(n.endswith("LICENSE") for n in names), "no LICENSE in the wheel"
assert not any("__pycache__" in n or n.endswith((".nbi", ".nbc")) for n in names), "caches in the wheel"
print(f"   {len(want)} expected files present, {len(names)} files in all")
EOF

echo "-- installing it into a fresh venv (dependencies from the system site-packages)"
"$python" -m venv --system-site-packages "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps "$wheel"
mkdir -p "$tmp/work" "$tmp/cache"
cd "$tmp/work"
pkg=$("$tmp/venv/bin/python" -c "import os, sysprims; print(os.path.dirname(sysprims.__file__))")
case "$pkg" in
    "$tmp"/venv/*) echo "   sysprims imported from $pkg" ;;
    *) echo "sysprims was imported from $pkg, not from the installed wheel" >&2; exit 1 ;;
esac
chmod -R a-w "$pkg"

# CI runs as root, which writes to read-only folders anyway: drop the capabilities that
# let it, so the package folder is really read-only for the commands below.
ro() { setpriv --bounding-set=-dac_override,-dac_read_search -- env XDG_CACHE_HOME="$tmp/cache" "$@"; }
if ro touch "$pkg/.probe" 2>/dev/null; then
    echo "the installed package folder is still writable" >&2
    exit 1
fi

echo "-- sysprims tour --size $size from the read-only install"
ro "$tmp/venv/bin/sysprims" tour --size "$size"

echo "-- the kernel cache went to the user cache folder, not into the package"
in_pkg=$(find "$pkg" -name '*.nbi' | wc -l)
in_cache=$(find "$tmp/cache" -name '*.nbi' | wc -l)
echo "   $in_cache cache index files under XDG_CACHE_HOME, $in_pkg in the package"
[ "$in_pkg" -eq 0 ] && [ "$in_cache" -gt 0 ]

if command -v redis-server >/dev/null 2>&1; then
    echo "-- the Lua scripts load from the installed package and run on a real redis-server"
    port=$("$python" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null &
    redis_pid=$!
    ro "$tmp/venv/bin/python" - "$port" "$repo" <<'EOF'
import sys, time
from pathlib import Path
import redis
import sysprims
from sysprims.backends.redis import LuaScript
port, repo = int(sys.argv[1]), Path(sys.argv[2])
for path in sorted((repo / "src/sysprims/backends/lua").glob("*.lua")):
    assert LuaScript(path.name).source == path.read_text("utf-8"), path.name
client = redis.Redis(host="127.0.0.1", port=port)
for _ in range(100):
    try:
        client.ping()
        break
    except redis.exceptions.ConnectionError:
        time.sleep(0.05)
url = f"redis://127.0.0.1:{port}/0"
rl = sysprims.RateLimiter("token_bucket", capacity=2, refill_rate=1.0, backend=url)
got = [rl.allow("k", now=100.0) for _ in range(3)]
assert got == [True, True, False], got
print("   every Lua script matches its source; a token bucket on Redis answered", got)
EOF
fi
echo "-- wheel smoke test passed"
