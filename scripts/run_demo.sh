#!/usr/bin/env bash
# run_demo.sh — what `make run` does after building: device info, the tiny checkpoint, the
# tokenizer, a full distilled-pipeline generation on the bundled tiny random-weight checkpoint and
# tiny Gemma (an mp4 of noise: random weights), then every supported golden replayed.
set -euo pipefail
BUILD=${1:-build}
BIN=$BUILD/ltx2c
DATA=tests/data/golden
echo "== ltx2c info"
$BIN info
echo
echo "== ltx2c inspect (bundled tiny LTX-2.3 checkpoint)"
$BIN inspect $DATA/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors
if [ -f .cache/tokenizer-gemma3/tokenizer.json ] && $BIN tokenize --help >/dev/null 2>&1; then
  echo
  echo "== ltx2c tokenize (real Gemma 3 tokenizer)"
  $BIN tokenize --tokenizer .cache/tokenizer-gemma3/tokenizer.json \
      --text "A red fox trots through fresh snow at dawn, breath steaming."
fi
echo
TOK=.cache/tokenizer-gemma3/tokenizer.json
OUT=$BUILD/demo_distilled.mp4
echo "== ltx2c distilled (tiny random-weight checkpoint + tiny Gemma: the output is noise)"
echo "   the real command: ltx2c distilled --distilled-checkpoint-path ltx-2.3-22b-distilled.safetensors \\"
echo "     --spatial-upsampler-path ltx-2.3-spatial-upscaler-x2-1.1.safetensors \\"
echo "     --gemma-root gemma-3-12b-it-qat-q4_0-unquantized --prompt \"...\" --output-path out.mp4"
$BIN distilled \
    --distilled-checkpoint-path $DATA/tiny_ckpt/tiny-ltx-2.3-22b-dev.safetensors \
    --spatial-upsampler-path $DATA/tiny_ckpt/tiny-ltx-2.3-spatial-upscaler-x2.safetensors \
    --gemma-root $DATA/tiny_gemma --tokenizer $TOK \
    --prompt "A red fox trots through fresh snow at dawn, breath steaming." \
    --height 256 --width 384 --num-frames 49 --frame-rate 24 --seed 10 \
    --output-path $OUT
if command -v ffprobe >/dev/null; then
  ffprobe -v error -show_entries stream=codec_name,width,height,r_frame_rate,nb_frames,sample_rate,channels,duration \
      -of compact=p=0 $OUT
fi
echo "wrote $OUT"

echo
echo "== ltx2c verify (every golden this build supports, on cpu; both reference versions)"
# goldens.txt lists a2c3f24 files relative to tests/data/golden and 400fd31 (v1.2.0) files as
# "v12/..." relative to tests/data/golden_v12; each replays under its own reference_commit, with
# the shared tiny checkpoint and media of tests/data/golden as the root.
files=$(grep -v '^#' tests/golden/goldens.txt | awk 'NF{print $1}' | sort -u |
        sed -e "s|^v12/|tests/data/golden_v12/|" -e "t" -e "s|^|$DATA/|")
$BIN verify --device cpu --quiet --root $DATA $files
