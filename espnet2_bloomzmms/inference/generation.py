"""Decoding with a trained BLOOMZMMS model, in the spirit of ESPnet's ``Speech2Text``.

Generation: the speech is encoded (``model.encode``), the instruction around it is
embedded with the LLM's own token embeddings, and each utterance's
``[prefix ; speech ; postfix]`` is packed with LEFT padding (``BloomzMMSModel.llm_input``),
so every prompt ends at the last position and the LLM continues all of them in step;
BLOOM's ALiBi biases come from the attention mask, so an utterance decodes the same
alone as in a padded batch. The frozen LLM then runs ``generate`` with a KV cache
(``use_cache=False``: greedy search recomputing the whole sequence each step, for
comparison).

Bad input: audio at another sample rate is resampled when the caller says its rate
(``fs=``); audio longer than ``chunk_seconds`` is cut at low-energy points
(:mod:`espnet2_bloomzmms.inference.chunking`), each chunk decoded, and the answers joined;
empty, too short, non-mono or non-finite audio, and prompts beyond the LLM's context are
refused with an error naming the utterance.

Everything here is a thin layer over the model built by :class:`BloomzMMSTask`; ESPnet's
``ASRTask``/``Speech2Text`` are not used (they would build ESPnet's ASR model).
"""

import logging
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from espnet.nets.pytorch_backend.transformer.subsampling import TooShortUttError
from transformers import LogitsProcessorList, NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor

from espnet2_bloomzmms.audio_io import SAMPLE_RATE
from espnet2_bloomzmms.inference.chunking import split_long_audio
from espnet2_bloomzmms.inference.loading import cast_llm, load_state_dict, model_files
from espnet2_bloomzmms.inference.speech_input import Encoded, Speech, check_waveform
from espnet2_bloomzmms.layers.packing import pack_segments
from espnet2_bloomzmms.preprocessor import default_instructions
from espnet2_bloomzmms.tasks.bloomzmms import BloomzMMSTask

BLOOM_SEQUENCE_LENGTH = 2048  # the sequence length of BLOOM's pre-training
Instructions = Union[None, str, Sequence[Optional[str]]]

# transformers warns on every call that the n-gram ban only sees the generated tokens
# when the prompt is given as embeddings; that is the documented behaviour here.
_PENALTY_WARNINGS = r"Passing `no_repeat_ngram_size` with `inputs_embeds`"

# Models whose positions are ALiBi biases: no learned position table, no hard limit.
_NO_CONTEXT_LIMIT_MODEL_TYPES = frozenset({"bloom"})


def llm_context_length(llm, tokenizer) -> Optional[int]:
    """The most positions the LLM can attend over, or None where there is no hard limit.

    From the config's position table (``max_position_embeddings``, GPT-2's
    ``n_positions``), else the tokenizer's ``model_max_length`` where it is a real
    number (transformers puts 1e30 there for "unknown"). ALiBi models (BLOOM) have no
    position table and extrapolate: None.
    """
    config = llm.config
    if getattr(config, "model_type", None) in _NO_CONTEXT_LIMIT_MODEL_TYPES:
        return None
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < 1_000_000:
        return value
    return None


def trained_sequence_length(llm) -> int:
    """The sequence length the LLM was pre-trained on: its config's ``seq_length``
    (BLOOM's configs carry it), else BLOOM's 2048."""
    value = getattr(llm.config, "seq_length", None)
    return value if isinstance(value, int) and value > 0 else BLOOM_SEQUENCE_LENGTH


class BloomzMMS:
    """Speech (+ instruction) -> text with a trained BLOOMZMMS model.

    Args:
        config_file: the training ``config.yaml``.
        model_file: trained parameters (``valid.acc.ave.pth``, ...); None decodes with
            the pretrained MMS/LLM and freshly initialised new layers (tests, debugging).
        device: ``cpu``, ``cuda``, ``cuda:N``.
        dtype: cast the LLM (``float32``, ``bfloat16``, ``float16`` or a torch dtype)
            after loading; None keeps the config's ``decoder_conf.dtype``. The speech
            layers stay float32 (they are small, and the MMS frontend returns float32
            features). For a big LLM prefer ``decoder_conf.dtype`` in the config: that
            loads it in that dtype directly instead of casting a float32 copy.
        max_new_tokens, num_beams, length_penalty, repetition_penalty,
        no_repeat_ngram_size: generation settings (greedy/beam search, never sampling).
            With the prompt given as embeddings, the repetition penalty and the n-gram
            ban only see the generated tokens, not the instruction.
        default_prefix, default_postfix: the instruction used when a call gives none;
            by default the training config's ``preprocessor_conf`` values (else the
            preprocessor's own defaults).
        max_seconds: refuse longer audio (ValueError); None for no limit.
        chunk_seconds: cut audio longer than this into chunks of at most this length
            at low-energy points, decode each and join the answers (the CTC output
            too); None decodes any length in one piece. The model saw utterances of at
            most ~30 s in training. Not for ``allowed_answers`` (refused).
        use_cache: generate with the LLM's KV cache (the default); False recomputes
            the whole sequence at every step (greedy search only), to measure the cache.
        max_prompt_length: refuse prompts (instruction + speech frames + the tokens to
            generate or score) longer than this. Default: the LLM's context where it has
            a hard one; for ALiBi models (BLOOM), which have none, the sequence length
            it was pre-trained on (``seq_length`` in its config, else 2048): far longer
            prompts are mistakes that would allocate tens of GB.
        init_seed: seed of the random initialisation of the layers no model file
            overwrites (all new layers when decoding without one: the untrained
            baseline decodes the same every time); the caller's RNG is left as it was.
    """

    def __init__(
        self,
        config_file: Union[str, Path],
        model_file: Union[str, Path, None] = None,
        device: str = "cpu",
        dtype: Union[str, torch.dtype, None] = None,
        max_new_tokens: int = 192,
        num_beams: int = 1,
        length_penalty: float = 1.0,
        repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0,
        default_prefix: Optional[str] = None,
        default_postfix: Optional[str] = None,
        max_seconds: Optional[float] = None,
        chunk_seconds: Optional[float] = None,
        use_cache: bool = True,
        max_prompt_length: Optional[int] = None,
        init_seed: int = 0,
    ):
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        if num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {num_beams}")
        if max_seconds is not None and max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive or None, got {max_seconds}")
        if chunk_seconds is not None and chunk_seconds <= 0:
            raise ValueError(f"chunk_seconds must be positive or None, got {chunk_seconds}")
        if not use_cache and num_beams > 1:
            raise ValueError("use_cache=False is implemented for greedy search only (num_beams=1)")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            model, args = BloomzMMSTask.build_model_from_file(str(config_file), None, device)
        if model_file is not None:
            load_state_dict(model, model_file, device)
        else:
            logging.warning("no model file given: decoding with untrained speech layers")
        if dtype is not None:
            cast_llm(model, dtype)
        model.eval()
        self.model = model
        self.args = args
        self.device = device
        self.tokenizer = model.decoder.tokenizer
        self.llm = model.decoder.llm
        self.max_new_tokens = max_new_tokens
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.repetition_penalty = repetition_penalty
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.max_seconds = max_seconds
        self.chunk_seconds = chunk_seconds
        self.use_cache = use_cache
        trained = default_instructions(getattr(args, "preprocessor_conf", None))
        self.default_prefix = trained[0] if default_prefix is None else default_prefix
        self.default_postfix = trained[1] if default_postfix is None else default_postfix
        #: positions the LLM can attend over (None: no hard limit, e.g. BLOOM's ALiBi)
        self.context_length = llm_context_length(self.llm, self.tokenizer)
        if max_prompt_length is not None and max_prompt_length < 1:
            raise ValueError(f"max_prompt_length must be >= 1 or None, got {max_prompt_length}")
        limits = [n for n in (max_prompt_length, self.context_length) if n is not None]
        self.max_prompt_length = min(limits) if limits else trained_sequence_length(self.llm)
        self.eos_token_id = model.decoder.eos_token_id
        pad = self.tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.eos_token_id

    @classmethod
    def from_pretrained(
        cls,
        path: Union[str, Path],
        revision: Optional[str] = None,
        cache_dir: Union[str, Path, None] = None,
        token: Union[str, bool, None] = None,
        endpoint: Optional[str] = None,
        import_options: Optional[dict] = None,
        **kwargs,
    ) -> "BloomzMMS":
        """From an experiment directory (``config.yaml`` + the model file chosen by
        :func:`find_model_file`), a packed ``.zip`` (see :func:`unpack_model`), or a
        model uploaded to the Hugging Face hub (``owner/name``; see
        :mod:`espnet2_bloomzmms.hub`; ``revision``, ``cache_dir``, ``token`` and
        ``endpoint`` apply to that download only). One of the authors' released models
        (``akreal/bloomzmms-ce-tmi``, or its downloaded directory) is converted once and
        cached; ``import_options`` go to
        :func:`~espnet2_bloomzmms.reference.model_import.import_reference_model` (e.g.
        ``{"llm_quantization": None}`` for a 16-bit BLOOMZ instead of the authors' 8 bit)."""
        with model_files(path, revision, cache_dir, token, endpoint, import_options) as (config_file, model_file):
            logging.info("decoding with %s and %s", config_file, model_file)
            return cls(config_file, model_file, **kwargs)

    # ---------------------------------------------------------------- public calls
    def __call__(
        self,
        speech: Speech,
        prefix: Optional[str] = None,
        postfix: Optional[str] = None,
        allowed_answers: Optional[Sequence[str]] = None,
        fs: Optional[int] = None,
    ) -> str:
        """Text for one mono waveform (16 kHz unless ``fs`` says otherwise)."""
        return self.batch([speech], prefix, postfix, allowed_answers=allowed_answers, fs=fs)[0]

    def batch(
        self,
        speeches: Sequence[Speech],
        prefixes: Instructions = None,
        postfixes: Instructions = None,
        allowed_answers: Optional[Sequence[str]] = None,
        fs: Optional[int] = None,
    ) -> List[str]:
        """Texts for waveforms of any lengths; an instruction for all (a string) or one
        per utterance (a list; None entries take the default). ``fs``: the waveforms'
        sample rate when not 16 kHz (they are resampled).

        With ``allowed_answers`` nothing is generated: each utterance gets the answer
        the LLM finds most likely (:meth:`answer_scores`), e.g. for classification.
        """
        return self.generate(self.encode(speeches, fs), prefixes, postfixes, allowed_answers)

    def ctc_greedy(self, speeches: Sequence[Speech], fs: Optional[int] = None) -> List[str]:
        """Greedy (best path) texts of the LLM-tied CTC head."""
        return self.ctc_texts(self.encode(speeches, fs))

    # ---------------------------------------------------------------- steps
    def check_speech(self, speech: Speech, name: str = "utterance", fs: Optional[int] = None) -> torch.Tensor:
        """A 1-D float tensor of the waveform at 16 kHz (resampled from ``fs`` Hz when
        given), or a ValueError saying what is wrong (see :func:`check_waveform`)."""
        return check_waveform(speech, name, fs, self.max_seconds)

    @torch.no_grad()
    def encode(self, speeches: Sequence[Speech], fs: Optional[int] = None) -> Encoded:
        """Speech embeddings in the LLM's width for a batch of waveforms (16 kHz, or
        ``fs`` Hz resampled); audio longer than ``chunk_seconds`` becomes several rows."""
        if isinstance(speeches, (np.ndarray, torch.Tensor)) and np.ndim(speeches) == 1:
            raise TypeError("pass a list of waveforms (or call the object for one waveform)")
        waves = [self.check_speech(s, f"utterance {i}", fs) for i, s in enumerate(speeches)]
        if not waves:
            raise ValueError("no speech given")
        chunks = None
        if self.chunk_seconds is not None and any(len(w) > self.chunk_seconds * SAMPLE_RATE for w in waves):
            pieces = [split_long_audio(w, SAMPLE_RATE, self.chunk_seconds) for w in waves]
            chunks = tuple(len(p) for p in pieces)
            waves = [c for p in pieces for c in p]
        dtype = next(self.model.frontend.parameters()).dtype
        lengths = torch.tensor([len(w) for w in waves], dtype=torch.long)
        batch = torch.zeros(len(waves), int(lengths.max()), dtype=dtype)
        for i, w in enumerate(waves):
            batch[i, : len(w)] = w.to(dtype)
        try:
            hs, hs_lengths, _, enc_lengths = self.model.encode(batch.to(self.device), lengths.to(self.device))
        except TooShortUttError as e:
            raise ValueError(
                f"speech too short for the encoder's subsampling ({lengths.tolist()} samples): {e}"
            ) from e
        # (in a batch, the adaptor makes one frame even of an utterance the encoder has
        # no frame for; alone, it would fail above: refuse it the same way in both)
        too_short = [i for i, (n, m) in enumerate(zip(hs_lengths.tolist(), enc_lengths.tolist())) if min(n, m) <= 0]
        if too_short:
            samples = [len(waves[i]) for i in too_short]
            if chunks is not None:
                names = Encoded(hs, hs_lengths, chunks).row_names()
                too_short = [names[i] for i in too_short]
            raise ValueError(f"utterance(s) {too_short}: too short to give any speech embedding ({samples} samples)")
        speech, speech_lengths = self.model.speech_embeddings(hs, hs_lengths)
        return Encoded(speech, speech_lengths, chunks, None if speech is hs else (hs, hs_lengths))

    @torch.no_grad()
    def join_speech(self, first: Encoded, second: Encoded, middles: Instructions = None) -> Encoded:
        """Two encoded utterances per row as one speech segment, ``[speech 1 ; E(middle) ;
        speech 2]``: the prompt ``prefix + speech 1 + middle + speech 2 + postfix`` of a
        two-sentence task with both sentences spoken (Denisov & Vu 2024). ``middles``: one
        text for all rows or one per row (None: nothing between them)."""
        if first.chunks is not None or second.chunks is not None:
            raise ValueError("spoken sentence pairs cannot be cut into chunks: set chunk_seconds to None")
        if len(first.hs) != len(second.hs):
            raise ValueError(f"{len(first.hs)} first and {len(second.hs)} second utterances: give pairs")
        middles = self._resolve(middles, "", len(first.hs), "middle")
        mid_ids, mid_lens = self._pad_ids([self._tokenize(m) for m in middles])
        mid = self.model.decoder.embed(mid_ids)
        hs, mask = pack_segments([first.hs.to(mid.dtype), mid, second.hs.to(mid.dtype)],
                                 [first.lengths, mid_lens, second.lengths])
        return Encoded(hs, mask.sum(1))

    @torch.no_grad()
    def generate(
        self,
        encoded: Encoded,
        prefixes: Instructions = None,
        postfixes: Instructions = None,
        allowed_answers: Optional[Sequence[str]] = None,
    ) -> List[str]:
        """Texts for encoded speech (see :meth:`batch`)."""
        if allowed_answers is not None:
            scores = self.answer_scores(encoded, allowed_answers, prefixes, postfixes)
            return [allowed_answers[i] for i in scores.argmax(1).tolist()]
        out = self.generate_ids(encoded, prefixes, postfixes)
        return encoded.join([self.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in out])

    @torch.no_grad()
    def generate_ids(
        self, encoded: Encoded, prefixes: Instructions = None, postfixes: Instructions = None
    ) -> List[List[int]]:
        """The generated token ids per row of ``encoded`` (per utterance, or per chunk of
        a chunked one), up to and including EOS if generated."""
        inputs, mask = self.prompt(encoded, prefixes, postfixes, extra=self.max_new_tokens)
        # transformers' own repetition penalty skips as many leading ids as a row has
        # left padding, assuming the ids include the prompt; with embeddings they are only
        # the generated tokens, so a padded row would be penalised differently than alone.
        processors = LogitsProcessorList()
        if self.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(float(self.repetition_penalty)))
        if not self.use_cache:
            if self.num_beams > 1:
                raise ValueError("use_cache=False is implemented for greedy search only (num_beams=1)")
            if self.no_repeat_ngram_size > 0:
                processors.append(NoRepeatNGramLogitsProcessor(self.no_repeat_ngram_size))
            out = self._greedy_without_cache(inputs, mask, processors)
            return [self._until_eos(seq) for seq in out.tolist()]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_PENALTY_WARNINGS)
            out = self.llm.generate(
                inputs_embeds=inputs,
                attention_mask=mask.long(),
                max_new_tokens=self.max_new_tokens,
                num_beams=self.num_beams,
                length_penalty=self.length_penalty,
                logits_processor=processors,
                no_repeat_ngram_size=self.no_repeat_ngram_size,
                do_sample=False,
                eos_token_id=self.eos_token_id,
                pad_token_id=self.pad_token_id,
                use_cache=True,
                **self._beam_prompt_cache(inputs, mask),
            )
        # With embeddings only (no input_ids) the output holds just the new tokens;
        # finished sequences are padded after their EOS.
        return [self._until_eos(seq) for seq in out.tolist()]

    def _beam_prompt_cache(self, inputs: torch.Tensor, mask: torch.Tensor) -> dict:
        """For beam search, the KV cache of all prompt positions but the last, computed
        once per utterance and copied to its beams: ``generate`` would otherwise repeat
        every prompt num_beams times before its first step and run the whole (speech-long)
        prompt through the LLM once per beam. ``{}`` for greedy search or 1-position prompts."""
        if self.num_beams == 1 or inputs.size(1) < 2:
            return {}
        decoder = self.model.decoder
        _, cache = decoder.prefill(inputs[:, :-1], mask[:, :-1])
        cache.batch_repeat_interleave(self.num_beams)
        return {decoder.cache_argument: cache}

    def _until_eos(self, seq: List[int]) -> List[int]:
        return seq[: seq.index(self.eos_token_id) + 1] if self.eos_token_id in seq else seq

    def _greedy_without_cache(self, inputs: torch.Tensor, mask: torch.Tensor, processors) -> torch.Tensor:
        """Greedy search that reruns the LLM over the whole sequence for every new token
        (no KV cache): (B, steps) ids, padded after EOS like ``generate``'s."""
        decoder = self.model.decoder
        ids = torch.zeros(inputs.size(0), 0, dtype=torch.long, device=inputs.device)
        done = torch.zeros(inputs.size(0), dtype=torch.bool, device=inputs.device)
        seq, mask = inputs, mask.long()
        for _ in range(self.max_new_tokens):
            scores = processors(ids, decoder.logits(decoder(seq, mask)[:, -1]))
            token = torch.where(done, self.pad_token_id, scores.argmax(-1))
            ids = torch.cat([ids, token[:, None]], dim=1)
            done |= token == self.eos_token_id
            if done.all():
                break
            seq = torch.cat([seq, decoder.embed(token)[:, None].to(seq.dtype)], dim=1)
            mask = torch.cat([mask, mask.new_ones(mask.size(0), 1)], dim=1)
        return ids

    @torch.no_grad()
    def ctc_texts(self, encoded: Encoded) -> List[str]:
        """Greedy texts of the CTC head per utterance (chunk outputs joined)."""
        ids = self.model.ctc.greedy_ids(*encoded.ctc_input)
        return encoded.join([self.tokenizer.decode(seq, skip_special_tokens=True).strip() for seq in ids])

    @torch.no_grad()
    def answer_scores(
        self,
        encoded: Union[Encoded, Sequence[Speech]],
        answers: Sequence[str],
        prefixes: Instructions = None,
        postfixes: Instructions = None,
    ) -> torch.Tensor:
        """Log-likelihoods (B, K) of each answer given each utterance's prompt.

        The score of an answer is ``sum log p(token)`` over its tokens and the
        end-of-sequence token (training appends EOS to every target), so an answer
        that is only the start of a likelier one does not win. Each prompt runs once; its
        KV cache serves its K candidates (``LLMDecoder.continuation_scores``).
        """
        if not isinstance(encoded, Encoded):
            encoded = self.encode(encoded)
        if encoded.chunks is not None:
            long = [i for i, n in enumerate(encoded.chunks) if n > 1]
            raise ValueError(
                f"utterance(s) {long}: longer than chunk_seconds={self.chunk_seconds:g}; answers cannot "
                "be scored over chunks: raise chunk_seconds (or set it to None) for allowed_answers"
            )
        answers = list(answers)
        if not answers or not all(isinstance(a, str) for a in answers):
            raise ValueError(f"allowed_answers must be a non-empty list of strings, got {answers!r}")
        cand_ids, cand_lens = self._pad_ids([self._tokenize(a) + [self.eos_token_id] for a in answers])
        inputs, mask = self.prompt(encoded, prefixes, postfixes, extra=int(cand_lens.max()))
        return self.model.decoder.continuation_scores(inputs, mask, cand_ids, cand_lens)

    # ---------------------------------------------------------------- prompts
    def prompt(
        self, encoded: Encoded, prefixes: Instructions = None, postfixes: Instructions = None, extra: int = 0
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``[E(prefix) ; speech ; E(postfix)]`` per utterance, LEFT-padded: (B, T, H) and
        the (B, T) mask of real positions. ``extra`` positions must fit after it."""
        pre_ids, pre_lens, post_ids, post_lens = self._instructions(encoded, prefixes, postfixes)
        self._check_context(encoded, pre_lens, post_lens, extra)
        return self.model.llm_input(encoded.hs, encoded.lengths, pre_ids, pre_lens, post_ids, post_lens, left_pad=True)

    def _check_context(self, encoded: Encoded, pre_lens, post_lens, extra: int) -> None:
        limit = self.max_prompt_length
        what = (f"the LLM's context of {limit}" if limit == self.context_length
                else f"max_prompt_length={limit}")
        total = pre_lens.cpu() + encoded.lengths.cpu() + post_lens.cpu()
        for name, i, n in zip(encoded.row_names(), range(len(total)), total.tolist()):
            if n + extra > limit:
                raise ValueError(
                    f"{name}: the prompt takes {n} positions (instruction "
                    f"{int(pre_lens[i]) + int(post_lens[i])} tokens + {int(encoded.lengths[i])} speech "
                    f"frames) and up to {extra} more are generated/scored, beyond {what}; use shorter "
                    "audio (chunk_seconds) or instructions, fewer max_new_tokens, or raise "
                    "max_prompt_length"
                )

    def _tokenize(self, text: str) -> List[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _pad_ids(self, seqs: List[List[int]]) -> Tuple[torch.Tensor, torch.Tensor]:
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        ids = torch.full((len(seqs), int(lengths.max()) if seqs else 0), -1, dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        return ids.to(self.device), lengths.to(self.device)

    def _resolve(self, value: Instructions, default: str, n: int, what: str) -> List[str]:
        if value is None or isinstance(value, str):
            return [default if value is None else value] * n
        value = list(value)
        if len(value) != n:
            plural = what + ("es" if what.endswith("x") else "s")
            raise ValueError(f"{len(value)} {plural} for {n} utterances: give one {what} or one per utterance")
        return [default if v is None else v for v in value]

    def _instructions(self, encoded: Encoded, prefixes: Instructions, postfixes: Instructions):
        """Token ids and lengths of each row's prefix and postfix (a chunk takes its utterance's)."""
        per_utt = encoded.chunks or (1,) * len(encoded.hs)
        pre = self._resolve(prefixes, self.default_prefix, len(per_utt), "prefix")
        post = self._resolve(postfixes, self.default_postfix, len(per_utt), "postfix")
        pre = [p for p, n in zip(pre, per_utt) for _ in range(n)]
        post = [p for p, n in zip(post, per_utt) for _ in range(n)]
        return (*self._pad_ids([self._tokenize(t) for t in pre]), *self._pad_ids([self._tokenize(t) for t in post]))
