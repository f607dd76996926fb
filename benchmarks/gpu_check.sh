#!/usr/bin/env bash
# The paper-scale check on one GPU (H100/H200, <= 8 minutes; never in CI): random full-size
# weights, nothing downloaded.
#   1. conf/train_ce.yaml (MMS-1B-all, 17 x 1024 E-Branchformer, BLOOMZ-7b1 8-bit through
#      bitsandbytes) and conf/tuning/train_ce_24gb.yaml (4-bit, bf16 MMS, checkpointing):
#      built and cast as bin.train builds them, 3 training steps on one 30-s utterance
#      (the configs' largest batch per GPU on 4 GPUs), peak torch.cuda.max_memory_allocated
#      beside the estimate, and the frozen parts' dtypes after ESPnet's cast;
#   2. decoding 16 espeak utterances with a BLOOMZ-7b1-size LLM (bf16): batch 1 vs 16.
# Needs a CUDA environment: TORCH_SPEC="torch==2.11.0" TORCHAUDIO_SPEC="torchaudio==2.11.0"
# EXTRAS=test,quantization bash tools/install.sh; then
#   bash benchmarks/gpu_check.sh [OUT_DIR]
# and copy the printed numbers, with date and GPU, into benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
out=${1:-${OUT:-benchmarks/gpu_check}}
mkdir -p "${out}"
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; } | tee "${out}/gpu.txt"
"${py}" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'"
"${py}" benchmarks/train_memory.py --configs conf/train_ce.yaml conf/tuning/train_ce_24gb.yaml \
    --lowmem no --steps 3 --batch 1 --seconds 30 --weights_dir "${out}/random_llms" | tee "${out}/train_memory.txt"
rm -rf "${out}/random_llms"
"${py}" benchmarks/decode.py --llm bloom-7b1 --device cuda --dtype bfloat16 --utterances 16 --batch_sizes 1 16 \
    --search greedy --cache on --repeats 1 --max_new_tokens 32 --json "${out}/decode.json" | tee "${out}/decode.txt"
