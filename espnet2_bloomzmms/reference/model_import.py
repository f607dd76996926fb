"""An authors' pack (ESPnet v.202304, see :mod:`.pack`) as an experiment directory of ours.

    <output_dir>/config.yaml      our components: the authors' structures, by name
    <output_dir>/<model file>     the trained weights, under our names (the pack's file name)
    <output_dir>/mms/             the pack's MMS as a transformers Wav2Vec2 checkpoint
    <output_dir>/RESULTS.md       the pack's results, when it has them
    <output_dir>/import.json      what was mapped, dropped and decided

Where each tensor of the pack goes:

    frontend.upstream.upstream.model.*   -> mms/ (fairseq names renamed, :mod:`.fairseq_wav2vec2`)
    frontend.featurizer.weights          -> frontend.layer_weights (softmax-weighted layer sum)
    preencoder.*, encoder.*              -> the same names (ESPnet's linear pre-encoder and
                                            E-Branchformer; encoder.conditioning_layer included)
    postencoder.length_adaptor.*, .linear_in.* -> conv_relu_linear, the same names
    lid_ctc.*                            -> lang_ctc.* (the language inter-CTC, stride 2)
    ctc.ctc_lo.weight                    -> tied to the LLM's embeddings where it equals their
                                            first V rows, else kept as its own frozen head
    decoder.*                            -> dropped: BLOOMZ is reloaded by name (8-bit averages
                                            in the CE packs are unusable); decoder.prefix/postfix
                                            only checked against the instruction's token count

Anything else is an error naming the key (``allow_unused`` to go on without it).
"""

import argparse
import hashlib
import inspect
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import yaml

import espnet2_bloomzmms
from espnet2_bloomzmms.preprocessor import DEFAULT_POSTFIX, DEFAULT_PREFIX
from espnet2_bloomzmms.reference import fairseq_wav2vec2
from espnet2_bloomzmms.reference.pack import ReferencePack, ReferencePackError, read_reference_pack
from espnet2_bloomzmms.utils.atomic_files import build_dir_once, write_dir_atomically

MMS_PREFIX = "frontend.upstream.upstream.model."
RENAMED = {"frontend.featurizer.weights": "frontend.layer_weights"}
KEPT_PREFIXES = ("preencoder.", "encoder.", "postencoder.length_adaptor.", "postencoder.linear_in.")
MOVED_PREFIXES = {"lid_ctc.": "lang_ctc."}
CTC_HEAD = "ctc.ctc_lo.weight"
LLM_PREFIX = "decoder."
DEFAULT_LLM = "bigscience/bloomz-7b1"
DEFAULT_MMS_CONFIG = "facebook/mms-1b-all"


@dataclass
class SplitState:
    """The pack's tensors sorted by where they go."""

    mms: Dict[str, torch.Tensor] = field(default_factory=dict)  # fairseq names, prefix removed
    model: Dict[str, torch.Tensor] = field(default_factory=dict)  # our names
    ctc_head: Optional[torch.Tensor] = None
    llm: Dict[str, torch.Tensor] = field(default_factory=dict)  # decoder.* (dropped)
    unplaced: List[str] = field(default_factory=list)


def split_state(state: Dict[str, torch.Tensor]) -> SplitState:
    out = SplitState()
    for key, value in state.items():
        if not isinstance(value, torch.Tensor):
            if key.startswith(LLM_PREFIX):  # bitsandbytes' format entries of the 8-bit LLM
                continue
            out.unplaced.append(key)
        elif key.startswith(MMS_PREFIX):
            out.mms[key[len(MMS_PREFIX):]] = value
        elif key in RENAMED:
            out.model[RENAMED[key]] = value
        elif key.startswith(KEPT_PREFIXES):
            out.model[key] = value
        elif key == CTC_HEAD:
            out.ctc_head = value
        elif key.startswith(LLM_PREFIX):
            out.llm[key] = value
        else:
            for old, new in MOVED_PREFIXES.items():
                if key.startswith(old):
                    out.model[new + key[len(old):]] = value
                    break
            else:
                out.unplaced.append(key)
    return out


def _require(condition: bool, source, message: str) -> None:
    if not condition:
        raise ReferencePackError(f"{source}: {message}")


def _encoder_conf(ref: dict, source) -> dict:
    from espnet2.asr.encoder.e_branchformer_encoder import EBranchformerEncoder

    _require(ref.get("encoder") == "e_branchformer", source,
             f"encoder is {ref.get('encoder')!r}; the authors' models use e_branchformer")
    conf = dict(ref.get("encoder_conf") or {})
    accepted = set(inspect.signature(EBranchformerEncoder.__init__).parameters)
    unknown = sorted(set(conf) - accepted)
    _require(not unknown, source, f"encoder_conf keys {unknown} are not options of ESPnet's E-Branchformer here")
    return conf


def _check_frontend(ref: dict, source) -> None:
    _require(ref.get("frontend") == "s3prl", source, f"frontend is {ref.get('frontend')!r}, not s3prl (the "
             "authors' MMS)")
    conf = ref.get("frontend_conf") or {}
    upstream = str((conf.get("frontend_conf") or {}).get("upstream", ""))
    _require(upstream.startswith("wav2vec2"), source, f"frontend_conf.frontend_conf.upstream is {upstream!r}, "
             "not a wav2vec2 upstream")
    _require(conf.get("multilayer_feature") is True, source, "frontend_conf.multilayer_feature is not true: "
             "the authors' frontend sums all MMS layers")
    fs = str(conf.get("fs", "16k")).lower()
    _require(fs in ("16k", "16000"), source, f"frontend_conf.fs is {conf.get('fs')!r}, not 16k")


def _postencoder_layers(ref: dict, source) -> int:
    _require(ref.get("postencoder") == "hugging_face_transformers", source,
             f"postencoder is {ref.get('postencoder')!r}, not the authors' hugging_face_transformers adaptor")
    conf = ref.get("postencoder_conf") or {}
    _require(conf.get("model_name_or_path") in (None, "", "dummy"), source,
             f"postencoder_conf.model_name_or_path is {conf.get('model_name_or_path')!r}: a postencoder "
             "with a transformer inside is not the authors' length adaptor")
    layers = int(conf.get("length_adaptor_n_layers", 0))
    _require(layers >= 1, source, "postencoder_conf.length_adaptor_n_layers is not >= 1")
    return layers


def _instruction(ref: dict, source) -> tuple:
    """The (prefix, postfix) the model was trained with: the CE packs' decoder_conf; the
    CTC pack has no decoder, and gets the ASR instruction of the CE models."""
    if ref.get("decoder") in (None, "none"):
        return DEFAULT_PREFIX, DEFAULT_POSTFIX
    _require(ref.get("decoder") == "hugging_face_transformers", source,
             f"decoder is {ref.get('decoder')!r}, not hugging_face_transformers (BLOOMZ)")
    conf = ref.get("decoder_conf") or {}
    _require(conf.get("causal_lm", True) is True, source, "decoder_conf.causal_lm is not true")
    return conf.get("prefix", ""), conf.get("postfix", "")


def _llm_name(ref: dict) -> str:
    name = (ref.get("decoder_conf") or {}).get("model_name_or_path")
    if not name and ref.get("token_type") == "hugging_face":
        name = ref.get("bpemodel")
    return name or DEFAULT_LLM


def _lang_ctc_stride(model_state: Dict[str, torch.Tensor], source) -> int:
    adaptor = sorted(k for k in model_state if k.startswith("lang_ctc.length_adaptor."))
    if not adaptor:
        return 0
    _require(all(k.startswith("lang_ctc.length_adaptor.0.") for k in adaptor), source,
             f"the language CTC has more than one length-adaptor layer ({adaptor})")
    return int(model_state["lang_ctc.length_adaptor.0.weight"].shape[-1])


def check_token_list(token_list: Sequence[str], tokenizer, source) -> None:
    """The pack's ids must be the tokenizer's: entry i of ``token_list`` is token i."""
    _require(len(token_list) <= len(tokenizer), source,
             f"token_list has {len(token_list)} entries, the tokenizer only {len(tokenizer)}")
    ours = tokenizer.convert_ids_to_tokens(list(range(len(token_list))))
    for i, (theirs, mine) in enumerate(zip(token_list, ours)):
        if theirs != mine:
            raise ReferencePackError(f"{source}: token_list[{i}] is {theirs!r}, the LLM tokenizer's token {i} is "
                                     f"{mine!r}: the pack's ids are not this tokenizer's (--llm)")


def heads_equal(head: torch.Tensor, embeddings: torch.Tensor, rows: int = 16384) -> bool:
    """Whether a CTC head equals the first rows of the embedding matrix (up to the rounding
    of a 16-bit copy), compared slice by slice."""
    if head.shape[1] != embeddings.shape[1] or head.shape[0] > embeddings.shape[0]:
        return False
    for start in range(0, head.shape[0], rows):
        stop = min(start + rows, head.shape[0])
        a, b = head[start:stop].float(), embeddings[start:stop].float()
        if not torch.allclose(a, b, rtol=1e-3, atol=1e-5):
            return False
    return True


def lang_names(classes: int, lang_list: Optional[Path]) -> List[str]:
    """Names of the language classes 1..classes-1: ``lang_list``'s lines in the authors'
    order (their local/gen_lang_id.py: sorted English names of the training languages),
    else ``lid<N>``: decoding needs only their number (the posteriors condition the
    encoder), and the authors' names depend on their data."""
    from espnet2_bloomzmms.tasks.bloomzmms import read_lang_list

    if lang_list is None:
        return [f"lid{i}" for i in range(1, classes)]
    names = read_lang_list(str(lang_list))
    if len(names) != classes - 1:
        raise ReferencePackError(f"{lang_list}: {len(names)} languages, the pack's language CTC has "
                                 f"{classes - 1} (+ blank)")
    return names


def translate_config(ref: dict, source, *, split: SplitState, mms_dir: str, llm: str, llm_dtype: str,
                     llm_quantization: Optional[str], ctc_head: str, languages: List[str],
                     instruction: Optional[tuple] = None) -> dict:
    """Our training config for the pack's model (all our task's options, as training writes);
    ``instruction``: the (prefix, postfix) :func:`_instruction` read, when already read."""
    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    _check_frontend(ref, source)
    encoder_conf = _encoder_conf(ref, source)
    n_layers = _postencoder_layers(ref, source)
    prefix, postfix = instruction or _instruction(ref, source)  # (which checks the decoder section)
    _require(ref.get("token_type") == "hugging_face", source,
             f"token_type is {ref.get('token_type')!r}, not hugging_face (the LLM's own ids)")
    _require(ref.get("normalize") in (None, "utterance_mvn"), source,
             f"normalize is {ref.get('normalize')!r}; only utterance_mvn (no statistics file) is supported")
    _require(ref.get("preencoder") in (None, "linear"), source, f"preencoder {ref.get('preencoder')!r} is not linear")
    model_conf = ref.get("model_conf") or {}
    inter = [int(i) for i in encoder_conf.get("interctc_layer_idx") or []]
    aux = {int(k): v for k, v in (model_conf.get("aux_ctc") or {}).items()}
    _require(all(aux.get(i) == "utt2lid_token" for i in inter), source,
             f"encoder inter-CTC layers {inter} are not all language CTCs (model_conf.aux_ctc: {aux})")
    stride = _lang_ctc_stride(split.model, source)

    config = vars(BloomzMMSTask.get_parser().parse_args([]))
    config.update(
        frontend="mms",
        frontend_conf=dict(model_name_or_path=mms_dir, adapters=False, freeze=True, waveform_norm_eps=1e-5,
                           output_lengths="s3prl"),
        specaug=None, specaug_conf={},
        normalize=ref.get("normalize"), normalize_conf=dict(ref.get("normalize_conf") or {}),
        preencoder=ref.get("preencoder"), preencoder_conf=dict(ref.get("preencoder_conf") or {}),
        encoder="padding_safe_e_branchformer", encoder_conf=encoder_conf,
        postencoder="conv_relu_linear", postencoder_conf=dict(n_layers=n_layers),
        decoder="llm", decoder_conf=dict(model_name_or_path=llm, dtype=llm_dtype, quantization=llm_quantization),
        ctc_conf=dict(blank_id=0, vocab_size=len(ref["token_list"]), head=ctc_head),
        lang_ctc_conf=dict(stride=stride, target="per_token"),
        lang_list=languages if inter else None,
        preprocessor="bloomzmms",
        preprocessor_conf=dict(default_prefix=prefix, default_postfix=postfix, text_cleaner="whisper_basic"),
        model="bloomzmms",
        model_conf=dict(ctc_weight=float(model_conf.get("ctc_weight", 0.0)),
                        interctc_weight=float(model_conf.get("interctc_weight", 0.0)), speech_input="adaptor"),
        optim=ref.get("optim", config.get("optim")), optim_conf=dict(ref.get("optim_conf") or {}),
        scheduler=ref.get("scheduler", config.get("scheduler")),
        scheduler_conf=dict(ref.get("scheduler_conf") or {}),
        best_model_criterion=ref.get("best_model_criterion", config.get("best_model_criterion")),
        output_dir=None,
    )
    return config


def build_mms(config_name: str, mms_state: Dict[str, torch.Tensor], source):
    """The pack's MMS as a transformers ``Wav2Vec2Model`` of ``config_name``'s architecture
    (without adapters; without the masking embedding where the file has none)."""
    from transformers import AutoConfig, Wav2Vec2Model

    from espnet2_bloomzmms.utils.hf_loading import load_pretrained

    config = load_pretrained(AutoConfig.from_pretrained, config_name, "speech encoder config")
    config.adapter_attn_dim = None
    config.architectures = ["Wav2Vec2Model"]
    if "mask_emb" not in mms_state:
        config.mask_time_prob = config.mask_feature_prob = 0.0
    with torch.device("meta"):
        model = Wav2Vec2Model(config)
    renamed, dropped, unplaced = fairseq_wav2vec2.rename(mms_state, model)
    if unplaced:
        raise ReferencePackError(f"{source}: MMS tensors with no place in a transformers Wav2Vec2: "
                                 f"{[MMS_PREFIX + k for k in unplaced[:5]]}")
    fairseq_wav2vec2.check_fits(model, renamed, source)
    model.load_state_dict(renamed, strict=True, assign=True)
    return model.eval(), [MMS_PREFIX + k for k in dropped]


@dataclass
class ImportResult:
    output_dir: Path
    summary: dict


def check_model_keys(config: dict, state: Dict[str, torch.Tensor], source) -> None:
    """Build our model from ``config`` on the meta device (base models from their configs)
    and require ``state`` to be exactly its trained tensors, in shape."""
    from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

    conf = json.loads(json.dumps(config))
    conf["frontend_conf"]["init_from_config"] = True
    conf["decoder_conf"].update(init_from_config=True, quantization=None)
    with torch.device("meta"):
        model = BloomzMMSTask.build_model(argparse.Namespace(**conf))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    _require(not missing, source, f"the pack lacks {len(missing)} tensor(s) of the model it configures, "
             f"e.g. {missing[:5]}")
    _require(not unexpected, source, f"tensors {unexpected[:5]} have no place in the model it configures")
    for key, shape in expected.items():
        _require(tuple(state[key].shape) == shape, source,
                 f"tensor {key} has shape {tuple(state[key].shape)}, the configured model {shape}")


def import_reference_model(
    pack: Union[str, Path, ReferencePack],
    output_dir: Union[str, Path],
    llm: Optional[str] = None,
    mms_config: str = DEFAULT_MMS_CONFIG,
    llm_dtype: str = "float16",
    llm_quantization: Optional[str] = "auto",
    lang_list: Optional[Path] = None,
    allow_unused: bool = False,
) -> ImportResult:
    """Convert an authors' pack into ``output_dir`` (written atomically) and return what
    was done. ``llm``: the LLM to reload (default: the pack's, ``bigscience/bloomz-7b1``;
    a local copy works); ``llm_dtype``/``llm_quantization``: how it is loaded (``auto``:
    8-bit, as the authors, where the model answers with the LLM; none for the CTC model,
    which only needs its width and tokenizer); ``mms_config``: the architecture of the
    MMS inside the pack."""
    write, summary = converter(pack, output_dir, llm=llm, mms_config=mms_config, llm_dtype=llm_dtype,
                               llm_quantization=llm_quantization, lang_list=lang_list, allow_unused=allow_unused)
    write_dir_atomically(output_dir, write)
    return ImportResult(Path(output_dir).resolve(), summary)


def converter(pack, output_dir, *, llm, mms_config, llm_dtype, llm_quantization, lang_list, allow_unused):
    """Everything read and checked; returns (``write(dir)`` that writes the result, summary)."""
    from espnet2_bloomzmms.utils.hf_loading import load_tokenizer, read_input_embeddings

    pack = pack if isinstance(pack, ReferencePack) else read_reference_pack(pack)
    output_dir = Path(output_dir).resolve()
    ref = pack.config()
    source = pack.config_file
    _require(isinstance(ref.get("token_list"), list), source, "no inline token_list")
    llm = llm or _llm_name(ref)
    split = split_state(pack.state_dict())
    source = pack.model_file
    if split.unplaced:
        message = f"{len(split.unplaced)} tensor(s) this importer cannot place: {split.unplaced[:10]}"
        if not allow_unused:
            raise ReferencePackError(f"{source}: {message} (--allow_unused to go on without them)")
        logging.warning("%s: %s; going on without them (--allow_unused)", source, message)
    _require(bool(split.mms), source, f"no MMS weights ({MMS_PREFIX}*): not one of the authors' packs")

    tokenizer = load_tokenizer(llm)
    check_token_list(ref["token_list"], tokenizer, pack.config_file)
    prefix, postfix = _instruction(ref, pack.config_file)
    embedded = {name: (text, split.llm[name]) for name, text in (("decoder.prefix", prefix), ("decoder.postfix", postfix))
                if name in split.llm}
    embeddings = read_input_embeddings(llm) if embedded or split.ctc_head is not None else None
    for name, (text, value) in embedded.items():  # the CE packs embed their instruction: it must be ours
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        _require(value.dim() >= 2 and value.shape[-2] == len(ids), source,
                 f"{name} has shape {tuple(value.shape)}, but {text!r} is {len(ids)} tokens: "
                 "the instruction in config.yaml is not the one trained with")
        _require(heads_equal(value.reshape(len(ids), -1), embeddings[ids]), source,
                 f"{name} is not the LLM's embedding of {text!r}: another LLM (--llm) or instruction?")

    vocab = len(ref["token_list"])
    head = "tied"
    if split.ctc_head is not None:
        _require(tuple(split.ctc_head.shape) == (vocab, embeddings.shape[1]), source,
                 f"{CTC_HEAD} has shape {tuple(split.ctc_head.shape)}, expected ({vocab}, {embeddings.shape[1]}) "
                 "(token_list x LLM width)")
        if not heads_equal(split.ctc_head, embeddings):
            head = "own"
            split.model["ctc.ctc_lo.weight"] = split.ctc_head
    classes = split.model.get("lang_ctc.ctc_lo.weight")
    languages = lang_names(int(classes.shape[0]), lang_list) if classes is not None else []
    mms, mms_dropped = build_mms(mms_config, split.mms, source)
    ctc_only = float((ref.get("model_conf") or {}).get("ctc_weight", 0.0)) >= 1.0
    if llm_quantization == "auto":
        llm_quantization = None if ctc_only else "8bit"
    config = translate_config(ref, pack.config_file, split=split, mms_dir=str(output_dir / "mms"), llm=llm,
                              llm_dtype=llm_dtype, llm_quantization=llm_quantization, ctc_head=head,
                              languages=languages, instruction=(prefix, postfix))
    summary = {
        "pack": str(pack.root), "config": str(pack.config_file), "model_file": str(pack.model_file),
        "espnet": pack.espnet_version, "llm": llm, "llm_dtype": llm_dtype, "llm_quantization": llm_quantization,
        "mms_config": mms_config, "mms_tensors": len(split.mms) - len(mms_dropped),
        "mms_dropped_pretraining_heads": mms_dropped,
        "model_tensors": len(split.model), "vocab_size": vocab,
        "ctc_head": ("none in the pack: tied to the LLM's embeddings" if split.ctc_head is None
                     else "the pack's, equal to the LLM's embeddings (first V rows): tied" if head == "tied"
                     else f"the pack's own frozen {tuple(split.ctc_head.shape)} matrix (not the LLM's embeddings)"),
        "language_classes": len(languages) + 1 if languages else 0,
        "instruction": [prefix, postfix],
        "llm_tensors_dropped": len(split.llm), "unused": split.unplaced,
    }

    def write(tmp: Path) -> None:
        from transformers import Wav2Vec2FeatureExtractor

        mms.config.save_pretrained(tmp / "mms")  # (the architecture first: the check builds from it)
        check_model_keys(dict(config, frontend_conf=dict(config["frontend_conf"], model_name_or_path=str(tmp / "mms"))),
                         split.model, source)
        mms.save_pretrained(tmp / "mms")
        Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                 return_attention_mask=True).save_pretrained(tmp / "mms")
        (tmp / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        # under the pack's file name (valid.acc.ave_3best.pth, 10epoch.pth), which decoding finds
        torch.save({k: v.contiguous() for k, v in split.model.items()}, tmp / pack.model_file.name)
        if pack.results_file is not None:
            shutil.copy(pack.results_file, tmp / "RESULTS.md")
        (tmp / "import.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    return write, summary


IMPORT_DEFAULTS = dict(llm=None, mms_config=DEFAULT_MMS_CONFIG, llm_dtype="float16", llm_quantization="auto",
                       lang_list=None, allow_unused=False)


def reference_cache() -> Path:
    """Where :func:`imported_pack` keeps converted packs: ``$BLOOMZMMS_CACHE/reference``,
    default ``~/.cache/espnet2_bloomzmms/reference``."""
    root = os.environ.get("BLOOMZMMS_CACHE") or Path.home() / ".cache" / "espnet2_bloomzmms"
    return Path(root) / "reference"


def imported_pack(root: Union[str, Path], options: Optional[dict] = None) -> Tuple[Path, Path]:
    """(config file, model file) of the pack at ``root`` converted with ``options`` (the
    keyword arguments of :func:`import_reference_model`), converted once and cached: keyed
    by the pack's model file (path, size, time), the options and this plugin's version,
    built under a lock (:func:`build_dir_once`), so decoding jobs that load one pack at
    once share one conversion."""
    from espnet2_bloomzmms.model_archive import find_model_file

    pack = read_reference_pack(root)
    options = {**IMPORT_DEFAULTS, **(options or {})}
    unknown = sorted(set(options) - set(IMPORT_DEFAULTS))
    if unknown:
        raise TypeError(f"import_options: unknown option(s) {unknown}; known: {sorted(IMPORT_DEFAULTS)}")
    stat = pack.model_file.stat()
    key = json.dumps([str(pack.model_file.resolve()), stat.st_size, stat.st_mtime_ns, sorted(options.items()),
                      espnet2_bloomzmms.__version__], default=str)
    dest = reference_cache() / f"{Path(root).resolve().name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def convert(tmp: Path) -> None:
        logging.info("converting the authors' pack %s into %s (once)", pack.root, dest)
        converter(pack, dest, **options)[0](tmp)

    build_dir_once(dest, convert, lambda: (dest / "import.json").is_file())  # import.json: written last
    return dest / "config.yaml", find_model_file(dest)
