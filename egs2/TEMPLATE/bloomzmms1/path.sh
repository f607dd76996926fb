# Puts the project's environment (tools/install.sh makes <repo>/.venv) first on PATH.
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
if [ -x "${_root}/.venv/bin/python" ]; then
    export PATH="${_root}/.venv/bin:${PATH}"
fi
export PYTHONIOENCODING=UTF-8
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
unset _root
