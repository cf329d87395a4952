"""Inference on flawn checkpoints: batch files, an interactive loop and a web page.

- :class:`~flawn.inference.settings.GenerationSettings`: greedy, sampling or beam search.
- :class:`~flawn.inference.generator.Generator`: a run folder's model, loaded once.
- :func:`~flawn.inference.batch.infer_file`: Alpaca-style JSON(L) in, predictions JSONL out.
- :func:`~flawn.inference.console.run_console`: questions on stdin, answers on stdout.
- :mod:`flawn.inference.web` and :mod:`flawn.inference.server`: the ``flawn serve``
  page (needs the ``web`` extra, Gradio; imported only there).
"""

from flawn.inference.settings import STRATEGIES, GenerationSettings
from flawn.inference.templates import TEMPLATES, resolve_template

__all__ = ["STRATEGIES", "TEMPLATES", "GenerationSettings", "resolve_template"]
