"""The registry of data-dir files: every step's list comes from it, and every entry gets
through speed perturbation, formatting, instruction targets and training's data options
on a data dir of real speech as the registry says."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile

from espnet2_bloomzmms.data import files
from espnet2_bloomzmms.data.datadir import read_kv, write_kv
from espnet2_bloomzmms.data.format import format_data_dir
from espnet2_bloomzmms.data.speed_perturb import factor_prefix, perturb_data_dir

BLOOMZMMS_SH = Path(__file__).resolve().parents[2] / "egs2/TEMPLATE/bloomzmms1/bloomzmms.sh"
POOL = "T\trepeat\ttrain\tRepeat the sentence: \t. \nrep1\trepeat\ttrain\tA text in {lang}: \t\\nThe same text:\n"
FACTORS = (0.9, 1.0)
# the shell loop bloomzmms.sh had before it asked the registry: its options must stay the same
OLD_DATA_OPTS = r'''
old_data_opts() {
    local d=$2
    local opts=(--"$1"_shape_file "$d/utt2num_samples" --"$1"_data_path_and_name_and_type "$d/wav.scp,speech,sound")
    for f in text:text utt2lang:lang prefix:prefix postfix:postfix transcript:transcript; do
        if [ -e "$d/${f%%:*}" ]; then
            opts+=(--"$1"_data_path_and_name_and_type "$d/${f%%:*},${f##*:},text")
        fi
    done
    echo "${opts[@]}"
}
'''


def test_registry_is_consistent():
    names = [f.name for f in files.DATA_FILES]
    assert len(set(names)) == len(names)
    fields = [f.field for f in files.DATA_FILES if f.field]
    assert len(set(fields)) == len(fields)
    trained = [f.training.name for f in files.DATA_FILES if f.training]
    assert len(set(trained)) == len(trained)
    kinds = {files.SOUND, files.TEXT, files.TOKEN, files.JSON, files.COUNT, files.IDS}
    for f in files.DATA_FILES:
        assert f.kind in kinds and f.holds and f.keyed_by in ("utterance", "speaker"), f
        assert f.speed_perturb in (None, files.SP_AUDIO, files.SP_COPY, files.SP_PREFIX, files.SP_RECOMPUTE,
                                   files.SP_DERIVE, files.SP_WRITE), f
        assert f.format in (None, files.FMT_AUDIO, files.FMT_COPY, files.FMT_RECOMPUTE), f
        assert f.instruction_targets in (None, files.IT_CARRY, files.IT_WRITE, files.IT_DERIVE), f
        if f.training:
            assert f.training.required in (None, files.ALWAYS, files.TRAINING), f
            assert f.format is not None, f"{f.name}: training reads it, formatting must give it"
            assert f.instruction_targets is not None, f"{f.name}: training reads it from the T/MI/TMI dirs"
        if f.field:  # read_data_dir / write_data_dir carry fields through every step
            assert f.speed_perturb and f.format and f.instruction_targets, f
        if f.required:
            assert f.field, f
    # the audio is rewritten by both steps, and the shape file computed
    assert [f.name for f in files.DATA_FILES if f.speed_perturb == files.SP_AUDIO] == ["wav.scp"]
    assert [f.name for f in files.DATA_FILES if f.format == files.FMT_AUDIO] == ["wav.scp"]
    assert [f.name for f in files.DATA_FILES if f.shape_file] == ["utt2num_samples"]
    assert files.data_file("prefix").kind == files.JSON
    with pytest.raises(KeyError, match="not a data-dir file"):
        files.data_file("segments")


def test_every_step_lists_from_the_registry():
    from espnet2_bloomzmms.data import datadir, format, instruction_sets, speed_perturb

    assert datadir.FIELD_FILES == {"wav": "wav.scp", "text": "text", "spk": "utt2spk", "lang": "utt2lang",
                                   "prefix": "prefix", "postfix": "postfix"}
    assert datadir.ESCAPED_FILES == {"prefix", "postfix", "middle"}
    assert files.REQUIRED_FILES == ("wav.scp", "text", "utt2spk")
    assert datadir.validate_data_dir.__defaults__[0] == files.REQUIRED_FILES
    assert set(format.COPIED) == {f.name for f in files.DATA_FILES if f.format == files.FMT_COPY}
    assert "transcript" in format.COPIED and "utt2uniq" in format.COPIED
    assert speed_perturb._KNOWN_FILES == {f.name for f in files.DATA_FILES if f.speed_perturb}
    assert instruction_sets.EXTRA_FILES == ("utt2num_samples",)
    assert [f.field for f in instruction_sets.CARRIED_FIELDS] == ["wav", "spk", "lang"]
    assert files.decoded_files() == ("wav.scp", "prefix", "postfix", "wav2.scp", "middle")


def test_task_data_names_come_from_the_registry():
    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    assert BloomzMMSTask.required_data_names() == ("speech", "text") == files.required_data_names()
    assert BloomzMMSTask.required_data_names(train=False, inference=True) == ("speech",)
    optional = BloomzMMSTask.optional_data_names()
    assert optional == files.optional_data_names()
    assert set(optional) == {"prefix", "postfix", "lang", "transcript"}
    assert set(BloomzMMSTask.required_data_names()) | set(optional) == {
        f.training.name for f in files.DATA_FILES if f.training}


@pytest.fixture(scope="module")
def pipeline(espeak_data_dir, tiny_llm_dir, tmp_path_factory):
    """data/train (every registry file a source can have) -> speed perturbation ->
    formatting -> T and MI dirs, as bloomzmms.sh stages 2 and 4 run them."""
    from espnet2_bloomzmms.bin import make_instruction_targets

    root = tmp_path_factory.mktemp("registry")
    src = root / "data" / "train"
    shutil.copytree(espeak_data_dir, src)
    wav = read_kv(src / "wav.scp")
    ids = list(wav)
    write_kv(src / "transcript", {u: f"transcript of {u}" for u in ids})
    write_kv(src / "utt2num_samples", {u: str(soundfile.info(w).frames) for u, w in wav.items()})
    write_kv(src / "utt2uniq", {u: f"orig-{u}" for u in ids})
    # evaluation-only files of spoken pairs and translations: no step carries them
    write_kv(src / "wav2.scp", wav)
    write_kv(src / "transcript2", {u: "second" for u in ids})
    write_kv(src / "middle", {u: "\nAnd: " for u in ids})
    write_kv(src / "utt2pair", {u: "en de" for u in ids})
    sp, dump = root / "data" / "train_sp", root / "dump" / "train_sp"
    perturb_data_dir(src, sp, FACTORS)
    format_data_dir(sp, dump)
    (root / "pool.tsv").write_text(POOL, encoding="utf-8")
    (root / "languages.tsv").write_text("en\tEnglish\ten\nde\tGerman\tde\n", encoding="utf-8")
    make_instruction_targets.main([
        "--src", str(dump), "--llm", str(tiny_llm_dir), "--templates", str(root / "pool.tsv"),
        "--languages", str(root / "languages.tsv"), "--dst_prefix", str(dump), "--exp_dir", str(root / "targets"),
        "--k", "1", "--max_new_tokens", "8", "--variants", "T", "MI", "--device", "cpu"])
    return src, sp, dump, root / "dump" / "train_sp_T", root / "dump" / "train_sp_MI"


def _frames(wav_scp: Path) -> dict:
    return {u: str(soundfile.info(w).frames) for u, w in read_kv(wav_scp).items()}


def test_speed_perturbation_does_what_the_registry_says(pipeline):
    src, sp, *_ = pipeline
    ids = list(read_kv(src / "wav.scp"))
    new_ids = [f"{factor_prefix(f)}{u}" for f in FACTORS for u in ids]
    for f in files.DATA_FILES:
        assert (sp / f.name).is_file() == (f.speed_perturb is not None), f.name
        if f.speed_perturb is None or f.keyed_by != "utterance":
            continue
        got = read_kv(sp / f.name)
        assert sorted(got) == sorted(new_ids), f.name
        want = read_kv(src / f.name) if (src / f.name).is_file() else None
        for factor in FACTORS:
            for u in ids:
                value = got[factor_prefix(factor) + u]
                if f.speed_perturb == files.SP_COPY:
                    assert value == want[u], f.name
                elif f.speed_perturb == files.SP_PREFIX:
                    assert value == factor_prefix(factor) + want[u], f.name
                elif f.speed_perturb == files.SP_WRITE:  # utt2uniq, composed with the source's
                    assert value == want[u], f.name
    # recomputed: the lengths of the audio written
    assert read_kv(sp / "utt2num_samples") == _frames(sp / "wav.scp")
    lengths, src_lengths = read_kv(sp / "utt2num_samples"), read_kv(src / "utt2num_samples")
    assert all(lengths[u] == src_lengths[u] != lengths[f"sp0.9-{u}"] for u in ids)
    assert set(read_kv(sp / "spk2utt")) == {factor_prefix(f) + s for f in FACTORS
                                            for s in set(read_kv(src / "utt2spk").values())}


def test_formatting_does_what_the_registry_says(pipeline):
    _, sp, dump, *_ = pipeline
    for f in files.DATA_FILES:
        assert (dump / f.name).is_file() == (f.format is not None and (sp / f.name).is_file()), f.name
        if f.format == files.FMT_COPY:
            assert (dump / f.name).read_bytes() == (sp / f.name).read_bytes(), f.name
    assert read_kv(dump / "utt2num_samples") == _frames(dump / "wav.scp")


def test_instruction_targets_do_what_the_registry_says(pipeline):
    _, _, dump, t_dir, mi_dir = pipeline
    text = read_kv(dump / "text")
    for d in (t_dir, mi_dir):
        ids = read_kv(d / "wav.scp")
        origin = {u: u if u in text else u.rsplit("-", 1)[0] for u in ids}
        assert set(origin.values()) <= set(text)
        for f in files.DATA_FILES:
            assert (d / f.name).is_file() == (f.instruction_targets is not None), (d.name, f.name)
            if f.instruction_targets == files.IT_CARRY:
                source = read_kv(dump / f.name)
                assert read_kv(d / f.name) == {u: source[o] for u, o in origin.items()}, (d.name, f.name)
            elif f.instruction_targets == files.IT_WRITE:
                assert set(read_kv(d / f.name)) == set(ids), (d.name, f.name)
        assert read_kv(d / "transcript") == {u: text[o] for u, o in origin.items()}


def test_training_options_load_with_espnet(pipeline, tiny_llm_dir, tmp_path):
    """The options name loaders ESPnet has, and every file training reads, which the
    task's preprocessor turns into the model's inputs."""
    from espnet2.train.dataset import ESPnetDataset

    from espnet2_bloomzmms.preprocessor import BloomzMMSPreprocessor

    *_, t_dir, mi_dir = pipeline
    for split in ("train", "valid"):
        opts = files.training_options(split, str(t_dir))
        assert opts[:2] == [f"--{split}_shape_file", f"{t_dir}/utt2num_samples"]
        specs = [tuple(v.split(",")) for k, v in zip(opts[::2], opts[1::2])
                 if k == f"--{split}_data_path_and_name_and_type"]
        assert len(specs) * 2 + 2 == len(opts)
        assert [s[1] for s in specs] == ["speech", "text", "lang", "prefix", "postfix", "transcript"]
        preprocess = BloomzMMSPreprocessor(train=split == "train", tokenizer=str(tiny_llm_dir), lang_list=["de", "en"])
        dataset = ESPnetDataset(specs, preprocess=preprocess)
        uid = read_kv(t_dir / "wav.scp").popitem()[0]
        _, data = dataset[uid]
        assert set(data) == {"speech", "text", "lang", "prefix", "postfix", "transcript"}
        assert preprocess.tokenizer.decode(data["prefix"]) == "Repeat the sentence: "  # the JSON string, whole
        assert preprocess.tokenizer.decode(data["transcript"]) == read_kv(t_dir / "transcript")[uid]
        assert data["speech"].shape == (int(read_kv(t_dir / "utt2num_samples")[uid]),)
    # the shell pipeline's CLI prints the same
    cli = subprocess.run([sys.executable, "-m", "espnet2_bloomzmms.data.files", "--training_args", "valid",
                          str(mi_dir)], capture_output=True, text=True, check=True)
    assert cli.stdout == " ".join(files.training_options("valid", str(mi_dir))) + "\n"
    bad = subprocess.run([sys.executable, "-m", "espnet2_bloomzmms.data.files", "--training_args", "valid",
                          str(tmp_path / "missing")], capture_output=True, text=True)
    assert bad.returncode != 0 and "is not a directory" in bad.stderr


def _bash_data_opts(function: str, cwd: Path, split: str, data_dir: str) -> subprocess.CompletedProcess:
    script = f"set -euo pipefail\npython={sys.executable}\n{function}\n{OLD_DATA_OPTS}\n"
    return subprocess.run(["bash", "-c", script + f'data_opts {split} "$1"; old_data_opts {split} "$1"',
                           "bash", data_dir], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_bloomzmms_sh_data_opts_are_as_before(pipeline, tmp_path):
    """bloomzmms.sh's data_opts (from the registry) gives the options its shell loop gave:
    for T dirs (every text file) and for a dir with only some, relative paths kept."""
    *_, t_dir, _ = pipeline
    function = re.search(r"^data_opts\(\) \{.*?^\}$", BLOOMZMMS_SH.read_text(), flags=re.M | re.S).group(0)
    assert "espnet2_bloomzmms.data.files --training_args" in function
    some = tmp_path / "dump" / "raw" / "valid"
    some.mkdir(parents=True)
    for name in ("wav.scp", "text", "utt2num_samples", "prefix", "utt2spk"):
        shutil.copyfile(t_dir / name, some / name)
    for cwd, d in ((t_dir.parent, t_dir.name), (tmp_path, "dump/raw/valid"), (tmp_path, f"{tmp_path}/dump/raw/valid")):
        for split in ("train", "valid"):
            result = _bash_data_opts(function, cwd, split, d)
            assert result.returncode == 0, result.stderr
            new, old = result.stdout.splitlines()
            assert new == old and new.startswith(f"--{split}_shape_file {d}/utt2num_samples "), (d, split)
    assert "prefix,prefix,text" in old and "postfix" not in old and "transcript" not in old
