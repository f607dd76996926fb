"""T / MI / TMI data dirs from a real data dir and the tiny LLM."""

import json
import shutil

import pytest

from espnet2_bloomzmms.bin import make_instruction_targets
from espnet2_bloomzmms.data.datadir import read_kv, validate_data_dir, write_kv
from espnet2_bloomzmms.text_generation import TextGenerator

POOL = (
    "T\trepeat\ttrain\tRepeat the sentence: \t. \n"
    "rep1\trepeat\ttrain\tA text in {lang}: \t\\nThe same text:\n"
    "lang1\tlanguage\ttrain\t\t\\nWhich language is this?\n"
    "first1\tfirst_word\ttrain\tSentence: \t\\nIts first word:\n"
    "held\trepeat\theldout\tSay it: \t\n"
)


@pytest.fixture
def setup(espeak_data_dir, tiny_llm_dir, tmp_path):
    (tmp_path / "pool.tsv").write_text(POOL, encoding="utf-8")
    (tmp_path / "languages.tsv").write_text("en\tEnglish\ten\nde\tGerman\tde\n", encoding="utf-8")
    src = tmp_path / "train"
    shutil.copytree(espeak_data_dir, src)
    (src / "utt2num_samples").write_text("".join(f"{u} 1000\n" for u in read_kv(src / "wav.scp")))

    def run(exp="exp", **kw):
        cmd = ["--src", str(src), "--llm", str(tiny_llm_dir), "--templates", str(tmp_path / "pool.tsv"),
               "--languages", str(tmp_path / "languages.tsv"), "--dst_prefix", str(tmp_path / exp / "train"),
               "--exp_dir", str(tmp_path / exp / "targets"), "--k", "2", "--max_new_tokens", "8"]
        for key, value in kw.items():
            cmd += [f"--{key}", *value] if isinstance(value, list) else [f"--{key}", str(value)]
        make_instruction_targets.main(cmd)
        return tmp_path / exp

    return src, run, tiny_llm_dir


def test_variants(setup):
    src, run, llm = setup
    out = run()
    text, utt2lang = read_kv(src / "text"), read_kv(src / "utt2lang")
    t_dir, mi_dir, tmi_dir = (out / f"train_{v}" for v in ("T", "MI", "TMI"))
    assert read_kv(t_dir / "text") == text
    assert set(read_kv(t_dir / "prefix").values()) == {"Repeat the sentence: "}
    mi_text, mi_prefix, mi_postfix = (read_kv(mi_dir / f) for f in ("text", "prefix", "postfix"))
    expected_answers = TextGenerator.load(str(llm)).generate(
        [(mi_prefix[u], text[u.rsplit("-", 1)[0]], mi_postfix[u]) for u in mi_text], 8)
    assert list(mi_text.values()) == [a.strip() for a in expected_answers]
    for uid in mi_text:
        orig, tid = uid.rsplit("-", 1)
        assert tid in {"rep1", "lang1", "first1"}  # never the ASR template, never held out
        if tid == "rep1":
            assert mi_prefix[uid] == {"en": "A text in English: ", "de": "A text in German: "}[utt2lang[orig]]
    assert len(mi_text) <= 2 * len(text)
    assert set(read_kv(tmi_dir / "text")) == set(text) | set(mi_text)
    assert read_kv(mi_dir / "utt2num_samples") == {u: "1000" for u in mi_text}
    for d in (t_dir, mi_dir, tmi_dir):
        validate_data_dir(d, check_audio=False)
        # whatever the target, the transcript stays beside it (the CTC target)
        ids = read_kv(d / "text")
        assert read_kv(d / "transcript") == {u: text[u.rsplit("-", 1)[0] if u not in text else u] for u in ids}
    assert (out / "targets" / "templates.tsv").read_text() == (src.parent / "pool.tsv").read_text()
    assert json.loads((out / "targets" / "settings.json").read_text())["seed"] == "0"


def test_rerun_uses_the_cache_and_regeneration_is_identical(setup, monkeypatch):
    src, run, _ = setup
    first = read_kv(run() / "train_MI" / "text")
    again = read_kv(run(exp="again") / "train_MI" / "text")
    assert again == first  # a new exp dir regenerates bit for bit

    class NoGeneration:
        @classmethod
        def load(cls, *a, **k):
            raise AssertionError("answers should come from the cache")

    monkeypatch.setattr(make_instruction_targets, "TextGenerator", NoGeneration)
    assert read_kv(run() / "train_MI" / "text") == first
    with pytest.raises(SystemExit, match="other settings"):
        run(seed=1)


def test_unknown_language_is_named(setup, tmp_path):
    src, run, _ = setup
    (tmp_path / "languages.tsv").write_text("en\tEnglish\ten\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"utt2lang: languages \['de'\]"):
        run()


def test_template_ids_with_hyphens(setup, tmp_path):
    """``u-<template id>`` is split back to ``u`` by the record, not by the last "-"."""
    src, run, _ = setup
    pool = tmp_path / "pool.tsv"
    pool.write_text(pool.read_text().replace("rep1\t", "rep-1\t").replace("lang1\t", "lang-x-1\t"))
    mi_dir = run() / "train_MI"
    text, transcript = read_kv(src / "text"), read_kv(mi_dir / "transcript")
    assert any(u.endswith(("-rep-1", "-lang-x-1")) for u in transcript)
    for uid, said in transcript.items():
        orig = next(u for u in text if uid.startswith(u + "-"))
        assert said == text[orig]


def test_mi_templates_from_a_json_list_of_prompt_pairs(setup, tmp_path):
    """The authors' templates.json format: [prefix, postfix] pairs, language names written in."""
    src, run, _ = setup
    pairs = [["", " The previous text is in Swahili. Here is a translation to Hindi:"],
             ["A text in Catalan: ", "\nThe same text in Malayalam:"], ["Summarize: ", "\n"]]
    (tmp_path / "pairs.json").write_text(json.dumps(pairs))
    out = run(mi_templates=tmp_path / "pairs.json")
    prefix, postfix = read_kv(out / "train_MI" / "prefix"), read_kv(out / "train_MI" / "postfix")
    assert prefix and {(prefix[u], postfix[u]) for u in prefix} <= {tuple(p) for p in pairs}
    assert all(u.rsplit("-", 1)[1] in {"x0", "x1", "x2"} for u in prefix)
    assert (out / "targets" / "mi_templates.json").read_text() == json.dumps(pairs)
    (tmp_path / "bad.json").write_text(json.dumps([["a", "b"], ["only one"]]))
    with pytest.raises(ValueError, match=r"bad.json: entry 1 is not a \[prefix, postfix\] pair"):
        run(exp="bad", mi_templates=tmp_path / "bad.json")


def test_sharded_generation_gives_the_targets_of_one_job(setup, monkeypatch):
    """3 shard jobs generate disjoint parts of the answers; the final run generates nothing
    and writes the same data dirs as one job did."""
    src, run, _ = setup
    one = run(exp="one")
    for shard in (1, 2, 3):
        run(exp="three", num_shards=3, shard=shard)
    targets = one.parent / "three" / "targets"
    assert not list((one.parent / "three").glob("train_*"))  # shards write no data dirs
    parts = [make_instruction_targets.read_cache(targets / f"answers.{j}-of-3.jsonl") for j in (1, 2, 3)]
    assert sum(map(len, parts)) == len(make_instruction_targets.read_cache(one / "targets" / "answers.jsonl"))
    assert not set(parts[0]) & set(parts[1])

    class NoGeneration:
        @classmethod
        def load(cls, *a, **k):
            raise AssertionError("every answer should come from the shards")

    monkeypatch.setattr(make_instruction_targets, "TextGenerator", NoGeneration)
    three = run(exp="three", num_shards=3)
    for variant in ("T", "MI", "TMI"):
        for name in ("text", "prefix", "postfix", "transcript", "wav.scp"):
            assert (three / f"train_{variant}" / name).read_text() == (one / f"train_{variant}" / name).read_text()
    with pytest.raises(SystemExit, match=r"--shard must be within 1..3"):
        run(exp="three", num_shards=3, shard=4)


def test_a_line_cut_off_by_a_kill_is_generated_again(setup):
    src, run, _ = setup
    out = run()
    cache = out / "targets" / "answers.jsonl"
    lines = cache.read_text(encoding="utf-8").splitlines(keepends=True)
    cache.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2], encoding="utf-8")
    before = read_kv(out / "train_MI" / "text")
    assert read_kv(run() / "train_MI" / "text") == before
    assert len(make_instruction_targets.read_cache(cache)) == len(lines)  # the cut line's answer came back


def test_speed_perturbed_copies_share_their_originals_prompts(setup, tmp_path):
    """With utt2uniq (what speed perturbation writes), the copy ``sp0.9-u`` draws the
    templates and {target} languages of ``u``: the same prompts, generated once."""
    src, run, _ = setup
    from espnet2_bloomzmms.data.datadir import read_data_dir, write_data_dir

    utts = read_data_dir(src)
    copies = {f"sp0.9-{u}": f for u, f in utts.items()}
    write_data_dir(src, {**utts, **copies})
    write_kv(src / "utt2uniq", {**{u: u for u in utts}, **{c: c[len("sp0.9-"):] for c in copies}})
    write_kv(src / "utt2num_samples", {u: "1000" for u in {**utts, **copies}})
    pool = tmp_path / "pool.tsv"
    pool.write_text(pool.read_text() + "tgt1\ttranslate\ttrain\tTranslate to {target}: \t\\nIn {target}:\n")
    out = run(k=4)
    prefix, text = read_kv(out / "train_MI" / "prefix"), read_kv(out / "train_MI" / "text")
    for uid in prefix:
        if uid.startswith("sp0.9-"):
            assert prefix[uid] == prefix[uid[len("sp0.9-"):]] and text[uid] == text[uid[len("sp0.9-"):]]
    cache = make_instruction_targets.read_cache(out / "targets" / "answers.jsonl")
    postfix, said = read_kv(out / "train_MI" / "postfix"), read_kv(out / "train_MI" / "transcript")
    originals = {(prefix[u], said[u], postfix[u]) for u in prefix if not u.startswith("sp")}
    assert set(cache) == originals  # the copies added no prompt of their own
    drawn = [p for u, p in prefix.items() if u.endswith("-tgt1")]
    assert drawn and all(p in ("Translate to English: ", "Translate to German: ") for p in drawn)
    lang = read_kv(src / "utt2lang")
    for u in (u for u in prefix if u.endswith("-tgt1")):  # never into the utterance's own language
        assert prefix[u] != {"en": "Translate to English: ", "de": "Translate to German: "}[lang[u.rsplit("-", 1)[0]]]
