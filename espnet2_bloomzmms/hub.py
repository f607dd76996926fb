"""Share packed models on the Hugging Face hub: upload with a model card, download by name.

    >>> upload_model("exp/packed/bloomzmms_ce_TMI.zip", "owner/bloomzmms-fleurs")
    >>> BloomzMMS.from_pretrained("owner/bloomzmms-fleurs")      # download_model + load

A model repo holds exactly what a packed archive holds (see
:mod:`espnet2_bloomzmms.model_archive`: ``meta.yaml``, ``config.yaml`` with relative
base-model paths, ``model.pth`` with only the trained weights, ``RESULTS.md``, and the
base models only when they were local directories, tokenizer included), plus a
``README.md`` model card with the results table, the exact base models, the instruction
format and usage code. Frozen base models published on the hub are named, not copied:
they are fetched by name where the model is used, like any transformers model.

Everything goes through ``huggingface_hub`` (``HfApi.create_repo``/``upload_folder``,
``snapshot_download``); ``endpoint`` reaches another hub (a mirror, a local stand-in) with
the same calls, and the token comes from ``token``, ``HF_TOKEN`` or ``hf auth login``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Union

import yaml
from huggingface_hub import HfApi, ModelCard, ModelCardData, snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError, HfHubHTTPError

from espnet2_bloomzmms.model_archive import (
    BASE_MODEL_KEYS,
    ArchiveError,
    extract_archive,
    pack_model,
    read_meta,
)
from espnet2_bloomzmms.reference.pack import is_reference_pack
from espnet2_bloomzmms.utils.hf_loading import looks_like_path

__all__ = ["HubDownloadError", "base_model_revision", "download_model", "model_card", "upload_model"]

COMPONENTS = {"frontend_conf": "speech encoder (frontend)", "decoder_conf": "LLM (decoder)"}


class HubDownloadError(OSError):
    """A model could not be fetched from the hub."""


def base_model_revision(name: str) -> Optional[str]:
    """The commit of hub model ``name`` in the local Hugging Face cache (what training
    loaded, on the machine that trained), or None where unknown."""
    if looks_like_path(name):
        return None
    try:
        found = try_to_load_from_cache(name, "config.json")
    except (ValueError, OSError):
        return None
    if not isinstance(found, str):
        return None
    path = Path(found)
    return path.parent.name if path.parent.parent.name == "snapshots" else None


def _default_instructions(config: dict) -> tuple:
    from espnet2_bloomzmms.preprocessor import default_instructions  # (imports the tokenizer stack)

    return default_instructions(config.get("preprocessor_conf"))


def _base_models(config: dict) -> List[Dict[str, str]]:
    rows = []
    for section, key in BASE_MODEL_KEYS:
        conf = config.get(section) or {}
        name = conf.get(key)
        if not name:
            continue
        packed = not Path(name).is_absolute() and name.startswith("base_models/")
        revision = None if packed else base_model_revision(name)
        rows.append({
            "component": COMPONENTS.get(section, section),
            "name": name,
            "revision": "n/a" if packed else (f"`{revision}`" if revision else "unknown"),
            "where": f"in this repo, `{name}/`" if packed else f"[{name}](https://huggingface.co/{name})",
            "frozen": "no" if conf.get("freeze") is False else "yes",
        })
    return rows


def _lora(config: dict) -> str:
    lora = (config.get("decoder_conf") or {}).get("lora")
    if not lora:
        return "none (the frozen base LLM is used as is)"
    settings = ", ".join(f"{k}={v}" for k, v in lora.items())
    return f"LoRA adapters on the LLM ({settings}); they are in `model.pth`"


def model_card(root: Union[str, Path], repo_id: str, license: Optional[str] = None) -> str:
    """The README.md model card for the packed model extracted at ``root``."""
    root = Path(root)
    meta = read_meta((root / "meta.yaml").read_bytes() if (root / "meta.yaml").is_file() else None, root)
    config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    bases = _base_models(config)
    prefix, postfix = _default_instructions(config)
    results_file = root / "RESULTS.md"
    results = results_file.read_text(encoding="utf-8").strip() if results_file.is_file() else (
        "No results were packed with this model (`RESULTS.md` missing).")
    languages = [lang for lang in (config.get("lang_list") or []) if isinstance(lang, str)]
    data = ModelCardData(
        library_name="espnet",
        license=license,
        language=languages or None,
        base_model=[b["name"] for b in bases if not b["where"].startswith("in this repo")] or None,
        pipeline_tag="automatic-speech-recognition",
        tags=["espnet", "espnet2-bloomzmms", "audio", "speech", "speech-llm", "speech-translation", "multilingual"],
    )
    base_rows = "\n".join(
        "| {component} | `{name}` | {revision} | {frozen} | {where} |".format(**b) for b in bases
    )
    body = f"""
# {repo_id}

A speech-understanding model trained with espnet2-bloomzmms \
(version {meta.get('espnet2_bloomzmms')}): a multilingual speech encoder (MMS) whose output, \
through an E-Branchformer and a length adaptor, is fed as input embeddings to a multilingual \
LLM (BLOOMZ), trained with multiple instructions (Denisov & Vu, Findings of NAACL 2024, \
arXiv:2404.10922). It answers a text instruction about the speech: transcription by default, \
other instructions (e.g. translation) zero-shot.

## Results

{results}

## Base models

| component | model | revision | frozen | where |
|---|---|---|---|---|
{base_rows}

Adapters: {_lora(config)}. `model.pth` holds only the trained weights \
(checkpoint `{meta.get('checkpoint')}`); frozen base models are loaded by name \
(the tokenizer is the LLM's own). Packed with torch {meta.get('torch')}, archive format \
{meta.get('format')}.

## Instruction format

The LLM receives `[E(prefix) ; speech embeddings ; E(postfix)]` (E: the LLM's own token \
embeddings) and continues with the answer. The training instruction, used when none is given:

```python
prefix = {prefix!r}
postfix = {postfix!r}
```

Any other instruction can be given per utterance, e.g. \
`prefix="Translate the following text from English to German\\n", postfix="\\n"`.

## Usage

With the espnet2-bloomzmms package installed (its `tools/install.sh` sets up PyTorch, \
ESPnet and the plugin):

```python
import soundfile
from espnet2_bloomzmms.inference import BloomzMMS

model = BloomzMMS.from_pretrained("{repo_id}", num_beams=5, chunk_seconds=30)
wave, fs = soundfile.read("speech.wav", dtype="float32")
print(model(wave, fs=fs))                                    # the training instruction
print(model(wave, prefix="Translate the following text from English to German\\n", postfix="\\n", fs=fs))
print(model.ctc_greedy([wave], fs=fs))                       # the CTC head
```

Decode a Kaldi-style data directory (`wav.scp`, optional `prefix`/`postfix`):

```bash
python -m espnet2_bloomzmms.bin.inference --model_dir {repo_id} --data_dir data/test \\
    --output_dir decode_test --num_beams 5 --ctc true
```
"""
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")
    return str(card)


def _extract_for_upload(source: Path, work: Path, results: Optional[str]) -> Path:
    """The packed model's files under ``work/repo`` (packing an experiment dir first)."""
    if source.is_dir():
        archive = pack_model(source, work / "packed.zip", results)
    elif source.is_file() and source.suffix == ".zip":
        archive = source
    else:
        raise FileNotFoundError(f"{source}: neither a packed .zip model nor an experiment directory")
    repo = work / "repo"
    extract_archive(archive, repo)
    return repo


def upload_model(
    source: Union[str, Path],
    repo_id: str,
    *,
    results: Optional[str] = None,
    private: bool = False,
    license: Optional[str] = None,
    commit_message: Optional[str] = None,
    token: Union[str, bool, None] = None,
    endpoint: Optional[str] = None,
) -> str:
    """Create (or reuse) the model repo ``repo_id`` and upload a packed model to it.

    ``source``: a packed ``.zip`` or an experiment directory (packed here, with
    ``results`` as RESULTS.md). Returns the URL of the commit.
    """
    api = HfApi(endpoint=endpoint, token=token)
    with tempfile.TemporaryDirectory() as tmp:
        folder = _extract_for_upload(Path(source), Path(tmp), results)
        (folder / "README.md").write_text(model_card(folder, repo_id, license), encoding="utf-8")
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        logging.info("uploading %s to %s", source, url)
        info = api.upload_folder(
            repo_id=repo_id, folder_path=folder, repo_type="model",
            commit_message=commit_message or f"Upload BLOOMZMMS model from {Path(source).name}",
        )
    return str(info.commit_url)


def download_model(
    repo_id: str,
    revision: Optional[str] = None,
    cache_dir: Union[str, Path, None] = None,
    token: Union[str, bool, None] = None,
    endpoint: Optional[str] = None,
    context: str = "",
) -> Path:
    """The local directory (Hugging Face cache) of model repo ``repo_id``, downloaded
    when not cached, after checking that this version can read it (a packed model of
    ours, or one of the authors' ESPnet packs, which the caller converts)."""
    try:
        root = Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, token=token,
                                      endpoint=endpoint, repo_type="model"))
    except (HfHubHTTPError, EntryNotFoundError, OSError, ValueError) as e:
        raise HubDownloadError(
            f"{repo_id}: {context}could not download it from the Hugging Face hub "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
        ) from e
    meta = root / "meta.yaml"
    if is_reference_pack(root):  # one of the authors' ESPnet packs: the caller converts it
        return root
    try:
        read_meta(meta.read_bytes() if meta.is_file() else None, f"hub model {repo_id}")
    except ArchiveError as e:
        raise ArchiveError(f"{e} (downloaded to {root})") from e
    return root
