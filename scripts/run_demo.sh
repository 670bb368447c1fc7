#!/usr/bin/env bash
# run_demo.sh — what `make run` does after building: the most complete thing this build can do
# on the bundled tiny random-weight model. As pipelines land this becomes a full generation.
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
echo "== ltx2c verify (every golden this build supports, on cpu)"
files=$(grep -v '^#' tests/golden/goldens.txt | awk 'NF{print $1}' | sed "s|^|$DATA/|")
$BIN verify --device cpu --quiet $files
