"""The mini recipe's base models, as a user gets them (a download, not a training stage).

    python local/base_models.py copy --src local/base_models --mms_dst exp/models/mms --llm_dst exp/models/llm
    python local/base_models.py build --output_dir local/base_models [--models mms llm] [--quick]
    python local/base_models.py card --output_dir local/base_models
    python local/base_models.py verify --src local/base_models

The recipe stands in for ``facebook/mms-1b-all`` and ``bigscience/bloomz-7b1`` with a tiny
MMS-architecture encoder taught to recognise characters (``local/teach_mms.py``) and a
tiny BLOOM-architecture LLM taught to follow the recipe's instructions on text, also on
sentences in the shape of a CTC encoder's frames (``local/teach_llm.py``). ``build``
makes them with more compute than the recipe's run has (settings: :data:`SETTINGS`, all
step counts, seeded) from TRAIN sentences only: dev speech is scored, never trained on;
test sentences are never synthesised, taught or seen by the tokenizer. The result is
shipped in ``local/base_models/`` with ``build.json`` (settings, sha256 of every file,
of the training sentences and of the tokenizer's text) and ``MODEL_CARD.md``. Stage 3
runs ``copy``, which checks the checksums as a download would and copies atomically;
``./run.sh --rebuild_base_models true`` runs ``build`` instead.
"""

import argparse
import copy
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

LOCAL = Path(__file__).resolve().parent
sys.path.insert(0, str(LOCAL))

from espnet2_bloomzmms.utils.atomic_files import write_dir_atomically  # noqa: E402

import teach_llm  # noqa: E402  (local/teach_llm.py)
import teach_mms  # noqa: E402  (local/teach_mms.py)
from sentences import load_sentences, split_sentences  # noqa: E402

MODELS = ("mms", "llm")
SETTINGS = {
    "seed": 0,
    "n_dev": 20,  # the recipe's split (local/data.sh): train, then dev, then test sentences
    "n_test": 20,
    "speech": {"renditions": 4, "seed": 1, "max_train": 0},  # voices per train sentence
    "mms": {"hidden_size": 96, "num_layers": 3, "num_heads": 4, "intermediate_size": 384, "conv_dim": 64,
            "steps": 3500, "batch_size": 8, "lr": 2e-3},
    "llm": {"vocab_size": 600, "tokenizer": "char_bpe", "hidden_size": 192, "num_layers": 4, "num_heads": 4,
            "steps": 6000, "batch_size": 32, "lr": 2e-3,
            # CTC-shaped (speech-like) sentences for the ASR task only: taught every task in that
            # shape, the LLM followed any instruction on the frames of a model trained on T alone,
            # and MI had nothing to show (BLOOMZ follows no instruction on speech by itself)
            "teach_args": ["--task_weights", "repeat=3", "--random_copy", "0.1", "--ctc_shape", "0.75",
                           "--ctc_shape_tasks", "repeat", "--speech_noise", "0.8", "--synthetic", "0.5"],
            # then, from that model, the same tasks with sentences shaped and perturbed as the
            # recipe's CTC frames are (pauses, no blank between some tokens, a shared offset,
            # noise up to 1.8), the embeddings kept: reading the adaptor's frames
            "speech_phase": {"steps": 2500, "lr": 5e-4,
                             "teach_args": ["--task_weights", "repeat=3", "--random_copy", "0.1", "--ctc_shape", "0.75",
                                            "--ctc_shape_tasks", "repeat", "--ctc_timing", "speech",
                                            "--speech_noise", "1.8", "--speech_offset", "1.0",
                                            "--synthetic", "0.5", "--freeze_embeddings"]}},
}
QUICK = {"speech": {"renditions": 1, "max_train": 4}, "mms": {"steps": 10, "batch_size": 4},
         "llm": {"steps": 30, "max_dev": 60}}  # a smoke build (tests, --fast): the same code, a few steps
QUICK_SPEECH_PHASE_STEPS = 20


def settings(quick: bool) -> dict:
    out = copy.deepcopy(SETTINGS)
    if quick:
        for key, values in QUICK.items():
            out[key].update(values)
        out["llm"]["speech_phase"]["steps"] = QUICK_SPEECH_PHASE_STEPS
    out["quick"] = quick
    return out


def sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def text_sha256(lines: list) -> str:
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def train_sentences(data_dir: Path, n_dev: int, n_test: int) -> dict:
    return {code: split_sentences(load_sentences(data_dir, code), n_dev, n_test)["train"]
            for code in teach_llm.load_languages(data_dir)}


def checksums(root: Path) -> dict:
    """``{"mms/config.json": sha256, ...}`` of every file of the model dirs under ``root``."""
    return {str(p.relative_to(root)): sha256(p)
            for name in MODELS for p in sorted((root / name).rglob("*")) if p.is_file()}


# ---------------------------------------------------------------- build


def build_mms(s: dict, data_dir: Path, work: Path, out: Path) -> None:
    from espnet2_bloomzmms.tiny_checkpoints import write_tiny_mms

    speech = work / "speech"
    if not (speech / "dev" / "text").is_file():
        subprocess.run([sys.executable, str(LOCAL / "prepare_data.py"), "--text_dir", str(data_dir),
                        "--output_dir", str(speech), "--n_dev", str(s["n_dev"]), "--n_test", str(s["n_test"]),
                        "--renditions", str(s["speech"]["renditions"]), "--seed", str(s["speech"]["seed"]),
                        "--max_train", str(s["speech"]["max_train"]), "--splits", "train", "dev",
                        "--langs", *teach_llm.load_languages(data_dir)], check=True)
    m = s["mms"]
    write_tiny_mms(work / "mms_init", hidden_size=m["hidden_size"], num_hidden_layers=m["num_layers"],
                   num_attention_heads=m["num_heads"], intermediate_size=m["intermediate_size"],
                   conv_dim=m["conv_dim"], seed=s["seed"])
    teach_mms.main(["--mms_dir", str(work / "mms_init"), "--data_dir", str(speech / "train"),
                    "--dev_dir", str(speech / "dev"), "--output_dir", str(out / "mms"),
                    "--steps", str(m["steps"]), "--batch_size", str(m["batch_size"]), "--lr", str(m["lr"]),
                    "--seed", str(s["seed"]), "--num_threads", str(s["num_threads"])])


# teach_llm options that say where things are or how fast they run, not what is taught
_NOT_TAUGHT = ("llm_dir", "data_dir", "output_dir", "num_threads", "eval_batch_size", "log_every")


def taught_with(model_dir: Path, argv: list) -> bool:
    """Whether ``model_dir`` holds a model ``teach_llm`` taught with the options ``argv``
    (paths and thread counts aside): a finished phase a resumed build keeps."""
    record = model_dir / "teach_config.json"
    if not record.is_file():
        return False
    done = [str(a) for a in json.loads(record.read_text(encoding="utf-8"))["argv"]]
    if done and not done[0].startswith("-"):
        done = done[1:]  # run from the command line: sys.argv, the script first
    parser = teach_llm.get_parser()
    want = vars(parser.parse_args(argv))
    try:
        have = vars(parser.parse_args(done))
    except SystemExit:  # options of another version of teach_llm
        return False
    return all(want[k] == have[k] for k in want if k not in _NOT_TAUGHT)


def same_start(model_dir: Path, init_dir: Path) -> bool:
    """Whether the model in ``model_dir`` was taught from one like ``init_dir``: the same
    tokenizer (so the same training sentences and templates) and the same architecture."""
    def read(d: Path, name: str) -> bytes:
        return (d / name).read_bytes() if (d / name).is_file() else b""

    arch = ("hidden_size", "n_layer", "n_head", "vocab_size")
    configs = [json.loads(read(d, "config.json") or b"{}") for d in (model_dir, init_dir)]
    return (read(model_dir, "tokenizer.json") == read(init_dir, "tokenizer.json") != b""
            and all(configs[0].get(k) == configs[1].get(k) for k in arch))


def llm_phases(s: dict, data_dir: Path, work: Path, out: Path) -> tuple:
    """``teach_llm`` options of the text phase (into ``work/text_taught``) and of the
    speech-shaped phase that continues from it (into ``out/llm``)."""
    m = s["llm"]
    common = ["--data_dir", str(data_dir), "--n_dev", str(s["n_dev"]), "--n_test", str(s["n_test"]),
              "--batch_size", str(m["batch_size"]), "--seed", str(s["seed"]), "--num_threads", str(s["num_threads"]),
              "--max_dev", str(m.get("max_dev", 0))]
    text = ["--llm_dir", str(work / "llm_init"), "--output_dir", str(work / "text_taught"), *common,
            "--steps", str(m["steps"]), "--lr", str(m["lr"]), *m["teach_args"]]
    phase = m["speech_phase"]
    speech = ["--llm_dir", str(work / "text_taught"), "--output_dir", str(out / "llm"), *common,
              "--steps", str(phase["steps"]), "--lr", str(phase["lr"]), *phase["teach_args"]]
    return text, speech


def build_llm(s: dict, data_dir: Path, work: Path, out: Path) -> dict:
    """Two teaching phases (text, then speech-shaped input); the text phase's result is
    kept in ``work`` and not taught again when a build is resumed. Returns each phase's
    training time (s)."""
    from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom

    m = s["llm"]
    text_argv, speech_argv = llm_phases(s, data_dir, work, out)
    write_tiny_bloom(work / "llm_init", teach_llm.tokenizer_texts(data_dir, s["n_dev"], s["n_test"]),
                     vocab_size=m["vocab_size"], hidden_size=m["hidden_size"], n_layer=m["num_layers"],
                     n_head=m["num_heads"], seed=s["seed"], byte_level=m["tokenizer"] == "byte_bpe")
    if taught_with(work / "text_taught", text_argv) and same_start(work / "text_taught", work / "llm_init"):
        print(f"[base_models] {work / 'text_taught'}: the text phase is done, kept", flush=True)
    else:
        teach_llm.main(text_argv)
    teach_llm.main(speech_argv)
    seconds = {}
    for name, d in (("text", work / "text_taught"), ("speech", out / "llm")):
        done = json.loads((d / "teach_config.json").read_text(encoding="utf-8"))
        seconds[name] = {"train_seconds": round(done["train_seconds"], 1), "num_threads": done["num_threads"]}
    return seconds


def build(args) -> None:
    s = settings(args.quick)
    s["num_threads"] = args.num_threads
    work = args.work_dir
    for name in args.models:
        start = time.time()
        phases = (build_mms if name == "mms" else build_llm)(s, args.data_dir, work / name, args.output_dir)
        record = {"model": name, "settings": s, "wall_seconds": round(time.time() - start, 1), "phases": phases,
                  "machine": f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()})",
                  "versions": versions(), "command": " ".join(sys.argv)}
        (args.output_dir / name / "build_record.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    if set(args.models) == set(MODELS):
        write_card(args.output_dir, args.data_dir)
    else:  # the other model may be building in another process: one `card` at the end
        print(f"[base_models] built {' '.join(args.models)}; when all are built: "
              f"python local/base_models.py card --output_dir {args.output_dir}", flush=True)


def versions() -> dict:
    import tokenizers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__}


# ---------------------------------------------------------------- card


def write_card(root: Path, data_dir: Path) -> dict:
    """``build.json`` and ``MODEL_CARD.md`` of the models under ``root``."""
    records = {name: json.loads((root / name / "build_record.json").read_text(encoding="utf-8")) for name in MODELS}
    s = records["llm"]["settings"]
    if records["mms"]["settings"]["quick"] != s["quick"]:
        raise SystemExit(f"{root}: one model is a --quick build and the other is not")
    train = train_sentences(data_dir, s["n_dev"], s["n_test"])
    mms_report = json.loads((root / "mms" / "teach_mms.json").read_text(encoding="utf-8"))
    llm_config = json.loads((root / "llm" / "teach_config.json").read_text(encoding="utf-8"))
    llm_eval = json.loads((root / "llm" / "eval.json").read_text(encoding="utf-8"))
    info = {
        "settings": {name: records[name]["settings"][name] for name in MODELS}
        | {k: s[k] for k in ("seed", "n_dev", "n_test", "speech", "quick")},
        "data": {
            "train_sentences": {code: len(x) for code, x in train.items()},
            "train_sentences_sha256": text_sha256([x for code in train for x in train[code]]),
            "tokenizer_text_sha256": text_sha256(teach_llm.tokenizer_texts(data_dir, s["n_dev"], s["n_test"])),
            "mms_train_utterances": mms_report["utterances"],
            "mms_dev_utterances": mms_report.get("dev_scored"),
        },
        "results": {"mms_dev_cer": mms_report.get("dev_cer"), "mms_final_ctc_loss": mms_report["log"][-1]["loss"],
                    "llm_dev": {task: {split: r["accuracy"] for split, r in row.items()}
                                for task, row in llm_eval["tasks"].items()},
                    "llm_dev_ctc_shape": {task: {split: r["accuracy"] for split, r in row.items()}
                                          for task, row in llm_eval.get("ctc_shaped", {}).get("tasks", {}).items()},
                    "llm_params": llm_config["n_params"]},
        "time": {name: records[name]["wall_seconds"] for name in MODELS},
        "llm_phases": records["llm"].get("phases"),
        "machine": records["llm"]["machine"],
        "versions": records["llm"]["versions"],
        "commands": sorted({records[name]["command"] for name in MODELS}),
        "checksums": checksums(root),
    }
    info["total_bytes"] = sum((root / p).stat().st_size for p in info["checksums"])
    (root / "build.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (root / "MODEL_CARD.md").write_text(card_text(info), encoding="utf-8")
    return info


def _shaping(teach_args: list) -> tuple:
    """A phase's ``--ctc_shape`` share and the tasks it may shape (``""``: every task), in words."""
    args = teach_llm.get_parser().parse_args(["--llm_dir", "-", "--output_dir", "-", *teach_args])
    tasks = teach_llm.parse_tasks(args.ctc_shape_tasks)
    return args.ctc_shape, "" if tasks is None else ", ".join(f"`{t}`" for t in sorted(tasks))


def shaped_examples(teach_args: list) -> str:
    """Which examples a phase spelled in CTC shape, in words (from its ``teach_llm`` options)."""
    share, tasks = _shaping(teach_args)
    text = (f"{100 * share:.0f} % of the examples{f' of {tasks}' if tasks else ''} spell the sentence as\n"
            "   a CTC encoder's frames (each token followed by 1 to 6 blanks, `</s>`) and feed it as noisy\n"
            "   embeddings mixed with other tokens'.")
    if tasks:
        text += ("\n   The other tasks stay text: the LLM learns to read speech-shaped input under those\n"
                 "   instructions only, so no other task is taught on speech-like input.")
    return text


def card_text(info: dict) -> str:
    st, data, res = info["settings"], info["data"], info["results"]
    mms, llm = st["mms"], st["llm"]
    speech = llm["speech_phase"]
    phases = info.get("llm_phases") or {}
    speech_tasks = _shaping(speech["teach_args"])[1]
    speech_which = f" (of {speech_tasks} only)" if speech_tasks else ""

    def phase_time(name: str) -> str:
        if name not in phases:
            return ""
        t = phases[name]
        return f"; {t['train_seconds'] / 60:.1f} min on {t['num_threads']} thread(s)"

    rows = []
    for task, row in res["llm_dev"].items():
        shaped = res["llm_dev_ctc_shape"].get(task, {})
        cells = [f"{100 * row[k]:.1f}" if k in row else "-" for k in ("train", "text", "heldout")]
        cells += [f"{100 * shaped[k]:.1f}" if k in shaped else "-" for k in ("train", "text", "heldout")]
        rows.append(f"| {task} | " + " | ".join(cells) + " |")
    files = "\n".join(f"| `{p}` | {digest} |" for p, digest in info["checksums"].items())
    quick = "\n**This is a --quick smoke build (a few steps): not the shipped models.**\n" if st["quick"] else ""
    return f"""<!-- Generated by local/base_models.py card; the numbers are build.json's -->
# Base models of the mini recipe
{quick}
Two tiny models in Hugging Face format that stand in for the paper's, built on {info['machine']}
(python {info['versions']['python']}, torch {info['versions']['torch']}, transformers {info['versions']['transformers']}) by
{chr(10).join(f'- `{c}`' for c in info['commands'])}

Total size {info['total_bytes'] / 1e6:.1f} MB. Stage 3 of the recipe checks the checksums below and copies them.

## Data
- Text: the TRAIN sentences of `local/data/sentences/` only, by the recipe's split (per language
  all but the last {st['n_dev']} + {st['n_test']}; then {st['n_dev']} dev, {st['n_test']} test sentences):
  {', '.join(f'{c} {n}' for c, n in data['train_sentences'].items())} (sha256 of the list
  `{data['train_sentences_sha256'][:16]}…`). Test sentences were never synthesised, taught or
  given to the tokenizer; dev speech was scored only.
- Tokenizer text: those sentences, their upper-case forms, the filled instruction templates
  and the answers (sha256 `{data['tokenizer_text_sha256'][:16]}…`).
- Speech (MMS): espeak-ng, {st['speech']['renditions']} voices per train sentence (seed {st['speech']['seed']}),
  {data['mms_train_utterances']} utterances; {data['mms_dev_utterances']} dev utterances scored.

## `mms/`: stands in for `facebook/mms-1b-all`
`Wav2Vec2ForCTC` with MMS-1b-all's layout (layer-norm conv feature encoder, stable layer norm,
adapters): hidden {mms['hidden_size']}, {mms['num_layers']} layers, {mms['num_heads']} heads, conv channels {mms['conv_dim']}.
Like mms-1b-all, a character CTC recogniser (`local/teach_mms.py`): {mms['steps']} steps of
{mms['batch_size']} utterances, lr {mms['lr']}, seed {st['seed']}; {info['time']['mms'] / 60:.1f} min.
Final CTC loss {res['mms_final_ctc_loss']}, dev greedy CER {100 * (res['mms_dev_cer'] or 0):.1f} %.

## `llm/`: stands in for `bigscience/bloomz-7b1`
`BloomForCausalLM`: hidden {llm['hidden_size']}, {llm['num_layers']} layers, {llm['num_heads']} heads,
{res['llm_params'] / 1e6:.2f} M parameters; BPE tokenizer ({llm['tokenizer']}, {llm['vocab_size']} tokens, byte fallback).
Taught to follow the instructions of `local/data/instructions.tsv` on text (`local/teach_llm.py`):
1. text phase: {llm['steps']} steps of {llm['batch_size']} examples, lr {llm['lr']}, seed {st['seed']},
   `{' '.join(llm['teach_args'])}`{phase_time('text')}. {shaped_examples(llm['teach_args'])}
2. speech phase, from that model: {speech['steps']} steps, lr {speech['lr']},
   `{' '.join(speech['teach_args'])}`{phase_time('speech')}. The CTC-shaped sentences{speech_which} now
   have the timing the recipe's CTC model gives espeak-ng speech (some tokens with no blank
   between them, pauses of 7 to 24 blanks), noise up to 1.8 and an offset shared by a
   sentence's frames; the embeddings are kept.

Together they let the LLM read the speech model's adaptor frames (`speech_input: adaptor`).

Dev greedy exact match (%), by template split (`train`: taught, also in speech training; `text`:
taught on text only, the held-out tasks; `heldout`: never taught), as text and with the
sentence in CTC shape (token ids, no noise; the last phase's timing; every task, also those
taught on text alone):

| task | train | text | heldout | CTC shape: train | text | heldout |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

## Files (sha256)
| file | sha256 |
|---|---|
{files}
"""


# ---------------------------------------------------------------- verify / copy


def verify(src: Path) -> dict:
    """``build.json`` of ``src`` after checking that every file it lists is there, unchanged."""
    record = src / "build.json"
    if not record.is_file():
        raise SystemExit(f"{record} is missing: build the base models (python local/base_models.py build)")
    info = json.loads(record.read_text(encoding="utf-8"))
    for rel, digest in info["checksums"].items():
        path = src / rel
        if not path.is_file():
            raise SystemExit(f"{path} is missing (listed in {record})")
        if sha256(path) != digest:
            raise SystemExit(f"{path}: sha256 {sha256(path)} differs from {digest} in {record} (a damaged copy?)")
    return info


def copy_models(src: Path, targets: dict) -> None:
    """Copy ``src/<name>`` to ``targets[name]`` after checking the checksums; a target that
    already holds the same files is kept, one that holds other files is refused (models
    trained on top of it under exp/ would no longer match)."""
    info = verify(src)
    for name, dst in targets.items():
        files = {rel[len(name) + 1 :]: d for rel, d in info["checksums"].items() if rel.startswith(f"{name}/")}
        if dst.is_dir() and all((dst / f).is_file() and sha256(dst / f) == d for f, d in files.items()):
            print(f"[base_models] {dst}: already a copy of {src / name}", flush=True)
            continue
        if dst.exists():
            raise SystemExit(f"{dst} exists and is not {src / name} (another build?): models under exp/ may have "
                             f"been trained on it; remove it (and what was trained on it) to take {src / name}")
        def write(tmp: Path, name=name, files=files) -> None:
            for f in files:
                (tmp / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src / name / f, tmp / f)

        write_dir_atomically(dst, write)
        print(f"[base_models] {src / name} -> {dst} (sha256 checked)", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build (teach) the base models")
    b.add_argument("--output_dir", type=Path, required=True)
    b.add_argument("--data_dir", type=Path, default=LOCAL / "data")
    b.add_argument("--work_dir", type=Path, default=None, help="speech and initial models (default: <output_dir>.work)")
    b.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                   help="build only these (e.g. one per process, then `card`)")
    b.add_argument("--quick", action="store_true", help="a smoke build: a few steps, a few utterances")
    b.add_argument("--num_threads", type=int, default=2)
    c = sub.add_parser("card", help="(re)write build.json and MODEL_CARD.md")
    c.add_argument("--output_dir", type=Path, required=True)
    c.add_argument("--data_dir", type=Path, default=LOCAL / "data")
    v = sub.add_parser("verify", help="check the checksums of build.json")
    v.add_argument("--src", type=Path, default=LOCAL / "base_models")
    k = sub.add_parser("copy", help="check and copy the shipped models (stage 3)")
    k.add_argument("--src", type=Path, default=LOCAL / "base_models")
    k.add_argument("--mms_dst", type=Path, default=None)
    k.add_argument("--llm_dst", type=Path, default=None)
    args = p.parse_args(argv)
    if args.command == "build":
        args.work_dir = args.work_dir or args.output_dir.with_name(args.output_dir.name + ".work")
        build(args)
    elif args.command == "card":
        write_card(args.output_dir, args.data_dir)
    elif args.command == "verify":
        info = verify(args.src)
        print(f"[base_models] {args.src}: {len(info['checksums'])} files, checksums match", flush=True)
    else:
        targets = {n: d for n, d in (("mms", args.mms_dst), ("llm", args.llm_dst)) if d is not None}
        copy_models(args.src, targets)


if __name__ == "__main__":
    main()
