"""Mixtures defined by weights in data (an experiment file, a run's spec, a JSON file).

An experiment may define mixtures without a Python file (``Sweep.mixture_weights``)::

    Sweep.mixture_weights = {
        'demo_next.p01': {'demo.legal': 0.31, 'demo.general_only': 0.69},
    }

Each component is a registered task or mixture (or another mixture defined
beside it) with a weight. Weights are relative, as :class:`FixedWeight`'s are:
seqio samples each component by its weight divided by their sum, so
``{a: 1, b: 3}`` draws 25% of examples from ``a``; they need not sum to 1.
A weight must be finite and >= 0 and the total positive.

Such mixtures must exist in every process that trains or plans the run, not
only in the one that read the experiment: each run's ``spec.json`` records
the definitions its stages need (sweep workers and ``flawn train --run-dir``
register them from there), and the T5X backend writes them to
``<run>/t5x/mixtures.json``, which ``launch.sh`` names in
``FLAWN_MIXTURE_DEFINITIONS``; ``import flawn.tasks`` registers the files that
variable lists (separated like ``PATH``).

Registering a definition again under its name is a no-op; a different
definition under a name already taken is an error naming both places.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from flawn.errors import ConfigError, RegistryError

#: Files of mixture definitions that ``import flawn.tasks`` registers (separated like PATH).
DEFINITIONS_ENV = "FLAWN_MIXTURE_DEFINITIONS"

Definitions = dict[str, dict[str, float]]


def check_definitions(definitions: Any, where: str = "Sweep.mixture_weights") -> Definitions:
    """Checks the shape and weights of definitions, without looking names up.

    Args:
        definitions: ``{mixture name: {component: weight}}``.
        where: Named in errors (e.g. ``Sweep.mixture_weights``).

    Returns:
        The definitions as plain dicts with float weights, in their order.

    Raises:
        ValueError: For a definition that is not a mapping, has no components,
            a weight that is not a finite number >= 0, or weights summing to 0.
    """
    if not isinstance(definitions, Mapping):
        raise ValueError(
            f"{where} must map mixture names to {{component: weight}}, got {definitions!r}"
        )
    out: Definitions = {}
    for name, components in definitions.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: mixture names must be non-empty strings, got {name!r}")
        if not isinstance(components, Mapping) or not components:
            raise ValueError(
                f"{where}[{name!r}] must map at least one task or mixture to its weight, "
                f"got {components!r}"
            )
        weights = {}
        for component, weight in components.items():
            if not isinstance(component, str):
                raise ValueError(f"{where}[{name!r}]: component {component!r} is not a name")
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise ValueError(
                    f"{where}[{name!r}][{component!r}]: weight must be a number, got {weight!r}"
                )
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(
                    f"{where}[{name!r}][{component!r}]: weight must be a finite number >= 0, "
                    f"got {weight!r}"
                )
            weights[component] = float(weight)
        if not sum(weights.values()) > 0:
            raise ValueError(
                f"{where}[{name!r}]: the weights sum to 0; give at least one component a "
                "positive weight"
            )
        if name in weights:
            raise ValueError(f"{where}[{name!r}] lists itself as a component")
        out[name] = weights
    return out


def needed_definitions(definitions: Mapping[str, Mapping[str, float]], mixtures: Iterable[str]):
    """The definitions ``mixtures`` use, directly or through other definitions, in their order."""
    wanted: set[str] = set()
    pending = [m for m in mixtures if m in definitions]
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        pending.extend(c for c in definitions[name] if c in definitions)
    return {name: dict(c) for name, c in definitions.items() if name in wanted}


def _same(spec, weights: Mapping[str, float]) -> bool:
    from flawn.mixtures.rates import FixedWeight

    return spec.components == tuple((c, FixedWeight(w)) for c, w in weights.items())


def register_definitions(definitions: Mapping[str, Mapping[str, float]], where: str) -> list[str]:
    """Registers defined mixtures with seqio (through :func:`register_mixture`).

    Definitions may use each other in any order; each is registered after
    the ones it uses.

    Args:
        definitions: ``{mixture name: {component: weight}}`` (checked here too).
        where: Where they come from (a file), recorded as each mixture's
            ``defined_at`` and named in errors.

    Returns:
        The names registered by this call (those already registered the same way are not).

    Raises:
        ConfigError: For bad weights, an unknown component (with the nearest
            names), a cycle, or a name already registered differently (naming
            where it was registered first).
    """
    from flawn.mixtures.rates import FixedWeight
    from flawn.mixtures.registry import _SPECS, register_mixture

    try:
        checked = check_definitions(definitions, f"{where}: mixture_weights")
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if not checked:
        return []
    import seqio  # deferred: pulls in TensorFlow

    pending = dict(checked)
    for name, weights in checked.items():
        if name in _SPECS:
            if not _same(_SPECS[name], weights):
                raise ConfigError(
                    f"{where} defines mixture {name!r} as {weights}, but {name!r} is already "
                    f"registered differently at {_SPECS[name].defined_at} ("
                    + ", ".join(f"{c}: {r.describe()}" for c, r in _SPECS[name].components)
                    + "); give the new mixture another name"
                )
            del pending[name]
        elif name in seqio.MixtureRegistry.names() or name in seqio.TaskRegistry.names():
            raise ConfigError(
                f"{where} defines mixture {name!r}, which is already a seqio task or mixture; "
                "give it another name"
            )
    registered = []
    while pending:
        ready = [n for n, w in pending.items() if not any(c in pending for c in w)]
        if not ready:
            raise ConfigError(
                f"{where}: mixtures {sorted(pending)} are defined in terms of each other (a cycle)"
            )
        for name in ready:
            components = [(c, FixedWeight(w)) for c, w in pending.pop(name).items()]
            try:
                register_mixture(
                    name, components, description=f"defined in {where}", defined_at=where
                )
            except RegistryError as err:
                raise ConfigError(f"{where}: mixture_weights[{name!r}]: {err}") from err
            registered.append(name)
    return registered


def definitions_json(definitions: Mapping, source: str) -> str:
    """Definitions as the JSON text :func:`read_definitions_file` reads.

    Args:
        definitions: ``{mixture name: {component: weight}}``.
        source: Where they came from, kept in the file for people.
    """
    checked = check_definitions(definitions)
    return json.dumps({"source": source, "mixtures": checked}, indent=2) + "\n"


def read_definitions_file(path: str | os.PathLike) -> Definitions:
    """The definitions of a file :func:`write_definitions_file` wrote.

    Raises:
        ConfigError: Naming the file, if it is missing or malformed.
    """
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such mixture definitions file (named by {DEFINITIONS_ENV}); "
            "re-prepare the run or unset the variable"
        ) from None
    except json.JSONDecodeError as err:
        raise ConfigError(f"{path}:{err.lineno}: not valid JSON: {err.msg}") from None
    if not isinstance(value, Mapping) or "mixtures" not in value:
        raise ConfigError(f"{path}: expected an object with a 'mixtures' field")
    try:
        return check_definitions(value["mixtures"], f"{path}: mixtures")
    except ValueError as err:
        raise ConfigError(str(err)) from None


def register_definitions_file(path: str | os.PathLike) -> list[str]:
    """Registers the mixtures of a definitions file; returns the names newly registered."""
    return register_definitions(read_definitions_file(path), os.fspath(path))


def register_from_env() -> list[str]:
    """Registers the files ``FLAWN_MIXTURE_DEFINITIONS`` lists (``import flawn.tasks`` does)."""
    names = []
    for entry in os.environ.get(DEFINITIONS_ENV, "").split(os.pathsep):
        if entry:
            names += register_definitions_file(entry)
    return names
