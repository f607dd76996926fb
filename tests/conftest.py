"""Shared fixtures: tiny random-weight MMS / BLOOM checkpoints written once per session."""

import logging
import os
import tempfile
import zipfile
from pathlib import Path

# Tests never reach a model hub. huggingface_hub reads these once, at import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _nltk_stub() -> str:
    """An NLTK data dir holding empty stand-ins of the two resources that g2p_en (imported
    by ESPnet's ASR task) downloads at import when it cannot find them: with it no test
    process, the training subprocesses included (they inherit NLTK_DATA), opens a
    connection. Nothing we run uses them."""
    root = Path(tempfile.mkdtemp(prefix="nltk_stub_"))
    for rel in ("taggers/averaged_perceptron_tagger_eng.zip", "corpora/cmudict.zip"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        zipfile.ZipFile(root / rel, "w").close()
    return str(root)


os.environ["NLTK_DATA"] = _nltk_stub()

import pytest  # noqa: E402

from espnet2_bloomzmms.tiny_checkpoints import write_tiny_bloom, write_tiny_mms  # noqa: E402
from tiny_model_configs import tiny_model_config  # noqa: E402

@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    """Tiny tensors: one thread is faster, and far faster on a busy machine (no OpenMP spinning)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SAMPLE_TEXTS = [
    # en
    "The weather is nice today.",
    "Please transcribe what you hear.",
    "Translate the following sentence into English.",
    "I have three brothers and two sisters.",
    "Where is the nearest train station?",
    # de
    "Das Wetter ist heute schön.",
    "Ich möchte eine Tasse Kaffee, bitte.",
    "Übersetze den folgenden Satz ins Deutsche.",
    "Wir fahren morgen mit dem Zug nach München.",
    "Die Straße ist sehr groß und grün.",
    # fr
    "Il fait beau aujourd'hui.",
    "Je voudrais un café, s'il vous plaît.",
    "Traduisez la phrase suivante en français.",
    "Où est la gare la plus proche ?",
    "L'été dernier, nous sommes allés à la mer.",
    # es
    "Hace buen tiempo hoy.",
    "¿Dónde está la estación de tren?",
    "Traduce la siguiente oración al español.",
    "Mañana vamos a la montaña con mis niños.",
    "Tengo tres hermanos y dos hermanas.",
    # ru
    "Сегодня хорошая погода.",
    "Где находится ближайший вокзал?",
    "Переведите следующее предложение на русский язык.",
    "У меня три брата и две сестры.",
    "Завтра мы поедем в Москву на поезде.",
    # hi
    "आज मौसम अच्छा है।",
    "निकटतम रेलवे स्टेशन कहाँ है?",
    "निम्नलिखित वाक्य का हिंदी में अनुवाद करें।",
    "मेरे तीन भाई और दो बहनें हैं।",
    "कृपया जो आप सुनते हैं उसे लिखें।",
    # sw
    "Hali ya hewa ni nzuri leo.",
    "Kituo cha treni kiko wapi?",
    "Tafsiri sentensi ifuatayo kwa Kiswahili.",
    "Nina kaka watatu na dada wawili.",
    "Kesho tutaenda sokoni asubuhi.",
]

TINY_LLM_VOCAB_SIZE = 500


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """The multilingual sentences the tiny LLM's tokenizer is trained on."""
    return list(SAMPLE_TEXTS)


@pytest.fixture(scope="session")
def tiny_mms_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny MMS-layout ``Wav2Vec2ForCTC`` checkpoint dir (with feature extractor)."""
    return write_tiny_mms(tmp_path_factory.mktemp("tiny_mms"))


@pytest.fixture(scope="session")
def tiny_llm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny ``BloomForCausalLM`` checkpoint dir with its byte-level BPE tokenizer."""
    return write_tiny_bloom(
        tmp_path_factory.mktemp("tiny_llm"), SAMPLE_TEXTS, vocab_size=TINY_LLM_VOCAB_SIZE
    )


@pytest.fixture
def tiny_config(tiny_mms_dir: Path, tiny_llm_dir: Path) -> dict:
    return tiny_model_config(tiny_mms_dir, tiny_llm_dir)


SPOKEN = [
    ("en", "The weather is nice today."),
    ("en", "Where is the nearest train station?"),
    ("en", "I have three brothers and two sisters."),
    ("de", "Das Wetter ist heute schön."),
    ("de", "Wir fahren morgen mit dem Zug nach München."),
    ("de", "Ich möchte eine Tasse Kaffee, bitte."),
]


@pytest.fixture(scope="session")
def espeak_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Kaldi data dir of real (espeak-ng) 16 kHz speech in English and German."""
    from espnet2_bloomzmms.data.datadir import write_data_dir
    from espnet2_bloomzmms.data.synthesize import synthesize, write_wav

    root = tmp_path_factory.mktemp("espeak")
    utts = {}
    for i, (lang, text) in enumerate(SPOKEN):
        uid = f"{lang}_{i:03d}"
        wav = root / "wav" / f"{uid}.wav"
        wav.parent.mkdir(exist_ok=True)
        write_wav(wav, synthesize(text, lang, rate=190), 16000)
        utts[uid] = {"wav": str(wav), "text": text, "spk": f"espeak_{lang}", "lang": lang,
                     "prefix": "Repeat the sentence: ", "postfix": ". "}
    write_data_dir(root / "data", utts)
    return root / "data"


class _Messages(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def transformers_messages():
    """The messages of transformers' own logger during a test (it does not propagate to
    caplog's root logger), e.g. its load reports."""
    handler = _Messages()
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
