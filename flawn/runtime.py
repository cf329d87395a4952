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


def _from_data_pipeline(err: BaseException | None) -> bool:
    """Whether ``err`` or an exception it came from is a TensorFlow error."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if type(err).__module__.startswith("tensorflow"):
            return True
        err = err.__cause__ or err.__context__
    return False


def exit_after_pipeline_error(code: int, err: BaseException) -> None:
    """Ends the process with ``code`` at once if ``err`` came from a ``tf.data`` pipeline.

    Tearing such a pipeline down can deadlock: the error's frames hold its
    iterator, whose destructor waits, holding the interpreter lock, for
    background threads that need that lock to finish reading a Python
    generator; the process printed its error and never exited. So after such
    an error a process entry point runs the exit handlers, flushes its output
    and leaves without destroying objects (the caller keeps ``err`` alive
    until then). Any other error returns; call this only where the process
    ends anyway.
    """
    if not _from_data_pipeline(err):
        return
    import atexit
    import logging

    atexit._run_exitfuncs()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
