"""python local/teach_mms.py --mms_dir exp/models/mms_init --wav_scp data/train/wav.scp --output_dir exp/models/mms

Pre-train the tiny random-weight MMS-architecture encoder of the recipe, so that it can
stand in for a pretrained speech encoder. With random weights a wav2vec2 stack is a poor
feature extractor (its strided raw-waveform convolutions are phase-sensitive random
maps): a logistic-regression language-ID probe on its pooled layers scores ~35 % on the
recipe's 7 languages against ~70 % for log-mel filterbanks, and a BLSTM-CTC on its
layers reaches 72 % CER where the same BLSTM on filterbanks reaches 30 %.

The target is the first iteration of HuBERT's recipe in its simplest form: every 20 ms
frame of the transformer's output predicts that frame's log-mel filterbank (80 bins,
per-utterance normalised) through a linear head that is thrown away afterwards. The
whole Wav2Vec2 stack learns, so that its layers carry the spectral content that the
recipe's CTC stage builds on, while the recipe still exercises exactly the frozen-MMS
code path (``from_pretrained``, weighted sum of all layers). Random 2-second crops of
the training audio only (no dev/test audio, no transcripts) are used.

Writes the model (``save_pretrained``, with its feature extractor) and ``teach_mms.json``
(settings and loss curve) atomically to ``--output_dir``.
"""

import argparse
import json
import random
import time
from pathlib import Path

import soundfile
import torch
import torchaudio
from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

from espnet2_bloomzmms.utils.atomic_files import write_dir_atomically
from espnet2_bloomzmms.tiny_checkpoints import save_mms_adapters

FRAME_SHIFT_MS = 20.0  # one wav2vec2 frame (conv strides multiply to 320 samples at 16 kHz)
FRAME_LENGTH_MS = 25.0  # the conv stack's receptive field (400 samples)
N_MELS = 80


def log_mel(wave: torch.Tensor, fs: int) -> torch.Tensor:
    """Per-utterance normalised log-mel frames aligned with wav2vec2's 20 ms frames."""
    fbank = torchaudio.compliance.kaldi.fbank(
        wave[None] * 32768, num_mel_bins=N_MELS, frame_shift=FRAME_SHIFT_MS,
        frame_length=FRAME_LENGTH_MS, sample_frequency=fs, dither=0.0,
    )
    return (fbank - fbank.mean(0)) / (fbank.std(0, correction=0) + 1e-5)


def read_crops(wav_scp: Path, crop: int, limit: int, seed: int) -> list:
    """Up to ``limit`` utterances of ``wav_scp``, each cut to a random ``crop``-sample span."""
    entries = [line.split(maxsplit=1) for line in wav_scp.read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(seed)
    rng.shuffle(entries)
    crops = []
    for utt, path in entries[:limit]:
        try:
            wave, fs = soundfile.read(path.strip(), dtype="float32")
        except (RuntimeError, OSError) as err:  # soundfile's LibsndfileError is a RuntimeError
            raise SystemExit(f"{wav_scp}: cannot read {utt} ({path.strip()}): {err}") from err
        if fs != 16000 or wave.ndim != 1:
            raise SystemExit(f"{wav_scp}: {utt} ({path.strip()}) is not 16 kHz mono")
        if len(wave) < crop:
            wave = torch.nn.functional.pad(torch.from_numpy(wave), (0, crop - len(wave))).numpy()
        start = rng.randrange(len(wave) - crop + 1)
        crops.append(torch.from_numpy(wave[start : start + crop].copy()))
    if not crops:
        raise SystemExit(f"{wav_scp}: no utterances")
    return crops


def teach(args: argparse.Namespace) -> tuple:
    """Train the whole encoder on the filterbank target; returns (model, report)."""
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.num_threads)
    model = Wav2Vec2ForCTC.from_pretrained(args.mms_dir)
    mask_time_prob, model.config.mask_time_prob = model.config.mask_time_prob, 0.0  # the target is the input
    crop = int(args.crop_seconds * 16000)
    crops = read_crops(args.wav_scp, crop, args.max_utterances, args.seed)
    targets = [log_mel(c, 16000) for c in crops]
    head = torch.nn.Linear(model.config.hidden_size, N_MELS)
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    # one-cycle: 10 % warm-up (at least 2 steps, which OneCycleLR needs), then cosine annealing
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.steps, pct_start=max(0.1, 2 / args.steps)
    )
    rng = random.Random(args.seed)
    log, start = [], time.time()
    model.train()
    for step in range(1, args.steps + 1):
        idx = rng.sample(range(len(crops)), min(args.batch_size, len(crops)))
        wave = torch.stack([crops[i] for i in idx])
        wave = (wave - wave.mean(1, keepdim=True)) / (wave.std(1, keepdim=True) + 1e-7)  # as MMS's extractor
        hidden = model.wav2vec2(wave).last_hidden_state
        target = torch.stack([targets[i] for i in idx])
        n = min(hidden.size(1), target.size(1))
        loss = torch.nn.functional.mse_loss(head(hidden[:, :n]), target[:, :n])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % args.log_every == 0 or step == args.steps:
            log.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.time() - start, 1)})
            print(f"[teach_mms {time.time() - start:6.1f}s] step {step:5d}/{args.steps} mse {loss.item():.4f}", flush=True)
    model.config.mask_time_prob = mask_time_prob  # saved as it came
    report = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "utterances": len(crops), "log": log}
    return model.eval(), report


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mms_dir", type=Path, required=True, help="tiny random-weight MMS dir")
    p.add_argument("--wav_scp", type=Path, required=True, help="training audio (16 kHz wav.scp)")
    p.add_argument("--output_dir", type=Path, required=True, help="where the pre-trained encoder goes")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch_size", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--crop_seconds", type=float, default=2.0)
    p.add_argument("--max_utterances", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num_threads", type=int, default=2)
    p.add_argument("--log_every", type=int, default=50)
    args = p.parse_args(argv)
    if args.steps < 3:
        p.error("--steps must be at least 3")

    model, report = teach(args)

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        Wav2Vec2FeatureExtractor.from_pretrained(args.mms_dir).save_pretrained(tmp)
        langs = [f.name.split(".")[1] for f in args.mms_dir.glob("adapter.*.safetensors")]
        save_mms_adapters(model, tmp, langs)  # MMS's per-language adapter files, taught
        (tmp / "teach_mms.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    write_dir_atomically(args.output_dir, write)
    print(f"[teach_mms] wrote {args.output_dir}", flush=True)

if __name__ == "__main__":
    main()
