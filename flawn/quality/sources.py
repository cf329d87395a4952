"""The sources of a mixture, in mixture order, and its structure with serialisable rates.

"Mixture order" is the order of declaration: the components of the
:func:`flawn.mixtures.register_mixture` call, depth first through nested
mixtures. A task reached twice is one source, at its first place. This is
the order deduplication keeps first occurrences in, e.g. for
``demo.general_plus_legal`` the LawInstruct subsets (``demo.legal``) come
before the general data, so a legal example also found in the general data
is kept in the legal source.
"""

from __future__ import annotations

import dataclasses
import importlib

from flawn.errors import FlawnError
from flawn.quality.example import FORMATS


@dataclasses.dataclass(frozen=True)
class SourceSpec:
    """One task of the mixture, as the cleaner reads and re-registers it.

    Attributes:
        task: The seqio task name.
        format: ``lawinstruct`` or ``flan`` (see :mod:`flawn.quality.example`).
        files: Its train files, in the order the task reads them.
        policy: The bad-record policy the task was registered with (``None``: gin's).
        kind: ``legal`` or ``general`` (flawn's task metadata).
        metadata: The task's metadata fields.
        flan_filter: For a per-task Flan task, the ``(task_source, task_name)``
            its records are selected by; ``None`` otherwise.
        dataset_name: The ``dataset_name`` of a Flan task.
        vocabulary: The SentencePiece model file of its features.
        extra_ids: Sentinel ids of that vocabulary.
    """

    task: str
    format: str
    files: tuple[str, ...]
    policy: str | None
    kind: str
    metadata: dict
    flan_filter: tuple[str | None, str | None] | None
    dataset_name: str
    vocabulary: str
    extra_ids: int

    def as_dict(self) -> dict:
        """A JSON-friendly view."""
        return dataclasses.asdict(self)


def rate_to_json(rate) -> dict:
    """A flawn rate as ``{"class": "module.Class", "params": {...}}``.

    Raises:
        FlawnError: If the rate is not a dataclass (its parameters cannot be recorded).
    """
    if not dataclasses.is_dataclass(rate):
        raise FlawnError(
            f"cannot record the rate {rate!r}: only dataclass rates (FixedWeight, "
            "ExamplesProportional, TokenProportional...) can be copied to a cleaned mixture"
        )
    cls = type(rate)
    return {"class": f"{cls.__module__}.{cls.__qualname__}", "params": dataclasses.asdict(rate)}


def rate_from_json(data: dict):
    """The rate :func:`rate_to_json` recorded.

    Raises:
        FlawnError: If the class cannot be imported or is not a flawn ``Rate``.
    """
    from flawn.mixtures.rates import Rate

    module_name, _, class_name = data["class"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as err:
        raise FlawnError(f"cannot import the recorded rate class {data['class']}: {err}") from err
    if not (isinstance(cls, type) and issubclass(cls, Rate)):
        raise FlawnError(f"recorded rate class {data['class']} is not a flawn Rate")
    return cls(**data["params"])


def _source_spec(task) -> SourceSpec:
    from flawn.tasks.metadata import task_metadata
    from flawn.tasks.sources import FlanSource, LawInstructSource

    source = task.source
    if isinstance(source, LawInstructSource):
        record_format, flan_filter, dataset_name = "lawinstruct", None, ""
    elif isinstance(source, FlanSource):
        record_format = "flan"
        dataset_name = source.dataset_name
        selected = (source.task_source, source.task_name)
        flan_filter = selected if selected != (None, None) else None
    else:
        raise FlawnError(
            f"task {task.name} reads a {type(source).__name__}; flawn data clean copies "
            f"{' and '.join(FORMATS)} sources (LawInstructSource, FlanSource) only"
        )
    if "train" not in source.splits:
        raise FlawnError(f"task {task.name} has no train split to clean")
    vocabulary = task.output_features["inputs"].vocabulary
    model_file = getattr(vocabulary, "sentencepiece_model_file", None)
    if not model_file:
        raise FlawnError(
            f"task {task.name}: its vocabulary {type(vocabulary).__name__} has no SentencePiece "
            "model file to register the cleaned copy with"
        )
    metadata = task_metadata(task.name)
    return SourceSpec(
        task=task.name,
        format=record_format,
        files=tuple(source.list_shards("train")),
        policy=source.policy,
        kind=metadata.kind,
        metadata=dict(metadata.fields),
        flan_filter=flan_filter,
        dataset_name=dataset_name,
        vocabulary=model_file,
        extra_ids=int(getattr(vocabulary, "extra_ids", 0)),
    )


def mixture_sources(name: str) -> tuple[dict, list[SourceSpec]]:
    """The structure of a mixture (or task) and its sources in mixture order.

    Args:
        name: A mixture registered through :func:`flawn.mixtures.register_mixture`,
            or a task.

    Returns:
        ``(structure, sources)``: the structure is
        ``{"name", "kind": "task"}`` or ``{"name", "kind": "mixture",
        "description", "components": [{"rate": rate_to_json(...), "node": ...}]}``.

    Raises:
        FlawnError: If the name is unknown, a mixture was registered outside
            flawn (its rates are unknown), or a task's source cannot be copied.
    """
    import seqio

    from flawn.mixtures.registry import get_mixture_spec, mixture_names

    flawn_mixtures = set(mixture_names())
    sources: dict[str, SourceSpec] = {}

    def walk(current: str) -> dict:
        if current in flawn_mixtures:
            spec = get_mixture_spec(current)
            components = [
                {"rate": rate_to_json(rate), "node": walk(component)}
                for component, rate in spec.components
            ]
            return {
                "name": current,
                "kind": "mixture",
                "description": spec.description,
                "components": components,
            }
        if current in seqio.MixtureRegistry.names():
            raise FlawnError(
                f"mixture {current} was registered with seqio directly; flawn data clean needs "
                "mixtures registered with flawn.mixtures.register_mixture (their rates are known)"
            )
        if current not in seqio.TaskRegistry.names():
            get_mixture_spec(current)  # raises, suggesting near names
        if current not in sources:
            sources[current] = _source_spec(seqio.get_mixture_or_task(current))
        return {"name": current, "kind": "task"}

    structure = walk(name)
    return structure, list(sources.values())
