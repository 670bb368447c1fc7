#!/usr/bin/env python3
"""torch_block.py — eager PyTorch baselines for bench/transformer_block: bf16 on a CUDA device
(--device cuda) and, with --cpu-perf-block, f32 on the CPU at the perf golden's configuration.

One LTX-2.3 audio+video transformer block (BasicAVTransformerBlock) written here from the
reference's structure (ltx_core/model/transformer/transformer.py, attention.py,
feed_forward.py at a2c3f24; no text copied): gated multi-head attention with RMS q/k norm over
the full inner dim, split RoPE per head, torch.nn.functional.scaled_dot_product_attention,
per-head sigmoid gates; AdaLN (RMS norm * (1 + scale) + shift) from per-modality scale/shift
tables plus timestep embeddings; text cross-attention with cross-attention AdaLN on query and
context; audio->video and video->audio cross-attention with their own modulation; GELU-tanh
feed-forward (4x). Widths of the 22B model: video 4096 = 32 x 128, audio 2048 = 32 x 64, text
context 1024 tokens (4096 / 2048 wide), 126 audio tokens.

Method: random weights and inputs (normal * 0.02 for weights, unit normal activations), the whole
module and its inputs in bf16 (what the reference does on a GPU), eager mode (no compile),
torch.inference_mode. Per video-token count: 3 warm-up forwards, then 10 timed with CUDA events;
median ms reported. Output: one JSON object per line on stdout:
  {"tokens": 6144, "ms_median": ..., "ms_min": ..., "gpu": "..."}
Usage: python3 bench/torch_block.py [--tokens 6144,24576] [--reps 10]

--cpu-perf-block: the PyTorch f32 CPU baseline of bench/transformer_block (CPU backend), measured
on the same machine in the same run (bench/block_vs_torch.sh) instead of the README's constant
(tests/data/golden/README.md "CPU baseline": 0.963 s, torch 1.13 + OpenBLAS, 2 threads).
  - Configuration from tests/data/golden/perf_block.safetensors' metadata `extra` (config +
    perf): video 2304 tokens (4x24x24 grid), 1024 = 16 x 64; audio 126 tokens, 512 = 16 x 32;
    512 text tokens, context 1024 wide (video) and 512 (audio); audio<->video cross-attention in
    the audio head layout (16 x 32), its RoPE tables (B, 16, T, 16) on both sides. The module's
    parameter count is checked against extra.block_params.
  - Runs on torch 1.13 (Debian's python3-torch, the golden's runtime): RMS norm written out, the
    attention on the math path as torch 1.13 computes it (q / sqrt(d), materialised (H, Tq, Tk)
    scores, softmax, P V; same values and time as torch 1.13's private
    F._scaled_dot_product_attention), no fused SDPA; split RoPE in the reference's layout (in
    place on (2, D/2) halves, back to (B, T, H*D)). Timesteps per token, as the golden's args
    (B, T, 9 D); prompt and audio<->video timesteps per sample (B, 1, .), as the reference's
    preprocessing. Cross-checked once (2026-12-07, outside the project) against the reference's
    own BasicAVTransformerBlock at a2c3f24 on the same torch with shims for F.rms_norm / RMSNorm /
    SDPA: 4 alternating rounds of 7 reps, medians 0.83-0.89 s (reference) vs 0.84-1.04 s (this),
    minimum 0.784 vs 0.811 s: the same within this shared machine's noise.
  - Random f32 weights scaled like the README's parameter stream (2-D: uniform[-1, 1) *
    2^-floor(log2(fan_in)/2); RMS weights 1 + u/8; biases u/32; tables u/8); activations unit
    normal, timestep embeddings 0.1 * normal (no denormals, no inf; values do not change f32 time).
  - torch.set_num_threads(2) unless --threads; the env (OPENBLAS_NUM_THREADS, OMP_*, MALLOC_*) is
    the caller's (bench/block_vs_torch.sh sets the README's anchor env) and is echoed in the output.
  - Timed with time.perf_counter around one forward under torch.inference_mode: 1 warm-up, then
    --reps (default 7); median and min. The GEMM + attention-product FLOPs are counted from the
    shapes seen in one extra forward (every nn.Linear: 2 M K N; per attention: 2 * 2 H Tq Tk d),
    printed as gflop, and compared with the golden's flops_block (perf_timings.json, 109.344).
  Output: one JSON line {"mode": "cpu-perf-block", "tokens": 2304, "s_median", "s_min", "times_s",
  "gflop", "threads", "per_rep_user_s", "per_rep_sys_s", "per_rep_minflt", "torch", "env"}; the
  timed reps' process CPU time and minor page faults show whether the allocator env took effect
  (without it torch re-faults the ~340 MB score matrices every call: high sys time and faults).
Usage: /usr/bin/python3 bench/torch_block.py --cpu-perf-block [--reps 7] [--threads 2]
                                             [--golden tests/data/golden/perf_block.safetensors]
"""
import argparse
import json
import math
import os
import resource
import struct
import sys
import time

import torch
import torch.nn.functional as F

VIDEO_DIM, VIDEO_HEADS, VIDEO_DHEAD = 4096, 32, 128
AUDIO_DIM, AUDIO_HEADS, AUDIO_DHEAD = 2048, 32, 64
TEXT_TOKENS, AUDIO_TOKENS, EPS = 1024, 126, 1e-6


def rms(x, eps=EPS):
    # parameter-free RMS norm over the last dim (ref: ltx_core.utils.rms_norm)
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype)


class RMSNormW(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim))

    def forward(self, x):
        if hasattr(F, "rms_norm"):
            return F.rms_norm(x, (x.shape[-1],), self.weight, EPS)
        return rms(x) * self.weight


def rope_split(x, cos, sin, heads):
    # x (B, T, H*D) -> (B, H, T, D) rotated in halves of each head; cos/sin (B, H, T, D/2)
    b, t, _ = x.shape
    x = x.view(b, t, heads, -1).transpose(1, 2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


def rope_split_tokens(x, cos, sin, heads):
    # the rotation of rope_split laid out as the reference's CPU path runs it: x * cos over the
    # (2, D/2) halves of each head, the sin terms added in place, back to (B, T, H*D)
    b, t, _ = x.shape
    xh = x.view(b, t, heads, 2, -1).transpose(1, 2)  # (B, H, T, 2, D/2)
    out = xh * cos.unsqueeze(-2)
    out[..., 0, :].addcmul_(xh[..., 1, :], sin, value=-1)
    out[..., 1, :].addcmul_(xh[..., 0, :], sin)
    return out.transpose(1, 2).reshape(b, t, -1)


def math_attention(q, k, v):
    # torch 1.13's math path: q / sqrt(d), the (B, H, Tq, Tk) scores materialised, softmax, P V
    scores = torch.matmul(q / math.sqrt(q.shape[-1]), k.transpose(-2, -1))
    return torch.matmul(torch.softmax(scores, dim=-1), v)


class Attn(torch.nn.Module):
    def __init__(self, qdim, cdim, heads, dhead, math_path=False):
        super().__init__()
        inner = heads * dhead
        self.heads, self.dhead = heads, dhead
        self.math_path = math_path
        self.products = None  # (B, H, Tq, Tk, d) of the last forward, for the FLOP count
        self.to_q = torch.nn.Linear(qdim, inner)
        self.to_k = torch.nn.Linear(cdim, inner)
        self.to_v = torch.nn.Linear(cdim, inner)
        self.q_norm, self.k_norm = RMSNormW(inner), RMSNormW(inner)
        self.to_gate_logits = torch.nn.Linear(qdim, heads)
        self.to_out = torch.nn.Linear(inner, qdim)

    def forward(self, x, context=None, pe=None, k_pe=None):
        context = x if context is None else context
        b, t, _ = x.shape
        q, k, v = self.q_norm(self.to_q(x)), self.k_norm(self.to_k(context)), self.to_v(context)
        if pe is not None and self.math_path:
            kp = pe if k_pe is None else k_pe
            q = rope_split_tokens(q, *pe, self.heads).view(b, t, self.heads, -1).transpose(1, 2)
            k = rope_split_tokens(k, *kp, self.heads).view(b, -1, self.heads, self.dhead)
            k = k.transpose(1, 2)
        elif pe is not None:
            kp = pe if k_pe is None else k_pe
            q, k = rope_split(q, *pe, self.heads), rope_split(k, *kp, self.heads)
        else:
            q = q.view(b, t, self.heads, -1).transpose(1, 2)
            k = k.view(b, -1, self.heads, self.dhead).transpose(1, 2)
        v = v.view(b, -1, self.heads, self.dhead).transpose(1, 2)
        self.products = (b, self.heads, t, k.shape[2], self.dhead)
        if self.math_path:
            out = math_attention(q, k, v)  # (B, H, T, D)
        else:
            out = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, D)
        gates = 2.0 * torch.sigmoid(self.to_gate_logits(x))  # (B, T, H)
        out = out.transpose(1, 2) * gates.unsqueeze(-1)
        return self.to_out(out.reshape(b, t, self.heads * self.dhead))


class FF(torch.nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj_in, self.proj_out = torch.nn.Linear(dim, 4 * dim), torch.nn.Linear(4 * dim, dim)

    def forward(self, x):
        return self.proj_out(F.gelu(self.proj_in(x), approximate="tanh"))


class AVBlock(torch.nn.Module):
    # video = (heads, d_head, text context width), audio likewise; defaults: the 22B model
    def __init__(self, video=(VIDEO_HEADS, VIDEO_DHEAD, VIDEO_DIM),
                 audio=(AUDIO_HEADS, AUDIO_DHEAD, AUDIO_DIM), math_path=False):
        super().__init__()
        (vh, vd, vc), (ah, ad, ac) = video, audio
        V, A = vh * vd, ah * ad
        self.attn1 = Attn(V, V, vh, vd, math_path)
        self.attn2 = Attn(V, vc, vh, vd, math_path)
        self.ff = FF(V)
        self.sst = torch.nn.Parameter(torch.randn(9, V) / V**0.5)
        self.audio_attn1 = Attn(A, A, ah, ad, math_path)
        self.audio_attn2 = Attn(A, ac, ah, ad, math_path)
        self.audio_ff = FF(A)
        self.audio_sst = torch.nn.Parameter(torch.randn(9, A) / A**0.5)
        self.a2v = Attn(V, A, ah, ad, math_path)  # cross-attention in the audio head layout
        self.v2a = Attn(A, V, ah, ad, math_path)
        self.sst_ca_audio = torch.nn.Parameter(torch.randn(5, A) / A**0.5)
        self.sst_ca_video = torch.nn.Parameter(torch.randn(5, V) / V**0.5)
        self.prompt_sst = torch.nn.Parameter(torch.randn(2, V) / V**0.5)
        self.audio_prompt_sst = torch.nn.Parameter(torch.randn(2, A) / A**0.5)

    @staticmethod
    def ada(table, ts, idx):
        # table (n, D) + timesteps (B, 1|T, n*D) -> the selected (B, 1|T, D) values
        b, t = ts.shape[0], ts.shape[1]
        vals = table[None, None] + ts.reshape(b, t, table.shape[0], -1)
        return [vals[:, :, i] for i in idx]

    def text_ca(self, x, ctx, attn, sst, psst, ts, pts):
        shift_q, scale_q, gate = self.ada(sst, ts, range(6, 9))
        b = x.shape[0]
        kv = psst[None, None] + pts.reshape(b, pts.shape[1], 2, -1)
        shift_kv, scale_kv = kv[:, :, 0], kv[:, :, 1]
        q_in = rms(x) * (1 + scale_q) + shift_q
        return attn(q_in, context=ctx * (1 + scale_kv) + shift_kv) * gate

    def forward(self, v, a):
        vx, ax = v["x"], a["x"]
        sh, sc, g = self.ada(self.sst, v["ts"], range(0, 3))
        vx = vx + self.attn1(rms(vx) * (1 + sc) + sh, pe=v["pe"]) * g
        vx = vx + self.text_ca(vx, v["ctx"], self.attn2, self.sst, self.prompt_sst, v["ts"], v["pts"])
        sh, sc, g = self.ada(self.audio_sst, a["ts"], range(0, 3))
        ax = ax + self.audio_attn1(rms(ax) * (1 + sc) + sh, pe=a["pe"]) * g
        ax = ax + self.text_ca(ax, a["ctx"], self.audio_attn2, self.audio_sst, self.audio_prompt_sst,
                               a["ts"], a["pts"])
        vn, an = rms(vx), rms(ax)
        # audio -> video
        sc_v, sh_v = self.ada(self.sst_ca_video[:4], v["cts"], range(0, 2))
        (g_v,) = self.ada(self.sst_ca_video[4:], v["cgt"], range(0, 1))
        sc_a, sh_a = self.ada(self.sst_ca_audio[:4], a["cts"], range(0, 2))
        vx = vx + self.a2v(vn * (1 + sc_v) + sh_v, context=an * (1 + sc_a) + sh_a,
                           pe=v["cpe"], k_pe=a["cpe"]) * g_v
        # video -> audio
        sc_a, sh_a = self.ada(self.sst_ca_audio[:4], a["cts"], range(2, 4))
        (g_a,) = self.ada(self.sst_ca_audio[4:], a["cgt"], range(0, 1))
        sc_v, sh_v = self.ada(self.sst_ca_video[:4], v["cts"], range(2, 4))
        ax = ax + self.v2a(an * (1 + sc_a) + sh_a, context=vn * (1 + sc_v) + sh_v,
                           pe=a["cpe"], k_pe=v["cpe"]) * g_a
        sh, sc, g = self.ada(self.sst, v["ts"], range(3, 6))
        vx = vx + self.ff(rms(vx) * (1 + sc) + sh) * g
        sh, sc, g = self.ada(self.audio_sst, a["ts"], range(3, 6))
        ax = ax + self.audio_ff(rms(ax) * (1 + sc) + sh) * g
        return vx, ax


def rope_tables(t, heads, dhead, dev, dt):
    ang = torch.rand(1, heads, t, dhead // 2, device=dev) * 2 * math.pi
    return ang.cos().to(dt), ang.sin().to(dt)


def modality(t, dim, heads, dhead, cross_heads, cross_dhead, dev, dt, text_tokens=TEXT_TOKENS,
             ctx_dim=None, ts_tokens=1):
    # ts_tokens: 1 (one timestep per sample) or t (per token, as the golden's args)
    r = lambda *s: torch.randn(*s, device=dev, dtype=dt)
    ctx_dim = dim if ctx_dim is None else ctx_dim
    return {"x": r(1, t, dim), "ts": r(1, ts_tokens, 9 * dim) * 0.1, "pts": r(1, 1, 2 * dim) * 0.1,
            "ctx": r(1, text_tokens, ctx_dim), "cts": r(1, 1, 4 * dim) * 0.1,
            "cgt": r(1, 1, dim) * 0.1, "pe": rope_tables(t, heads, dhead, dev, dt),
            "cpe": rope_tables(t, cross_heads, cross_dhead, dev, dt)}


GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "golden",
                      "perf_block.safetensors")
GOLDEN_FLOPS = 109344366592  # perf_timings.json flops_block (README: 109.344 GFLOP per block)
ANCHOR_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY",
              "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def golden_extra(path):
    # the safetensors header's __metadata__["extra"] (JSON text) of perf_block.safetensors
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        meta = json.loads(f.read(n)).get("__metadata__", {})
    if "extra" not in meta:
        raise ValueError(f"{path}: no metadata 'extra' (not perf_block.safetensors?)")
    return json.loads(meta["extra"])


def perf_shapes(extra, path):
    # (video (heads, d, ctx), audio (heads, d, ctx), video tokens, audio tokens, text tokens)
    c, p = extra["config"]["transformer"], extra["perf"]
    want = {"apply_gated_attention": True, "cross_attention_adaln": True, "rope_type": "split",
            "activation_fn": "gelu-approximate", "qk_norm": "rms_norm", "attention_bias": True}
    for k, v in want.items():
        if c.get(k) != v:
            raise ValueError(f"{path}: config {k} = {c.get(k)!r}, this block is written for {v!r}")
    video = (c["num_attention_heads"], c["attention_head_dim"], c["cross_attention_dim"])
    audio = (c["audio_num_attention_heads"], c["audio_attention_head_dim"],
             c["audio_cross_attention_dim"])
    if (video[0], video[1], audio[0], audio[1]) != (p["video_heads"], p["video_head_dim"],
                                                    p["audio_heads"], p["audio_head_dim"]):
        raise ValueError(f"{path}: extra.perf head layout disagrees with extra.config")
    tv = math.prod(p["video_latent_grid"])
    return video, audio, tv, p["audio_tokens"], p["text_tokens"]


def init_like_stream(blk):
    # README "CPU baseline" scales, uniform u in [-1, 1) from torch's generator (not the stream)
    with torch.no_grad():
        for name, p in blk.named_parameters():
            u = torch.rand_like(p) * 2 - 1
            if name.endswith("weight") and p.dim() >= 2:
                p.copy_(u * 2.0 ** -math.floor(math.log2(p[0].numel()) / 2))
            elif name.endswith("weight"):
                p.copy_(1 + u / 8)
            elif name.endswith("bias"):
                p.copy_(u / 32)
            else:
                p.copy_(u / 8)


def count_flops(blk, v, a):
    # GEMM + attention-product FLOPs of one forward, from the shapes the modules see
    total = [0]

    def linear_hook(mod, inp, out):
        total[0] += 2 * (inp[0].numel() // mod.in_features) * mod.in_features * mod.out_features

    hooks = [m.register_forward_hook(linear_hook) for m in blk.modules()
             if isinstance(m, torch.nn.Linear)]
    blk(v, a)
    for h in hooks:
        h.remove()
    for m in blk.modules():
        if isinstance(m, Attn):
            b, h, tq, tk, d = m.products
            total[0] += 2 * 2 * b * h * tq * tk * d  # Q K^T and P V
    return total[0]


def cpu_perf_block(args):
    extra = golden_extra(args.golden)
    video, audio, tv, ta, tt = perf_shapes(extra, args.golden)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    dev, dt = torch.device("cpu"), torch.float32
    blk = AVBlock(video, audio, math_path=True)
    nparam = sum(p.numel() for p in blk.parameters())
    if nparam != extra["block_params"]:
        print(f"torch_block.py: {nparam} block parameters, {args.golden} says "
              f"{extra['block_params']}", file=sys.stderr)
        return 1
    init_like_stream(blk)
    (vh, vd, vc), (ah, ad, ac) = video, audio
    with torch.inference_mode():
        v = modality(tv, vh * vd, vh, vd, ah, ad, dev, dt, tt, vc, ts_tokens=tv)
        a = modality(ta, ah * ad, ah, ad, ah, ad, dev, dt, tt, ac, ts_tokens=ta)
        flops = count_flops(blk, v, a)  # also the warm-up forward
        times, r0 = [], resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(args.reps):
            t0 = time.perf_counter()
            vo, ao = blk(v, a)
            times.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        if not (torch.isfinite(vo).all() and torch.isfinite(ao).all()):
            print("torch_block.py: non-finite block output", file=sys.stderr)
            return 1
    st = sorted(times)
    print(json.dumps({"mode": "cpu-perf-block", "tokens": tv, "s_median": st[len(st) // 2],
                      "s_min": st[0], "times_s": [round(t, 4) for t in times],
                      "gflop": flops * 1e-9, "golden_gflop": GOLDEN_FLOPS * 1e-9,
                      "params": nparam, "threads": torch.get_num_threads(),
                      "per_rep_user_s": (r1.ru_utime - r0.ru_utime) / args.reps,
                      "per_rep_sys_s": (r1.ru_stime - r0.ru_stime) / args.reps,
                      "per_rep_minflt": (r1.ru_minflt - r0.ru_minflt) // args.reps,
                      "torch": torch.__version__,
                      "env": {k: os.environ.get(k) for k in ANCHOR_ENV}}), flush=True)
    if abs(flops - GOLDEN_FLOPS) > 1e-3 * GOLDEN_FLOPS:
        print(f"torch_block.py: {flops * 1e-9:.3f} GFLOP counted, the golden documents "
              f"{GOLDEN_FLOPS * 1e-9:.3f}", file=sys.stderr)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", default="6144,24576")
    ap.add_argument("--reps", type=int, default=None, help="default 10 (cuda), 7 (cpu)")
    ap.add_argument("--cpu-perf-block", action="store_true",
                    help="f32 CPU baseline at perf_block.safetensors' configuration")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (--cpu-perf-block)")
    ap.add_argument("--golden", default=GOLDEN, help="perf_block.safetensors (--cpu-perf-block)")
    args = ap.parse_args()
    if args.cpu_perf_block:
        args.reps = 7 if args.reps is None else args.reps
        if args.reps < 1 or args.threads < 1:
            print(f"torch_block.py: --reps {args.reps} / --threads {args.threads} must be >= 1",
                  file=sys.stderr)
            return 2
        return cpu_perf_block(args)
    args.reps = 10 if args.reps is None else args.reps
    if not torch.cuda.is_available():
        print("torch_block.py: no CUDA device visible to PyTorch", file=sys.stderr)
        return 2
    dev, dt = torch.device("cuda"), torch.bfloat16
    torch.manual_seed(0)
    torch.backends.cuda.matmul.allow_tf32 = False
    with torch.inference_mode():
        blk = AVBlock().to(dev)
        for p in blk.parameters():
            if p.dim() == 2 and p.shape[0] > 16:
                p.normal_(0.0, 0.02)
        blk = blk.to(dt)
        gpu = torch.cuda.get_device_name(0)
        for tv in [int(s) for s in args.tokens.split(",")]:
            v = modality(tv, VIDEO_DIM, VIDEO_HEADS, VIDEO_DHEAD, AUDIO_HEADS, AUDIO_DHEAD, dev, dt)
            a = modality(AUDIO_TOKENS, AUDIO_DIM, AUDIO_HEADS, AUDIO_DHEAD, AUDIO_HEADS,
                         AUDIO_DHEAD, dev, dt)
            for _ in range(3):
                blk(v, a)
            times = []
            for _ in range(args.reps):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                vo, ao = blk(v, a)
                e.record()
                torch.cuda.synchronize()
                times.append(s.elapsed_time(e))
            if not (torch.isfinite(vo).all() and torch.isfinite(ao).all()):
                print(f"torch_block.py: non-finite output at {tv} tokens", file=sys.stderr)
                return 1
            times.sort()
            print(json.dumps({"tokens": tv, "ms_median": times[len(times) // 2],
                              "ms_min": times[0], "gpu": gpu}), flush=True)
            del v, a, vo, ao
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
