#!/usr/bin/env bash
# Every GPU measurement of issue 15 ("GPU speed and memory") in ONE device call: a machine costs minutes
# to start and a session has 15 minutes of device time, so everything runs in one go, most important first,
# each step with its own time limit, and the logs go to $OUT.
#
# Prepare here, from the repository root (1-2 minutes; writes the git-ignored .device/):
#     ../shared/gpu/bundle.sh --golden src/RelationAdapter.Bench
# Then one device call:  command "bash bench/gpu-run.sh", carry [".device"], timeout_s 590.
# Read $OUT/summary.txt first (the lines that matter from every step); $OUT/<step>.txt holds each full log.
# Compare the C# and PyTorch numbers only within one call (same machine, same warm-up).
#
# Steps (seconds are upper bounds; BUDGET, default 560, caps the whole run; ONLY, a regular expression, runs just the
# steps whose names match it, e.g. ONLY=train for issue 21's numbers):
#   parity       the golden pipeline cases on CUDA: float32 with TF32 off (bound 2e-4) and bf16 (the Gpu test category)
#   edit-bf16    the whole 512x512, 24-step edit in bf16, encoders and image_proj offloaded: stage times, median step,
#                peak GPU memory (target <= 30 GB)
#   peer-eager   flux_peer.py 512 24: PyTorch eager, diffusers' op order (the 118 ms/step baseline on an H100)
#   blocks-cs / blocks-peer   one double + one single block, C# then PyTorch (where the step loses time per block),
#                and how long the host takes to queue one block (is the C# step host-bound?)
#   blocks-cs-fp8   the same blocks with float8 weights
#   edit-fp8     the edit with float8 DiT weights (target: DiT ~12 GB, step <= 0.8x bf16, peak <= 20 GB), then the
#                bf16 edit with the same seed: "relL2 vs bf16:" and the speed-up
#   edit-cache   the bf16 edit with the step cache at 0.12: computed vs reused steps, speed-up, relL2 vs no cache
#   edit-batch2  two images of one request in one DiT batch: median step per image vs batch 1
#   load-full    random weights written at full size in the real layouts, loaded as the service does: load time,
#                peak host RSS, GPU memory
#   train-*      issue 21: one training step of the adapter and a rank-128 LoRA on flux1-dev at 512x512 in bf16, with
#                gradient checkpointing per block on (target <= 80 GB peak) and off: median step and peak GPU memory
#   eval-*       ONLY on a machine with real weights (skipped otherwise): the quality side of fp8 and the step cache.
#                `eval run` of bf16, fp8 and cache 0.12 over RA_EVAL_DATA (Relation252K JSON Lines), `eval score`
#                (MSE; CLIP-I with RA_CLIP_DIR) and `eval report` into $OUT/eval/report. Set RA_FLUX_DIR, RA_SIGLIP_DIR,
#                RA_ADAPTER (RA_LORA optional) and RA_EVAL_DATA, and bundle the tool too:
#                    ../shared/gpu/bundle.sh --golden src/RelationAdapter.Bench src/RelationAdapter.Eval
#                The runs are resumable: a second call continues where the budget stopped the first.
set -u
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
repo=$PWD
budget=${BUDGET:-560}
start=$SECONDS

source .device/device-env.sh > "$OUT/00-env.txt" 2>&1 || { cat "$OUT/00-env.txt"; exit 1; }
nvidia-smi >> "$OUT/00-env.txt" 2>&1
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" >> "$OUT/00-env.txt" 2>&1
bench=/tmp/app/RelationAdapter.Bench/RelationAdapter.Bench
peer="python3 $repo/.device/flux_peer.py"
golden=$repo/.device/golden/tiny-v1
cd /tmp/app/RelationAdapter.Bench || exit 1
cat "$OUT/00-env.txt" > "$OUT/summary.txt"

step() { # step NAME LIMIT COMMAND...
  local name=$1 limit=$2; shift 2
  [[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && return
  local left=$(( budget - (SECONDS - start) ))
  if (( left < 25 )); then echo "== $name: skipped, ${left} s of the budget left" >> "$OUT/summary.txt"; return; fi
  (( limit > left )) && limit=$left
  echo "== $name: $*" >> "$OUT/summary.txt"
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  grep -E '^(parity|edit benchmark|load|stage|median step|memory|train step|peak|reference|relL2|speedup|REF|BLOCKS|blocks at|host time|wrote|full-scale|edit with|[0-9]+ predicted|[0-9]+ scored|all [0-9]+ pred|\| all \||  [a-z_]+ +[0-9])' \
    "$OUT/$name.txt" >> "$OUT/summary.txt"
  (( rc != 0 )) && tail -n 5 "$OUT/$name.txt" >> "$OUT/summary.txt"
  echo "   rc=$rc, $(( SECONDS - t0 )) s (total $(( SECONDS - start )) s)" >> "$OUT/summary.txt"
}

step 01-parity       90  $bench parity --golden "$golden" --device cuda
step 02-edit-bf16    120 $bench edit --device cuda --size 512 --steps 24 --precision bf16 --offload true
step 03-peer-eager   90  $peer 512 24
step 04-blocks-cs    60  $bench blocks --device cuda --size 512
step 05-blocks-peer  90  $peer 512 24 blocks
step 06-blocks-cs-fp8 60 $bench blocks --device cuda --size 512 --precision fp8
step 07-edit-fp8     160 $bench edit --device cuda --size 512 --steps 24 --precision fp8 --offload true
step 08-edit-cache   150 $bench edit --device cuda --size 512 --steps 24 --cache-threshold 0.12 --offload true
step 09-edit-batch2  90  $bench edit --device cuda --size 512 --steps 8 --batch 2 --offload true
step 10-load-full    240 $bench load --device cuda --preset flux1-dev --dir /tmp/ra-weights --offload true
step 11-train-ckpt-on  150 $bench train --device cuda --preset flux1-dev --size 512 --rank 128 --checkpointing true
step 12-train-ckpt-off 150 $bench train --device cuda --preset flux1-dev --size 512 --rank 128 --checkpointing false

evaluator=/tmp/app/RelationAdapter.Eval/RelationAdapter.Eval
if [ -x "$evaluator" ] && [ -d "${RA_FLUX_DIR:-/nonexistent}" ] && [ -d "${RA_SIGLIP_DIR:-/nonexistent}" ] \
   && [ -f "${RA_ADAPTER:-/nonexistent}" ] && [ -f "${RA_EVAL_DATA:-/nonexistent}" ]; then
  weights=(--data "$RA_EVAL_DATA" --preset flux1-dev --flux-dir "$RA_FLUX_DIR" --siglip-dir "$RA_SIGLIP_DIR" --adapter "$RA_ADAPTER"
           ${RA_LORA:+--lora "$RA_LORA"} --device cuda)
  step 13-eval-bf16  300 $evaluator run "${weights[@]}" --out "$OUT/eval/bf16"
  step 14-eval-fp8   300 $evaluator run "${weights[@]}" --out "$OUT/eval/fp8" --precision fp8
  step 15-eval-cache 300 $evaluator run "${weights[@]}" --out "$OUT/eval/cache0.12" --cache-threshold 0.12
  for run in bf16 fp8 cache0.12; do
    step 16-eval-score-$run 120 $evaluator score "$OUT/eval/$run" ${RA_CLIP_DIR:+--clip-dir "$RA_CLIP_DIR"}
  done
  step 17-eval-report 60 $evaluator report "$OUT/eval/bf16" "$OUT/eval/fp8" "$OUT/eval/cache0.12" --out "$OUT/eval/report"
  cat "$OUT/eval/report/report.md" >> "$OUT/summary.txt" 2>/dev/null
else
  echo "== eval: skipped (needs real weights: RA_FLUX_DIR, RA_SIGLIP_DIR, RA_ADAPTER, RA_EVAL_DATA, and RelationAdapter.Eval in the bundle)" >> "$OUT/summary.txt"
fi
echo "done in $(( SECONDS - start )) s" >> "$OUT/summary.txt"
cat "$OUT/summary.txt"
