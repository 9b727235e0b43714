#!/usr/bin/env bash
# Installs gitops-runner for the Action into a virtualenv in the runner's tool cache and puts
# it on PATH. Inputs (environment): GR_VERSION (the Action's own version), GR_SOURCE (pypi |
# action | a pip requirement, path or wheel), GR_PYTHON.
set -euo pipefail

case "$GR_SOURCE" in
  pypi) spec="gitops-runner==$GR_VERSION"; key="$GR_VERSION" ;;
  action) spec="$(cd "$GITHUB_ACTION_PATH/.." && pwd)"; key="$GR_VERSION-action" ;;
  *) spec="$GR_SOURCE"; key="$GR_VERSION-custom" ;;
esac

root="${RUNNER_TOOL_CACHE:-${RUNNER_TEMP:-/tmp}}/gitops-runner/$key"
venv="$root/venv"
mkdir -p "$root"
# One install at a time per tool cache (self-hosted runners may run jobs side by side).
exec 9>"$root/.lock"
if command -v flock >/dev/null; then flock 9; fi

if ! "$GR_PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "::error title=gitops-runner::$GR_PYTHON is not Python >= 3.11: set the python input, or add actions/setup-python before this step"
  exit 1
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "creating the virtualenv $venv"
  "$GR_PYTHON" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
echo "installing gitops-runner from $spec"
"${pip[@]}" install "$spec"
if [ "$GR_SOURCE" != pypi ]; then
  # A local source keeps its version number while its code changes: always take the new code.
  "${pip[@]}" install --no-deps --force-reinstall "$spec"
fi
echo "$venv/bin" >> "$GITHUB_PATH"
"$venv/bin/gitops-runner" --version
