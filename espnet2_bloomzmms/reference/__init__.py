"""The authors' own release (Denisov & Vu 2024), read into this plugin.

- :mod:`.pack`: an ESPnet v.202304 model pack as their hub repos hold it.
- :mod:`.model_import`: such a pack as an experiment directory of ours (config, trained
  weights, the MMS as a transformers checkpoint).
- :mod:`.fairseq_wav2vec2`: the fairseq-named MMS inside a pack, renamed for transformers.
- :mod:`.targets`: their multi-instruction training targets (Zenodo) as our T/MI/TMI dirs.

What these modules assume about the files comes from the authors' code, not from the files
themselves; each assumption is checked on import, with an error naming the key, file or
line that differs.
"""
