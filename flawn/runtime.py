"""Start-up of the heavy stack (TensorFlow, JAX, the task registry) without the noise."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_native_stderr():
    """Hides native-library chatter (TF/XLA start-up lines) while the body runs.

    Those lines are written by C++ code before logging is configured, so no
    environment variable silences them. Python exceptions still propagate and
    print normally once stderr is back. Set ``FLAWN_VERBOSE=1`` to see them.
    """
    if os.environ.get("FLAWN_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_heavy_stack() -> None:
    """Imports TensorFlow and JAX quietly and registers flawn's tasks and mixtures.

    Also turns on JAX's persistent compilation cache (:mod:`flawn.compilation_cache`).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        import tensorflow as tf

        # TensorFlow only feeds data here; keep it off any GPU so JAX has it.
        tf.config.set_visible_devices([], "GPU")
        import jax  # noqa: F401

        import flawn.tasks  # noqa: F401  (registers tasks and mixtures)
    from flawn.compilation_cache import enable_compilation_cache

    enable_compilation_cache()
