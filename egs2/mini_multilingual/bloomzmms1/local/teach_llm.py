"""python local/teach_llm.py --llm_dir exp/tiny_bloom --data_dir local/data --output_dir exp/tiny_bloomz

Teach the tiny random-weight BLOOM of the recipe to follow instructions on text, so that
it can stand in for BLOOMZ: the speech model later feeds ``[E(prefix); speech;
E(postfix)]`` to this frozen LLM and must make it answer as it answers the text
``prefix + transcript + postfix``.

Examples: every TRAIN sentence of every language (by position: the first
``N - n_dev - n_test`` of ``sentences/<lang>.txt``; then ``n_dev`` dev and ``n_test`` test
sentences) with every TRAIN template of ``instructions.tsv``. Each of prefix, sentence,
postfix and answer is tokenized on its own (no special tokens), exactly as the speech
model's preprocessor tokenizes them, and the answer is followed by the tokenizer's EOS.
The causal LM is trained with the loss on the answer tokens (and EOS) only.

At the end, greedy exact match is measured on the DEV sentences, per task, separately for
train and held-out templates, and the taught model + tokenizer, ``eval.json``,
``teach_config.json`` and ``train_log.json`` are written atomically to ``--output_dir``.

:func:`answer` (the deterministic answer of each task) and :func:`encode_prompt` are
imported by later stages; importing this file has no side effects.
"""

import argparse
import contextlib
import json
import math
import random
import shutil
import sys
import time
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

from espnet2_bloomzmms.instructions import Template, read_language_names, read_templates
from espnet2_bloomzmms.utils.atomic_files import write_dir_atomically
from sentences import load_sentences, split_sentences  # local/sentences.py

TASKS = ("repeat", "language", "first_word", "second_word", "last_word", "count_words", "uppercase")
SPLITS = ("train", "text", "heldout")  # instructions.tsv: speech+text training, text only, test only
ASR_TEMPLATE_ID = "T"  # "Repeat the sentence: " + transcript + ". " (the BLOOMZMMS template)

_SMALL = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_word(n: int) -> str:
    """English word of ``0 <= n < 100``: ``7 -> "seven"``, ``21 -> "twenty-one"``."""
    if not 0 <= n < 100:
        raise ValueError(f"no number word for {n}")
    if n < 20:
        return _SMALL[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f"-{_SMALL[ones]}" if ones else "")


def strip_punctuation(word: str) -> str:
    """``word`` without surrounding punctuation (``¿Dónde`` -> ``Dónde``, ``plaît?`` -> ``plaît``).

    Punctuation is any Unicode ``P*`` character; inner ones (``grands-parents``,
    ``aujourd'hui``) stay, and so do combining marks (Devanagari vowel signs are ``M*``).
    """
    start, end = 0, len(word)
    while start < end and unicodedata.category(word[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(word[end - 1]).startswith("P"):
        end -= 1
    return word[start:end]


def _words(sentence: str) -> list[str]:
    """Whitespace-separated words without surrounding punctuation (punctuation-only ones dropped)."""
    return [w for w in map(strip_punctuation, sentence.split()) if w]


def answer(task: str, sentence: str, lang_name: str) -> str:
    """The deterministic answer of ``task`` about ``sentence`` (written in ``lang_name``).

    - ``repeat``: the sentence itself;
    - ``language``: the English name of its language (``lang_name``);
    - ``first_word`` / ``second_word`` / ``last_word``: that word without surrounding punctuation;
    - ``count_words``: the number of whitespace-separated tokens as an English word;
    - ``uppercase``: ``sentence.upper()`` (unchanged for scripts without case, e.g. Hindi).
    """
    if task == "repeat":
        return sentence
    if task == "language":
        return lang_name
    if task == "first_word":
        return _words(sentence)[0]
    if task == "second_word":
        words = _words(sentence)
        return words[1] if len(words) > 1 else ""
    if task == "last_word":
        return _words(sentence)[-1]
    if task == "count_words":
        return number_word(len(sentence.split()))
    if task == "uppercase":
        return sentence.upper()
    raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")


# ---------------------------------------------------------------- data


def load_languages(data_dir: Path) -> dict[str, str]:
    """``{code: English name}`` from ``languages.tsv``, in file order."""
    return read_language_names(Path(data_dir) / "languages.tsv")


def load_templates(data_dir: Path) -> list[Template]:
    """The templates of ``instructions.tsv`` (the package's template format), each of a
    task this script can answer and a split of :data:`SPLITS`: ``train`` (taught here and
    used for the speech model's multi-instruction targets), ``text`` (taught here only: a
    task the LLM knows that no speech training set contains) or ``heldout`` (never taught)."""
    path = Path(data_dir) / "instructions.tsv"
    templates = read_templates(path)
    bad = [t.id for t in templates if t.task not in TASKS or t.split not in SPLITS]
    if bad:
        raise ValueError(f"{path}: templates {bad}: task must be one of {TASKS}, split one of {SPLITS}")
    return templates


def tokenizer_texts(data_dir: Path, n_dev: int, n_test: int) -> list[str]:
    """Text to train the tiny LLM's BPE tokenizer on: the TRAIN sentences (never a dev or
    test one), the filled templates and the answers.

    Newlines split templates into lines, so the list can also be written one item a line
    (``make_tiny_checkpoints --text``) without changing what the tokenizer learns.
    """
    langs = load_languages(data_dir)
    texts = []
    for code, name in langs.items():
        for s in split_sentences(load_sentences(data_dir, code), n_dev, n_test)["train"]:
            texts += [s, s.upper()]
        for t in load_templates(data_dir):
            texts += [line for part in t.render(name) for line in part.split("\n") if line.strip()]
    texts += list(langs.values()) + [number_word(n) for n in range(1, 21)]
    return texts


# ---------------------------------------------------------------- tokenization


class SegmentEncoder:
    """Token ids of strings tokenized on their own (no special tokens), with a cache."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.cache: dict[str, list[int]] = {}

    def __call__(self, text: str, cache: bool = True) -> list[int]:
        ids = self.cache.get(text)
        if ids is None:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []
            if cache:
                self.cache[text] = ids
        return ids


def encode_prompt(tokenizer, prefix: str, sentence: str, postfix: str) -> list[int]:
    """Prompt ids as the speech model sees them: prefix, sentence, postfix tokenized apart."""
    enc = tokenizer if isinstance(tokenizer, SegmentEncoder) else SegmentEncoder(tokenizer)
    return enc(prefix) + enc(sentence, cache=False) + enc(postfix)


@dataclass
class Example:
    lang: str
    template: str
    task: str
    split: str
    sentence: str
    answer: str
    prompt_ids: list
    answer_ids: list  # answer tokens + EOS (training targets)
    in_split_row: bool = True  # evaluation: False = counted in the T row only
    sentence_span: tuple = (0, 0)  # where the sentence's tokens are in prompt_ids
    speech_noise: float = 0.0  # training: noise on the sentence's embeddings (see perturb_speech)


def make_example(enc: SegmentEncoder, eos_id: int, code: str, name: str, t: Template, sentence: str,
                 cache: bool = True) -> Example:
    prefix, postfix = t.render(name)
    ans = answer(t.task, sentence, name)
    head, body = enc(prefix), enc(sentence, cache)
    prompt = head + body + enc(postfix)
    return Example(code, t.id, t.task, t.split, sentence, ans, prompt, enc(ans, cache) + [eos_id],
                   sentence_span=(len(head), len(head) + len(body)))


def build_examples(
    enc: SegmentEncoder,
    eos_id: int,
    langs: dict[str, str],
    sentences: dict[str, list[str]],
    templates: list[Template],
) -> list[Example]:
    """One example per (language, sentence, template)."""
    return [
        make_example(enc, eos_id, code, langs[code], t, s)
        for code, sents in sentences.items() for t in templates for s in sents
    ]


def token_copy_example(enc: SegmentEncoder, eos_id: int, langs: dict[str, str], rng: random.Random,
                       templates: list[Template], ids: list[int]) -> Example:
    """A ``repeat`` example whose "sentence" is the token sequence ``ids`` itself (any tokens)."""
    code = rng.choice(list(langs))
    t = rng.choice(templates)
    prefix, postfix = t.render(langs[code])
    head = enc(prefix)
    return Example(code, t.id, t.task, t.split, "", "", head + list(ids) + enc(postfix),
                   list(ids) + [eos_id], sentence_span=(len(head), len(head) + len(ids)))


def ctc_shaped(e: Example, rng: random.Random, blank_id: int, timing: str = "regular") -> Example:
    """``e`` with its sentence spelled as a CTC head emits it at 50 frames a second.

    ``regular``: every token is followed by 1 to 6 blanks (a few before the first), and
    one in seven is emitted on two frames in a row: ~4.6 positions a token, as the
    recipe's speech has. ``speech``: the timing the recipe's CTC model gives espeak-ng
    speech (measured on dev utterances): also one token in five straight after the
    previous one (no blank between different tokens) and one gap in twelve a pause of
    7 to 24 blanks (between words). BLOOMZ reads the speech embeddings that CTC
    pre-training puts next to its token embeddings, blanks and all; a tiny LM does not
    unless it has seen text in that shape, so the stand-in learns it here on text alone.
    """
    a, b = e.sentence_span
    tokens = e.prompt_ids[a:b]
    shaped = [blank_id] * rng.randint(0, 6)
    for k, tok in enumerate(tokens):
        shaped += [tok] * (2 if rng.random() < 1 / 7 else 1)
        if timing == "regular":
            shaped += [blank_id] * rng.randint(1, 6)
            continue
        needs_blank = k + 1 == len(tokens) or tokens[k + 1] == tok  # the last; equal neighbours (CTC)
        draw = rng.random()
        if draw < 1 / 12:
            gap = rng.randint(7, 24)
        elif draw < 1 / 12 + 1 / 5 and not needs_blank:
            gap = 0
        else:
            gap = rng.randint(1, 6)
        shaped += [blank_id] * gap
    prompt = e.prompt_ids[:a] + shaped + e.prompt_ids[b:]
    return replace(e, prompt_ids=prompt, sentence_span=(a, a + len(shaped)))


class SyntheticSentences:
    """Fresh pseudo-sentences made of a language's TRAIN words, so that copying must be learnt.

    A pseudo-sentence keeps the first and last word of a random train sentence (so ``¿ ... ?``
    and final ``.``/``?`` look real) and draws the words between from all inner words of the
    language's train sentences; it has as many words as real ones (4 to 9 here). Without
    them a small LM memorizes the few hundred train sentences instead of reading its input.
    With probability ``novel_words`` a word is replaced by a new one, the start of one word
    spliced to the end of another (``Spa|nien`` + ``Mar|melade`` -> ``Spamelade``): unseen
    words, as in dev/test sentences, that no memorized spelling helps to copy.
    """

    def __init__(self, sentences: dict[str, list[str]], novel_words: float = 0.0):
        self.sentences = {c: [s.split() for s in sents] for c, sents in sentences.items()}
        self.inner = {c: [w for s in ws for w in s[1:-1]] for c, ws in self.sentences.items()}
        self.long = {c: [w for w in ws if len(w) > 1] for c, ws in self.inner.items()}
        lengths = [len(s) for ws in self.sentences.values() for s in ws]
        self.min_len, self.max_len = max(3, min(lengths)), max(lengths)
        self.novel_words = novel_words

    def _splice(self, rng: random.Random, head: str, tail: str) -> str:
        if len(head) < 2 or len(tail) < 2:
            return head
        return head[: rng.randint(1, len(head) - 1)] + tail[rng.randint(1, len(tail) - 1) :]

    def __call__(self, rng: random.Random, lang: str) -> str:
        first, *_, last = rng.choice(self.sentences[lang])
        n_inner = rng.randint(self.min_len, self.max_len) - 2 if self.inner[lang] else 0
        words = [first, *rng.choices(self.inner[lang], k=n_inner), last]
        if self.novel_words > 0 and self.long[lang]:
            for k, w in enumerate(words):
                if rng.random() < self.novel_words:
                    other = rng.choice(self.long[lang])
                    words[k] = self._splice(rng, other, w) if k == len(words) - 1 else self._splice(rng, w, other)
        return " ".join(words)


# ---------------------------------------------------------------- training


def _epochs(items: list, rng: random.Random):
    """Endless iterator over ``items``, reshuffled every epoch."""
    while True:
        order = list(items)
        rng.shuffle(order)
        yield from order


class ExampleStream:
    """Training examples drawn one at a time: a task (weighted), then a real or synthetic example.

    Real examples of a task come in reshuffled epochs over (train sentence x train template);
    with probability ``synthetic`` the example is instead a fresh pseudo-sentence of a random
    language with a random train template of the task. With probability ``mix`` its template
    is a new one: the prefix of one train template of the task and the postfix of another.
    """

    def __init__(self, real: list[Example], synth: SyntheticSentences, make, templates: list[Template],
                 langs: list[str], task_weights: dict[str, float], synthetic: float, rng: random.Random,
                 mix: float = 0.0, sentences: Optional[dict[str, list[str]]] = None,
                 random_copy: float = 0.0, copy_tokens: Optional[list[int]] = None,
                 copy_template=None, ctc_shape: float = 0.0, blank_id: int = 0, speech_noise: float = 0.0,
                 ctc_timing: str = "regular", ctc_shape_tasks: Optional[set] = None):
        self.tasks = [t for t in TASKS if task_weights.get(t, 1.0) > 0 and any(x.task == t for x in templates)]
        self.weights = [task_weights.get(t, 1.0) for t in self.tasks]
        self.real = {t: _epochs([e for e in real if e.task == t], rng) for t in self.tasks}
        self.templates = {t: [x for x in templates if x.task == t] for t in self.tasks}
        self.synth, self.make, self.langs = synth, make, langs
        self.synthetic, self.rng, self.mix, self.sentences = synthetic, rng, mix, sentences
        self.random_copy, self.copy_tokens, self.copy_template = random_copy, copy_tokens, copy_template
        self.ctc_shape, self.blank_id, self.speech_noise = ctc_shape, blank_id, speech_noise
        self.ctc_timing, self.ctc_shape_tasks = ctc_timing, ctc_shape_tasks

    def __call__(self) -> Example:
        example = self._draw()
        # drawn for every example, shaped or not: without --ctc_shape_tasks the stream is unchanged
        shape_it = self.ctc_shape > 0 and self.rng.random() < self.ctc_shape
        if shape_it and (self.ctc_shape_tasks is None or example.task in self.ctc_shape_tasks):
            example = ctc_shaped(example, self.rng, self.blank_id, self.ctc_timing)
            if self.speech_noise > 0:
                example = replace(example, speech_noise=self.rng.uniform(0.0, self.speech_noise))
        return example

    def _draw(self) -> Example:
        rng = self.rng
        if self.random_copy > 0 and rng.random() < self.random_copy:
            return self.copy_template(rng, rng.choices(self.copy_tokens, k=rng.randint(6, 24)))
        task = rng.choices(self.tasks, self.weights)[0]
        synthetic = rng.random() < self.synthetic
        mixed = self.mix > 0 and rng.random() < self.mix
        if not synthetic and not mixed:
            return next(self.real[task])
        lang = rng.choice(self.langs)
        template = rng.choice(self.templates[task])
        if mixed:
            other = rng.choice(self.templates[task])
            template = Template(f"{template.id}+{other.id}", task, "train", template.prefix, other.postfix)
        sentence = self.synth(rng, lang) if synthetic else rng.choice(self.sentences[lang])
        return self.make(lang, template, sentence)


def make_batches(draw, batch_size: int, rng: random.Random, bucket: int = 32):
    """Endless stream of batches from ``draw()``; pools of ``bucket`` batches are sorted by
    length before they are cut into batches (shuffled), to limit padding."""
    while True:
        pool = sorted((draw() for _ in range(batch_size * bucket)),
                      key=lambda e: len(e.prompt_ids) + len(e.answer_ids))
        batches = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
        rng.shuffle(batches)
        yield from batches


def collate_train(batch: list[Example], pad_id: int):
    """Right-padded ``input_ids``, ``attention_mask``, ``labels`` (-100 on prompt/padding)
    and ``noise``: each position's speech-noise level (0 outside noisy sentences)."""
    import torch

    seqs = [e.prompt_ids + e.answer_ids for e in batch]
    width = max(map(len, seqs))
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    noise = torch.zeros((len(batch), width))
    for i, (e, s) in enumerate(zip(batch, seqs)):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
        labels[i, len(e.prompt_ids) : len(s)] = torch.tensor(e.answer_ids)
        noise[i, e.sentence_span[0] : e.sentence_span[1]] = e.speech_noise
    return ids, mask, labels, noise


def perturb_speech(embeds, noise, weight, generator, offset: float = 0.0):
    """Embeddings of CTC-shaped sentences made to look like a speech encoder's frames.

    A frame trained with CTC against the tied embedding matrix is not a token's embedding
    but a vector the softmax over ``frame @ E.T`` prefers it for: near it, with a share of
    other tokens (the posterior's other mass) and noise. At a position of level ``s`` (from
    ``noise``), the frame is ``(1 - m) E[tok] + m E[other] + s * rms(E) * N(0, I)`` with
    ``m ~ U(0, s / 2)`` and ``other`` a random token, so the LLM learns to read such frames
    on text alone before the speech model ever feeds it some. With ``offset`` > 0 every
    frame of a sentence also gets one shared vector ``offset * s * rms(E) * N(0, I)``: the
    recipe's CTC frames carry a component common to an utterance (a third of their
    energy, against a sixth along ``E[tok]``). BLOOM's embedding layer norm then removes
    the scale, as it does for the speech model's frames.
    """
    import torch

    level = noise.unsqueeze(-1)
    others = torch.randint(0, weight.size(0), noise.shape, generator=generator)
    share = torch.rand(noise.shape, generator=generator).unsqueeze(-1) * level / 2
    gauss = torch.randn(embeds.shape, generator=generator)
    rms = weight.detach().pow(2).mean().sqrt()
    out = (1 - share) * embeds + share * weight[others] + level * rms * gauss
    if offset > 0:
        shared = torch.randn((embeds.size(0), 1, embeds.size(-1)), generator=generator)
        out = out + offset * level * rms * shared
    return out


def answer_loss(model, ids, mask, labels, noise=None, generator=None, offset: float = 0.0):
    """Mean cross-entropy over the answer tokens; logits only where they are scored."""
    import torch.nn.functional as F

    embeds = model.transformer.word_embeddings(ids)
    if noise is not None and bool((noise > 0).any()):
        embeds = perturb_speech(embeds, noise, model.transformer.word_embeddings.weight, generator, offset)
    hidden = model.transformer(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
    next_labels = labels[:, 1:]
    scored = next_labels != -100
    logits = model.lm_head(hidden[:, :-1][scored])
    return F.cross_entropy(logits, next_labels[scored])


def lr_factor(progress: float, warmup: float, schedule: str) -> float:
    """Linear warmup over the first ``warmup`` of training, then cosine/linear decay to 0."""
    if progress < warmup:
        return progress / warmup
    rest = min(1.0, (progress - warmup) / max(1e-8, 1.0 - warmup))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * rest))
    return 1.0 - rest


# ---------------------------------------------------------------- evaluation


def generate_answers(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, batch_size: int):
    """Greedy continuations (decoded text up to EOS) of ``prompts``, batched with LEFT padding."""
    from espnet2_bloomzmms.text_generation import TextGenerator

    return TextGenerator(model, tokenizer).generate_from_ids(prompts, max_new_tokens, batch_size)


def evaluate(model, tokenizer, examples: list[Example], max_new_tokens: int, batch_size: int) -> dict:
    """Greedy exact match per task, for train and held-out templates (and the ASR template T)."""
    model.eval()
    hyps = generate_answers(model, tokenizer, [e.prompt_ids for e in examples], max_new_tokens, batch_size)
    counts: dict = {}
    for e, h in zip(examples, hyps):
        keys = [(e.task, e.split)] if e.in_split_row else []
        keys += [(e.task, ASR_TEMPLATE_ID)] if e.template == ASR_TEMPLATE_ID else []
        for key in keys:
            c = counts.setdefault(key, [0, 0])
            c[0] += int(h == e.answer)
            c[1] += 1
    result: dict = {"tasks": {}, "errors": []}
    for task in TASKS:
        row = {}
        for split in (*SPLITS, ASR_TEMPLATE_ID):
            if (task, split) in counts:
                ok, n = counts[(task, split)]
                row[split] = {"accuracy": ok / n, "correct": ok, "n": n}
        if row:
            result["tasks"][task] = row
    # A few wrong answers per task, to see what fails.
    shown: dict = {}
    for e, h in zip(examples, hyps):
        if h != e.answer and shown.get(e.task, 0) < 5:
            shown[e.task] = shown.get(e.task, 0) + 1
            result["errors"].append({"task": e.task, "template": e.template, "lang": e.lang,
                                     "sentence": e.sentence, "answer": e.answer, "hyp": h})
    return result


def format_table(result: dict) -> str:
    lines = [f"{'task':<12} {'train tmpl':>12} {'text only':>12} {'held-out':>12} {'T (ASR)':>12}"]
    for task, row in result["tasks"].items():
        cells = []
        for split in (*SPLITS, ASR_TEMPLATE_ID):
            r = row.get(split)
            cells.append(f"{100 * r['accuracy']:6.1f}% {r['n']:>4}" if r else f"{'-':>12}")
        lines.append(f"{task:<12} " + " ".join(f"{c:>12}" for c in cells))
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def parse_task_weights(spec: str) -> dict[str, float]:
    """``"repeat=2,language=1"`` -> ``{"repeat": 2.0, "language": 1.0}``."""
    weights = {}
    for item in filter(None, (x.strip() for x in spec.split(","))):
        task, _, value = item.partition("=")
        if task not in TASKS:
            raise ValueError(f"--task_weights: unknown task {task!r}")
        weights[task] = float(value)
    return weights


def parse_tasks(spec: str) -> Optional[set]:
    """``"repeat,language"`` -> ``{"repeat", "language"}``; ``""`` -> None (every task)."""
    tasks = {x.strip() for x in spec.split(",") if x.strip()}
    unknown = sorted(tasks - set(TASKS))
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; tasks are {TASKS}")
    return tasks or None


def cpu_has_fast_bf16() -> bool:
    """Whether oneDNN runs bf16 natively here (AVX512-BF16 / AMX); else bf16 would be slow."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # noqa: BLE001 - private API; float32 is always safe
        return False


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Teach a tiny BLOOM to follow the recipe's text instructions (stand-in for BLOOMZ).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--llm_dir", type=Path, required=True, help="tiny BLOOM dir (model + tokenizer)")
    p.add_argument("--data_dir", type=Path, default=Path("local/data"))
    p.add_argument("--output_dir", type=Path, required=True, help="where the taught LLM goes")
    p.add_argument("--langs", nargs="+", default=None, help="language codes (default: languages.tsv)")
    p.add_argument("--n_dev", type=int, default=20, help="dev sentences per language (after train)")
    p.add_argument("--n_test", type=int, default=20, help="test sentences per language (the last ones)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--warmup", type=float, default=0.05, help="fraction of training")
    p.add_argument("--schedule", choices=("cosine", "linear"), default="cosine")
    p.add_argument("--weight_decay", type=float, default=0.01)
    p.add_argument("--grad_clip", type=float, default=1.0)
    p.add_argument("--mix_templates", type=float, default=0.0,
                   help="fraction of examples whose template joins the prefix of one train template "
                        "with the postfix of another of the same task (more phrasings)")
    p.add_argument("--novel_words", type=float, default=0.0,
                   help="probability that a word of a pseudo-sentence is a new word spliced from "
                        "two train words (copying unseen words)")
    p.add_argument("--random_copy", type=float, default=0.0,
                   help="fraction of examples that copy a random sequence of train-sentence tokens "
                        "(a 'repeat' template around token ids, not text): copying for every token")
    p.add_argument("--ctc_shape", type=float, default=0.0,
                   help="fraction of examples whose sentence is spelled as a CTC head emits it "
                        "(tokens separated by blanks, some doubled): the speech model's input shape")
    p.add_argument("--ctc_shape_tasks", default="",
                   help="comma-separated tasks whose examples --ctc_shape may shape (default: all); "
                        "'repeat': the ASR task only, so that, like BLOOMZ, the LLM follows no other "
                        "instruction on speech-like input unless a speech model makes it read as text")
    p.add_argument("--speech_noise", type=float, default=0.0,
                   help="the CTC-shaped sentences are fed as embeddings with noise of a level drawn "
                        "from U(0, this), in units of the embeddings' RMS, mixed with random tokens "
                        "(perturb_speech): reading a speech encoder's frames")
    p.add_argument("--ctc_timing", choices=("regular", "speech"), default="regular",
                   help="blanks between the tokens of --ctc_shape examples: 1 to 6 ('regular'), or "
                        "as the recipe's CTC model emits speech: also none, and pauses ('speech')")
    p.add_argument("--speech_offset", type=float, default=0.0,
                   help="the frames of a noisy sentence also share one offset vector, this many "
                        "times the sentence's noise level (perturb_speech)")
    p.add_argument("--freeze_embeddings", action="store_true",
                   help="keep the token embeddings as they are (a later teaching phase: the "
                        "geometry a speech model's tied CTC head is trained against stays put)")
    p.add_argument("--blank_id", type=int, default=None,
                   help="token id of the CTC blank in --ctc_shape examples (default: the EOS token, "
                        "the blank of the recipe's CTC configs)")
    p.add_argument("--task_weights", default="",
                   help="sampling weights of tasks, e.g. 'repeat=2,language=1' (others: 1)")
    p.add_argument("--synthetic", type=float, default=0.5,
                   help="fraction of each batch made of fresh pseudo-sentences (train words of "
                        "the language in random order) with random train templates")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--log_every", type=int, default=50)
    p.add_argument("--num_threads", type=int, default=2)
    p.add_argument("--autocast", choices=("auto", "bf16", "none"), default="auto",
                   help="bf16 autocast for training (auto: where the CPU does bf16 natively); "
                        "the model stays float32 and is evaluated and saved in float32")
    p.add_argument("--eval_batch_size", type=int, default=128)
    p.add_argument("--max_new_tokens", type=int, default=48)
    p.add_argument("--max_dev", type=int, default=0, help="evaluate the first N dev examples only (0: all)")
    p.add_argument("--eval_train_templates", choices=("all", "cycle"), default="cycle",
                   help="'all': every dev sentence with every train template; 'cycle': each dev "
                        "sentence with one train template per task, in turn (plus T always)")
    return p


class Log:
    """Progress lines with the seconds since the start."""

    def __init__(self):
        self.start = time.time()

    def __call__(self, msg: str) -> None:
        print(f"[teach_llm {time.time() - self.start:7.1f}s] {msg}", flush=True)


def dev_examples(dev: list[Example], splits: dict, train_tmpl: list[Template], which: str) -> list[Example]:
    """The dev examples evaluated: all, or (``which="cycle"``) each dev sentence with one
    train template per task in turn, plus every held-out template and the ASR template T."""
    if which == "all":
        return dev
    by_task = {task: [t.id for t in train_tmpl if t.task == task] for task in TASKS}
    index = {(c, s): i for c, sp in splits.items() for i, s in enumerate(sp["dev"])}
    kept = []
    for e in dev:
        turn = (index[(e.lang, e.sentence)] + TASKS.index(e.task)) % len(by_task[e.task])
        e.in_split_row = e.split == "heldout" or by_task[e.task][turn] == e.template
        if e.in_split_row or e.template == ASR_TEMPLATE_ID:
            kept.append(e)
    return kept


def example_stream(args, enc: SegmentEncoder, eos_id: int, langs: dict[str, str], splits: dict,
                   train: list[Example], train_tmpl: list[Template], blank_id: int) -> "ExampleStream":
    """The training examples as the options ask for them (synthetic, mixed, copies, CTC shape)."""
    codes = list(langs)
    sentences = {c: s["train"] for c, s in splits.items()}
    return ExampleStream(
        train,
        SyntheticSentences(sentences, args.novel_words),
        lambda code, t, sentence: make_example(enc, eos_id, code, langs[code], t, sentence, cache=False),
        train_tmpl, codes, parse_task_weights(args.task_weights), args.synthetic, random.Random(args.seed),
        mix=args.mix_templates, sentences=sentences,
        random_copy=args.random_copy,
        copy_tokens=sorted({i for c in codes for s in splits[c]["train"] for i in enc(s)}),
        copy_template=lambda rng, ids: token_copy_example(
            enc, eos_id, langs, rng, [t for t in train_tmpl if t.task == "repeat"], ids),
        ctc_shape=args.ctc_shape, blank_id=blank_id, speech_noise=args.speech_noise,
        ctc_timing=args.ctc_timing, ctc_shape_tasks=parse_tasks(args.ctc_shape_tasks),
    )


def optimizer(model, args):
    """AdamW; no weight decay on the embeddings, biases and norms."""
    import torch

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in params if p.ndim >= 2 and "word_embeddings" not in n]
    no_decay = [p for n, p in params if not (p.ndim >= 2 and "word_embeddings" not in n)]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.98), eps=1e-8,
    )


def teach(model, batches, pad_id: int, args, log: Log) -> dict:
    """The training loop: exactly ``args.steps`` updates (no time limit, so that the result
    does not depend on the machine's load); returns the loss history and the time it took."""
    import torch

    opt = optimizer(model, args)
    generator = torch.Generator().manual_seed(args.seed + 3)  # speech noise
    use_bf16 = args.autocast == "bf16" or (args.autocast == "auto" and cpu_has_fast_bf16())
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if use_bf16 else contextlib.nullcontext
    log(f"training with {'bf16 autocast' if use_bf16 else 'float32'}")
    model.train()
    history, run_loss, run_n, step = [], 0.0, 0, 0
    t_train, cpu_train = time.time(), time.process_time()
    for step in range(1, args.steps + 1):
        lr = args.lr * lr_factor((step - 1) / args.steps, args.warmup, args.schedule)
        for g in opt.param_groups:
            g["lr"] = lr
        ids, mask, labels, noise = collate_train(next(batches), pad_id)
        with autocast():
            loss = answer_loss(model, ids, mask, labels, noise, generator, args.speech_offset)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if args.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        opt.step()
        run_loss += loss.item()
        run_n += 1
        if step % args.log_every == 0 or step == args.steps:
            avg = run_loss / run_n
            cpu = time.process_time() - cpu_train
            history.append({"step": step, "loss": avg, "lr": lr, "elapsed_s": time.time() - t_train, "cpu_s": cpu})
            log(f"step {step:5d}/{args.steps} loss {avg:.4f} lr {lr:.2e} "
                f"train time {time.time() - t_train:6.1f}s (cpu {cpu:6.1f}s)")
            run_loss, run_n = 0.0, 0
    if run_n:
        history.append({"step": step, "loss": run_loss / run_n, "lr": lr, "elapsed_s": time.time() - t_train,
                        "cpu_s": time.process_time() - cpu_train})
    return {"steps_done": step, "history": history, "autocast_bf16": use_bf16,
            "train_seconds": time.time() - t_train, "train_cpu_seconds": time.process_time() - cpu_train}


def evaluate_dev(model, tokenizer, dev: list[Example], args, blank_id: int, log: Log) -> dict:
    """Greedy exact match on the dev examples (and, with ``--ctc_shape``, on the same
    examples with their sentences in CTC shape)."""
    t_eval = time.time()
    result = evaluate(model, tokenizer, dev, args.max_new_tokens, args.eval_batch_size)
    result.update(split="dev", eval_s=time.time() - t_eval)
    log(f"dev greedy exact match ({result['eval_s']:.1f}s):\n{format_table(result)}")
    if args.ctc_shape > 0:
        shape_rng = random.Random(args.seed + 2)
        shaped = [ctc_shaped(e, shape_rng, blank_id, args.ctc_timing) for e in dev]
        result["ctc_shaped"] = evaluate(model, tokenizer, shaped, args.max_new_tokens, args.eval_batch_size)
        log(f"dev greedy exact match, sentences in CTC shape:\n{format_table(result['ctc_shaped'])}")
    return result


def save(out_dir: Path, llm_dir: Path, model, tokenizer, result: dict, config: dict, history: list) -> None:
    """The taught model and tokenizer with eval.json, teach_config.json and train_log.json,
    written atomically."""

    def write(tmp: Path) -> None:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        # keep the source tokenizer files byte for byte (tokenizer_class as in bloomz)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (Path(llm_dir) / name).is_file():
                shutil.copy2(Path(llm_dir) / name, tmp / name)
        for obj, name in ((result, "eval.json"), (config, "teach_config.json"), (history, "train_log.json")):
            (tmp / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    write_dir_atomically(out_dir, write)


def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.num_threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    log = Log()

    langs_all = load_languages(args.data_dir)
    codes = args.langs or list(langs_all)
    langs = {c: langs_all[c] for c in codes}
    templates = load_templates(args.data_dir)
    splits = {c: split_sentences(load_sentences(args.data_dir, c), args.n_dev, args.n_test) for c in codes}

    tokenizer = AutoTokenizer.from_pretrained(args.llm_dir)
    model = AutoModelForCausalLM.from_pretrained(args.llm_dir, dtype=torch.float32)
    if args.freeze_embeddings:  # (tied: the output layer stays too)
        model.get_input_embeddings().weight.requires_grad_(False)
    enc, eos_id = SegmentEncoder(tokenizer), tokenizer.eos_token_id
    blank_id = eos_id if args.blank_id is None else args.blank_id  # of --ctc_shape examples

    train_tmpl = [t for t in templates if t.split in ("train", "text")]
    train = build_examples(enc, eos_id, langs, {c: s["train"] for c, s in splits.items()}, train_tmpl)
    dev = dev_examples(build_examples(enc, eos_id, langs, {c: s["dev"] for c, s in splits.items()}, templates),
                       splits, train_tmpl, args.eval_train_templates)
    if args.max_dev:
        dev = dev[:: max(1, len(dev) // args.max_dev)][: args.max_dev]  # spread over languages and tasks
    n_params = sum(p.numel() for p in model.parameters())
    mean_len = sum(len(e.prompt_ids) + len(e.answer_ids) for e in train) / len(train)
    log(f"{len(train)} train examples (mean {mean_len:.1f} tokens), {len(dev)} dev examples; "
        f"model {n_params / 1e6:.2f} M params (hidden {model.config.hidden_size}, "
        f"{model.config.n_layer} layers, vocab {model.config.vocab_size})")

    stream = example_stream(args, enc, eos_id, langs, splits, train, train_tmpl, blank_id)
    run = teach(model, make_batches(stream, args.batch_size, random.Random(args.seed + 1)),
                tokenizer.pad_token_id, args, log)
    result = evaluate_dev(model, tokenizer, dev, args, blank_id, log)
    config = {
        **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "langs": codes,
        **{k: run[k] for k in ("steps_done", "train_seconds", "train_cpu_seconds")},
        "n_train_examples": len(train),
        "n_params": n_params,
        "autocast_bf16": run["autocast_bf16"],
        "model": {k: getattr(model.config, k) for k in ("hidden_size", "n_layer", "n_head", "vocab_size")},
        "torch": torch.__version__,
        "argv": sys.argv if argv is None else list(argv),
    }
    save(args.output_dir, args.llm_dir, model, tokenizer, result, config, run["history"])
    log(f"wrote {args.output_dir} (train {run['train_seconds']:.1f}s, total {time.time() - log.start:.1f}s)")
    return result


if __name__ == "__main__":
    main()
