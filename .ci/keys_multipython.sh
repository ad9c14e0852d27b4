#!/usr/bin/env bash
# The key and hashing tests on CPython 3.10, 3.12 and 3.13, each with the
# in-place key reader and with the safe path forced (SYSPRIMS_SAFE_KEYS=1), and
# on the CI interpreter with the safe path forced (the main suite runs them in
# place). The str layouts differ between these
# versions (a 48-byte compact ASCII header on 3.10/3.11, 40 on 3.12/3.13), so
# this is where the reader's layout discovery is proven on each.
#
# A version that is not installed is reported and skipped. Venvs are kept under
# $KEYS_VENV_ROOT (default /tmp/sysprims-keys-venvs) so a rerun is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSIONS=${KEYS_PYTHONS:-"3.10 3.12 3.13"}
ROOT=${KEYS_VENV_ROOT:-/tmp/sysprims-keys-venvs}
TESTS=(tests/test_keys.py tests/test_hashing.py tests/test_pyobj.py)
mkdir -p "$ROOT"

find_python() {
    local v=$1 prefix
    if command -v pyenv >/dev/null 2>&1; then
        prefix=$(pyenv prefix "$(pyenv versions --bare | grep -E "^${v//./\\.}\.[0-9]+$" | sort -V | tail -1)" 2>/dev/null || true)
        if [ -n "$prefix" ] && [ -x "$prefix/bin/python" ]; then
            echo "$prefix/bin/python"
            return
        fi
    fi
    command -v "python$v" || true
}

status=0
summary=()
for v in $VERSIONS; do
    py=$(find_python "$v")
    if [ -z "$py" ]; then
        echo "== CPython $v: not installed, skipped"
        summary+=("$v: skipped (not installed)")
        continue
    fi
    venv="$ROOT/py$v"
    echo "== CPython $v ($py): venv $venv"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e . \
        pytest hypothesis pytest-timeout pytest-benchmark
    reader=$(cd /tmp && "$venv/bin/python" -c \
        "from sysprims import _pyobj; r = _pyobj.disabled_reason(); print('in place' if r is None else 'safe path: ' + r)")
    echo "   key reader: $reader"
    for safe in 0 1; do
        echo "== CPython $v, SYSPRIMS_SAFE_KEYS=$safe"
        if ! SYSPRIMS_SAFE_KEYS=$safe "$venv/bin/python" -m pytest "${TESTS[@]}" -q -p no:cacheprovider \
            -o addopts= -o testpaths=tests --timeout=900; then
            status=1
            summary+=("$v SAFE_KEYS=$safe: FAILED")
        fi
    done
    summary+=("$v: key reader $reader")
done
# The CI interpreter itself runs these tests in place in the main suite; here, on the safe path.
echo "== $(python3 -V), SYSPRIMS_SAFE_KEYS=1"
if ! PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" SYSPRIMS_SAFE_KEYS=1 python3 -m pytest "${TESTS[@]}" -q -p no:cacheprovider -o addopts= -o testpaths=tests --timeout=900; then
    status=1
    summary+=("$(python3 -V) SAFE_KEYS=1: FAILED")
fi
printf '== %s\n' "${summary[@]}"
exit "$status"
