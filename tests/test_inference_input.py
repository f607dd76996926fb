"""Inference on awkward input: long recordings (chunked), other sample rates, empty files,
long prompts; greedy decoding without the KV cache; beam search's shared prompt cache."""

import re

import numpy as np
import pytest
import soundfile
import torch
from test_inference import PREFIXES, POSTFIXES, with_settings, write_exp, write_sharp_llm

from espnet2_bloomzmms.inference.chunking import join_texts, split_long_audio
from espnet2_bloomzmms.bin.inference import main as infer_main
from espnet2_bloomzmms.data.datadir import read_kv, write_data_dir
from espnet2_bloomzmms.data.synthesize import synthesize
from espnet2_bloomzmms.inference import BloomzMMS

SENTENCES = [("en", "The weather is nice today."), ("de", "Das Wetter ist heute schön."),
             ("en", "Where is the nearest train station?")]
CHUNK_SECONDS = 2.5


@pytest.fixture(scope="module")
def exp_dir(tiny_mms_dir, tiny_llm_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("input_exp")
    return write_exp(tiny_mms_dir, write_sharp_llm(tiny_llm_dir, root / "llm"), root / "exp")


@pytest.fixture(scope="module")
def bloomz(exp_dir):
    return BloomzMMS.from_pretrained(exp_dir, max_new_tokens=6)


@pytest.fixture(scope="module")
def speech():
    """Each sentence spoken alone (16 kHz), and all three with 0.6 s pauses between them."""
    alone = [synthesize(text, lang, rate=190) for lang, text in SENTENCES]
    pause = np.zeros(int(0.6 * 16000), dtype=np.float32)
    long = np.concatenate([alone[0], pause, alone[1], pause, alone[2]])
    return alone, long


def test_long_audio_is_decoded_in_chunks_and_the_answers_joined(bloomz, speech):
    alone, long = speech
    chunked = with_settings(bloomz, chunk_seconds=CHUNK_SECONDS)
    pieces = split_long_audio(long, 16000, CHUNK_SECONDS)
    assert len(pieces) == 3
    encoded = chunked.encode([alone[0], long])
    assert encoded.chunks == (1, 3) and len(encoded.hs) == 4
    texts = chunked.batch([alone[0], long], ["Say: ", "Repeat: "], ". ")
    assert texts[0] == bloomz(alone[0], "Say: ", ". ")
    assert texts[1] == join_texts([bloomz(p, "Repeat: ", ". ") for p in pieces])
    assert len({bloomz(p, "Repeat: ", ". ") for p in pieces}) > 1, "chunk answers should differ"
    assert chunked.ctc_greedy([long, alone[1]]) == [join_texts(bloomz.ctc_greedy(pieces)),
                                                    bloomz.ctc_greedy([alone[1]])[0]]
    assert chunked(long) == chunked.batch([long])[0]
    with pytest.raises(ValueError, match=r"utterance\(s\) \[0\]: longer than chunk_seconds=2.5"):
        chunked(long, allowed_answers=["yes", "no"])
    assert chunked(alone[2], allowed_answers=["yes", "no"]) in ("yes", "no")  # short audio still scores
    with pytest.raises(ValueError, match="utterance 0, chunk 1/3: the prompt takes"):
        with_settings(chunked, context_length=12, max_prompt_length=12)(long)
    with pytest.raises(ValueError, match="max_seconds=3"):  # the hard limit still refuses
        with_settings(chunked, max_seconds=3.0)(long)


def test_other_sample_rates_are_resampled_when_given(bloomz):
    at_16k = synthesize(SENTENCES[0][1], "en", rate=190, sample_rate=16000)
    at_22k = synthesize(SENTENCES[0][1], "en", rate=190, sample_rate=22050)  # espeak-ng's own rate
    resampled = bloomz.check_speech(at_22k, fs=22050).numpy()
    assert len(resampled) == len(at_16k)
    np.testing.assert_allclose(resampled, at_16k, atol=1e-5)
    assert bloomz(at_22k, fs=22050) == bloomz(at_16k)
    assert bloomz.ctc_greedy([at_22k], fs=22050) == bloomz.ctc_greedy([at_16k])
    torch.testing.assert_close(bloomz.check_speech(at_16k, fs=16000), torch.from_numpy(at_16k))
    with pytest.raises(ValueError, match="utterance 0: fs must be a positive integer"):
        bloomz(at_16k, fs=0)
    with pytest.raises(ValueError, match="fs must be a positive integer"):
        bloomz(at_16k, fs=16000.0)


def test_cli_resamples_chunks_and_skips_empty_audio(exp_dir, speech, tmp_path):
    alone, long = speech
    wav = tmp_path / "wav"
    wav.mkdir()
    soundfile.write(wav / "short8k.wav", synthesize(SENTENCES[1][1], "de", rate=190, sample_rate=8000), 8000)
    soundfile.write(wav / "long.wav", long, 16000)
    utts = {u: {"wav": str(wav / f"{u}.wav"), "text": "x", "spk": "s"} for u in ("short8k", "long")}
    write_data_dir(tmp_path / "data", utts)
    out = tmp_path / "decode"
    cmd = ["--model_dir", str(exp_dir), "--data_dir", str(tmp_path / "data"), "--max_new_tokens", "6",
           "--ctc", "true", "--prefix", "Say: ", "--postfix", ". "]
    infer_main(cmd + ["--output_dir", str(out), "--chunk_seconds", str(CHUNK_SECONDS)])
    bloomz = BloomzMMS.from_pretrained(exp_dir, max_new_tokens=6, chunk_seconds=CHUNK_SECONDS)
    short, long = (soundfile.read(wav / f"{u}.wav", dtype="float32")[0] for u in ("short8k", "long"))  # 16-bit
    assert read_kv(out / "text") == {"long": bloomz(long, "Say: ", ". "), "short8k": bloomz(short, "Say: ", ". ", fs=8000)}
    assert read_kv(out / "text_ctc")["long"] == bloomz.ctc_greedy([long])[0]
    assert bloomz.encode([long]).chunks == (3,)

    with pytest.raises(SystemExit, match=r"1 of 2 utterances cannot be decoded[^$]*\n  utterance short8k "
                       r"\(.*short8k.wav\): sample rate 8000 Hz"):
        infer_main(cmd + ["--output_dir", str(tmp_path / "refused"), "--resample", "false", "--on_bad_input", "error"])
    assert not (tmp_path / "refused").exists()  # refused before decoding anything
    soundfile.write(wav / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    utts["empty"] = {"wav": str(wav / "empty.wav"), "text": "x", "spk": "s"}
    write_data_dir(tmp_path / "data_empty", utts)
    infer_main(cmd[:2] + ["--data_dir", str(tmp_path / "data_empty"), "--output_dir", str(tmp_path / "d2"),
                          "--max_new_tokens", "6", "--prefix", "Say: ", "--postfix", ". ", "--chunk_seconds",
                          str(CHUNK_SECONDS)])
    skipped = read_kv(tmp_path / "d2" / "skipped")
    assert list(skipped) == ["empty"] and re.fullmatch(r"utterance empty \(.*empty.wav\): speech is empty.*",
                                                         skipped["empty"])
    assert read_kv(tmp_path / "d2" / "text") == read_kv(out / "text")  # the others decoded as before


def test_greedy_without_kv_cache_equals_with_it(bloomz, exp_dir, speech):
    waves = [speech[0][0], speech[0][1], speech[0][2], speech[1][:30000]]
    encoded = bloomz.encode(waves)
    for settings in ({}, {"repetition_penalty": 1.5, "no_repeat_ngram_size": 2}):
        cached = with_settings(bloomz, **settings)
        uncached = with_settings(bloomz, use_cache=False, **settings)
        expected = cached.generate_ids(encoded, PREFIXES, POSTFIXES)
        assert uncached.generate_ids(encoded, PREFIXES, POSTFIXES) == expected
    assert len({tuple(ids) for ids in expected}) > 1
    with pytest.raises(ValueError, match="greedy search only"):
        with_settings(bloomz, use_cache=False, num_beams=2).generate_ids(encoded)
    with pytest.raises(ValueError, match="greedy search only"):
        BloomzMMS.from_pretrained(exp_dir, use_cache=False, num_beams=3)


def test_beam_search_runs_the_prompt_once_per_utterance(bloomz, speech, monkeypatch):
    waves = [speech[0][0], speech[0][1], speech[1][:30000]]
    encoded = bloomz.encode(waves)
    beam = with_settings(bloomz, num_beams=3, length_penalty=0.8, repetition_penalty=1.2, no_repeat_ngram_size=2)
    seen = []
    hook = beam.llm.transformer.h[0].register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append(tuple((args[0] if args else kwargs["hidden_states"]).shape[:2])),
        with_kwargs=True)
    try:
        shared = beam.generate_ids(encoded, PREFIXES[:3], POSTFIXES[:3])
        prompt_length = beam.prompt(encoded, PREFIXES[:3], POSTFIXES[:3])[0].size(1)
        assert seen[0] == (3, prompt_length - 1) and seen[1] == (9, 1)  # then one position per beam and step
        seen.clear()
        with monkeypatch.context() as m:
            m.setattr(type(beam), "_beam_prompt_cache", lambda self, inputs, mask: {})
            assert beam.generate_ids(encoded, PREFIXES[:3], POSTFIXES[:3]) == shared
        assert seen[0] == (9, prompt_length)  # transformers alone: the whole prompt for each beam
    finally:
        hook.remove()
    assert shared == [beam.generate_ids(beam.encode([w]), p, q)[0] for w, p, q in zip(waves, PREFIXES, POSTFIXES)]


def test_cli_reads_pipe_and_ark_entries_as_audio_files(exp_dir, speech, tmp_path):
    """wav.scp lines ``u cat x.wav |`` and ``u x.ark:offset`` decode as the file itself does."""
    import kaldiio

    alone, _ = speech
    wav = tmp_path / "wav"
    wav.mkdir()
    pcm = [(np.clip(a, -1, 1) * 32767).astype(np.int16) for a in alone]
    for i, samples in enumerate(pcm):
        soundfile.write(wav / f"u{i}.wav", samples, 16000, subtype="PCM_16")
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/a.ark,{tmp_path}/a.scp") as w:
        w["u2"] = (16000, pcm[2])
    ark = dict(line.split() for line in (tmp_path / "a.scp").read_text().splitlines())
    entries = {"u0": str(wav / "u0.wav"), "u1": f"cat {wav / 'u1.wav'} |", "u2": ark["u2"]}
    for name, lines in (("plain", {u: str(wav / f"{u}.wav") for u in entries}), ("kaldi", entries)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "wav.scp").write_text("".join(f"{u} {e}\n" for u, e in lines.items()))
        infer_main(["--model_dir", str(exp_dir), "--data_dir", str(tmp_path / name), "--max_new_tokens", "6",
                    "--ctc", "true", "--output_dir", str(tmp_path / f"decode_{name}")])
    for file in ("text", "text_ctc"):
        plain, kaldi = (read_kv(tmp_path / f"decode_{n}" / file) for n in ("plain", "kaldi"))
        assert sorted(kaldi) == ["u0", "u1", "u2"] and kaldi == plain
