#!/usr/bin/env python3
"""Decoding speed and memory of ``BloomzMMS``: batch 1 vs 16, greedy vs beam 5, KV cache on vs off.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode.py --llm tiny --utterances 32 --max_new_tokens 16
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/decode.py --llm bloom-560m --utterances 16 --max_new_tokens 4

Models are written locally with random weights, nothing is downloaded:
- ``tiny``: the test-size BLOOM (hidden 32, 2 layers, 4 heads, vocab 504) with weights of
  std 0.3, so that answers depend on the speech and the batch-vs-alone check means something;
- ``bloom-560m``: the architecture of ``bigscience/bloomz-560m`` (hidden 1024, 24 layers,
  16 heads, vocab 250 880) with weights of std 0.06 (with BLOOM's own 0.02 every random
  answer is the same token, whatever the speech) and the tiny tokenizer (ids beyond it
  decode to nothing; the benchmark compares token ids).
The speech side is in both cases the tiny MMS stand-in (hidden 32) and a tiny
E-Branchformer (output 32, 3 blocks), so at 560m the numbers are dominated by the LLM, as
with the real MMS-1B + BLOOMZ-7b1 where the LLM is ~7x the encoder. The speech layers are
randomly initialised and their adaptor standardised per channel (as a trained one varies
from frame to frame). Utterances are espeak-ng sentences in 7 languages at 16 kHz, sorted
by length as ``bin/inference.py`` batches them.

For each setting every utterance is decoded (encode + generate) ``--repeats`` times after
an untimed warm-up, and the fastest run counts (other processes only ever slow a run down). Reported: utterances/s, real-time factor (decode time / audio time), the
speed-up over batch 1, peak resident memory (Linux VmHWM, reset before each setting
through /proc/self/clear_refs; on CUDA ``torch.cuda.max_memory_allocated``) and its rise
over the resident memory before the setting, and whether the token ids equal the batch-1
greedy ids. Random models rarely emit EOS, so every answer runs to ``--max_new_tokens``:
batch 1 gains nothing from stopping early.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import List, Optional

import numpy as np
import torch
import yaml

from espnet2_bloomzmms.audio_io import SAMPLE_RATE
from espnet2_bloomzmms.data.synthesize import synthesize
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask
from espnet2_bloomzmms.testing.speech_embeddings import standardize_adaptor
from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom, write_tiny_mms

SENTENCES = [
    ("en", "The weather is nice today."), ("en", "Where is the nearest train station?"),
    ("en", "I have three brothers and two sisters."), ("en", "Please transcribe what you hear."),
    ("de", "Das Wetter ist heute schön."), ("de", "Wir fahren morgen mit dem Zug nach München."),
    ("de", "Ich möchte eine Tasse Kaffee, bitte."), ("fr", "Il fait beau aujourd'hui."),
    ("fr", "Je voudrais un café, s'il vous plaît."), ("fr", "L'été dernier, nous sommes allés à la mer."),
    ("es", "Hace buen tiempo hoy."), ("es", "Mañana vamos a la montaña con mis niños."),
    ("ru", "Сегодня хорошая погода."), ("ru", "Завтра мы поедем в Москву на поезде."),
    ("hi", "आज मौसम अच्छा है।"), ("sw", "Kesho tutaenda sokoni asubuhi."),
]
LLM_SIZES = {
    # name: (hidden, layers, heads, vocab or None for the tokenizer's, init std)
    "tiny": (32, 2, 4, None, 0.3),
    "bloom-560m": (1024, 24, 16, 250880, 0.06),
    "bloom-7b1": (4096, 30, 32, 250880, 0.03),  # BLOOMZ-7b1's architecture (GPU: --dtype bfloat16)
}


# ----------------------------------------------------------------------------- models
def write_llm(out: Path, size: str) -> Path:
    """A BLOOM-architecture LLM dir with random weights and the tiny BPE tokenizer."""
    from transformers import BloomConfig, BloomForCausalLM

    tiny = write_tiny_bloom(out.with_name(out.name + "_tokenizer"), [t for _, t in SENTENCES], vocab_size=500)
    hidden, layers, heads, vocab, std = LLM_SIZES[size]
    config = BloomConfig.from_pretrained(tiny)
    config.update(dict(hidden_size=hidden, n_layer=layers, n_head=heads, initializer_range=std,
                       vocab_size=vocab or config.vocab_size))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        llm = BloomForCausalLM(config)
    llm.save_pretrained(out)
    for f in tiny.glob("tokenizer*"):
        shutil.copy(f, out / f.name)
    del llm
    return out


def speech_config(mms: Path, llm: Path) -> dict:
    return {
        "frontend": "mms", "frontend_conf": {"model_name_or_path": str(mms)},
        "normalize": "utterance_mvn",
        "preencoder": "linear", "preencoder_conf": {"input_size": 32, "output_size": 16},
        "encoder": "padding_safe_e_branchformer",
        "encoder_conf": {"output_size": 32, "attention_heads": 2, "cgmlp_linear_units": 64, "linear_units": 64,
                         "num_blocks": 3, "input_layer": "conv2d"},
        "postencoder": "conv_length_adaptor",
        "decoder": "llm", "decoder_conf": {"model_name_or_path": str(llm)},
        "model_conf": {"ctc_weight": 0.0, "interctc_weight": 0.0},
    }


def write_experiment(work: Path, size: str, waves: List[np.ndarray]) -> Path:
    """``work/exp_<size>``: config.yaml + model.pth of a speech model in front of the LLM."""
    exp = work / f"exp_{size}"
    if (exp / "model.pth").is_file():
        return exp
    mms = write_tiny_mms(work / "mms")
    llm = write_llm(work / f"llm_{size}", size)
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "train.yaml").write_text(yaml.safe_dump(speech_config(mms, llm)), encoding="utf-8")
    args = BloomzMMSTask.get_parser().parse_args(["--config", str(exp / "train.yaml"), "--output_dir", str(exp)])
    torch.manual_seed(0)
    model = BloomzMMSTask.build_model(args)
    standardize_adaptor(model, waves[:4])
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    torch.save(model.state_dict(), exp / "model.pth")
    return exp


# ----------------------------------------------------------------------------- memory
class PeakMemory:
    """Peak memory over a block: CUDA allocator peak, or the process's resident peak
    (VmHWM, reset to the current RSS through /proc/self/clear_refs on entry)."""

    def __init__(self, device: str):
        self.cuda = device.startswith("cuda")

    @staticmethod
    def _status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {key} in /proc/self/status")

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.before = torch.cuda.memory_allocated()
        else:
            Path("/proc/self/clear_refs").write_text("5")
            self.before = self._status("VmRSS")
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.peak = self._status("VmHWM")


# ----------------------------------------------------------------------------- runs
@dataclass
class Result:
    batch: int
    search: str
    cache: str
    seconds: float
    utts_per_s: float
    rtf: float
    speedup: Optional[float]
    peak_mib: float
    rise_mib: float
    same_as_batch1_greedy: Optional[bool]


def decode_all(model: BloomzMMS, waves: List[np.ndarray], batch: int) -> List[List[int]]:
    ids = []
    for i in range(0, len(waves), batch):
        ids += model.generate_ids(model.encode(waves[i : i + batch]))
    return ids


def run(model: BloomzMMS, waves, batch: int, beams: int, cache: bool, device: str, repeats: int):
    """(ids, the fastest of ``repeats`` timings, the memory of the first run)."""
    model.num_beams, model.use_cache = beams, cache
    decode_all(model, waves[-2:], 2)  # warm-up (the two shortest)
    timings, memory = [], []
    for _ in range(repeats):
        with PeakMemory(device) as mem:
            start = time.perf_counter()
            ids = decode_all(model, waves, batch)
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            timings.append(time.perf_counter() - start)
        memory.append(mem)
    return ids, min(timings), memory[0]


SEARCHES = {"greedy": 1, "beam5": 5}


def benchmark(model: BloomzMMS, waves, batches, device: str, repeats: int = 1,
              searches=tuple(SEARCHES), caches=("on", "off")) -> List[Result]:
    """Every (search, cache, batch size) setting; the first greedy setting is the
    reference of the ids check."""
    audio_seconds = sum(len(w) for w in waves) / SAMPLE_RATE
    results, reference, base = [], None, {}
    for search in searches:
        beams = SEARCHES[search]
        for cache in (c == "on" for c in caches):
            if not cache and beams > 1:
                continue  # BloomzMMS recomputes without cache for greedy search only
            for batch in batches:
                ids, seconds, mem = run(model, waves, batch, beams, cache, device, repeats)
                if reference is None and beams == 1:
                    reference = ids
                    distinct = len({tuple(i) for i in ids})
                    print(f"(batch-1 greedy: {distinct} distinct answers for {len(set(map(len, waves)))} "
                          "distinct waveforms)", file=sys.stderr, flush=True)
                key = (search, cache)
                base.setdefault(key, seconds if batch == 1 else None)
                results.append(Result(
                    batch=batch, search=search, cache="on" if cache else "off", seconds=round(seconds, 2),
                    utts_per_s=round(len(waves) / seconds, 2), rtf=round(seconds / audio_seconds, 3),
                    speedup=round(base[key] / seconds, 2) if base.get(key) else None,
                    peak_mib=round(mem.peak / 2**20), rise_mib=round((mem.peak - mem.before) / 2**20),
                    same_as_batch1_greedy=(ids == reference) if beams == 1 and reference is not None else None,
                ))
                print(_row(results[-1]), flush=True)
    return results


HEADER = ("| batch | search | KV cache | time (s) | utt/s | RTF | speed-up vs batch 1 | peak memory (MiB) "
          "| rise (MiB) | ids = batch-1 greedy |\n|---|---|---|---|---|---|---|---|---|---|")


def _row(r: Result) -> str:
    same = {None: "n/a", True: "yes", False: "NO"}[r.same_as_batch1_greedy]
    speedup = f"{r.speedup:.2f}x" if r.speedup else "1.00x" if r.batch == 1 else "n/a"
    return (f"| {r.batch} | {r.search} | {r.cache} | {r.seconds:.2f} | {r.utts_per_s:.2f} | {r.rtf:.3f} "
            f"| {speedup} | {r.peak_mib:.0f} | {r.rise_mib:.0f} | {same} |")


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--llm", choices=sorted(LLM_SIZES), default="tiny")
    parser.add_argument("--utterances", type=int, default=32, help="How many utterances each setting decodes")
    parser.add_argument("--max_new_tokens", type=int, default=16)
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--search", nargs="+", choices=sorted(SEARCHES), default=["greedy", "beam5"])
    parser.add_argument("--cache", nargs="+", choices=["on", "off"], default=["on", "off"],
                        help="KV cache settings (off: greedy only)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="Time each setting this many times and keep the fastest (busy machines)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--work_dir", default=None, help="Where the models are written (default: a temp dir)")
    parser.add_argument("--json", default=None, help="Also write the results here")
    return parser


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    work = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="bench_decode_"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        spoken = [synthesize(text, lang, rate=170) for lang, text in SENTENCES]
        waves = sorted((spoken[i % len(spoken)] for i in range(args.utterances)), key=len, reverse=True)
        start = time.perf_counter()
        exp = write_experiment(work, args.llm, spoken)
        model = BloomzMMS(exp / "config.yaml", exp / "model.pth", device=args.device, dtype=args.dtype,
                          max_new_tokens=args.max_new_tokens)
        params = sum(p.numel() for p in model.model.parameters())
        audio = sum(len(w) for w in waves) / SAMPLE_RATE
        print(f"# {args.llm}: {params / 1e6:.1f} M parameters, {args.utterances} utterances ({audio:.1f} s of "
              f"audio), max_new_tokens {args.max_new_tokens}, device {args.device}, "
              f"{torch.get_num_threads()} threads, torch {torch.__version__} "
              f"(models ready in {time.perf_counter() - start:.0f} s)\n")
        print(HEADER, flush=True)
        results = benchmark(model, waves, args.batch_sizes, args.device, args.repeats, args.search, args.cache)
        if args.json:
            Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1), encoding="utf-8")
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
