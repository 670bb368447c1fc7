#!/usr/bin/env python3
"""torch_block.py — the eager PyTorch bf16 baseline for bench/transformer_block --device cuda.

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
"""
import argparse
import json
import math
import sys

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
        return F.rms_norm(x, (x.shape[-1],), self.weight, EPS)


def rope_split(x, cos, sin, heads):
    # x (B, T, H*D) -> (B, H, T, D) rotated in halves of each head; cos/sin (B, H, T, D/2)
    b, t, _ = x.shape
    x = x.view(b, t, heads, -1).transpose(1, 2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Attn(torch.nn.Module):
    def __init__(self, qdim, cdim, heads, dhead):
        super().__init__()
        inner = heads * dhead
        self.heads, self.dhead = heads, dhead
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
        if pe is not None:
            kp = pe if k_pe is None else k_pe
            q, k = rope_split(q, *pe, self.heads), rope_split(k, *kp, self.heads)
        else:
            q = q.view(b, t, self.heads, -1).transpose(1, 2)
            k = k.view(b, -1, self.heads, self.dhead).transpose(1, 2)
        v = v.view(b, -1, self.heads, self.dhead).transpose(1, 2)
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
    def __init__(self):
        super().__init__()
        V, A = VIDEO_DIM, AUDIO_DIM
        self.attn1 = Attn(V, V, VIDEO_HEADS, VIDEO_DHEAD)
        self.attn2 = Attn(V, V, VIDEO_HEADS, VIDEO_DHEAD)
        self.ff = FF(V)
        self.sst = torch.nn.Parameter(torch.randn(9, V) / V**0.5)
        self.audio_attn1 = Attn(A, A, AUDIO_HEADS, AUDIO_DHEAD)
        self.audio_attn2 = Attn(A, A, AUDIO_HEADS, AUDIO_DHEAD)
        self.audio_ff = FF(A)
        self.audio_sst = torch.nn.Parameter(torch.randn(9, A) / A**0.5)
        self.a2v = Attn(V, A, AUDIO_HEADS, AUDIO_DHEAD)
        self.v2a = Attn(A, V, AUDIO_HEADS, AUDIO_DHEAD)
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


def modality(t, dim, heads, dhead, cross_heads, cross_dhead, dev, dt):
    r = lambda *s: torch.randn(*s, device=dev, dtype=dt)
    return {"x": r(1, t, dim), "ts": r(1, 1, 9 * dim) * 0.1, "pts": r(1, 1, 2 * dim) * 0.1,
            "ctx": r(1, TEXT_TOKENS, dim), "cts": r(1, 1, 4 * dim) * 0.1,
            "cgt": r(1, 1, dim) * 0.1, "pe": rope_tables(t, heads, dhead, dev, dt),
            "cpe": rope_tables(t, cross_heads, cross_dhead, dev, dt)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", default="6144,24576")
    ap.add_argument("--reps", type=int, default=10)
    args = ap.parse_args()
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
