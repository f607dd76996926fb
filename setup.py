"""espnet2-bloomzmms: a multilingual speech encoder (MMS) bridged to a multilingual LLM
(BLOOMZ) by multi-instructional training, as an ESPnet2 plugin."""

import re
from pathlib import Path

from setuptools import find_packages, setup

version = re.search(r'__version__ = "(.+)"', Path("espnet2_bloomzmms/__init__.py").read_text()).group(1)

setup(
    name="espnet2-bloomzmms",
    version=version,
    description="ESPnet2 plugin: teach a multilingual LLM to understand multilingual speech",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["espnet2_bloomzmms", "espnet2_bloomzmms.*"]),
    include_package_data=True,
    package_data={
        "espnet2_bloomzmms.data.corpora": ["*.tsv"],
        # prompts, label words, language names, refusal phrases (data, not code)
        "espnet2_bloomzmms.data": ["prompts/*.yaml", "prompts/*.tsv", "prompts/*.txt"],
    },
    install_requires=[
        "espnet>=202511",
        "torch>=2.1",
        "torchaudio",
        "transformers>=4.56",
        "huggingface_hub>=0.34",
        "peft>=0.13",
        "tokenizers",
        "sentencepiece",
        "kaldiio>=2.18",
        "soundfile>=0.12",
        "sacrebleu>=2.4",
        "jiwer>=3.0",
        "scipy",
        "scikit-learn",
        "regex",
        "pyyaml",
        "numpy",
        # what ESPnet's trainer imports from its "train" extra
        "tensorboard",
        "matplotlib",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-timeout"],
        "quantization": ["bitsandbytes"],
    },
    entry_points={
        "console_scripts": [
            "bloomzmms-train=espnet2_bloomzmms.bin.train:main",
            "bloomzmms-infer=espnet2_bloomzmms.bin.inference:main",
            "bloomzmms-score-asr=espnet2_bloomzmms.bin.score_asr:main",
            "bloomzmms-score-st=espnet2_bloomzmms.bin.score_st:main",
            "bloomzmms-score-nlu=espnet2_bloomzmms.bin.score_nlu:main",
            "bloomzmms-text-baselines=espnet2_bloomzmms.bin.text_baselines:main",
            "bloomzmms-prepare-eval-data=espnet2_bloomzmms.bin.prepare_eval_data:main",
            "bloomzmms-pack=espnet2_bloomzmms.bin.pack:main",
            "bloomzmms-upload=espnet2_bloomzmms.bin.upload:main",
            "bloomzmms-make-tiny=espnet2_bloomzmms.bin.make_tiny_checkpoints:main",
        ]
    },
)
