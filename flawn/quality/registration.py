"""Registering a cleaned copy as seqio tasks and a mixture, with the original's rates.

Each source becomes the task ``<name>:<original task>`` through the same
functions that register flawn's sample and LawInstruct tasks
(:func:`flawn.tasks.registry.register_lawinstruct_subset`,
:func:`flawn.tasks.registry.register_flan_file`), with its kept count as its
number of examples; each (sub-)mixture is registered again over the cleaned
tasks with the same rate objects (``<name>`` for the top, ``<name>:<sub-mixture>``
below it). A size-proportional rate therefore sees the kept counts, and the
data plan of the cleaned mixture uses them. A source with nothing kept is
left out (a mixture cannot sample from an empty task).

In another process, either call :func:`register_cleaned` or list the folder in
``FLAWN_MIXTURES_PATH``: its ``mixture.py`` calls :func:`register_cleaned`.
"""

from __future__ import annotations

import logging
import os
import pathlib

from flawn.errors import RegistryError
from flawn.quality.report import load_report
from flawn.quality.sources import rate_from_json

log = logging.getLogger(__name__)

# name -> folder it was registered from (re-registering the same folder is a no-op).
_REGISTERED: dict[str, pathlib.Path] = {}


def _register_task(folder: pathlib.Path, name: str, source: dict) -> None:
    from flawn.sources.lawinstruct import parse_shard_name
    from flawn.tasks.registry import register_flan_file, register_lawinstruct_subset
    from flawn.vocab import load_vocabulary

    vocabulary = load_vocabulary(str(folder / source["vocabulary_copy"]), source["extra_ids"])
    data_dir = folder / source["output_dir"]
    files = [str(data_dir / f) for f in source["output_files"]]
    if source["format"] == "lawinstruct":
        parts = [parse_shard_name(f) for f in source["output_files"]]
        subsets = {p["subset"] for p in parts if p}
        datasets = {p["dataset"] for p in parts if p}
        if len(subsets) != 1:
            raise RegistryError(
                f"{data_dir}: expected the shards of one LawInstruct subset, "
                f"found {sorted(subsets)}"
            )
        register_lawinstruct_subset(
            name,
            data_dir,
            subsets.pop(),
            vocabulary,
            num_examples={"train": source["kept"]},
            policy=source["policy"],
            metadata=source["metadata"],
            dataset_name=datasets.pop() if len(datasets) == 1 else None,
        )
    else:
        register_flan_file(
            name, files, vocabulary, source["dataset_name"] or "Flan", num_examples=source["kept"]
        )


def register_cleaned(folder: str | os.PathLike, name: str | None = None) -> str:
    """Registers the tasks and mixture of a cleaned copy (see the module docstring).

    Args:
        folder: A folder written by ``flawn data clean``.
        name: The mixture name (default: the one recorded, ``<mixture>.clean``
            unless ``--name`` said otherwise).

    Returns:
        The registered mixture's name.

    Raises:
        RegistryError: If the name is already registered from another folder
            (pass another ``name``), or every source is empty.
        FlawnError: If the folder has no valid report.
    """
    from flawn.mixtures import FixedWeight, register_mixture

    folder = pathlib.Path(folder).resolve()
    report = load_report(folder)
    name = name or report["name"]
    if name in _REGISTERED:
        if _REGISTERED[name] == folder:
            return name
        raise RegistryError(
            f"{name!r} is already registered from {_REGISTERED[name]}; register {folder} "
            "under another name (register_cleaned(folder, name=...))"
        )
    tasks: dict[str, str] = {}
    for source in report["sources"]:
        if not source["kept"]:
            log.warning("%s: nothing of %s was kept; left out", folder, source["task"])
            continue
        task_name = f"{name}:{source['task']}"
        _register_task(folder, task_name, source)
        tasks[source["task"]] = task_name

    def build(node: dict, top: bool) -> str | None:
        if node["kind"] == "task":
            return tasks.get(node["name"])
        components = []
        for component in node["components"]:
            child = build(component["node"], top=False)
            if child is not None:
                components.append((child, rate_from_json(component["rate"])))
        if not components:
            return None
        mixture_name = name if top else f"{name}:{node['name']}"
        register_mixture(
            mixture_name,
            components,
            description=f"{node['description']} (cleaned copy {report['folder']})",
        )
        return mixture_name

    structure = report["structure"]
    if structure["kind"] == "task":
        if structure["name"] not in tasks:
            raise RegistryError(f"{folder}: nothing was kept, so there is nothing to register")
        register_mixture(
            name,
            [(tasks[structure["name"]], FixedWeight(1.0))],
            description=f"cleaned copy {report['folder']} of task {structure['name']}",
        )
    elif build(structure, top=True) is None:
        raise RegistryError(f"{folder}: nothing was kept, so there is nothing to register")
    _REGISTERED[name] = folder
    return name
