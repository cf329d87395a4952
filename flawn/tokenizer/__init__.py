"""Tokenizer tools on top of :mod:`flawn.vocab`: extending a vocabulary, measuring token lengths.

* :mod:`flawn.tokenizer.extension`: new pieces appended to a SentencePiece
  model (LaWGPT's legal vocabulary), every old id kept, the sentinels moved up.
* :mod:`flawn.tokenizer.lengths`: how many tokens a corpus takes before and
  after an extension.

Nothing here imports TensorFlow or JAX.
"""
