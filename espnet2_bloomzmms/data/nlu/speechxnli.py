"""SpeechXNLI (Denisov & Vu 2024: XNLI's validation set synthesised in its 15 languages)
as an NLU data dir with the task ``xnli`` of ``prompts/nlu.yaml``.

Layout read:

    XNLI_TSV = XNLI-1.0/xnli.dev.tsv    the XNLI release's validation set: tab-separated,
                                        a header line; columns used: ``language``,
                                        ``gold_label`` (entailment, neutral,
                                        contradiction), ``sentence1`` (premise),
                                        ``sentence2`` (hypothesis), ``pairID``
    SPEECH_DIR/sentences_<lang>.txt     the distinct premises and hypotheses of <lang>,
                                        one per line (SpeechXNLI's ``get_sentences.py``)
    SPEECH_DIR/audios/<lang>/xnli_validation_<NNNN>.flac
                                        the speech of line NNNN (from 0, four digits) of
                                        sentences_<lang>.txt

Each XNLI example becomes one utterance: ``spoken`` (``premise`` by default, or
``hypothesis``) is the speech, the other sentence goes into the prompt as text; or
``all``: both are speech (Denisov & Vu 2024; ``wav.scp`` + ``wav2.scp``, see ``speechglue``). Examples whose spoken sentence has no line in the
sentences file, or whose audio is missing, are skipped and counted. Audio that is not
16 kHz mono is converted once by ``corpora.audio``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from espnet2_bloomzmms.data.corpora.preparation import (
    DataDirBuilder,
    PrepReport,
    Utterance,
    read_tsv,
    speaker_id,
    utterance_id,
)
from espnet2_bloomzmms.data.corpora.audio import AudioJob
from espnet2_bloomzmms.data.nlu.datadir import gold_and_pair_prompt, gold_and_prompt, write_nlu_dir
from espnet2_bloomzmms.data.nlu.tasks import get_task

__all__ = ["XNLI_LANGUAGES", "prepare_speechxnli"]

XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
_COLUMNS = {"premise": "sentence1", "hypothesis": "sentence2"}


def _sentence_index(path: Path) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
        if line:
            index.setdefault(line, i)
    return index


def prepare_speechxnli(
    xnli_tsv: Path,
    speech_dir: Path,
    out_dir: Path,
    languages: Optional[Sequence[str]] = None,
    spoken: str = "premise",
    audio_split: str = "validation",
    audio_dir: Optional[Path] = None,
    nj: int = 1,
) -> PrepReport:
    """Write the SpeechXNLI data dir of ``languages`` (default: all 15 XNLI languages)."""
    xnli_tsv, speech_dir, out_dir = Path(xnli_tsv), Path(speech_dir), Path(out_dir)
    task = get_task("xnli")
    if spoken not in (*_COLUMNS, "all"):
        raise ValueError(f"spoken must be one of {[*_COLUMNS, 'all']}, not {spoken!r}")
    pair = spoken == "all"
    first, second = task.spoken_pair() if pair else (spoken, None)
    languages = list(languages or XNLI_LANGUAGES)
    sentences = {}
    for lang in languages:
        path = speech_dir / f"sentences_{lang}.txt"
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no SpeechXNLI sentence list for {lang!r}")
        sentences[lang] = _sentence_index(path)

    def audio(lang: str, line: int) -> Path:
        return speech_dir / "audios" / lang / f"xnli_{audio_split}_{line:04d}.flac"

    builder = DataDirBuilder(out_dir, audio_dir, nj=nj)
    seconds = {}  # uttid -> (the hypothesis' audio job, text, the middle of the prompt)
    unspoken = 0
    for lineno, row in read_tsv(xnli_tsv):
        lang = row.get("language")
        if lang not in sentences:
            continue
        where = f"{xnli_tsv}:{lineno}"
        raw = {field: row[column] for field, column in _COLUMNS.items()}
        lines = [sentences[lang].get(raw[f]) for f in ((first, second) if pair else (first,))]
        if None in lines:
            unspoken += 1
            builder.skip("not_in_subset")
            continue
        texts = {k: " ".join(v.split()) for k, v in raw.items()}
        spk = speaker_id("speechxnli", lang, row["pairID"], where)
        uttid = utterance_id(spk, "pair" if pair else first, where)
        if pair:
            gold, prefix, middle, postfix = gold_and_pair_prompt(task, row["gold_label"], where)
            seconds[uttid] = (AudioJob(uttid, audio(lang, lines[1]), f"{lang}/{lines[1]:04d}"), texts[second], middle)
        else:
            gold, prefix, postfix = gold_and_prompt(task, row["gold_label"], first, texts, where)
        builder.queue(Utterance(uttid, gold, spk, lang, audio(lang, lines[0]), f"{lang}/{lines[0]:04d}",
                                prefix, postfix, transcript=texts[first]))
    if unspoken:
        what = "premises or hypotheses" if pair else f"{spoken}s"
        builder.report.notes.append(f"{unspoken} {what} are not in the sentences_<lang>.txt lists (no speech)")
    return write_nlu_dir(builder, task, seconds if pair else None)
