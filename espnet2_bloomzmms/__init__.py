"""ESPnet2 plugin: a multilingual speech encoder (MMS) bridged to a multilingual LLM (BLOOMZ)."""

__version__ = "0.1.0"
