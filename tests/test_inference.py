"""Inference API: generation, batching, answer scoring, CTC, model files, bad input."""

import copy
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from tiny_model_configs import tiny_model_config

from espnet2_bloomzmms.inference import BloomzMMS, llm_context_length
from espnet2_bloomzmms.model_archive import ArchiveError, find_model_file, pack_model, unpack_model
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask
from espnet2_bloomzmms.testing.speech_embeddings import standardize_adaptor

LENGTHS = (16000, 9000, 23000, 12500)
PREFIXES = ["Repeat the sentence: ", "Translate into German: ", "", "Say: "]
POSTFIXES = [". ", "", " -> ", ". "]


def write_sharp_llm(src: Path, dst: Path) -> Path:
    """The tiny LLM with larger random weights, so its output depends on the speech.

    The tiny checkpoint's 0.02-std weights make every prompt continue the same way
    (the last instruction token decides), which would make batching tests vacuous.
    """
    from transformers import AutoModelForCausalLM

    if not dst.exists():
        shutil.copytree(src, dst)
        llm = AutoModelForCausalLM.from_pretrained(dst)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in llm.parameters():
                if p.ndim == 2:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
        llm.save_pretrained(dst)
    return dst


def write_exp(mms_dir: Path, llm_dir: Path, exp: Path, **config_updates) -> Path:
    """A tiny trained-looking experiment dir: config.yaml + valid.acc.ave.pth."""
    config = tiny_model_config(mms_dir, llm_dir)
    config.update(config_updates)
    exp.mkdir(parents=True, exist_ok=True)
    (exp / "train.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    args = BloomzMMSTask.get_parser().parse_args(["--config", str(exp / "train.yaml"), "--output_dir", str(exp)])
    torch.manual_seed(0)
    model = BloomzMMSTask.build_model(args)
    noise = np.random.default_rng(1).standard_normal(16000).astype(np.float32) * 0.1
    standardize_adaptor(model, [noise, noise[:12000]])
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)), encoding="utf-8")
    torch.save(model.state_dict(), exp / "valid.acc.ave.pth")
    return exp


@pytest.fixture(scope="module")
def sharp_llm_dir(tiny_llm_dir, tmp_path_factory):
    return write_sharp_llm(tiny_llm_dir, tmp_path_factory.mktemp("sharp") / "llm")


@pytest.fixture(scope="module")
def exp_dir(tiny_mms_dir, sharp_llm_dir, tmp_path_factory):
    return write_exp(
        tiny_mms_dir, sharp_llm_dir, tmp_path_factory.mktemp("exp") / "exp",
        preprocessor_conf={"default_prefix": "Transcribe: ", "default_postfix": " -> "},
    )


@pytest.fixture(scope="module")
def bloomz(exp_dir):
    return BloomzMMS.from_pretrained(exp_dir, max_new_tokens=8)


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(0)
    return [rng.standard_normal(n).astype(np.float32) * 0.1 for n in LENGTHS]


def with_settings(bloomz, **settings):
    """The same model with other decoding settings."""
    other = copy.copy(bloomz)
    for name, value in settings.items():
        setattr(other, name, value)
    return other


# ----------------------------------------------------------------------- generation


def test_batched_greedy_equals_unbatched(bloomz, waves):
    batched = bloomz.generate_ids(bloomz.encode(waves))
    alone = [bloomz.generate_ids(bloomz.encode([w]))[0] for w in waves]
    assert batched == alone
    assert len({tuple(ids) for ids in batched}) > 1, "outputs should depend on the speech"
    assert bloomz.batch(waves) == [bloomz(w) for w in waves]
    # the left-padded prompt scores the next token as the unpadded one does (ALiBi, mask)
    inputs, mask = bloomz.prompt(bloomz.encode(waves))
    assert not mask[:, 0].all() and mask[:, -1].all()
    with torch.no_grad():
        last = bloomz.llm(inputs_embeds=inputs, attention_mask=mask.long()).logits[:, -1]
        for i, w in enumerate(waves):
            one, _ = bloomz.prompt(bloomz.encode([w]))
            torch.testing.assert_close(last[i], bloomz.llm(inputs_embeds=one).logits[0, -1], atol=1e-4, rtol=1e-4)


def test_batched_equals_unbatched_with_per_utterance_instructions(bloomz, waves):
    enc = bloomz.encode(waves)
    batched = bloomz.generate_ids(enc, PREFIXES, POSTFIXES)
    alone = [bloomz.generate_ids(bloomz.encode([w]), p, q)[0] for w, p, q in zip(waves, PREFIXES, POSTFIXES)]
    assert batched == alone
    assert batched != bloomz.generate_ids(enc), "the instruction should matter"
    assert bloomz.batch(waves, PREFIXES, POSTFIXES) == [bloomz(w, p, q) for w, p, q in zip(waves, PREFIXES, POSTFIXES)]


def reference_greedy(bloomz, wave, prefix=None, postfix=None):
    """Greedy decoding without padding or KV cache: rerun the LLM on the whole sequence."""
    seq = bloomz.prompt(bloomz.encode([wave]), prefix, postfix)[0][0]
    ids = []
    with torch.no_grad():
        for _ in range(bloomz.max_new_tokens):
            token = int(bloomz.llm(inputs_embeds=seq[None]).logits[0, -1].argmax())
            ids.append(token)
            if token == bloomz.eos_token_id:
                break
            seq = torch.cat([seq, bloomz.model.decoder.embed(torch.tensor([token]))])
    return ids


def test_kv_cache_generation_equals_recomputation(bloomz, waves):
    # HF's generate always caches when given inputs_embeds, so the reference is a loop
    got = bloomz.generate_ids(bloomz.encode(waves), PREFIXES, POSTFIXES)
    for i in (0, 1, 3):
        assert got[i] == reference_greedy(bloomz, waves[i], PREFIXES[i], POSTFIXES[i])


def test_default_instructions_come_from_the_training_config(bloomz, waves, exp_dir):
    assert (bloomz.default_prefix, bloomz.default_postfix) == ("Transcribe: ", " -> ")
    assert bloomz(waves[0]) == bloomz(waves[0], "Transcribe: ", " -> ")
    other = BloomzMMS(exp_dir / "config.yaml", exp_dir / "valid.acc.ave.pth", default_prefix="Say: ")
    assert (other.default_prefix, other.default_postfix) == ("Say: ", " -> ")


def test_beam_search(bloomz, waves):
    beam = with_settings(bloomz, num_beams=3, length_penalty=0.8, repetition_penalty=1.2, no_repeat_ngram_size=2)
    texts = beam.batch(waves)
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    assert texts == [beam(w) for w in waves]


def test_repetition_penalty_does_not_depend_on_padding(bloomz, waves):
    # transformers' own processor would skip a padded row's first generated tokens
    penalised = with_settings(bloomz, repetition_penalty=1.5)
    batched = penalised.generate_ids(penalised.encode(waves))
    assert batched == [penalised.generate_ids(penalised.encode([w]))[0] for w in waves]
    assert batched != bloomz.generate_ids(bloomz.encode(waves))


def test_bfloat16(exp_dir, waves):
    half = BloomzMMS.from_pretrained(exp_dir, dtype="bfloat16", max_new_tokens=3)
    assert half.model.decoder.llm.dtype == torch.bfloat16
    assert half.model.encoder.embed.conv[0].weight.dtype == torch.float32
    texts = half.batch(waves[:2])
    assert len(texts) == 2 and all(isinstance(t, str) for t in texts)


def test_lora_wrapped_llm(tiny_mms_dir, sharp_llm_dir, tmp_path, waves):
    exp = write_exp(tiny_mms_dir, sharp_llm_dir, tmp_path / "exp",
                    decoder_conf={"model_name_or_path": str(sharp_llm_dir), "lora": {"r": 4, "alpha": 8}})
    lora = BloomzMMS.from_pretrained(exp, max_new_tokens=4)
    assert type(lora.llm).__name__.startswith("Peft")
    assert lora.generate_ids(lora.encode(waves)) == [lora.generate_ids(lora.encode([w]))[0] for w in waves]


def test_ctc_compressed_speech_is_the_embeddings_of_the_tokens_ctc_hears(tiny_mms_dir, sharp_llm_dir, tmp_path, waves):
    """``speech_input: ctc_compressed`` at temperature 0: the LLM reads exactly the input
    embeddings of the CTC head's greedy tokens (the CTC text as the LLM would read it)."""
    exp = write_exp(tiny_mms_dir, sharp_llm_dir, tmp_path / "exp",
                    model_conf={"speech_input": "ctc_compressed", "ctc_temperature": 0.0})
    bloomz = BloomzMMS.from_pretrained(exp, max_new_tokens=4)
    encoded = bloomz.encode(waves)
    ctc_ids = bloomz.model.ctc.greedy_ids(*encoded.ctc_input)
    assert encoded.adaptor is not None and any(ctc_ids)
    emb = bloomz.model.decoder.embed
    for i, ids in enumerate(ctc_ids):
        if ids:  # (an utterance with no token heard reads one position, the blank's mean)
            assert int(encoded.lengths[i]) == len(ids)
            torch.testing.assert_close(encoded.hs[i, : len(ids)], emb(torch.tensor(ids)))
    assert bloomz.ctc_greedy(waves) == [bloomz.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in ctc_ids]
    assert bloomz.generate_ids(encoded) == [bloomz.generate_ids(bloomz.encode([w]))[0] for w in waves]


# ------------------------------------------------------------------ answers and CTC


def reference_scores(bloomz, wave, answers, prefix=None, postfix=None):
    """log p(answer + EOS | prompt), one candidate at a time."""
    prompt = bloomz.prompt(bloomz.encode([wave]), prefix, postfix)[0][0]
    scores = []
    with torch.no_grad():
        for answer in answers:
            ids = torch.tensor(bloomz._tokenize(answer) + [bloomz.eos_token_id])
            seq = torch.cat([prompt, bloomz.model.decoder.embed(ids)])
            logp = torch.log_softmax(bloomz.llm(inputs_embeds=seq[None]).logits[0].float(), -1)
            start = len(prompt) - 1
            scores.append(float(logp[start : start + len(ids)].gather(1, ids[:, None]).sum()))
    return scores


def test_allowed_answers_pick_the_likeliest(bloomz, waves):
    answers = ["English", "German", "Das Wetter ist heute schön.", "en"]
    scores = bloomz.answer_scores(waves, answers, PREFIXES, POSTFIXES)
    assert scores.shape == (4, 4)
    for i, w in enumerate(waves):
        ref = reference_scores(bloomz, w, answers, PREFIXES[i], POSTFIXES[i])
        assert scores[i].tolist() == pytest.approx(ref, abs=1e-3)
        assert int(scores[i].argmax()) == int(np.argmax(ref))
    picked = bloomz.batch(waves, PREFIXES, POSTFIXES, allowed_answers=answers)
    assert picked == [answers[i] for i in scores.argmax(1).tolist()]
    assert bloomz(waves[2], PREFIXES[2], POSTFIXES[2], allowed_answers=answers) == picked[2]


def test_ctc_greedy(bloomz, waves):
    texts = bloomz.ctc_greedy(waves)
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    assert texts == [bloomz.ctc_greedy([w])[0] for w in waves]


# ------------------------------------------------------------------------ bad input


def test_bad_input_is_refused(bloomz, waves):
    with pytest.raises(ValueError, match="empty"):
        bloomz(np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="utterance 1: speech is empty"):
        bloomz.batch([waves[0], np.zeros(0, dtype=np.float32)])
    for n in (100, 1000):  # shorter than a wav2vec2 frame; too few frames for the conv2d subsampling
        with pytest.raises(ValueError, match="short"):
            bloomz(np.ones(n, dtype=np.float32))
    with pytest.raises(ValueError, match=r"utterance\(s\) \[1\]: too short"):  # in a batch as alone
        bloomz.batch([waves[0], np.ones(1000, dtype=np.float32)])
    with pytest.raises(ValueError, match="mono"):
        bloomz(np.zeros((2, 8000), dtype=np.float32))
    with pytest.raises(ValueError, match="max_seconds=1"):
        with_settings(bloomz, max_seconds=1.0).batch(waves)  # 23000 samples > 1 s
    with pytest.raises(ValueError, match="2 prefixes for 4 utterances"):
        bloomz.batch(waves, prefixes=PREFIXES[:2])
    with pytest.raises(ValueError, match="non-empty list"):
        bloomz(waves[0], allowed_answers=[])
    assert bloomz.context_length is None  # BLOOM: ALiBi, no position table
    limited = with_settings(bloomz, context_length=15, max_prompt_length=15)
    with pytest.raises(ValueError, match="beyond the LLM's context of 15"):
        limited(waves[0])
    with pytest.raises(ValueError, match="beyond the LLM's context of 15"):
        limited(waves[0], allowed_answers=["yes"])


def test_overlong_prompts_are_refused_with_the_numbers(bloomz, exp_dir, waves):
    """BLOOM (ALiBi) has no hard context: a pasted book as instruction would allocate tens
    of GB; the default limit is the length BLOOM was pre-trained on."""
    assert bloomz.max_prompt_length == 2048
    book = "word " * 3000
    with pytest.raises(ValueError, match=r"utterance 0: the prompt takes \d+ positions \(instruction \d+ "
                       r"tokens \+ \d+ speech frames\).*beyond max_prompt_length=2048"):
        bloomz(waves[0], prefix=book)
    short = BloomzMMS(exp_dir / "config.yaml", exp_dir / "valid.acc.ave.pth", max_new_tokens=4, max_prompt_length=30)
    with pytest.raises(ValueError, match="beyond max_prompt_length=30"):
        short(waves[0], prefix="word " * 20)
    assert short(waves[0], prefix="Say it: ")  # a prompt under the limit is answered


def test_context_length_sources():
    def fake(tokenizer_max=int(1e30), **config):
        return SimpleNamespace(config=SimpleNamespace(**config)), SimpleNamespace(model_max_length=tokenizer_max)

    assert llm_context_length(*fake(model_type="bloom")) is None
    assert llm_context_length(*fake(model_type="bloom", tokenizer_max=2048)) is None
    assert llm_context_length(*fake(model_type="llama", max_position_embeddings=4096)) == 4096
    assert llm_context_length(*fake(model_type="gpt2", n_positions=1024)) == 1024
    assert llm_context_length(*fake(model_type="x", tokenizer_max=512)) == 512
    assert llm_context_length(*fake(model_type="x")) is None


# ---------------------------------------------------------------------- model files


def test_untrained_model_is_seeded(exp_dir, waves):
    """Without a model file the new layers are random: seeded, so the untrained baseline
    decodes the same every time, and without touching the caller's RNG."""
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    first = BloomzMMS(exp_dir / "config.yaml", max_new_tokens=3)
    assert torch.rand(1) == expected_next
    second = BloomzMMS(exp_dir / "config.yaml", max_new_tokens=3)
    other = BloomzMMS(exp_dir / "config.yaml", max_new_tokens=3, init_seed=1)
    weights = [dict(m.model.named_parameters()) for m in (first, second, other)]
    assert all(torch.equal(p, weights[1][n]) for n, p in weights[0].items())
    assert not all(torch.equal(p, weights[2][n]) for n, p in weights[0].items())
    assert first.ctc_greedy(waves) == second.ctc_greedy(waves)


def test_find_model_file_rule(tmp_path):
    def names(*files):
        for f in tmp_path.iterdir():
            f.unlink()
        for f in files:
            (tmp_path / f).touch()

    names("checkpoint.pth", "2epoch.pth", "10epoch.pth", "valid.loss.best.pth", "valid.acc.ave_3best.pth",
          "valid.acc.ave.pth", "valid.loss.ave.pth")
    assert find_model_file(tmp_path).name == "valid.acc.ave.pth"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"best_model_criterion": [["valid", "loss", "min"]]}))
    assert find_model_file(tmp_path).name == "valid.loss.ave.pth"
    names("checkpoint.pth", "2epoch.pth", "10epoch.pth", "valid.acc.best.pth")
    assert find_model_file(tmp_path).name == "valid.acc.best.pth"
    names("checkpoint.pth", "2epoch.pth", "10epoch.pth")
    assert find_model_file(tmp_path).name == "10epoch.pth"
    names("checkpoint.pth")
    with pytest.raises(FileNotFoundError, match="checkpoint.pth"):
        find_model_file(tmp_path)


def test_packed_archive_decodes_like_the_experiment_dir(bloomz, exp_dir, tmp_path, waves):
    packed = pack_model(exp_dir, tmp_path / "packed" / "model.zip")
    with zipfile.ZipFile(packed) as zf:
        names = set(zf.namelist())
    assert {"meta.yaml", "config.yaml", "model.pth"} <= names
    assert any(n.startswith("base_models/decoder/") for n in names)  # local base models travel along
    moved = tmp_path / "elsewhere" / "model.zip"  # a user who only has the archive
    moved.parent.mkdir()
    packed.rename(moved)
    unpacked = BloomzMMS.from_pretrained(moved, max_new_tokens=8)
    assert unpacked.generate_ids(unpacked.encode(waves)) == bloomz.generate_ids(bloomz.encode(waves))
    config, _ = unpack_model(moved)
    assert str(tmp_path / "elsewhere") in yaml.safe_load(config.read_text())["decoder_conf"]["model_name_or_path"]
    stamp = config.stat().st_mtime_ns
    assert unpack_model(moved)[0].stat().st_mtime_ns == stamp  # reused, not extracted again

    with zipfile.ZipFile(moved) as zf, zipfile.ZipFile(tmp_path / "future.zip", "w") as out:
        for name in zf.namelist():
            data = zf.read(name)
            out.writestr(name, data.replace(b"format: 1", b"format: 2") if name == "meta.yaml" else data)
    with pytest.raises(ArchiveError, match="format 2"):
        unpack_model(tmp_path / "future.zip")
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.write(exp_dir / "config.yaml", "config.yaml")
    with pytest.raises(ArchiveError, match="not a BLOOMZMMS model archive"):
        unpack_model(tmp_path / "bad.zip")


def test_checkpoint_must_fit_the_config(exp_dir, tmp_path):
    state = torch.load(exp_dir / "valid.acc.ave.pth", weights_only=True)
    state.pop(next(k for k in state if k.startswith("encoder.")))
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(RuntimeError, match="does not fit the model"):
        BloomzMMS(exp_dir / "config.yaml", tmp_path / "partial.pth")
    torch.save({"model": state, "optimizers": []}, tmp_path / "checkpoint.pth")
    with pytest.raises(ValueError, match="training checkpoint"):
        BloomzMMS(exp_dir / "config.yaml", tmp_path / "checkpoint.pth")


class _Payload:
    """Pickles to a call of ``Path.touch`` on its path: code that runs when unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_model_files_never_run_code(exp_dir, tmp_path):
    """A real state dict with a ``__reduce__`` payload inside is refused, naming the file,
    and the payload does not run; a truncated, zeroed or text file is named too."""
    state = torch.load(exp_dir / "valid.acc.ave.pth", weights_only=True)
    marker = tmp_path / "payload_ran"
    state["extra"] = _Payload(marker)
    torch.save(state, tmp_path / "evil.pth")
    with pytest.raises(ValueError, match=r"evil.pth: refused to load: it holds more than tensors"):
        BloomzMMS(exp_dir / "config.yaml", tmp_path / "evil.pth")
    assert not marker.exists()
    data = (exp_dir / "valid.acc.ave.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    (tmp_path / "zeroed.pth").write_bytes(bytes(len(data)))
    (tmp_path / "text.pth").write_text("not weights\n")
    for name in ("cut.pth", "zeroed.pth", "text.pth"):
        with pytest.raises(ValueError, match=rf"{name}: not a PyTorch model file"):
            BloomzMMS(exp_dir / "config.yaml", tmp_path / name)


def test_a_spoken_sentence_pair_is_one_prompt(bloomz, waves):
    """``prefix + speech 1 + middle + speech 2 + postfix``: the embeddings of each
    utterance alone, put together by hand, give the same scores and greedy answers as the
    batched, padded pair (the two-sentence NLU prompt with both sentences spoken)."""
    first, second = [waves[0], waves[3]], [waves[1], waves[2]]
    middles = ['" follow from the fact that "', "\nand\n"]
    pair = bloomz.join_speech(bloomz.encode(first), bloomz.encode(second), middles)
    answers = ["yes", "no"]
    scores = bloomz.answer_scores(pair, answers, "Does the claim \"", '"? yes or no?')
    emb = bloomz.model.decoder.embed
    for i in range(2):
        a, b = (bloomz.encode([w]) for w in (first[i], second[i]))
        text = [emb(torch.tensor(bloomz._tokenize(t))) for t in ('Does the claim "', middles[i], '"? yes or no?')]
        prompt = torch.cat([text[0], a.hs[0, : a.lengths[0]], text[1], b.hs[0, : b.lengths[0]], text[2]])
        with torch.no_grad():
            for j, answer in enumerate(answers):
                ids = torch.tensor(bloomz._tokenize(answer) + [bloomz.eos_token_id])
                logp = torch.log_softmax(bloomz.llm(inputs_embeds=torch.cat([prompt, emb(ids)])[None]).logits[0], -1)
                ref = float(logp[len(prompt) - 1 : len(prompt) - 1 + len(ids)].gather(1, ids[:, None]).sum())
                assert float(scores[i, j]) == pytest.approx(ref, abs=1e-3)
    alone = [bloomz.generate_ids(bloomz.join_speech(bloomz.encode([first[i]]), bloomz.encode([second[i]]), middles[i]))
             for i in range(2)]
    assert bloomz.generate_ids(pair) == [ids for one in alone for ids in one]
    with pytest.raises(ValueError, match="2 first and 1 second"):
        bloomz.join_speech(bloomz.encode(first), bloomz.encode(second[:1]))
    with pytest.raises(ValueError, match="3 middles for 2 utterances"):
        bloomz.join_speech(bloomz.encode(first), bloomz.encode(second), middles + ["x"])
