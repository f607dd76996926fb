"""Preparation of released speech corpora (FLEURS, Common Voice, VoxPopuli, MLS, ...)
into Kaldi data dirs, each from the corpus's layout on disk; see ``bin/prepare_corpus.py``."""
