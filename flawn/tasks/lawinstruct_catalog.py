"""One seqio task per LawInstruct catalog subset found in a folder of shards.

Task names are ``lawinstruct.<catalog name>``: the subset name
(``lawinstruct.bva_decisions_label``), or ``<dataset>.<subset>`` for the
five ``MainSubset`` rows that share a subset name
(``lawinstruct.EdgarNER.MainSubset``). Each task reads exactly its own
dataset's shards, formats records with
:func:`flawn.tasks.preprocessors.format_lawinstruct` and keeps the metadata
as passthrough features, like every flawn LawInstruct task.

Example counts (``num_examples``), which examples-proportional rates need:

* ``"shards"`` (default): count the non-blank lines of the subset's shards
  when registering. It is always the truth about the folder (synthetic,
  partial or filtered copies included) and costs one decompression pass:
  instant for scaled-down shards, long for the full release (some 14 billion
  words of prompts and answers);
* ``"catalog"``: the release's counts from the catalog, free; right only for
  the complete, unmodified release;
* a mapping ``{catalog name: count}`` for counts known otherwise.

Each task also records its catalog metadata (:func:`catalog_metadata`) with
:mod:`flawn.tasks.metadata`, for grouped rates and leave-one-out ablations,
and gets a shuffle buffer of at most one epoch.

Building view mixtures on top::

    from flawn.catalog import load_catalog
    names = register_catalog_tasks(shard_dir, vocab, load_catalog().view("english_commercial"))
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

import seqio

from flawn.catalog import Catalog, Subset, load_catalog
from flawn.sources.counting import usable_examples
from flawn.sources.lawinstruct import parse_shard_name, read_shard, shard_name
from flawn.tasks.registry import default_shuffle_buffer_size, register_lawinstruct_subset

#: Prefix of the catalog tasks' names.
TASK_PREFIX = "lawinstruct."

NUM_EXAMPLES_MODES = ("shards", "catalog")


def task_name(subset: Subset | str) -> str:
    """Returns the task name of a catalog subset (or catalog name)."""
    return TASK_PREFIX + (subset.name if isinstance(subset, Subset) else subset)


def catalog_metadata(subset: Subset) -> dict[str, str]:
    """Returns the task metadata recorded for a catalog subset (see :mod:`flawn.tasks.metadata`).

    Multi-valued fields record their largest value (``jurisdiction``,
    ``task_type``, ``prompt_language``, ``answer_language``); the catalog keeps
    the full breakdown. Also recorded: ``dataset_name``, ``subset_name``,
    ``catalog_name``, ``licence``, ``english`` (``yes``/``no``) and
    ``excluded`` (the exclusion code, or ``""``). Grouped rates and
    leave-one-out ablations select tasks by these fields.
    """
    return {
        "dataset_name": subset.dataset_name,
        "subset_name": subset.subset_name,
        "catalog_name": subset.name,
        "jurisdiction": subset.jurisdictions[0],
        "task_type": subset.task_types[0],
        "prompt_language": subset.prompt_languages[0],
        "answer_language": subset.answer_languages[0],
        "licence": subset.licence,
        "english": "yes" if subset.english else "no",
        "excluded": subset.excluded or "",
    }


def find_catalog_shards(
    shard_dir: str | os.PathLike, split: str = "train", catalog: Catalog | None = None
) -> dict[str, list[str]]:
    """Maps each catalog subset with shards in ``shard_dir`` to its files.

    Files are matched on both dataset and subset name, so subsets that share
    a subset name (``MainSubset``) get only their own files. Files of
    subsets the catalog does not know are left out.

    Args:
        shard_dir: Folder of ``{Dataset}-{subset}-{split}-{i}.jsonl.xz`` files.
        split: The split to look for.
        catalog: The catalog; the bundled one by default.

    Returns:
        ``{catalog name: [paths sorted by shard index]}``, in catalog order.

    Raises:
        FileNotFoundError: If ``shard_dir`` is not a folder.
    """
    catalog = catalog or load_catalog()
    shard_dir = os.fspath(shard_dir)
    if not os.path.isdir(shard_dir):
        raise FileNotFoundError(f"{shard_dir} is not a folder of LawInstruct shards")
    by_key = {subset.key: subset.name for subset in catalog}
    found: dict[str, list[tuple[int, str]]] = {}
    for file_name in os.listdir(shard_dir):
        parts = parse_shard_name(file_name)
        if not parts or parts["split"] != split:
            continue
        name = by_key.get(f"{parts['dataset']}-{parts['subset']}")
        if name is not None:
            found.setdefault(name, []).append(
                (int(parts["index"]), os.path.join(shard_dir, file_name))
            )
    return {
        name: [path for _, path in sorted(found[name])] for name in catalog.names() if name in found
    }


def count_shard_examples(paths: Collection[str | os.PathLike], policy: str | None = None) -> int:
    """Counts the usable records of shard files, through the bad-record policy.

    Each file is read once with the shard reader (and its count cached, see
    :mod:`flawn.sources.counting`), so malformed records are not counted
    under ``skip`` and stop with their file and line under ``error``.

    Raises:
        RecordError: Under ``error``, for a malformed record or a truncated file.
    """
    return usable_examples(paths, read_shard, "lawinstruct", policy)


def _select(catalog: Catalog, subsets: Collection[str] | Catalog | None) -> Catalog | None:
    if subsets is None:
        return None
    if isinstance(subsets, Catalog):
        return catalog.select(subsets.names())
    if isinstance(subsets, str):
        raise TypeError("subsets must be a collection of catalog names, not one string")
    return catalog.select(subsets)


def register_catalog_tasks(
    shard_dir: str | os.PathLike,
    vocabulary: seqio.Vocabulary,
    subsets: Collection[str] | Catalog | None = None,
    *,
    num_examples: str | Mapping[str, int] = "shards",
    split: str = "train",
    policy: str | None = None,
    catalog: Catalog | None = None,
    shuffle_buffer_size: int | None = None,
) -> list[str]:
    """Registers one seqio task per catalog subset with shards in ``shard_dir``.

    Registering the same subsets over the same files again is harmless (the
    existing tasks are returned); the same name over other files is an error.

    Args:
        shard_dir: Folder of release-format shards.
        vocabulary: Vocabulary of ``inputs`` and ``targets``.
        subsets: Catalog names, or a :class:`Catalog` (e.g. a view), to
            register; every one must have shards. ``None``: every catalog
            subset that has shards in the folder.
        num_examples: ``"shards"``, ``"catalog"`` or ``{catalog name: count}``
            (see the module docstring for which to use when).
        split: The split to register.
        policy: Bad-record policy of the tasks' readers (``error``/``skip``;
            ``None``: the gin-configured default).
        catalog: The catalog; the bundled one by default.
        shuffle_buffer_size: Each task's shuffle buffer, in examples, capped
            at the task's size; ``None``: seqio's default (1000) capped at the
            task's size. seqio fills a task's buffer before it yields the
            task's first example, so this bounds each task's startup work.

    Returns:
        The task names, in catalog order.

    Raises:
        RegistryError: If ``subsets`` names something the catalog lacks.
        FileNotFoundError: Listing every requested subset without shards and
            the file names expected for it; or, with ``subsets=None``, if no
            catalog subset has shards in the folder.
        ValueError: For an unknown ``num_examples`` mode, a mapping that lacks
            a subset, or a task name already used for other files or with
            another example count.
    """
    catalog = catalog or load_catalog()
    if shuffle_buffer_size is not None and shuffle_buffer_size <= 0:
        raise ValueError(f"shuffle_buffer_size must be positive, got {shuffle_buffer_size}")
    if isinstance(num_examples, str) and num_examples not in NUM_EXAMPLES_MODES:
        raise ValueError(
            f"num_examples must be one of {NUM_EXAMPLES_MODES} or a mapping, got {num_examples!r}"
        )
    shard_dir = os.fspath(shard_dir)
    found = find_catalog_shards(shard_dir, split, catalog)
    chosen = _select(catalog, subsets)
    if chosen is None:
        if not found:
            raise FileNotFoundError(
                f"no shards of any catalog subset in {shard_dir} (expected files like "
                f"{shard_name('BVADecisions', 'bva_decisions_label', split, 0)})"
            )
        chosen = catalog.select(found)
    else:
        missing = [subset for subset in chosen if subset.name not in found]
        if missing:
            listing = "".join(
                f"\n  {s.name} (expected {shard_name(s.dataset_name, s.subset_name, split, 0)})"
                for s in missing
            )
            raise FileNotFoundError(
                f"{len(missing)} of {len(chosen)} requested LawInstruct subset(s) have no "
                f"{split} shards in {shard_dir}:{listing}"
            )
    if not isinstance(num_examples, str):
        lacking = [s.name for s in chosen if s.name not in num_examples]
        if lacking:
            raise ValueError(f"num_examples has no count for {', '.join(lacking)}")

    names = []
    for subset in chosen:
        files = found[subset.name]
        if num_examples == "shards":
            count = count_shard_examples(files, policy)
        elif num_examples == "catalog":
            count = subset.examples
        else:
            count = int(num_examples[subset.name])
        name = task_name(subset)
        # A buffer of one epoch shuffles as thoroughly as seqio's 1000 and, since
        # seqio shuffles after repeating, costs one pass over a small subset instead
        # of many (14,000-word EurLexSum documents re-tokenized 250 times made the
        # first batch of a 149-task mixture take 14 minutes).
        buffer = max(1, min(count, shuffle_buffer_size or default_shuffle_buffer_size()))
        register_lawinstruct_subset(
            name,
            shard_dir,
            subset.subset_name,
            vocabulary,
            splits=(split,),
            num_examples={split: count},
            policy=policy,
            metadata=catalog_metadata(subset),
            dataset_name=subset.dataset_name,
            shuffle_buffer_size=buffer,
        )
        task = seqio.TaskRegistry.get(name)
        registered = task.num_input_examples(split)
        if registered != count:
            # The same files were registered before with another count; keeping
            # the old one silently would skew every examples-proportional rate.
            raise ValueError(
                f"task {name!r} is already registered over the same shards with "
                f"{registered} {split} examples, not {count}; remove it first "
                "(seqio.TaskRegistry.remove) to change its count"
            )
        names.append(name)
    return names


def catalog_task_names() -> list[str]:
    """Returns the names of the registered catalog tasks, sorted."""
    return sorted(n for n in seqio.TaskRegistry.names() if n.startswith(TASK_PREFIX))
