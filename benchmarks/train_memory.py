#!/usr/bin/env python3
"""Peak memory of one training step (forward, backward, Adam step) of the full-size
architecture with random weights, beside an analytical estimate; and the resource table
of the paper-scale recipe (memory and GPU-hours per stage and config).

    OMP_NUM_THREADS=1 python benchmarks/train_memory.py                    # CPU: the 560m-size configs
    python benchmarks/train_memory.py --configs conf/train_ce.yaml conf/tuning/train_ce_24gb.yaml \\
        --batch 3 --seconds 30                                             # on a GPU (CUDA)
    python benchmarks/train_memory.py --resources                          # estimates only, every config

Configs are read relative to egs2/fleurs/bloomzmms1. The model is built as
``espnet2_bloomzmms.bin.train`` builds it: ``BloomzMMSTask.build_model``, then ESPnet's
``model.to(dtype=train_dtype, device=...)``. The base models are built from
their real dimensions (``espnet2_bloomzmms.testing.base_model_configs``) with random weights;
nothing is downloaded. Each measurement runs in its own process: on CUDA the peak is
``torch.cuda.max_memory_allocated`` (the CUDA context, ~0.5 GB, comes on top); on CPU
it is the process's peak resident memory (VmHWM) minus its resident memory before the
model was built. A frozen 8-/4-bit LLM needs CUDA and bitsandbytes: its random weights
are written to ``--weights_dir`` once (bf16, 14 GB for BLOOMZ-7b1) and loaded through
the normal quantizing path; on CPU such configs are measured unquantized and say so.
``--lowmem`` adds the 24 GB options (16-bit frozen MMS and LLM, gradient checkpointing
in encoder and LLM) to any config.

The estimate counts, per GPU: frozen weights at their storage size (fp32 4, 16-bit 2,
8-bit ~1, NF4 ~0.56 bytes per linear weight; embeddings and norms stay 16-bit, fp32
under LoRA on a quantized base as peft prepares it); 16 bytes per trainable parameter
(fp32 weight, gradient, two Adam moments); and the activations kept for the backward
pass (see :func:`activation_bytes`), from the layer shapes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

RECIPE = Path(__file__).resolve().parents[1] / "egs2/fleurs/bloomzmms1"
FS = 16000
CPU_CONFIGS = ["conf/tuning/train_ctc_mms300m_bloomz560m.yaml", "conf/tuning/train_ce_mms300m_bloomz560m.yaml"]
#: (config, GPUs it is sized for) of the recipe's resource table
RESOURCE_CONFIGS = [
    ("conf/train_ctc.yaml", 4), ("conf/train_ce.yaml", 4), ("conf/tuning/train_ce_lora.yaml", 4),
    ("conf/tuning/train_ctc_24gb.yaml", 1), ("conf/tuning/train_ce_24gb.yaml", 1),
    ("conf/tuning/train_ce_lora_24gb.yaml", 1),
    ("conf/tuning/train_ctc_deepspeed.yaml", 4), ("conf/tuning/train_ce_deepspeed.yaml", 4),
    ("conf/tuning/train_ctc_mms300m.yaml", 4), ("conf/tuning/train_ce_mms300m.yaml", 4),
    ("conf/tuning/train_ctc_bloomz3b.yaml", 4), ("conf/tuning/train_ce_bloomz3b.yaml", 4),
    ("conf/tuning/train_ctc_bloomz1b7.yaml", 4), ("conf/tuning/train_ce_bloomz1b7.yaml", 4),
    ("conf/tuning/train_ctc_mms300m_bloomz560m.yaml", 4), ("conf/tuning/train_ce_mms300m_bloomz560m.yaml", 4),
]
NUM_LANGS = 139
PREFIX_TOKENS, POSTFIX_TOKENS = 10, 6
LOWMEM = ["--frontend_conf", "dtype=bfloat16", "--decoder_conf", "gradient_checkpointing=true"]
GB = 1e9


@dataclass
class Batch:
    utterances: int
    seconds: float
    target_tokens: int

    @property
    def speech_frames(self) -> int:  # MMS frames (20 ms) per utterance
        return int(self.seconds * 50)


# ----------------------------------------------------------------------------- building
def base_model_dirs(root: Path) -> dict:
    """config.json of every known base model (+ a small tokenizer for the LLMs)."""
    from espnet2_bloomzmms.testing.base_model_configs import BASE_MODELS, write_base_model_config
    from espnet2_bloomzmms.tiny_checkpoints import train_bpe_tokenizer

    tokenizer = root / "tokenizer"
    if not (tokenizer / "tokenizer.json").exists():
        train_bpe_tokenizer(["a small tokenizer for a random-weight benchmark"], 300).save_pretrained(tokenizer)
    return {n: write_base_model_config(n, root / n.replace("/", "--"), tokenizer) for n in BASE_MODELS}


def materialized_llm(name: str, dirs: dict, weights_dir: Path) -> Path:
    """A random-weight copy of LLM ``name`` on disk (bf16), for the quantizing loader."""
    import torch
    from transformers import AutoModelForCausalLM

    out = weights_dir / name.replace("/", "--")
    if not (out / "model.safetensors.index.json").exists() and not (out / "model.safetensors").exists():
        from espnet2_bloomzmms.testing.base_model_configs import base_model_config

        model = AutoModelForCausalLM.from_config(base_model_config(name), dtype=torch.bfloat16)
        model.save_pretrained(out)
        for f in Path(dirs[name]).glob("tokenizer*"):
            (out / f.name).write_bytes(f.read_bytes())
        del model
    return out


def task_args(config: str, dirs: dict, lang_list: Path, overrides: list, quantized_llm: Path | None):
    """The training arguments of ``config`` with the random-weight base models."""
    import yaml

    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    conf = yaml.safe_load((RECIPE / config).read_text())
    mms, llm = conf["frontend_conf"]["model_name_or_path"], conf["decoder_conf"]["model_name_or_path"]
    llm_opts = (["--decoder_conf", f"model_name_or_path={quantized_llm}"] if quantized_llm else
                ["--decoder_conf", f"model_name_or_path={dirs[llm]}", "--decoder_conf", "init_from_config=true",
                 "--decoder_conf", "quantization=null"])
    if "--lowmem" in overrides:
        blocks = conf["encoder_conf"]["num_blocks"]
        overrides = [o for o in overrides if o != "--lowmem"] + LOWMEM + [
            "--encoder_conf", f"gradient_checkpoint_layers={list(range(blocks + 1))}"]
        if not quantized_llm:
            overrides += ["--decoder_conf", "dtype=bfloat16"]
    return BloomzMMSTask.get_parser().parse_args([
        "--config", str(RECIPE / config), "--lang_list", str(lang_list),
        "--frontend_conf", f"model_name_or_path={dirs[mms]}", "--frontend_conf", "init_from_config=true",
        *llm_opts, *overrides,
    ])


def parameter_counts(model) -> dict:
    """component -> (total, trainable); the CTC head is the LLM's embedding (no own weights)."""
    parts = {"frontend (MMS)": model.frontend, "preencoder": model.preencoder, "encoder": model.encoder,
             "adaptor": model.postencoder, "language CTC": model.lang_ctc, "LLM": model.decoder}
    return {k: (sum(p.numel() for p in m.parameters()), sum(p.numel() for p in m.parameters() if p.requires_grad))
            for k, m in parts.items() if m is not None}


# ----------------------------------------------------------------------------- estimate
def _frozen_linear_params(llm) -> int:
    """Frozen nn.Linear weights of the LLM body: what bitsandbytes quantizes."""
    import torch

    head = llm.get_output_embeddings()
    return sum(m.weight.numel() for m in llm.modules()
               if isinstance(m, torch.nn.Linear) and m is not head and not m.weight.requires_grad)


def weight_bytes(args, model) -> dict:
    """Bytes of the frozen weights and of the trained parameters' training state."""
    sizes = {"float32": 4, "bfloat16": 2, "float16": 2}
    counts = parameter_counts(model)
    frozen_mms = counts["frontend (MMS)"][0] - counts["frontend (MMS)"][1]
    llm_total, llm_trainable = counts["LLM"]
    llm_frozen = llm_total - llm_trainable
    dconf = args.decoder_conf
    quant = dconf.get("quantization")
    linear = _frozen_linear_params(model.decoder.llm.get_base_model() if dconf.get("lora") else model.decoder.llm)
    other = llm_frozen - linear
    if quant is None:
        llm_bytes = llm_frozen * sizes[dconf.get("dtype", "float32")]
    else:
        per_weight = 1.0 + 4 / 4096 if quant == "8bit" else 0.5 + 4 / 64  # int8 + row scales; NF4 + block absmax
        rest = 4 if dconf.get("lora") else sizes[dconf.get("dtype", "float16")]  # peft's kbit prep: fp32
        llm_bytes = linear * per_weight + other * rest
    trainable = sum(t for _, t in counts.values())
    return {
        "frozen MMS": frozen_mms * sizes[args.frontend_conf.get("dtype", "float32")],
        "frozen LLM": llm_bytes,
        "trained: weights+grads+Adam": 16 * trainable,
    }


def activation_bytes(args, batch: Batch) -> dict:
    """Activations of one step, from the layer shapes (a bound, not a trace):
    - MMS (frozen, no grad): every layer's hidden states for the weighted sum, twice
      (the tuple and the stacked copy), plus the first conv's output (transient);
    - encoder: per 12.5 Hz frame and block, what autograd keeps of the macaron FFNs
      (3d + 3f each), attention (5d + 5 x heads x T scores), cgMLP (2d + 3.5 units),
      branch merge (9d) and norms (3d); conv2d input layer d x (63 + 15.5) per 50 Hz
      frame; with gradient checkpointing each block's input plus one block;
    - CTC step: logits over the LLM vocabulary at 6.25 Hz (x3: logits, log-softmax, grad);
    - CE step: per LLM token and layer 18h + 3 x heads x length (h per layer with
      gradient checkpointing, plus one layer), and the target positions' logits (x3).
    16-bit activations under use_amp (2 bytes), else 4."""
    b = 2 if args.use_amp else 4
    n = batch.utterances
    mms_cfg = _hf_config(args.frontend_conf)
    h_mms, layers = mms_cfg.hidden_size, mms_cfg.num_hidden_layers + 1
    mms_b = 2 if args.frontend_conf.get("dtype", "float32") != "float32" else 4
    t50 = batch.speech_frames
    mms = max(2 * layers * n * t50 * h_mms * mms_b, 2 * n * 512 * batch.seconds * FS / 5 * mms_b)

    e = args.encoder_conf
    d, f, u, heads, blocks = e["output_size"], e["linear_units"], e["cgmlp_linear_units"], e["attention_heads"], e["num_blocks"]
    t12 = t50 // 4
    per_block = n * t12 * (2 * (3 * d + 3 * f) + 5 * d + 2 * d + 3.5 * u + 9 * d + 3 * d) * b
    per_block += n * 5 * heads * t12 * t12 * b
    embed = n * t50 * d * (63 + 15.5) * b
    checkpointed = set(e.get("gradient_checkpoint_layers", []))
    encoder = sum(n * t12 * d * b if i + 1 in checkpointed else per_block for i in range(blocks))
    encoder += per_block if checkpointed else 0  # one block recomputed at a time
    encoder += n * t50 * 128 * b if 0 in checkpointed else embed

    llm_cfg = _hf_config(args.decoder_conf)
    h, v, nl, lh = llm_cfg.hidden_size, llm_cfg.vocab_size, llm_cfg.n_layer, llm_cfg.n_head
    post = args.postencoder_conf
    speech_tokens = t12 // (post["stride"] if "stride" in post else 2 ** post.get("n_layers", 1))
    out = {"MMS (frozen, transient)": mms, "encoder": encoder}
    if args.model_conf.get("ctc_weight", 1.0) > 0:
        out["CTC logits"] = 3 * n * speech_tokens * v * 4
    if args.model_conf.get("ctc_weight", 1.0) < 1:
        length = PREFIX_TOKENS + speech_tokens + POSTFIX_TOKENS + batch.target_tokens + 1
        full = args.decoder_conf.get("dtype", "float32") == "float32" and not args.decoder_conf.get("quantization")
        llm_b = 4 if full and not args.use_amp else 2
        layer = n * length * (18 * h + 3 * lh * length) * llm_b
        if args.decoder_conf.get("gradient_checkpointing"):
            out["LLM"] = nl * n * length * h * llm_b + layer
        else:
            out["LLM"] = nl * layer
        out["LLM logits"] = 3 * n * (batch.target_tokens + 1) * v * 4
    return out


def _hf_config(conf: dict):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(conf["model_name_or_path"])


def estimate(args, model, batch: Batch) -> dict:
    """Weights, activations and the peak: weights + the larger of MMS's transient
    forward memory (freed before the encoder runs) and everything the backward keeps."""
    parts = weight_bytes(args, model)
    weights = sum(parts.values())
    activations = activation_bytes(args, batch)
    parts.update(activations)
    mms = activations.pop("MMS (frozen, transient)")
    parts["total"] = weights + max(mms, sum(activations.values()))
    return parts


# ----------------------------------------------------------------------------- measuring
def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def one_step(model, optimizer, batch: Batch, vocab: int, device: str, amp: bool) -> float:
    """Forward, backward and an Adam step on a random batch; returns the loss."""
    import torch

    g = torch.Generator().manual_seed(0)
    n, samples = batch.utterances, int(batch.seconds * FS)

    def ids(length):
        return torch.randint(4, vocab, (n, length), generator=g).to(device), torch.full((n,), length).to(device)

    text, text_lengths = ids(batch.target_tokens)
    prefix, prefix_lengths = ids(PREFIX_TOKENS)
    postfix, postfix_lengths = ids(POSTFIX_TOKENS)
    lang = torch.randint(1, NUM_LANGS + 1, (n, 1), generator=g).to(device)
    speech = (0.1 * torch.randn(n, samples, generator=g)).to(device)
    model.train()
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp and device == "cuda"):
        loss, _, _ = model(speech=speech, speech_lengths=torch.full((n,), samples).to(device), text=text,
                           text_lengths=text_lengths, prefix=prefix, prefix_lengths=prefix_lengths,
                           postfix=postfix, postfix_lengths=postfix_lengths, lang=lang,
                           lang_lengths=torch.ones(n, dtype=torch.long).to(device))
    loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss)


def measure(config: str, batch: Batch, overrides: list, weights_dir: Path, steps: int = 1) -> dict:
    """Build ``config`` (random weights) as bin.train does and run ``steps`` training
    steps; peak memory, the frozen parts' dtypes after the cast, and counts."""
    import torch
    import yaml

    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    cuda = torch.cuda.is_available()
    device = "cuda" if cuda else "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        dirs = base_model_dirs(Path(tmp))
        lang_list = Path(tmp) / "lang_list"
        lang_list.write_text("".join(f"l{i}\n" for i in range(NUM_LANGS)))
        conf = yaml.safe_load((RECIPE / config).read_text())
        quant = conf["decoder_conf"].get("quantization")
        quantized = materialized_llm(conf["decoder_conf"]["model_name_or_path"], dirs, weights_dir) \
            if quant and cuda else None
        args = task_args(config, dirs, lang_list, overrides, quantized)
        before = torch.cuda.memory_allocated() if cuda else _status_kb("VmRSS")
        # as bin.train builds it (ESPnet's AbsTask.main_worker): on the CPU (a quantized LLM
        # is loaded to the GPU by from_pretrained), then cast to --train_dtype and moved
        model = BloomzMMSTask.build_model(args)
        model = model.to(dtype=getattr(torch, args.train_dtype), device=device)
        if cuda:
            torch.cuda.synchronize()
            static = torch.cuda.memory_allocated() - before
            torch.cuda.reset_peak_memory_stats()
        else:
            static = _status_kb("VmRSS") - before
            Path("/proc/self/clear_refs").write_text("5")  # restart VmHWM from here
        vocab = model.decoder.llm.config.vocab_size
        dtypes = {name: sorted({str(p.dtype).replace("torch.", "") for p in part.parameters()})
                  for name, part in (("MMS", model.frontend.encoder), ("LLM", model.decoder.llm))}
        optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        losses = [one_step(model, optimizer, batch, vocab, device, bool(args.use_amp)) for _ in range(steps)]
        if cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated() - before
        else:
            peak = _status_kb("VmHWM") - before
        est = estimate(args, model, batch)
        return dict(config=config, overrides=" ".join(overrides), device=device, static=static, peak=peak,
                    losses=losses, dtypes=dtypes, quantized=bool(quantized), quantization_in_config=quant,
                    counts=parameter_counts(model), estimate=est)


def estimate_only(config: str, batch: Batch, overrides: list = ()) -> dict:
    """The estimate with the model built on the meta device (no memory, any size)."""
    import torch
    import yaml

    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    with tempfile.TemporaryDirectory() as tmp:
        dirs = base_model_dirs(Path(tmp))
        lang_list = Path(tmp) / "lang_list"
        lang_list.write_text("".join(f"l{i}\n" for i in range(NUM_LANGS)))
        args = task_args(config, dirs, lang_list, list(overrides), None)  # built unquantized
        with torch.device("meta"):
            model = BloomzMMSTask.build_model(args)
        conf = yaml.safe_load((RECIPE / config).read_text())
        args.decoder_conf["quantization"] = conf["decoder_conf"].get("quantization")  # counted as configured
        return dict(config=config, counts=parameter_counts(model), estimate=estimate(args, model, batch))


# ----------------------------------------------------------------------------- reports
def print_measurement(r: dict) -> None:
    print(f"\n== {r['config']} {r['overrides']}  [{r['device']}"
          f"{'' if r['quantized'] or not r['quantization_in_config'] else ', ' + r['quantization_in_config'] + ' NOT applied (needs CUDA)'}]")
    print(f"   {'component':<16}{'parameters':>16}{'trainable':>16}")
    for name, (total, trainable) in r["counts"].items():
        print(f"   {name:<16}{total:>16,}{trainable:>16,}")
    print("   estimate (GB): " + ", ".join(f"{k} {v / GB:.2f}" for k, v in r["estimate"].items()))
    print(f"   dtypes after the cast: " + ", ".join(f"{k} {'/'.join(v)}" for k, v in r["dtypes"].items()))
    print(f"   measured (GB): after build {r['static'] / GB:.2f}, peak of {len(r['losses'])} step(s) {r['peak'] / GB:.2f}"
          f"  (estimate {r['estimate']['total'] / GB:.2f}); losses " + " ".join(f"{x:.3f}" for x in r["losses"]))


def resources(batch_seconds: float, target_tokens: int, hours: float, tflops: float) -> None:
    """Per-GPU memory (worst-case batches of batch_seconds-long utterances filling the
    config's batch_bins / GPUs) and GPU-hours per epoch (FLOPs / sustained tflops)."""
    import yaml

    print(f"{'config':<46}{'GPUs':>5}{'utts/GPU':>9}{'frozen':>8}{'trained':>9}{'activ.':>8}"
          f"{'total GB':>9}{'GPU-h/epoch':>12}")
    for config, ngpu in RESOURCE_CONFIGS:
        conf = yaml.safe_load((RECIPE / config).read_text())
        n = worst_case_utterances(conf, ngpu, batch_seconds)
        r = estimate_only(config, Batch(n, batch_seconds, target_tokens))
        e = r["estimate"]
        frozen = e["frozen MMS"] + e["frozen LLM"]
        trained = e["trained: weights+grads+Adam"]
        if "deepspeed" in config:  # ZeRO-2: gradients and Adam states sharded over the GPUs
            trained = zero2_trained_bytes(r["counts"], ngpu)
        act = e["total"] - e["frozen MMS"] - e["frozen LLM"] - e["trained: weights+grads+Adam"]  # at the peak
        print(f"{config:<46}{ngpu:>5}{n:>9}{frozen / GB:>8.1f}{trained / GB:>9.1f}{act / GB:>8.1f}"
              f"{(frozen + trained + act) / GB:>9.1f}{epoch_flops(conf, r['counts']) * hours * 3600 / (tflops * 1e12) / 3600:>12.0f}")


def worst_case_utterances(conf: dict, ngpu: int, seconds: float) -> int:
    """Utterances per GPU in a batch of ``seconds``-long utterances: ESPnet's numel and
    length samplers add utterances until the batch exceeds batch_bins (so one more than
    fit), and a distributed batch holds at least one per GPU."""
    total = int(conf["batch_bins"] // (seconds * FS)) + 1
    return max(1, -(-total // ngpu))


def zero2_trained_bytes(counts: dict, ngpu: int) -> float:
    trainable = sum(t for _, t in counts.values())
    return trainable * (4 + 12 / ngpu)  # fp32 weights replicated; gradients and Adam moments sharded


def epoch_flops(conf: dict, counts: dict) -> float:
    """Training FLOPs per second of audio, linear layers only (attention scores and MMS's
    conv stack add a few %): 2 x params x positions for frozen parts run forward only,
    6x for trained ones, 4x for frozen ones that pass gradients back (CTC head, LLM),
    +2x where gradient checkpointing recomputes the forward."""
    mms, _ = counts["frontend (MMS)"]
    enc = counts["encoder"][0] + counts["preencoder"][0] + counts["adaptor"][0]
    llm, _ = counts["LLM"]
    ckpt_enc = 8 if conf["encoder_conf"].get("gradient_checkpoint_layers") else 6
    flops = 2 * mms * 50 + ckpt_enc * enc * 12.5  # MMS at 50 Hz, encoder at 12.5 Hz (linear layers)
    d = conf["encoder_conf"]["output_size"]
    flops += ckpt_enc * 9 * d * d * 12.5 * 31  # the conv2d input layer's second conv (MACs per position)
    from espnet2_bloomzmms.testing.base_model_configs import base_model_config

    cfg = base_model_config(conf["decoder_conf"]["model_name_or_path"])
    h, v = cfg.hidden_size, cfg.vocab_size
    if conf["model_conf"]["ctc_weight"] > 0:
        flops += 4 * v * h * 6.25
    if conf["model_conf"]["ctc_weight"] < 1:
        tokens = 6.25 + 3.3 + 1.3  # speech, transcript (~3.3 BLOOM tokens/s of FLEURS speech), instruction
        body = llm - v * h
        flops += (6 if conf["decoder_conf"].get("gradient_checkpointing") else 4) * body * tokens
        flops += 4 * v * h * 3.3
    return flops


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=None, help="configs under egs2/fleurs/bloomzmms1")
    parser.add_argument("--batch", type=int, default=None, help="utterances per step (CPU: 2, CUDA: 3)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per utterance (CPU: 6, CUDA: 30)")
    parser.add_argument("--target_tokens", type=int, default=40)
    parser.add_argument("--steps", type=int, default=1, help="training steps per measurement")
    parser.add_argument("--lowmem", choices=["no", "yes", "both"], default="both",
                        help="also measure each config with the 24 GB options")
    parser.add_argument("--weights_dir", type=Path, default=Path(tempfile.gettempdir()) / "bloomzmms_random_llms")
    parser.add_argument("--resources", action="store_true", help="print the recipe's resource table and exit")
    parser.add_argument("--hours", type=float, default=5700.0, help="audio hours per epoch (1900 h x 3 speeds)")
    parser.add_argument("--tflops", type=float, default=100.0, help="sustained TFLOP/s per GPU for the hours")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--overrides", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    batch = Batch(args.batch or (3 if cuda else 2), args.seconds or (30.0 if cuda else 6.0), args.target_tokens)
    if args.resources:
        resources(30.0, args.target_tokens, args.hours, args.tflops)
        return
    if args.one:
        result = measure(args.one, batch, args.overrides.split(), args.weights_dir, args.steps)
        print("RESULT " + json.dumps(result, default=float))
        return
    configs = args.configs or (["conf/train_ctc.yaml", "conf/tuning/train_ctc_24gb.yaml", "conf/train_ce.yaml",
                                "conf/tuning/train_ce_24gb.yaml", "conf/tuning/train_ce_lora_24gb.yaml"]
                               if cuda else CPU_CONFIGS)
    variants = {"no": [""], "yes": ["--lowmem"], "both": ["", "--lowmem"]}[args.lowmem]
    print(f"batch: {batch.utterances} utterances x {batch.seconds:g} s, {batch.target_tokens} target tokens; "
          f"device: {torch.cuda.get_device_name() if cuda else 'CPU'}")
    for config in configs:
        for extra in variants:
            if extra and "24gb" in config:
                continue  # already has them
            cmd = [sys.executable, __file__, "--one", config, f"--overrides={extra}", "--batch", str(batch.utterances),
                   "--seconds", str(batch.seconds), "--target_tokens", str(batch.target_tokens),
                   "--weights_dir", str(args.weights_dir), "--steps", str(args.steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
            lines = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
            if out.returncode != 0 or not lines:
                print(f"\n== {config} {extra}: FAILED\n{out.stderr[-3000:]}")
                continue
            print_measurement(json.loads(lines[-1][len("RESULT "):]))


if __name__ == "__main__":
    main()
