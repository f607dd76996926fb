#!/usr/bin/env python3
"""Decode a Kaldi/ESPnet data directory with a trained BLOOMZMMS model.

    python -m espnet2_bloomzmms.bin.inference --model_dir exp/bloomzmms_train \
        --data_dir data/test --output_dir exp/bloomzmms_train/decode_test

    python -m espnet2_bloomzmms.bin.inference --config exp/x/config.yaml \
        --model_file exp/x/valid.acc.ave.pth --data_dir data/test --output_dir decode \
        --prefix "Translate into English: " --postfix ". " --ctc true

``--model_dir`` also takes a model shared on the Hugging Face hub (``owner/name``).

Reads ``DATA/wav.scp`` (mono; other sample rates are resampled to 16 kHz unless
``--resample false``, which refuses them) and, when present, the per-utterance instructions
``DATA/prefix`` / ``DATA/postfix`` (one JSON string per utterance). A data dir of spoken
sentence pairs (two-sentence NLU tasks with both sentences spoken) also has
``DATA/wav2.scp`` (the second sentence) and ``DATA/middle`` (the text between them): the
prompt is ``prefix + speech 1 + middle + speech 2 + postfix``. ``--prefix`` /
``--postfix`` given on the command line are used for every utterance instead (the data
files are then ignored); without either, the training config's defaults apply.
Utterances are decoded in batches of similar length (longest first) and written as
``DECODE_DIR/text`` (``uttid hypothesis``, sorted by id, written atomically); with
``--ctc true`` also the CTC head's greedy output as ``DECODE_DIR/text_ctc``. Line breaks
in a hypothesis become spaces (one line per utterance). With ``--chunk_seconds``, longer
recordings are cut at low-energy points, decoded chunk by chunk and the answers joined.

Every utterance is read and checked before the model loads (unreadable, not mono, empty,
shorter than one wav2vec2 frame, NaN/Inf, longer than ``--max_seconds``): with
``--on_bad_input skip`` (default) such utterances are listed in ``DECODE_DIR/skipped``
(``uttid reason``), counted and left out of ``text`` (scoring counts them as missing);
``--on_bad_input error`` refuses the whole set up front, listing them all.

Decoding resumes. Answers are appended to ``DECODE_DIR/text.partial`` (and
``text_ctc.partial``) batch by batch, flushed to disk; a rerun after a crash or kill
decodes only what is missing, then writes the sorted ``text`` atomically and removes the
partial files. ``DECODE_DIR/decode_settings.yaml`` records the model (paths, sizes,
times), the data files' checksums and every setting that changes the answers (not the
device or batch size). A decode dir whose record matches and whose outputs cover every
utterance is skipped; a rerun with another model, data or settings moves the earlier
results to ``DECODE_DIR/replaced/`` (with their record) and decodes afresh. Skipped
utterances are checked again on every run (repaired audio gets decoded).
"""

import argparse
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2bool, str_or_none

from espnet2_bloomzmms.audio_io import SAMPLE_RATE, open_wav_scp, read_mono
from espnet2_bloomzmms.data import files as data_files
from espnet2_bloomzmms.data.datadir import read_kv
from espnet2_bloomzmms.decode_dir import (
    OUTPUTS,
    SETTINGS_FILE,
    differences,
    file_id,
    read_done,
    replace_earlier_results,
    sha256,
    write_results,
)
from espnet2_bloomzmms.inference import BloomzMMS, check_waveform
from espnet2_bloomzmms.model_archive import find_model_file
from espnet2_bloomzmms.reference.pack import is_reference_pack, read_reference_pack
from espnet2_bloomzmms.utils.append_files import flush, open_for_append
from espnet2_bloomzmms.utils.atomic_files import atomic_path


TRAINED_SECONDS = 30.0  #: the longest utterances the recipes train on


def get_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Decode a data directory with a BLOOMZMMS model",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    model = parser.add_argument_group("model (either --model_dir or --config [+ --model_file])")
    model.add_argument("--model_dir", type=str_or_none, default=None,
                       help="Experiment directory (config.yaml + model files), packed .zip model, "
                       "or hub model name (owner/name); one of the authors' ESPnet packs (akreal/bloomzmms-*, "
                       "or its download) is converted once")
    model.add_argument("--import_options", action=NestedDictAction, default=dict(),
                       help="How an authors' pack is converted (reference.model_import.import_reference_model), "
                       "e.g. llm_quantization=null for a 16-bit BLOOMZ")
    model.add_argument("--revision", type=str_or_none, default=None, help="Hub revision (hub model names only)")
    model.add_argument("--config", type=str_or_none, default=None, help="Training config.yaml")
    model.add_argument("--model_file", type=str_or_none, default=None, help="Trained parameters (.pth)")
    model.add_argument("--device", type=str, default="cpu", help="cpu, cuda, cuda:N")
    model.add_argument("--dtype", type=str_or_none, default=None, choices=["float32", "bfloat16", "float16", None],
                       help="Cast the LLM to this dtype (speech layers stay float32)")
    parser.add_argument("--data_dir", type=str, required=True, help="Data directory with wav.scp")
    parser.add_argument("--wav_scp", type=str_or_none, default=None,
                        help="Decode this wav.scp (default: DATA/wav.scp; given, a sentence pair's DATA/wav2.scp "
                        "is not paired with it, e.g. for the ASR of one sentence)")
    parser.add_argument("--key_file", type=str_or_none, default=None,
                        help="Decode only these utterances (first column; one decoding job's share, see "
                        "espnet2_bloomzmms.bin.decode_jobs)")
    parser.add_argument("--output_dir", type=str, required=True, help="Decode directory for text (and text_ctc)")
    parser.add_argument("--batch_size", type=int, default=8, help="Utterances per batch")
    gen = parser.add_argument_group("generation")
    gen.add_argument("--max_new_tokens", type=int, default=192)
    gen.add_argument("--num_beams", type=int, default=1)
    gen.add_argument("--length_penalty", type=float, default=1.0)
    gen.add_argument("--repetition_penalty", type=float, default=1.0)
    gen.add_argument("--no_repeat_ngram_size", type=int, default=0)
    gen.add_argument("--prefix", type=str_or_none, default=None,
                     help="Instruction before the speech, for every utterance (overrides DATA/prefix)")
    gen.add_argument("--postfix", type=str_or_none, default=None,
                     help="Instruction after the speech, for every utterance (overrides DATA/postfix)")
    gen.add_argument("--allowed_answers", type=str, nargs="+", default=None,
                     help="Answer with the likeliest of these strings instead of generating")
    gen.add_argument("--max_seconds", type=float, default=None, help="Refuse longer utterances")
    gen.add_argument("--chunk_seconds", type=float, default=None,
                     help="Cut longer utterances at low-energy points into chunks of at most this length "
                     "and join their answers (e.g. 30, the training limit)")
    gen.add_argument("--max_prompt_length", type=int, default=None,
                     help="Refuse longer prompts (instruction + speech frames + new tokens); default: the "
                     "LLM's context, for BLOOM its pre-training length (2048)")
    parser.add_argument("--on_bad_input", choices=("skip", "error"), default="skip",
                        help="Utterances whose audio is unreadable or unusable: skip them (listed in "
                        "DECODE_DIR/skipped) or refuse the whole set before decoding")
    parser.add_argument("--resample", type=str2bool, default=True,
                        help="Resample audio that is not 16 kHz (false: refuse it)")
    parser.add_argument("--ctc", type=str2bool, default=False, help="Also write the CTC head's greedy output (text_ctc)")
    parser.add_argument("--llm", type=str2bool, default=True,
                        help="Write the LLM's answers (text); false with --ctc true decodes the CTC head only")
    parser.add_argument("--log_level", type=lambda x: x.upper(), default="INFO",
                        choices=("ERROR", "WARNING", "INFO", "DEBUG"))
    return parser


def _instructions(data_dir: Path, name: str, given: Optional[str], uttids: List[str]) -> Optional[Dict[str, str]]:
    """Per-utterance instructions from DATA/<name>, or None (-> the command line's or default)."""
    path = data_dir / name
    if given is not None:
        if path.is_file():
            logging.info("--%s given: ignoring %s", name, path)
        return None
    if not path.is_file():
        return None
    values = read_kv(path)
    missing = [u for u in uttids if u not in values]
    if missing:
        raise ValueError(f"{path}: no line for {len(missing)} utterances ({', '.join(missing[:5])})")
    return values


def read_keys(key_file, known: List[str]) -> List[str]:
    """The utterance ids of ``key_file`` (first column), each one of ``known``."""
    keys = [line.split(maxsplit=1)[0] for line in Path(key_file).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise ValueError(f"{key_file}: {len(unknown)} ids are not in wav.scp ({', '.join(unknown[:5])})")
    return list(dict.fromkeys(keys))


def _one_line(text: str) -> str:
    return " ".join(text.replace("\r", "\n").split("\n")).strip()


def decode_settings(args, data_dir: Path) -> dict:
    """The record of what makes this decode's answers: model, data, generation settings."""
    if args.model_dir is not None and Path(args.model_dir).exists():
        local = Path(args.model_dir)
        if local.is_file():
            files = [local]
        elif is_reference_pack(local):  # one of the authors' packs (converted when loaded)
            pack = read_reference_pack(local)
            files = [pack.config_file, pack.model_file]
        else:
            files = [local / "config.yaml", find_model_file(local)]
        model = {"model_dir": str(local.resolve()), "files": [file_id(f) for f in files]}
    elif args.model_dir is not None:  # a hub name
        model = {"model_dir": args.model_dir, "revision": args.revision}
    else:
        model = {"files": [file_id(f) for f in (args.config, args.model_file) if f is not None]}
    if args.model_dir is not None and args.import_options:
        model["import_options"] = dict(args.import_options)
    # the data-dir files decoding reads: wav.scp, prefix, postfix, wav2.scp, middle
    data = {name: sha256(data_dir / name) for name in data_files.decoded_files()}
    data["wav_scp"] = sha256(Path(args.wav_scp)) if args.wav_scp else None
    data["keys"] = sha256(Path(args.key_file)) if args.key_file else None
    generation = {k: getattr(args, k) for k in (
        "dtype", "max_new_tokens", "num_beams", "length_penalty", "repetition_penalty", "no_repeat_ngram_size",
        "prefix", "postfix", "allowed_answers", "max_seconds", "chunk_seconds", "max_prompt_length", "resample")}
    return {"model": model, "data": data, "generation": generation}


def read_speech(readers, u: str, args, check) -> tuple:
    """The utterance's waveform(s), one per reader (two for a spoken sentence pair),
    checked by ``check(wave, name, rate)``."""
    waves = []
    for reader in readers:
        wave, rate = read_mono(reader, u, args.resample)
        waves.append(check(wave, f"utterance {u} ({reader.get_path(u)})", rate))
    return tuple(waves)


def check_inputs(readers, uttids: List[str], args) -> Tuple[Dict[str, int], Dict[str, str]]:
    """Read and check every utterance: (samples at 16 kHz per good one, reason per bad one)."""
    lengths, bad = {}, {}

    def check(wave, name, rate):
        return check_waveform(wave, name, fs=rate, max_seconds=args.max_seconds)

    for u in uttids:
        try:
            lengths[u] = sum(len(w) for w in read_speech(readers, u, args, check))
        except Exception as e:  # noqa: BLE001 - every unusable utterance is reported by name
            name = f"utterance {u} ({readers[0].get_path(u)})"
            reason = str(e) if str(e).startswith("utterance ") else f"{name}: {type(e).__name__}: {e}"
            bad[u] = " ".join(reason.split())
    return lengths, bad


def _warn_long(lengths: Dict[str, int], chunk_seconds: Optional[float]) -> None:
    if chunk_seconds is not None:
        return
    long = sorted((n / SAMPLE_RATE, u) for u, n in lengths.items() if n > TRAINED_SECONDS * SAMPLE_RATE)
    if long:
        logging.warning(
            "%d utterance(s) are longer than the %g s the model was trained on (longest: %s, %.1f s) and are "
            "decoded whole; pass --chunk_seconds %g to cut them at pauses", len(long), TRAINED_SECONDS,
            long[-1][1], long[-1][0], TRAINED_SECONDS)


def decode_batch(bloomzmms: BloomzMMS, waves: dict, prefixes, postfixes, args, middles=None) -> dict:
    """``{output name: {uttid: answer}}`` for one batch of checked waveforms (per utterance
    a tuple: one waveform, or a spoken sentence pair joined by its ``middles`` text)."""
    ids = list(waves)
    encoded = bloomzmms.encode([w[0] for w in waves.values()])
    if middles is not None:
        second = bloomzmms.encode([w[1] for w in waves.values()])
        encoded = bloomzmms.join_speech(encoded, second, [middles[u] for u in ids])
    answers = {}
    if args.llm:
        texts = bloomzmms.generate(
            encoded,
            [prefixes[u] for u in ids] if prefixes else None,
            [postfixes[u] for u in ids] if postfixes else None,
            allowed_answers=args.allowed_answers,
        )
        answers["text"] = dict(zip(ids, texts))
    if args.ctc:
        answers["text_ctc"] = dict(zip(ids, bloomzmms.ctc_texts(encoded)))
    return answers


def main(cmd=None):
    args = get_parser().parse_args(cmd)
    logging.basicConfig(level=args.log_level, format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s")
    if (args.model_dir is None) == (args.config is None):
        raise SystemExit("give either --model_dir or --config (with --model_file)")
    if args.batch_size < 1:
        raise SystemExit(f"--batch_size must be >= 1, got {args.batch_size}")
    if not (args.llm or args.ctc):
        raise SystemExit("nothing to decode: --llm false needs --ctc true")
    data_dir, out_dir = Path(args.data_dir), Path(args.output_dir)
    wav_scp = Path(args.wav_scp) if args.wav_scp else data_dir / "wav.scp"
    if not wav_scp.is_file():
        raise SystemExit(f"{wav_scp}: no such file")
    paired = args.wav_scp is None and (data_dir / "wav2.scp").is_file()  # both sentences spoken
    if paired and args.ctc:
        raise SystemExit(f"{data_dir} holds spoken sentence pairs (wav2.scp): --ctc true decodes one sentence; "
                         "give --wav_scp for that")
    try:
        readers = [open_wav_scp(wav_scp)] + ([open_wav_scp(data_dir / "wav2.scp")] if paired else [])
        uttids = list(readers[0].keys())
        if paired and sorted(readers[1].keys()) != sorted(uttids):
            raise ValueError(f"{data_dir / 'wav2.scp'} does not have the ids of {wav_scp}")
        if args.key_file is not None:
            uttids = read_keys(args.key_file, uttids)
        prefixes = _instructions(data_dir, "prefix", args.prefix, uttids)
        postfixes = _instructions(data_dir, "postfix", args.postfix, uttids)
        middles = None
        if paired:
            middles = _instructions(data_dir, "middle", None, uttids)
            if middles is None:
                raise ValueError(f"{data_dir / 'middle'}: missing (the text between the two spoken sentences)")
    except (ValueError, UnicodeDecodeError, RuntimeError, OSError) as e:
        raise SystemExit(f"{data_dir}: {e}") from e
    if not uttids:
        raise SystemExit(f"{wav_scp}: no utterances")

    names = [n for n, wanted in zip(OUTPUTS, (args.llm, args.ctc)) if wanted]
    try:
        settings = decode_settings(args, data_dir)
    except (FileNotFoundError, OSError) as e:
        raise SystemExit(str(e)) from e
    record = out_dir / SETTINGS_FILE
    earlier = yaml.safe_load(record.read_text(encoding="utf-8")) if record.is_file() else None
    if earlier != settings:
        replace_earlier_results(out_dir, differences(earlier, settings) if earlier else [])
    if paired and args.chunk_seconds is not None:
        raise SystemExit(f"{data_dir}: spoken sentence pairs cannot be cut into chunks: leave out --chunk_seconds")
    done = {n: read_done(out_dir, n) for n in names}
    # (utterances skipped by an earlier run are checked again: repaired audio gets decoded,
    # and --on_bad_input error refuses what is still bad)
    todo = [u for u in uttids if any(u not in done[n] for n in names)]
    if not todo:
        if any((out_dir / f"{n}.partial").is_file() or not (out_dir / n).is_file() for n in names):
            write_results(out_dir, names, done, uttids, {}, settings)  # a kill came before the final write
        print(f"{out_dir}: {', '.join(names)} already cover all {len(uttids)} utterances; nothing to decode")
        return

    lengths, bad = check_inputs(readers, todo, args)
    if bad and args.on_bad_input == "error":
        shown = "\n  ".join(list(bad.values())[:20])
        raise SystemExit(f"{wav_scp}: {len(bad)} of {len(todo)} utterances cannot be decoded "
                         f"(--on_bad_input skip decodes the others):\n  {shown}"
                         + ("\n  ..." if len(bad) > 20 else ""))
    for u, reason in bad.items():
        logging.warning("skipping %s", reason)
    skipped = dict(bad)
    if not lengths:  # nothing decodable: no model to load
        write_results(out_dir, names, done, uttids, skipped, settings)
        logging.warning("%d of %d utterances skipped (listed in %s); nothing else to decode", len(skipped),
                        len(uttids), out_dir / "skipped")
        return
    _warn_long(lengths, args.chunk_seconds)

    options = dict(
        device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens, num_beams=args.num_beams,
        length_penalty=args.length_penalty, repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size, default_prefix=args.prefix,
        default_postfix=args.postfix, max_seconds=args.max_seconds, chunk_seconds=args.chunk_seconds,
        max_prompt_length=args.max_prompt_length,
    )
    if args.model_dir is not None:
        bloomzmms = BloomzMMS.from_pretrained(args.model_dir, revision=args.revision,
                                              import_options=args.import_options or None, **options)
    else:
        bloomzmms = BloomzMMS(args.config, args.model_file, **options)

    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(record) as tmp:  # before any answer is appended: the partial files' settings
        tmp.write_text(yaml.safe_dump(settings, sort_keys=False, allow_unicode=True), encoding="utf-8")
    order = sorted(lengths, key=lambda u: -lengths[u])  # similar lengths batch together
    partials = {n: open_for_append(out_dir / f"{n}.partial") for n in names}
    resampled: Counter = Counter()
    start = time.perf_counter()
    try:
        for b in range(0, len(order), args.batch_size):
            ids = order[b : b + args.batch_size]
            def check(wave, name, rate):
                resampled.update([rate] if rate != SAMPLE_RATE else [])
                return bloomzmms.check_speech(wave, name, fs=rate)

            waves = {u: read_speech(readers, u, args, check) for u in ids}
            try:
                answers = decode_batch(bloomzmms, waves, prefixes, postfixes, args, middles)
            except ValueError:  # e.g. too few frames for the encoder, or an overlong prompt
                answers = {n: {} for n in names}
                for u in ids:  # find the utterance(s) at fault, decode the others
                    try:
                        for n, texts in decode_batch(bloomzmms, {u: waves[u]}, prefixes, postfixes, args,
                                                     middles).items():
                            answers[n].update(texts)
                    except ValueError as e:
                        reason = " ".join(f"utterance {u} ({readers[0].get_path(u)}): {e}".split())
                        if args.on_bad_input == "error":
                            raise SystemExit(f"{wav_scp}: {reason} (--on_bad_input skip decodes the others)") from e
                        skipped[u] = reason
                        logging.warning("skipping %s", reason)
            for n, texts in answers.items():
                for u, t in texts.items():
                    done[n][u] = _one_line(t)
                    partials[n].write(f"{u} {done[n][u]}\n")
                flush(partials[n])
            logging.info("decoded %d/%d utterances (%.1f s)", b + len(ids), len(order), time.perf_counter() - start)
    finally:
        for f in partials.values():
            f.close()

    for rate, n in sorted(resampled.items()):
        logging.info("resampled %d utterances from %d Hz to %d Hz", n, rate, SAMPLE_RATE)
    write_results(out_dir, names, done, uttids, skipped, settings)
    if skipped:
        logging.warning("%d of %d utterances skipped (listed in %s)", len(skipped), len(uttids), out_dir / "skipped")
    logging.info("wrote %s", ", ".join(str(out_dir / n) for n in names))


if __name__ == "__main__":
    main(sys.argv[1:])
