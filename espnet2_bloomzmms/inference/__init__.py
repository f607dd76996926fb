"""Decoding with a trained BLOOMZMMS model:

    >>> from espnet2_bloomzmms.inference import BloomzMMS
    >>> bloomzmms = BloomzMMS.from_pretrained("exp/bloomzmms_train")   # or a packed .zip, or owner/name
    >>> bloomzmms(wave)                                                 # 16 kHz mono
    'The weather is nice today.'
    >>> bloomzmms.batch([w1, w2], prefixes="Translate into French: ")
    >>> bloomzmms(wave, allowed_answers=["English", "German"])          # classification
    >>> bloomzmms.ctc_greedy([w1, w2])                                  # the CTC head

``loading``: experiment dirs, packed zips and hub models, weights as tensors only;
``speech_input``: waveform checks, resampling, the encoded batch; ``chunking``: long
audio cut at low-energy points; ``generation``: :class:`BloomzMMS`.
"""

from espnet2_bloomzmms.inference.generation import BloomzMMS, llm_context_length
from espnet2_bloomzmms.inference.speech_input import Encoded, check_waveform, resample
from espnet2_bloomzmms.model_archive import find_model_file, unpack_model
from espnet2_bloomzmms.preprocessor import default_instructions

__all__ = ["BloomzMMS", "Encoded", "check_waveform", "default_instructions", "find_model_file", "llm_context_length",
           "resample", "unpack_model"]
