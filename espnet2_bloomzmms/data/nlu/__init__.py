"""Spoken language understanding test sets (SpeechGLUE, SpeechXNLI): task prompts and
label words (``tasks``, from ``prompts/nlu.yaml``) and readers of the released layouts."""
