"""Turns one utterance's raw data into the arrays the model takes.

- ``text``: the target, tokenized with the LLM's own tokenizer (no special tokens; the
  model appends end-of-sequence), so ids and text round-trip exactly.
- ``text_cleaner`` (optional) normalises ``text`` and ``transcript`` first (see
  :data:`TEXT_CLEANERS`; the paper's CTC step cleans with ``whisper_basic``).
- ``transcript``: the transcript where ``text`` is an instruction's answer, tokenized
  the same way (the CTC target of instruction training with ``ctc_weight > 0``).
- ``prefix`` / ``postfix``: the instruction around the speech, per utterance from the
  data files of those names (one JSON string per utterance, see
  :mod:`espnet2_bloomzmms.data.datadir`), else the configured defaults.
- ``lang``: the utterance's language code (from ``utt2lang``) as its index in the
  language list (0 is the CTC blank), the target of the language inter-CTC.
"""

from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from espnet2.train.preprocessor import AbsPreprocessor

from espnet2_bloomzmms.data.datadir import unescape_value
from espnet2_bloomzmms.scoring.asr import normalize
from espnet2_bloomzmms.utils.hf_loading import load_tokenizer

#: the instruction around an utterance whose data dir gives none (the BLOOMZMMS ASR template)
DEFAULT_PREFIX = "Repeat the sentence: "
DEFAULT_POSTFIX = ". "

#: ``text_cleaner`` choices, applied to the target and transcript before tokenizing:
#: ``whisper_basic`` is Whisper's basic normaliser exactly (the authors' CTC training
#: text: lower case, no punctuation, combining marks such as Devanagari vowel signs
#: become spaces), ``whisper_basic_keep_marks`` keeps those marks (our scoring's choice).
TEXT_CLEANERS = {
    None: lambda text: text,
    "whisper_basic": lambda text: normalize(text, keep_marks=False),
    "whisper_basic_keep_marks": lambda text: normalize(text, keep_marks=True),
}


def default_instructions(preprocessor_conf: Optional[dict]) -> Tuple[str, str]:
    """The (prefix, postfix) a model was trained with where a data dir gave none: its
    config's ``preprocessor_conf`` values, else :data:`DEFAULT_PREFIX`/:data:`DEFAULT_POSTFIX`."""
    conf = dict(preprocessor_conf or {})
    return conf.get("default_prefix", DEFAULT_PREFIX), conf.get("default_postfix", DEFAULT_POSTFIX)


class BloomzMMSPreprocessor(AbsPreprocessor):
    """Tokenizes targets and instructions; maps language codes to inter-CTC labels."""

    def __init__(
        self,
        train: bool,
        tokenizer: str,
        lang_list: Optional[Sequence[str]] = None,
        default_prefix: str = DEFAULT_PREFIX,
        default_postfix: str = DEFAULT_POSTFIX,
        speech_name: str = "speech",
        text_name: str = "text",
        text_cleaner: Optional[str] = None,
    ):
        super().__init__(train)
        if text_cleaner not in TEXT_CLEANERS:
            raise ValueError(f"preprocessor: text_cleaner must be one of {sorted(TEXT_CLEANERS, key=str)}, "
                             f"not {text_cleaner!r}")
        self.clean = TEXT_CLEANERS[text_cleaner]
        self.tokenizer = load_tokenizer(tokenizer)
        self.lang_ids = {lang: i + 1 for i, lang in enumerate(lang_list or [])}
        self.defaults = {"prefix": default_prefix, "postfix": default_postfix}
        self.speech_name = speech_name
        self.text_name = text_name

    def tokenize(self, text: str) -> np.ndarray:
        return np.asarray(self.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=np.int64)

    def instruction(self, uid: str, name: str, data: Dict) -> np.ndarray:
        if name not in data:
            return self.tokenize(self.defaults[name])
        try:
            return self.tokenize(unescape_value(data[name]))
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"utterance {uid}: its {name} line is not a JSON string "
                f'(write e.g. {uid} "Repeat the sentence: "): {data[name]!r}'
            ) from e

    def __call__(self, uid: str, data: Dict[str, Union[str, np.ndarray]]) -> Dict[str, np.ndarray]:
        speech = data.get(self.speech_name)
        if speech is not None:
            speech = np.asarray(speech)
            if speech.ndim != 1:
                raise ValueError(f"utterance {uid}: speech must be mono, got shape {speech.shape}")
            if speech.size == 0:
                raise ValueError(f"utterance {uid}: speech is empty")
            data[self.speech_name] = speech.astype(np.float32)
        for name in (self.text_name, "transcript"):
            if isinstance(data.get(name), str):
                data[name] = self.tokenize(self.clean(data[name]))
        for name in ("prefix", "postfix"):
            data[name] = self.instruction(uid, name, data)
        if "lang" in data and self.lang_ids:
            code = data["lang"]
            if code not in self.lang_ids:
                raise ValueError(
                    f"utterance {uid}: language {code!r} is not in the language list "
                    f"({', '.join(list(self.lang_ids)[:10])}{', ...' if len(self.lang_ids) > 10 else ''})"
                )
            data["lang"] = np.asarray([self.lang_ids[code]], dtype=np.int64)
        elif "lang" in data:  # no language inter-CTC: the label is not needed
            del data["lang"]
        return data
