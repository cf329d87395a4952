"""Checking mixture and task names before anything runs, with the nearest names suggested."""

from __future__ import annotations

import difflib

from flawn.errors import RegistryError


def check_mixture_name(name: str) -> None:
    """Raises if ``name`` is neither a registered seqio mixture nor task.

    Raises:
        RegistryError: Naming the unknown name, the nearest registered names,
            and, for LawInstruct names, the environment variable that registers them.
    """
    import seqio  # deferred: pulls in TensorFlow

    known = set(seqio.MixtureRegistry.names()) | set(seqio.TaskRegistry.names())
    if name in known:
        return
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    extra = ""
    if name.startswith("lawinstruct.") and not any(k.startswith("lawinstruct.") for k in known):
        extra = (
            " LawInstruct mixtures are registered when FLAWN_LAWINSTRUCT_DIR names a folder of "
            "release shards (or synthetic ones: flawn samples catalog-shards DIR)."
        )
    raise RegistryError(f"unknown mixture or task {name!r}{hint}{extra}")
