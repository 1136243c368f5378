# Sourced by run.sh and test.sh: installs uv in .tools/ and the locked dependencies in .venv/.
# Needs only Python ≥ 3.11 with pip and venv; safe to run again (it does nothing when up to date).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .tools/bin/uv ]; then
  echo "Setting up uv in .tools/ …" >&2
  "$PYTHON" -m venv .tools
  .tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9
fi
UV="$PWD/.tools/bin/uv"
export UV_PYTHON="${UV_PYTHON:-$("$PYTHON" -c 'import sys; print(sys.executable)')}"
"$UV" sync --frozen --quiet
