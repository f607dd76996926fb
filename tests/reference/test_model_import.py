"""Importing the authors' released models (ESPnet v.202304 packs) through every entry point.

The packs are tiny fixtures in the documented layout (tests/reference_pack.py); the
imported model must compute what the authors' structure computes (an independent forward
written in that module) and decode the same greedy tokens as the LLM fed by hand.
"""

import json
import shutil
import zipfile

import pytest
import torch
import yaml
from reference_pack import LANG_CLASSES, POSTFIX, PREFIX, authors_encode, write_reference_pack
from transformers import AutoModelForCausalLM, AutoTokenizer

from espnet2_bloomzmms.bin.import_reference_model import main as import_main
from espnet2_bloomzmms.inference import BloomzMMS
from espnet2_bloomzmms.model_archive import pack_model
from espnet2_bloomzmms.reference.model_import import import_reference_model
from espnet2_bloomzmms.reference.pack import ReferencePackError


def waves(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, generator=g) * 0.1 for n in (16000, 11_111, 6_400)]


def import_pack(fixture, out, llm_dir, **kwargs):
    return import_reference_model(fixture.root, out, llm=str(llm_dir), mms_config=str(fixture.mms_config_dir),
                                  llm_dtype="float32", llm_quantization=None, **kwargs)


@pytest.fixture(scope="module")
def ce_pack(tmp_path_factory, tiny_llm_dir):
    return write_reference_pack(tmp_path_factory.mktemp("packs") / "bloomzmms-ce-tmi", tiny_llm_dir)


@pytest.fixture(scope="module")
def ce_model_dir(ce_pack, tiny_llm_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("imported") / "authors_ce_tmi"
    import_pack(ce_pack, out, tiny_llm_dir)
    return out


def greedy_by_hand(llm_dir, speech: torch.Tensor, steps: int):
    """[E(prefix); speech; E(postfix)] into the LLM, the argmax token appended each step:
    (the tokens up to EOS, the first step's logits)."""
    tok = AutoTokenizer.from_pretrained(llm_dir)
    llm = AutoModelForCausalLM.from_pretrained(llm_dir).eval()
    emb = llm.get_input_embeddings()
    ids = lambda text: torch.tensor(tok(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    seq = torch.cat([emb(ids(PREFIX)), speech, emb(ids(POSTFIX))])[None]
    out, first = [], None
    with torch.no_grad():
        for _ in range(steps):
            logits = llm(inputs_embeds=seq).logits[0, -1]
            first = logits if first is None else first
            nxt = int(logits.argmax())
            if nxt == tok.eos_token_id:
                break
            out.append(nxt)
            seq = torch.cat([seq, emb(torch.tensor([[nxt]]))], 1)
    return out, first


def test_imported_model_computes_the_authors_encoder_and_greedy_tokens(ce_pack, ce_model_dir, tiny_llm_dir):
    config = yaml.safe_load((ce_model_dir / "config.yaml").read_text())
    assert config["frontend_conf"]["output_lengths"] == "s3prl" and config["postencoder"] == "conv_relu_linear"
    assert config["lang_ctc_conf"] == {"stride": 2, "target": "per_token"} and len(config["lang_list"]) == LANG_CLASSES - 1
    assert config["preprocessor_conf"]["default_prefix"] == PREFIX
    assert config["ctc_conf"]["head"] == "tied" and config["ctc_conf"]["vocab_size"] == len(ce_pack.token_list)
    assert (ce_model_dir / "valid.acc.ave_3best.pth").is_file() and (ce_model_dir / "RESULTS.md").is_file()

    model = BloomzMMS.from_pretrained(ce_model_dir, max_new_tokens=8)
    batch = waves()
    for wave in batch:
        expected = authors_encode(ce_pack, wave)
        encoded = model.encode([wave])
        assert int(encoded.lengths[0]) == expected.size(0)
        torch.testing.assert_close(encoded.hs[0], expected, rtol=1e-4, atol=1e-4)
        generated = model.generate_ids(encoded)
        inputs, mask = model.prompt(encoded, None, None, extra=0)
        with torch.no_grad():
            first = model.llm(inputs_embeds=inputs, attention_mask=mask.long()).logits[0, -1]
        by_hand, by_hand_first = greedy_by_hand(tiny_llm_dir, expected, steps=8)
        torch.testing.assert_close(first, by_hand_first, rtol=1e-4, atol=1e-4)
        assert [t for t in generated[0] if t != model.eos_token_id] == by_hand
    # In a padded batch the language CTC's posteriors are stretched (nearest) to the padded
    # length, as in the authors' model, so an odd-length utterance reads slightly other
    # conditioning frames than alone: close, not equal.
    encoded = model.encode(batch)
    for i, wave in enumerate(batch):
        expected = authors_encode(ce_pack, wave)
        torch.testing.assert_close(encoded.hs[i, : expected.size(0)], expected, rtol=0.01, atol=0.01)


def test_ctc_head_from_the_file_unless_it_is_the_embeddings(tmp_path, tiny_llm_dir):
    random_pack = write_reference_pack(tmp_path / "ctc_random", tiny_llm_dir, kind="ctc", ctc_head="random")
    tied_pack = write_reference_pack(tmp_path / "ctc_tied", tiny_llm_dir, kind="ctc", ctc_head="embeddings")
    own = import_pack(random_pack, tmp_path / "own", tiny_llm_dir)
    tied = import_pack(tied_pack, tmp_path / "tied", tiny_llm_dir)
    assert yaml.safe_load((tmp_path / "own/config.yaml").read_text())["ctc_conf"]["head"] == "own"
    assert yaml.safe_load((tmp_path / "tied/config.yaml").read_text())["ctc_conf"]["head"] == "tied"
    assert "own frozen" in own.summary["ctc_head"] and "embeddings" in tied.summary["ctc_head"]
    saved_own = torch.load(tmp_path / "own/10epoch.pth", weights_only=True)
    torch.testing.assert_close(saved_own["ctc.ctc_lo.weight"], random_pack.state["ctc.ctc_lo.weight"])
    assert "ctc.ctc_lo.weight" not in torch.load(tmp_path / "tied/10epoch.pth", weights_only=True)

    vocab = len(random_pack.token_list)
    for pack, out in ((random_pack, tmp_path / "own"), (tied_pack, tmp_path / "tied")):
        model = BloomzMMS.from_pretrained(out)
        encoded = model.encode(waves()[:1])
        logits = model.model.ctc.ctc_lo(encoded.hs)
        assert logits.size(-1) == vocab < model.model.decoder.input_embeddings.weight.size(0)  # ids >= V masked
        expected = authors_encode(pack, waves()[0]) @ pack.state["ctc.ctc_lo.weight"].T
        best = torch.unique_consecutive(expected.argmax(-1))
        assert model.model.ctc.greedy_ids(encoded.hs, encoded.lengths)[0] == [i for i in best.tolist() if i != 0]


def test_cli_pack_zip_and_hub_layout_decode_the_same(ce_pack, ce_model_dir, tiny_llm_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    import_main(["--pack", str(ce_pack.root), "--output_dir", str(out), "--llm", str(tiny_llm_dir),
                 "--mms_config", str(ce_pack.mms_config_dir), "--llm_quantization", "none",
                 "--llm_dtype", "float32"])
    printed = capsys.readouterr().out
    summary = json.loads(printed[: printed.rindex("}") + 1])
    assert summary["mms_tensors"] > 0 and len(summary["mms_dropped_pretraining_heads"]) == 7
    assert summary["llm_tensors_dropped"] == 5 and summary["unused"] == []
    assert json.loads((out / "import.json").read_text()) == summary

    zip_file = pack_model(out, tmp_path / "authors.zip", results=str(out / "RESULTS.md"))
    with zipfile.ZipFile(zip_file) as zf:
        names = zf.namelist()
    assert "base_models/frontend/model.safetensors" in names and "RESULTS.md" in names
    shutil.rmtree(out)  # the archive must stand alone
    reference = BloomzMMS.from_pretrained(ce_model_dir, max_new_tokens=6).batch(waves()[:2])
    assert BloomzMMS.from_pretrained(zip_file, max_new_tokens=6).batch(waves()[:2]) == reference


def test_from_pretrained_converts_a_downloaded_pack_once(ce_pack, ce_model_dir, tiny_llm_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("BLOOMZMMS_CACHE", str(tmp_path / "cache"))
    options = dict(llm=str(tiny_llm_dir), mms_config=str(ce_pack.mms_config_dir), llm_dtype="float32",
                   llm_quantization=None)
    first = BloomzMMS.from_pretrained(ce_pack.root, import_options=options, max_new_tokens=6)
    converted = list((tmp_path / "cache").rglob("config.yaml"))
    assert len(converted) == 1
    stamp = converted[0].stat().st_mtime_ns
    second = BloomzMMS.from_pretrained(ce_pack.root, import_options=options, max_new_tokens=6)
    assert converted[0].stat().st_mtime_ns == stamp  # reused, not converted again
    BloomzMMS.from_pretrained(ce_pack.root, import_options=dict(options, llm_dtype="bfloat16"))
    assert len(list((tmp_path / "cache").rglob("config.yaml"))) == 2  # other options: another conversion
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['quantise'\]"):
        BloomzMMS.from_pretrained(ce_pack.root, import_options={"quantise": "8bit"})
    expected = BloomzMMS.from_pretrained(ce_model_dir, max_new_tokens=6).batch(waves()[:2])
    assert first.batch(waves()[:2]) == second.batch(waves()[:2]) == expected


# ---------------------------------------------------------------- tampered packs
def tampered(tmp_path, tiny_llm_dir, **kwargs):
    return write_reference_pack(tmp_path / "pack", tiny_llm_dir, **kwargs)


def test_an_unknown_tensor_is_named_unless_allowed(tmp_path, tiny_llm_dir):
    pack = tampered(tmp_path, tiny_llm_dir, extra={"joint_network.lin_out.weight": torch.zeros(3, 3)})
    with pytest.raises(ReferencePackError, match=r"joint_network\.lin_out\.weight.*--allow_unused"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    assert not (tmp_path / "out").exists()  # nothing half-written
    result = import_pack(pack, tmp_path / "out", tiny_llm_dir, allow_unused=True)
    assert result.summary["unused"] == ["joint_network.lin_out.weight"]


def test_a_wrong_shape_or_a_missing_tensor_is_named(tmp_path, tiny_llm_dir):
    pack = tampered(tmp_path, tiny_llm_dir, extra={"postencoder.linear_in.bias": torch.zeros(7)})
    with pytest.raises(ReferencePackError, match=r"postencoder\.linear_in\.bias has shape \(7,\)"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    state = torch.load(pack.model_file, weights_only=True)
    state["postencoder.linear_in.bias"] = pack.state["postencoder.linear_in.weight"][:, 0].clone()
    del state["encoder.encoders.1.norm_mha.weight"]
    torch.save(state, pack.model_file)
    with pytest.raises(ReferencePackError, match=r"lacks 1 tensor.*encoder\.encoders\.1\.norm_mha\.weight"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    mms = "frontend.upstream.upstream.model.encoder.layers.0.fc1.weight"
    state = dict(pack.state, **{mms: torch.zeros(5, 5)})
    torch.save(state, pack.model_file)
    with pytest.raises(ValueError, match=r"encoder\.layers\.0\.feed_forward\.intermediate_dense\.weight has shape"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)


def test_config_and_vocabulary_differences_are_named(tmp_path, tiny_llm_dir):
    pack = tampered(tmp_path, tiny_llm_dir)
    original = pack.config_file.read_text()
    config = yaml.safe_load(original)
    config["token_list"][7] = "not-a-token"
    pack.config_file.write_text(yaml.safe_dump(config))
    with pytest.raises(ReferencePackError, match=r"token_list\[7\] is 'not-a-token'"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    config = yaml.safe_load(original)
    config["frontend"] = "default"
    pack.config_file.write_text(yaml.safe_dump(config))
    with pytest.raises(ReferencePackError, match=r"config\.yaml: frontend is 'default'"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    config = yaml.safe_load(original)
    pack.config_file.write_text(original)
    state = torch.load(pack.model_file, weights_only=True)
    state["decoder.postfix"] = torch.randn_like(state["decoder.postfix"])
    torch.save(state, pack.model_file)
    with pytest.raises(ReferencePackError, match=r"decoder\.postfix is not the LLM's embedding of '\. '"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    config["decoder_conf"]["prefix"] = "Transcribe this recording in full please: "
    pack.config_file.write_text(yaml.safe_dump(config))
    with pytest.raises(ReferencePackError, match=r"decoder\.prefix has shape .* not the one trained with"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)


def test_a_broken_pack_is_refused_naming_the_file(tmp_path, tiny_llm_dir):
    pack = tampered(tmp_path, tiny_llm_dir)
    data = pack.model_file.read_bytes()
    pack.model_file.write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match=r"valid\.acc\.ave_3best\.pth: not a"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    pack.model_file.unlink()
    with pytest.raises(ReferencePackError, match=r"names the model file .*valid\.acc\.ave_3best\.pth.*not there"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    (pack.root / "meta.yaml").unlink()
    with pytest.raises(ReferencePackError, match="no readable meta.yaml"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)


def test_a_pickle_payload_in_a_pack_never_runs(tmp_path, tiny_llm_dir):
    pack = tampered(tmp_path, tiny_llm_dir)

    class Payload:
        pass

    marker = tmp_path / "ran"
    Payload.__reduce__ = lambda self: (exec, (f"open({str(marker)!r}, 'w').write('x')",))
    torch.save(dict(pack.state, extra=Payload()), pack.model_file)
    with pytest.raises(ValueError, match="refused to load: it holds more than tensors"):
        import_pack(pack, tmp_path / "out", tiny_llm_dir)
    assert not marker.exists()


def test_from_pretrained_by_hub_name_downloads_converts_and_decodes(ce_pack, ce_model_dir, tiny_llm_dir, tmp_path,
                                                                   monkeypatch):
    """``BloomzMMS.from_pretrained("akreal/bloomzmms-ce-tmi")`` through the real
    huggingface_hub download (against the tests' local stand-in hub)."""
    from huggingface_hub import constants
    from test_hub import LocalHub

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("BLOOMZMMS_CACHE", str(tmp_path / "converted"))
    hub = LocalHub()
    try:
        files = {str(p.relative_to(ce_pack.root)): p.read_bytes() for p in ce_pack.root.rglob("*") if p.is_file()}
        hub.repos["akreal/bloomzmms-ce-tmi"] = {"files": files, "sha": "a" * 40}
        options = dict(llm=str(tiny_llm_dir), mms_config=str(ce_pack.mms_config_dir), llm_dtype="float32",
                       llm_quantization=None)
        model = BloomzMMS.from_pretrained("akreal/bloomzmms-ce-tmi", endpoint=hub.url, cache_dir=tmp_path / "hf",
                                          import_options=options, max_new_tokens=6)
    finally:
        hub.close()
    assert BloomzMMS.from_pretrained(ce_model_dir, max_new_tokens=6).batch(waves()[:2]) == model.batch(waves()[:2])
    assert len(list((tmp_path / "converted").rglob("import.json"))) == 1


def test_inference_cli_decodes_real_speech_and_scoring_reads_it(ce_model_dir, espeak_data_dir, tmp_path):
    from espnet2_bloomzmms.bin.inference import main as inference_main
    from espnet2_bloomzmms.bin.score_asr import main as score_main
    from espnet2_bloomzmms.data.datadir import read_kv

    out = tmp_path / "decode"
    inference_main(["--model_dir", str(ce_model_dir), "--data_dir", str(espeak_data_dir), "--output_dir", str(out),
                    "--ctc", "true", "--max_new_tokens", "4", "--num_beams", "2", "--batch_size", "3"])
    utts = read_kv(espeak_data_dir / "wav.scp")
    for name in ("text", "text_ctc"):
        assert sorted(line.split(" ")[0] for line in (out / name).read_text().splitlines()) == sorted(utts)
    score_main(["--ref", str(espeak_data_dir / "text"), "--hyp", str(out / "text"), "--output", str(tmp_path / "s.json")])
    assert json.loads((tmp_path / "s.json").read_text())  # scored: one report per language and overall


def test_imported_model_uploads_and_downloads_like_ours(ce_model_dir, tmp_path, monkeypatch):
    from huggingface_hub import constants
    from test_hub import LocalHub

    from espnet2_bloomzmms.hub import upload_model

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    hub = LocalHub()
    try:
        upload_model(ce_model_dir, "me/authors-ce-tmi", results=str(ce_model_dir / "RESULTS.md"), endpoint=hub.url)
        card = hub.repos["me/authors-ce-tmi"]["files"]["README.md"].decode()
        assert "Repeat the sentence: " in card and "12.4" in card  # instruction and the pack's results
        model = BloomzMMS.from_pretrained("me/authors-ce-tmi", endpoint=hub.url, cache_dir=tmp_path, max_new_tokens=6)
    finally:
        hub.close()
    assert model.batch(waves()[:2]) == BloomzMMS.from_pretrained(ce_model_dir, max_new_tokens=6).batch(waves()[:2])


def test_cli_names_the_problem_without_a_traceback(ce_pack, tiny_llm_dir, tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "espnet2_bloomzmms.bin.import_reference_model", "--pack", str(ce_pack.root),
           "--output_dir", str(tmp_path / "out"), "--llm", str(tiny_llm_dir), "--llm_quantization", "none"]
    wrong_mms = tmp_path / "mms_config"
    from espnet2_bloomzmms.tiny_checkpoints import write_tiny_mms

    write_tiny_mms(wrong_mms, hidden_size=48, num_attention_heads=4)  # not the pack's MMS
    result = subprocess.run(cmd + ["--mms_config", str(wrong_mms)], capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "has shape" in result.stderr and "is --mms_config the MMS of this pack?" in result.stderr
    result = subprocess.run(cmd + ["--mms_config", str(tmp_path / "nothere")], capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr and "nothere" in result.stderr
    assert not (tmp_path / "out").exists()


def test_inference_cli_takes_a_downloaded_pack_with_import_options(ce_pack, ce_model_dir, espeak_data_dir, tiny_llm_dir,
                                                                  tmp_path, monkeypatch):
    from espnet2_bloomzmms.bin.inference import main as inference_main

    monkeypatch.setenv("BLOOMZMMS_CACHE", str(tmp_path / "cache"))
    common = ["--data_dir", str(espeak_data_dir), "--max_new_tokens", "4"]
    inference_main(["--model_dir", str(ce_pack.root), "--output_dir", str(tmp_path / "pack"), *common,
                    "--import_options", f"llm={tiny_llm_dir}", "--import_options", f"mms_config={ce_pack.mms_config_dir}",
                    "--import_options", "llm_quantization=null", "--import_options", "llm_dtype=float32"])
    inference_main(["--model_dir", str(ce_model_dir), "--output_dir", str(tmp_path / "imported"), *common])
    assert (tmp_path / "pack/text").read_text() == (tmp_path / "imported/text").read_text()
    settings = yaml.safe_load((tmp_path / "pack/decode_settings.yaml").read_text())
    assert settings["model"]["import_options"]["llm_quantization"] is None
