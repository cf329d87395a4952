"""Registering named mixtures with seqio, keeping what each rate means."""

from __future__ import annotations

import dataclasses
import difflib
import os
import sys
from collections.abc import Sequence

from flawn.errors import RegistryError
from flawn.mixtures.rates import Rate


@dataclasses.dataclass(frozen=True)
class MixtureSpec:
    """A named mixture as declared, before seqio flattens it.

    Attributes:
        name: The registered name.
        components: ``(task_or_mixture_name, rate)`` pairs.
        description: What the mixture is for.
        defined_at: ``file:line`` of the :func:`register_mixture` call.
    """

    name: str
    components: tuple[tuple[str, Rate], ...]
    description: str
    defined_at: str


_SPECS: dict[str, MixtureSpec] = {}


def _nearest(name: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _caller_location() -> str:
    # sys._getframe, not inspect.stack(): stack() reads the source of every frame, which cost
    # 0.4 s per mixture (45 s for the LawInstruct views) with many modules imported.
    frame = sys._getframe(2)
    return f"{os.path.relpath(frame.f_code.co_filename)}:{frame.f_lineno}"


def register_mixture(
    name: str,
    components: Sequence[tuple[str, Rate]],
    description: str = "",
    defined_at: str | None = None,
):
    """Registers a seqio mixture and records its declared rates.

    Args:
        name: The mixture's name (seqio rules: letters, digits, ``_ . : #``).
        components: ``(task_or_mixture_name, rate)`` pairs. A component that
            is itself a mixture gets the number its rate gives for the whole
            sub-mixture (seqio needs a number there): a :class:`FixedWeight`,
            or e.g. :class:`ExamplesProportional` for its total examples.
        description: One line on what the mixture is for.
        defined_at: Where the mixture is defined, for messages (default: the
            caller's ``file:line``; e.g. an experiment file for mixtures it defines).

    Returns:
        The registered ``seqio.Mixture``.

    Raises:
        RegistryError: If the name is taken or a component is unknown; the
            message says where the name was first registered or suggests the
            nearest existing names.
        ValueError: If a component's rate is not a :class:`Rate`.
    """
    import seqio  # deferred: pulls in TensorFlow

    location = defined_at or _caller_location()
    if name in _SPECS:
        raise RegistryError(
            f"mixture {name!r} is already registered (at {_SPECS[name].defined_at}); "
            f"second registration at {location}"
        )
    if name in seqio.MixtureRegistry.names() or name in seqio.TaskRegistry.names():
        raise RegistryError(
            f"{name!r} is already a seqio task or mixture name (registered at {location})"
        )
    if not components:
        raise ValueError(f"mixture {name!r} has no components")

    known_tasks = set(seqio.TaskRegistry.names())
    known_mixtures = set(seqio.MixtureRegistry.names())
    seqio_components = []
    for component, rate in components:
        if not isinstance(rate, Rate):
            raise ValueError(
                f"mixture {name!r}: rate of {component!r} must be a flawn Rate (e.g. FixedWeight, "
                f"ExamplesProportional), got {rate!r}"
            )
        if component in known_mixtures:
            weight = float(rate(seqio.get_mixture_or_task(component)))
            seqio_components.append((component, weight))
        elif component in known_tasks:
            seqio_components.append((component, rate))
        else:
            raise RegistryError(
                f"mixture {name!r} (at {location}) refers to unknown task or mixture "
                f"{component!r}{_nearest(component, sorted(known_tasks | known_mixtures))}"
            )

    mixture = seqio.MixtureRegistry.add(name, seqio_components)
    _SPECS[name] = MixtureSpec(name, tuple(components), description, location)
    return mixture


def get_mixture_spec(name: str) -> MixtureSpec:
    """Returns the declared spec of a registered mixture.

    Raises:
        RegistryError: If no such mixture exists; suggests the nearest names.
    """
    try:
        return _SPECS[name]
    except KeyError:
        raise RegistryError(f"no mixture named {name!r}{_nearest(name, list(_SPECS))}") from None


def mixture_names() -> list[str]:
    """Returns the names of all mixtures registered through flawn, sorted."""
    return sorted(_SPECS)


def forget_mixture_spec(name: str) -> bool:
    """Drops a mixture's spec (its seqio registration is the caller's to remove).

    Returns:
        Whether a spec was recorded under ``name``.
    """
    return _SPECS.pop(name, None) is not None
