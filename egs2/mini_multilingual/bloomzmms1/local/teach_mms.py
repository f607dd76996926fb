"""python local/teach_mms.py --mms_dir exp/models/mms_init --data_dir data/train --output_dir exp/models/mms

Teach the tiny random-weight MMS-architecture encoder to recognise characters, so that it
stands in for ``facebook/mms-1b-all``, which is a wav2vec2 fine-tuned with CTC on the
characters of 1 000+ languages. With random weights a wav2vec2 stack is a poor feature
extractor (its strided raw-waveform convolutions are phase-sensitive random maps): a
BLSTM-CTC on its layers reaches 72 % CER where the same BLSTM on filterbanks reaches
30 %; a log-mel-prediction pre-training (HuBERT's first iteration in its simplest form,
this script's earlier objective) left the recipe's CTC model at 36 % test CER.

The whole ``Wav2Vec2ForCTC`` learns with CTC over the characters of the training
transcripts (blank = id 0, MMS's ``<pad>``), on whole utterances of ``--data_dir`` (its
``wav.scp`` and ``text``: training data only), the output head included, as MMS has one.
``--dev_dir`` is only scored (greedy CER), never trained on.

Writes the model (``save_pretrained``, with its feature extractor and ``vocab.json``) and
``teach_mms.json`` (settings, loss curve, dev CER) atomically to ``--output_dir``. Training
runs exactly ``--steps`` updates, seeded: no time limit.
"""

import argparse
import json
import random
import time
import unicodedata
from pathlib import Path

import numpy as np
import soundfile
import torch
import torch.nn.functional as F
from transformers import Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC

from espnet2_bloomzmms.tiny_checkpoints import save_mms_adapters
from espnet2_bloomzmms.utils.atomic_files import write_dir_atomically

BLANK = "<pad>"  # id 0, MMS's CTC blank


def read_data(data_dir: Path, max_seconds: float) -> list:
    """``[(uttid, waveform, text)]`` of a Kaldi-style dir (16 kHz mono files), sorted by id;
    longer utterances than ``max_seconds`` are skipped (and counted by the caller)."""
    data_dir = Path(data_dir)
    texts = {}
    for line in (data_dir / "text").read_text(encoding="utf-8").splitlines():
        utt, _, text = line.partition(" ")
        if utt:
            texts[utt] = unicodedata.normalize("NFC", text.strip())
    items = []
    for line in (data_dir / "wav.scp").read_text(encoding="utf-8").splitlines():
        utt, _, path = line.partition(" ")
        if not utt:
            continue
        if utt not in texts:
            raise SystemExit(f"{data_dir}/wav.scp: {utt} has no transcript in {data_dir}/text")
        try:
            wave, fs = soundfile.read(path.strip(), dtype="float32")
        except (RuntimeError, OSError) as err:  # soundfile's LibsndfileError is a RuntimeError
            raise SystemExit(f"{data_dir}/wav.scp: cannot read {utt} ({path.strip()}): {err}") from err
        if fs != 16000 or wave.ndim != 1:
            raise SystemExit(f"{data_dir}/wav.scp: {utt} ({path.strip()}) is not 16 kHz mono")
        if len(wave) > max_seconds * fs or not texts[utt]:
            continue
        items.append((utt, torch.from_numpy(wave), texts[utt]))
    if not items:
        raise SystemExit(f"{data_dir}: no utterances")
    return sorted(items, key=lambda x: x[0])


def normalise(wave: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit variance per utterance, as MMS's feature extractor does."""
    return (wave - wave.mean()) / (wave.std() + 1e-7)


def batch(model, items: list):
    """Padded normalised waveforms, attention mask and the frame count of each utterance."""
    lengths = torch.tensor([len(w) for _, w, _ in items])
    wave = torch.zeros(len(items), int(lengths.max()))
    for i, (_, w, _) in enumerate(items):
        wave[i, : len(w)] = normalise(w)
    mask = (torch.arange(wave.size(1))[None] < lengths[:, None]).long()
    frames = model._get_feat_extract_output_lengths(lengths)
    return wave, mask, frames


def ctc_loss(model, items: list, vocab: dict) -> torch.Tensor:
    wave, mask, frames = batch(model, items)
    logits = model(wave, attention_mask=mask).logits
    targets = [torch.tensor([vocab[c] for c in text]) for _, _, text in items]
    log_probs = F.log_softmax(logits.float(), dim=-1).transpose(0, 1)
    return F.ctc_loss(log_probs, torch.cat(targets), frames, torch.tensor([len(t) for t in targets]),
                      blank=0, zero_infinity=True)


@torch.no_grad()
def greedy_cer(model, items: list, chars: list, batch_size: int = 16) -> float:
    """Character error rate of greedy CTC decoding (edit distance / reference length)."""
    import jiwer

    model.eval()
    refs, hyps = [], []
    for k in range(0, len(items), batch_size):
        chunk = items[k : k + batch_size]
        wave, mask, frames = batch(model, chunk)
        best = model(wave, attention_mask=mask).logits.argmax(-1)
        for row, n, (_, _, text) in zip(best, frames, chunk):
            ids = torch.unique_consecutive(row[:n]).tolist()
            hyps.append("".join(chars[i] for i in ids if i != 0))
            refs.append(text)
    return jiwer.cer(refs, hyps)


def teach(args: argparse.Namespace) -> tuple:
    """Train the whole model with character CTC; returns (model, vocabulary, report)."""
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)  # wav2vec2's time masking (the config's mask_time_prob) draws from numpy
    torch.set_num_threads(args.num_threads)
    train = read_data(args.data_dir, args.max_seconds)
    chars = [BLANK] + sorted({c for _, _, text in train for c in text})
    vocab = {c: i for i, c in enumerate(chars)}
    model = Wav2Vec2ForCTC.from_pretrained(args.mms_dir)
    model.lm_head = torch.nn.Linear(model.config.hidden_size, len(chars))  # MMS's head: its characters
    model.config.vocab_size = len(chars)
    params = list(model.parameters())
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    # one-cycle: 10 % warm-up (at least 2 steps, which OneCycleLR needs), then cosine annealing
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.steps, pct_start=max(0.1, 2 / args.steps)
    )
    rng = random.Random(args.seed)
    order: list = []
    log, start = [], time.time()
    for step in range(1, args.steps + 1):
        model.train()
        if len(order) < args.batch_size:  # reshuffled epochs
            order += rng.sample(range(len(train)), len(train))
        idx, order = order[: args.batch_size], order[args.batch_size :]
        loss = ctc_loss(model, [train[i] for i in idx], vocab)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % args.log_every == 0 or step == args.steps:
            log.append({"step": step, "loss": round(loss.item(), 4), "seconds": round(time.time() - start, 1)})
            print(f"[teach_mms {time.time() - start:6.1f}s] step {step:5d}/{args.steps} ctc {loss.item():.4f}",
                  flush=True)
    report = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "utterances": len(train), "characters": len(chars) - 1, "train_seconds": round(time.time() - start, 1),
              "log": log}
    if args.dev_dir is not None:
        dev = read_data(args.dev_dir, float("inf"))
        scored = [d for d in dev if set(d[2]) <= set(vocab)]  # no character the head cannot write
        report["dev_utterances"], report["dev_scored"] = len(dev), len(scored)
        if scored:
            report["dev_cer"] = round(greedy_cer(model, scored, chars), 4)
            print(f"[teach_mms] dev greedy CER {100 * report['dev_cer']:.1f} % ({len(scored)} of {len(dev)} "
                  "dev utterances: the others have characters no training transcript has)", flush=True)
    return model.eval(), vocab, report


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mms_dir", type=Path, required=True, help="tiny random-weight MMS dir")
    p.add_argument("--data_dir", type=Path, required=True, help="training data: 16 kHz wav.scp and text")
    p.add_argument("--dev_dir", type=Path, default=None, help="scored only (greedy CER)")
    p.add_argument("--output_dir", type=Path, required=True, help="where the taught encoder goes")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch_size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max_seconds", type=float, default=8.0, help="longer training utterances are skipped")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num_threads", type=int, default=2)
    p.add_argument("--log_every", type=int, default=50)
    args = p.parse_args(argv)
    if args.steps < 3:
        p.error("--steps must be at least 3")

    model, vocab, report = teach(args)

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        Wav2Vec2FeatureExtractor.from_pretrained(args.mms_dir).save_pretrained(tmp)
        langs = [f.name.split(".")[1] for f in args.mms_dir.glob("adapter.*.safetensors")]
        save_mms_adapters(model, tmp, langs)  # MMS's per-language adapter files, taught
        (tmp / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        (tmp / "teach_mms.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    write_dir_atomically(args.output_dir, write)
    print(f"[teach_mms] wrote {args.output_dir}", flush=True)
    return report


if __name__ == "__main__":
    main()
