"""The BLOOMZMMS task: ESPnet's ASR task with our components and model.

ESPnet's ``ASRTask.build_model`` reads its module-level choice lists and builds
ESPnet's ASR model, so this task builds the model itself; the choice lists are
ESPnet's, extended by our entries (``mms``, ``conv_length_adaptor``, ``llm``), so a
YAML config selects everything by name.
"""

import argparse
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, Union

import numpy as np
from espnet2.asr.decoder.abs_decoder import AbsDecoder
from espnet2.asr.encoder.abs_encoder import AbsEncoder
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from espnet2.asr.postencoder.abs_postencoder import AbsPostEncoder
from espnet2.tasks import asr
from espnet2.torch_utils.initialize import initialize
from espnet2.train.abs_espnet_model import AbsESPnetModel
from espnet2.train.class_choices import ClassChoices
from espnet2.train.preprocessor import AbsPreprocessor
from espnet2.utils.nested_dict_action import NestedDictAction
from espnet2.utils.types import str2bool, str_or_none

from espnet2_bloomzmms.ctc.language_ctc import LanguageCTC
from espnet2_bloomzmms.ctc.tied_ctc import LLMTiedCTC
from espnet2_bloomzmms.data import files as data_files
from espnet2_bloomzmms.decoder.llm import LLMDecoder
from espnet2_bloomzmms.encoder.padding_safe_e_branchformer import PaddingSafeEBranchformerEncoder
from espnet2_bloomzmms.frontend.mms import MMSFrontend
from espnet2_bloomzmms.model.bloomzmms_model import BloomzMMSModel
from espnet2_bloomzmms.postencoder.conv_adaptor import ConvLengthAdaptor
from espnet2_bloomzmms.postencoder.conv_relu_linear_adaptor import ConvReLULinearAdaptor
from espnet2_bloomzmms.preprocessor import BloomzMMSPreprocessor
from espnet2_bloomzmms.train.dataset_checks import check_sample_rate, check_utterances_present
from espnet2_bloomzmms.train.atomic_checkpoints import atomic_trainer_saves, prepare_output_dir
from espnet2_bloomzmms.train.ddp_options import enable_unused_parameter_detection

frontend_choices = ClassChoices(
    "frontend", dict(asr.frontend_choices.classes, mms=MMSFrontend), type_check=AbsFrontend, default="mms"
)
encoder_choices = ClassChoices(
    "encoder",
    dict(asr.encoder_choices.classes, padding_safe_e_branchformer=PaddingSafeEBranchformerEncoder),
    type_check=AbsEncoder,
    default="padding_safe_e_branchformer",
)
postencoder_choices = ClassChoices(
    "postencoder",
    dict(asr.postencoder_choices.classes, conv_length_adaptor=ConvLengthAdaptor,
         conv_relu_linear=ConvReLULinearAdaptor),
    type_check=AbsPostEncoder,
    default="conv_length_adaptor",
)
decoder_choices = ClassChoices("decoder", dict(llm=LLMDecoder), type_check=AbsDecoder, default="llm")
model_choices = ClassChoices("model", dict(bloomzmms=BloomzMMSModel), type_check=AbsESPnetModel, default="bloomzmms")
preprocessor_choices = ClassChoices(
    "preprocessor", dict(bloomzmms=BloomzMMSPreprocessor), type_check=AbsPreprocessor, default="bloomzmms"
)


def read_lang_list(lang_list: Union[None, str, List[str]]) -> List[str]:
    """Language codes for the inter-CTC, from a list or a file with one code per line."""
    if lang_list is None:
        return []
    if isinstance(lang_list, str):
        path = Path(lang_list)
        if not path.is_file():
            raise FileNotFoundError(f"--lang_list: no file {lang_list}")
        lang_list = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(set(lang_list)) != len(lang_list):
        raise ValueError("--lang_list has duplicate languages")
    return list(lang_list)


def build_choice(choices: ClassChoices, args: argparse.Namespace, **kwargs):
    """The component ``--<name>`` names, built with ``--<name>_conf`` (None if unset)."""
    name = getattr(args, choices.name, None)
    if name is None:
        return None
    return choices.get_class(name)(**kwargs, **getattr(args, f"{choices.name}_conf"))


class BloomzMMSTask(asr.ASRTask):
    num_optimizers: int = 1

    class_choices_list = [
        frontend_choices,
        asr.specaug_choices,
        asr.normalize_choices,
        model_choices,
        asr.preencoder_choices,
        encoder_choices,
        postencoder_choices,
        decoder_choices,
        preprocessor_choices,
    ]

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser):
        group = parser.add_argument_group(description="Task related")
        group.add_argument(
            "--lang_list", type=str_or_none, default=None,
            help="Language codes (a file, one per line) of the language inter-CTC; "
            "utt2lang values must be among them",
        )
        group.add_argument(
            "--init", type=lambda x: str_or_none(x.lower()), default=None,
            choices=["chainer", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal", None],
            help="Initialization of the new parameters; pretrained MMS/LLM weights are restored after it",
        )
        group.add_argument(
            "--ctc_conf", action=NestedDictAction, default=dict(),
            help="Keyword arguments of the LLM-tied CTC (blank_id, dropout_rate, zero_infinity)",
        )
        group.add_argument(
            "--lang_ctc_conf", action=NestedDictAction, default=dict(),
            help="Keyword arguments of the language inter-CTC (stride: 0 = ESPnet's CTC on the "
            "encoder frames, 2 = the authors' conv+ReLU adaptor first; target: utterance | per_token)",
        )
        group.add_argument("--use_preprocessor", type=str2bool, default=True, help="Apply preprocessing to data or not")
        for class_choices in cls.class_choices_list:
            class_choices.add_arguments(group)

    @classmethod
    def main_worker(cls, args: argparse.Namespace):
        enable_unused_parameter_detection(args)
        if not args.use_deepspeed:  # (DeepSpeed saves its own checkpoint dirs)
            prepare_output_dir(args.output_dir, args.resume)
        with atomic_trainer_saves():
            super().main_worker(args)

    @classmethod
    def build_preprocess_fn(
        cls, args: argparse.Namespace, train: bool
    ) -> Optional[Callable[[str, Dict[str, np.ndarray]], Dict[str, np.ndarray]]]:
        if not args.use_preprocessor:
            return None
        tokenizer = args.decoder_conf.get("model_name_or_path", "bigscience/bloomz-7b1")
        return preprocessor_choices.get_class(args.preprocessor)(
            train=train, tokenizer=tokenizer, lang_list=read_lang_list(args.lang_list), **args.preprocessor_conf
        )

    @classmethod
    def required_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return data_files.required_data_names(inference)  # ("speech",) if inference else ("speech", "text")

    @classmethod
    def optional_data_names(cls, train: bool = True, inference: bool = False) -> Tuple[str, ...]:
        return data_files.optional_data_names()  # lang, prefix, postfix, transcript

    @classmethod
    def build_dataset(cls, args: argparse.Namespace, iter_options, keys_to_load=None):
        """ESPnet's dataset, checked up front: a clear error instead of a KeyError or a
        silently wrong rate in the middle of an epoch."""
        dataset = super().build_dataset(args, iter_options, keys_to_load)
        check_utterances_present(dataset, keys_to_load)
        check_sample_rate(dataset, "speech", 16000)
        return dataset

    @classmethod
    def build_model(cls, args: argparse.Namespace) -> BloomzMMSModel:
        args.lang_list = read_lang_list(args.lang_list)  # stored inline: the config stays portable
        decoder = build_choice(decoder_choices, args)
        frontend = build_choice(frontend_choices, args)
        specaug = build_choice(asr.specaug_choices, args)
        normalize = build_choice(asr.normalize_choices, args)
        preencoder = build_choice(asr.preencoder_choices, args)
        size = preencoder.output_size() if preencoder is not None else frontend.output_size()
        encoder = build_choice(encoder_choices, args, input_size=size)
        if args.postencoder is None:
            raise ValueError("--postencoder is required: it maps the encoder output to the LLM width")
        if "output_size" not in args.postencoder_conf:
            args.postencoder_conf["output_size"] = decoder.hidden_size
        postencoder = build_choice(postencoder_choices, args, input_size=encoder.output_size())
        if postencoder.output_size() != decoder.hidden_size:
            raise ValueError(
                f"postencoder output_size {postencoder.output_size()} != LLM hidden size {decoder.hidden_size}"
            )
        ctc = LLMTiedCTC(decoder.input_embeddings, **args.ctc_conf)
        lang_ctc = None
        if args.lang_list:
            lang_ctc = LanguageCTC(
                odim=len(args.lang_list) + 1, encoder_output_size=encoder.output_size(), **args.lang_ctc_conf
            )
        model = model_choices.get_class(args.model)(
            frontend=frontend,
            specaug=specaug,
            normalize=normalize,
            preencoder=preencoder,
            encoder=encoder,
            postencoder=postencoder,
            decoder=decoder,
            ctc=ctc,
            lang_ctc=lang_ctc,
            **args.model_conf,
        )
        if args.init is not None:
            initialize(model, args.init)  # also restores the frontend's pretrained weights
            model.decoder.reload_pretrained_parameters()
        return model
