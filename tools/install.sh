#!/usr/bin/env bash
# Creates a virtual environment with ESPnet, PyTorch and this plugin.
#
#   bash tools/install.sh            # CPU: torch==2.13.0 (the CPU wheel on this kind of machine)
#   TORCH_SPEC="torch==2.11.0" TORCHAUDIO_SPEC="torchaudio==2.11.0" bash tools/install.sh   # CUDA
#
# The order is deliberate; a plain `pip install espnet2-bloomzmms` hits three traps:
# 1. espnet==202511 pins setuptools<74 while torch>=2.13 needs setuptools>=77, so pip
#    "solves" the clash by swapping in an older CUDA torch (several GB). We install torch
#    first, then ESPnet without its pin (--no-deps) and its other requirements under a
#    constraint that holds torch at the installed version.
# 2. espnet2.tasks.asr imports torchaudio, and PyPI's torchaudio wheels are CUDA builds
#    for one torch version each. With another torch we keep torchaudio's pure-Python API
#    (all ESPnet's ASR task uses) and drop its compiled extension, which cannot load.
# 3. pip >= 25 refuses ci_sdr (an ESPnet requirement) for a URL dependency in its
#    extras, so the environment keeps pip < 25.
set -euo pipefail

venv=${VENV:-.venv}
extras=${EXTRAS:-test}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
torchaudio_spec=${TORCHAUDIO_SPEC:-torchaudio==2.11.0}
espnet_spec=${ESPNET_SPEC:-espnet==202511}
root=$(cd "$(dirname "$0")/.." && pwd)

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
py="$venv/bin/python"
pip=("$py" -m pip install --disable-pip-version-check -q)

"${pip[@]}" "pip<25" packaging
"${pip[@]}" "$torch_spec"
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
"$py" -c "import torch; print('torch==' + torch.__version__)" > "$constraints"

"${pip[@]}" --no-deps "$espnet_spec" "$torchaudio_spec"
if ! "$py" -c "import torchaudio" 2>/dev/null; then
    echo "torchaudio's compiled extension does not match this torch; using its pure-Python API" >&2
    "$py" - <<'PY'
import pathlib, sysconfig
lib = pathlib.Path(sysconfig.get_paths()["purelib"]) / "torchaudio" / "lib"
for so in lib.glob("*.so"):
    so.unlink()
PY
    "$py" -c "import torchaudio"
fi

# ESPnet's own requirements, less its setuptools pin and torch (held above).
"$py" - > "$constraints.espnet" <<'PY'
from importlib.metadata import requires
from packaging.requirements import Requirement
for line in requires("espnet"):
    req = Requirement(line)
    if req.marker is None and req.name not in ("setuptools", "torch"):
        print(line)
PY
"${pip[@]}" -c "$constraints" -r "$constraints.espnet"
rm -f "$constraints.espnet"

# The plugin itself; its requirements that ESPnet did not bring come next, same rules.
"${pip[@]}" --no-deps -e "$root"
"$py" - "$extras" > "$constraints.plugin" <<'PY'
import sys
from importlib.metadata import requires
from packaging.requirements import Requirement
extras = set(filter(None, sys.argv[1].split(",")))
for line in requires("espnet2-bloomzmms"):
    req = Requirement(line)
    if req.name in ("espnet", "torch", "torchaudio"):
        continue
    if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras):
        print(str(req).split(";")[0])
PY
"${pip[@]}" -c "$constraints" -r "$constraints.plugin"
rm -f "$constraints.plugin"
"$py" -c "import espnet2_bloomzmms, espnet2.tasks.asr, transformers, peft" 2>/dev/null
echo "Installed into $venv: $("$py" -c 'import torch, espnet, transformers; print("torch", torch.__version__, "espnet", espnet.__version__, "transformers", transformers.__version__)')"
