#!/usr/bin/env bash
# The trainer's GPU check, for a machine with a CUDA GPU, torch, transformers and peft but no model hub:
#  1. the runner's unit tests (the transformers ones run there), and its --smoke training;
#  2. a ~1B Llama-architecture model with a BPE tokenizer built locally (local_model.py), LoRA bf16 trained through
#     the runner's real path on the agent's training data (write-training-data.ts writes it, here, beforehand);
#  3. --bench-mfu: tokens/s and MFU of LoRA bf16 at 1B parameters, in variants.
# Usage: services/trainer/gpu-check/run.sh TRAIN_JSONL [OUT_DIR]     (about 4 minutes on an H100/H200)
set -uo pipefail
data=$(realpath "$1")
out=${2:-${OUT:-/tmp/ragtune-gpu-check}}
mkdir -p "$out"
cd "$(dirname "$0")/../python"
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
step() { echo "=== $1 ($(date +%T))"; }

step "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"

step "runner unit tests"
python3 -m unittest -v test_peft_runner 2>&1 | tail -12

step "smoke training"
python3 peft_runner.py --smoke | tail -1

step "local 1B model and tokenizer"
python3 local_model.py --output /tmp/local-1b --size 1b --text "$data" || exit 1

step "LoRA bf16 training on the agent's data (runner's real path)"
python3 peft_runner.py --data "$data" --output /tmp/adapter-1b --base-model /tmp/local-1b --method lora \
  --epochs 1 --micro-batch-size 16 --max-seq-length 1024 --lora-rank 16 --lora-alpha 32 --no-gradient-checkpointing \
  > "$out/train-events.jsonl"
echo "exit $?"; tail -1 "$out/train-events.jsonl"; ls -la /tmp/adapter-1b

bench() {
  local name=$1; shift
  step "bench-mfu $name"
  timeout 240 python3 peft_runner.py --bench-mfu "$@" > "$out/bench-$name.jsonl"
  echo "exit $?"; tail -1 "$out/bench-$name.jsonl"
}
bench runner-shape-b8 --no-gradient-checkpointing
bench tinyllama-shape-b8 --no-gradient-checkpointing --base-model /tmp/local-1b
bench runner-shape-b8-checkpointing --gradient-checkpointing
bench runner-shape-b16-all-linear --no-gradient-checkpointing --bench-micro-batch-size 16 --target-modules all-linear
bench runner-shape-b8-compiled --no-gradient-checkpointing --bench-compile
step "done"
