"""The mini corpus's sentences and their split by position, shared by speech synthesis
(``prepare_data.py``) and LLM teaching (``teach_llm.py``) so that the two agree on which
sentences are test sentences and the LLM is never taught one."""

from pathlib import Path


def load_sentences(data_dir: Path, lang: str) -> list[str]:
    """The non-empty lines of ``sentences/<lang>.txt``."""
    path = Path(data_dir) / "sentences" / f"{lang}.txt"
    return [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]


def split_sentences(sentences: list[str], n_dev: int, n_test: int) -> dict[str, list[str]]:
    """By position: train = all but the last ``n_dev + n_test``, then dev, then test."""
    if len(sentences) <= n_dev + n_test:
        raise ValueError(f"need more than {n_dev + n_test} sentences, got {len(sentences)}")
    n_train = len(sentences) - n_dev - n_test
    return {
        "train": sentences[:n_train],
        "dev": sentences[n_train : n_train + n_dev],
        "test": sentences[n_train + n_dev :],
    }
