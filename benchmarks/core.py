"""Core benchmark: KV-cache decoding, a Hugging Face T5 peer, and training throughput.

Every figure is measured in the same run, on the same threads:

1. decoding tokens/s for 128 new tokens with and without the KV cache
   (d_model 256, 4+4 layers, batch 8). Goal: >= 5x with the cache;
2. our encoder-decoder against ``transformers``' T5 with identical dimensions
   and random weights, for a forward pass and for greedy generation. T5 runs
   with its best attention implementation (SDPA) in eval mode, like ours.
   Goal: at least as fast;
3. encoder training tokens/s and achieved GFLOP/s (d_model 512) as a fraction
   of the fp32 matmul GFLOP/s measured in this run. Goal: >= 40%.

Writes ``benchmarks/results/core.json`` and ``core.md``.

    python benchmarks/core.py            # full run (about 3 minutes on 2 cores)
    python benchmarks/core.py --quick    # smaller shapes, for a smoke test
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from shared.models import EncoderDecoder, GenerationConfig, TokenClassificationHead, TransformerConfig
from shared.models.adapters import TokenEmbedding
from shared.models.encoder import Encoder
from shared.training import TrainConfig, make_optimizer

RESULTS = Path(__file__).parent / "results"


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Median wall seconds of ``fn`` over ``repeats`` runs after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_peak(sizes: tuple[int, ...] = (1024, 2048, 3072)) -> float:
    """Best fp32 GFLOP/s of square matrix products on the current threads."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        seconds = timed(lambda: a @ b, repeats=5, warmup=2)
        best = max(best, 2 * n**3 / seconds / 1e9)
    return best


def seq2seq_config(vocab: int) -> TransformerConfig:
    """d_model 256, 4+4 layers, 4 heads, d_ff 1024; no biases and RMSNorm, as in T5."""
    return TransformerConfig(d_model=256, n_heads=4, encoder_layers=4, decoder_layers=4, d_ff=1024, dropout=0.0,
                             norm="rmsnorm", mlp="gelu", bias=False, position="rotary", vocab_size=vocab)


def bench_kv_cache(batch: int, src_len: int, new_tokens: int, vocab: int) -> dict[str, float]:
    model = EncoderDecoder(seq2seq_config(vocab)).eval()
    source = {"input_ids": torch.randint(4, vocab, (batch, src_len))}
    out = {}
    for use_cache in (True, False):
        cfg = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens, use_cache=use_cache)
        with torch.inference_mode():
            seconds = timed(lambda: model.generate(source, cfg), repeats=3)
        out["cache" if use_cache else "no_cache"] = batch * new_tokens / seconds
    out["speedup"] = out["cache"] / out["no_cache"]
    return out


def bench_t5(batch: int, src_len: int, tgt_len: int, new_tokens: int, vocab: int) -> dict[str, float]:
    from transformers import T5Config, T5ForConditionalGeneration

    t5_cfg = T5Config(vocab_size=vocab, d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_decoder_layers=4,
                      num_heads=4, dropout_rate=0.0, feed_forward_proj="gelu", pad_token_id=0, eos_token_id=2,
                      decoder_start_token_id=1, tie_word_embeddings=True)
    try:
        t5 = T5ForConditionalGeneration._from_config(t5_cfg, attn_implementation="sdpa").eval()
    except (ValueError, ImportError):  # a transformers version without SDPA for T5
        t5 = T5ForConditionalGeneration(t5_cfg).eval()
    ours = EncoderDecoder(seq2seq_config(vocab)).eval()
    src = torch.randint(4, vocab, (batch, src_len))
    tgt = torch.randint(4, vocab, (batch, tgt_len))
    attn = torch.ones_like(src)
    params = {"ours": sum(p.numel() for p in ours.parameters()), "t5": sum(p.numel() for p in t5.parameters())}
    gen_cfg = GenerationConfig(max_new_tokens=new_tokens, min_new_tokens=new_tokens)
    with torch.inference_mode():
        fwd_ours = timed(lambda: ours({"input_ids": src}, tgt), repeats=5)
        fwd_t5 = timed(lambda: t5(input_ids=src, attention_mask=attn, decoder_input_ids=tgt), repeats=5)
        gen_ours = timed(lambda: ours.generate({"input_ids": src}, gen_cfg), repeats=3)
        gen_t5 = timed(lambda: t5.generate(input_ids=src, attention_mask=attn, max_new_tokens=new_tokens,
                                           min_new_tokens=new_tokens, do_sample=False, num_beams=1), repeats=3)
    tokens_fwd = batch * (src_len + tgt_len)
    return {
        "params_ours": params["ours"],
        "params_t5": params["t5"],
        "t5_attention": getattr(t5.config, "_attn_implementation", "unknown"),
        "forward_tokens_per_s_ours": tokens_fwd / fwd_ours,
        "forward_tokens_per_s_t5": tokens_fwd / fwd_t5,
        "forward_speedup": fwd_t5 / fwd_ours,
        "generate_tokens_per_s_ours": batch * new_tokens / gen_ours,
        "generate_tokens_per_s_t5": batch * new_tokens / gen_t5,
        "generate_speedup": gen_t5 / gen_ours,
    }


def encoder_flops_per_token(d: int, d_ff: int, layers: int, seq: int, vocab: int, mlp: str) -> float:
    """Forward FLOPs per token: projections, attention scores/values, MLP, output head."""
    mlp_flops = (6 if mlp == "swiglu" else 4) * d * d_ff
    per_layer = 8 * d * d + 4 * seq * d + mlp_flops
    return layers * per_layer + 2 * d * vocab


def bench_training(batch: int, seq: int, layers: int, steps: int, peak: float, vocab: int = 1024) -> dict[str, float]:
    d, d_ff = 512, 2048
    cfg = TransformerConfig(d_model=d, n_heads=8, encoder_layers=layers, d_ff=d_ff, dropout=0.1, mlp="gelu")
    embed, encoder, head = TokenEmbedding(vocab, d), Encoder(cfg), TokenClassificationHead(d, vocab)
    model = torch.nn.ModuleDict({"embed": embed, "encoder": encoder, "head": head}).train()
    optimizer = make_optimizer(model, TrainConfig())
    ids = torch.randint(4, vocab, (batch, seq))
    labels = torch.randint(0, vocab, (batch, seq))

    def step() -> None:
        x, mask = embed({"input_ids": ids})
        logits = head(encoder(x, mask))
        loss = F.cross_entropy(logits.view(-1, vocab), labels.view(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    seconds = timed(step, repeats=steps, warmup=1)
    tokens = batch * seq
    gflops = 3 * tokens * encoder_flops_per_token(d, d_ff, layers, seq, vocab, "gelu") / seconds / 1e9
    return {"batch": batch, "seq_len": seq, "layers": layers, "tokens_per_s": tokens / seconds,
            "gflops": gflops, "fraction_of_peak": gflops / peak}


def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo (platform.processor() is empty on Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown(r: dict) -> str:
    kv, t5, tr = r["kv_cache"], r["t5"], r["training"]
    ok = lambda good: "yes" if good else "**no**"  # noqa: E731
    lines = [
        f"# Core benchmark ({r['machine']['cpu']}, {r['machine']['threads']} threads, torch {r['machine']['torch']})",
        "",
        f"fp32 matmul peak measured in this run: **{r['matmul_peak_gflops']:.1f} GFLOP/s**.",
        "",
        "| measurement | ours | reference | ratio | goal | met |",
        "|---|---:|---:|---:|---|---|",
        f"| decode 128 tokens, batch 8 (tokens/s): KV cache vs none | {kv['cache']:,.0f} | {kv['no_cache']:,.0f} | "
        f"{kv['speedup']:.1f}x | >= 5x | {ok(kv['speedup'] >= 5)} |",
        f"| forward, batch 8, 128+128 tokens (tokens/s): ours vs T5 | {t5['forward_tokens_per_s_ours']:,.0f} | "
        f"{t5['forward_tokens_per_s_t5']:,.0f} | {t5['forward_speedup']:.2f}x | >= 1x | {ok(t5['forward_speedup'] >= 1)} |",
        f"| greedy generate 128 tokens, batch 8 (tokens/s): ours vs T5 | {t5['generate_tokens_per_s_ours']:,.0f} | "
        f"{t5['generate_tokens_per_s_t5']:,.0f} | {t5['generate_speedup']:.2f}x | >= 1x | {ok(t5['generate_speedup'] >= 1)} |",
        f"| encoder training step, d_model 512 (GFLOP/s): achieved vs matmul peak | {tr['gflops']:.1f} | "
        f"{r['matmul_peak_gflops']:.1f} | {tr['fraction_of_peak']:.0%} | >= 40% | {ok(tr['fraction_of_peak'] >= 0.4)} |",
        "",
        f"Training: {tr['tokens_per_s']:,.0f} tokens/s, batch {tr['batch']} x {tr['seq_len']} tokens, {tr['layers']} layers, "
        "dropout 0.1, AdamW + clipping included; FLOPs counted analytically (3x forward).",
        f"T5 peer: `transformers` T5ForConditionalGeneration, random weights, attention `{t5['t5_attention']}`, "
        f"{t5['params_t5'] / 1e6:.1f}M parameters (ours {t5['params_ours'] / 1e6:.1f}M: same widths; T5 adds "
        "relative-position bias tables, we use rotary positions).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (smoke test), results not written")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    vocab = 8000
    new_tokens = 16 if args.quick else 128
    peak = matmul_peak((512,) if args.quick else (1024, 2048, 3072))
    print(f"matmul peak: {peak:.1f} GFLOP/s")
    kv = bench_kv_cache(8, 64, new_tokens, vocab)
    print(f"kv cache: {kv}")
    t5 = bench_t5(8, 128, 128, new_tokens, vocab)
    print(f"t5: {t5}")
    training = bench_training(4, 64, 2, 2, peak) if args.quick else bench_training(16, 256, 6, 4, peak)
    print(f"training: {training}")
    result = {
        "machine": {"cpu": cpu_name(), "threads": args.threads,
                    "torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability()},
        "matmul_peak_gflops": peak,
        "kv_cache": kv,
        "t5": t5,
        "training": training,
        "unix_time": time.time(),
    }
    if not args.quick:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "core.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "core.md").write_text(markdown(result))
        print(f"wrote {args.out / 'core.json'} and {args.out / 'core.md'}")
    print(markdown(result))


if __name__ == "__main__":
    main()
