"""flawn's seqio tasks. Importing this module registers them all.

After ``import flawn.tasks`` in a fresh process every task below, and every
named mixture in the project's ``mixtures/`` folder (and in the folders
``FLAWN_MIXTURES_PATH`` lists) and every mixture defined by weights in the
files ``FLAWN_MIXTURE_DEFINITIONS`` lists (:mod:`flawn.mixtures.defined`), is
available through ``seqio.get_mixture_or_task(name)``:

* ``sample_lawinstruct.<subset>``: one task per bundled LawInstruct sample subset;
* ``sample_flan.general`` and ``sample_flan.<submix>.<task>``: the bundled general sample;
* ``sample_mlp.<lang>_<type>``: the bundled pretraining text (span corruption);
* ``legalbench.<task>`` and ``lawbench.<id>.<shot>``: the benchmarks, with their
  official metrics, when their files are found (see :func:`register_benchmarks`).
"""

from __future__ import annotations

from flawn.tasks.registry import register_bundled_samples

register_bundled_samples()


def register_benchmarks() -> list[str]:
    """Registers LegalBench and LawBench tasks from wherever their files are.

    LegalBench: ``FLAWN_LEGALBENCH_DIR`` (a checkout: ``tasks/<task>/base_prompt.txt``
    and ``train.tsv``), else ``../shared/data/legalbench``; the official test rows
    come from ``FLAWN_LEGALBENCH_DATA`` (TSV folders or a parquet export) when set.
    LawBench: ``FLAWN_LAWBENCH_DIR`` (``{zero_shot,one_shot}/<id>.json``), else
    ``../shared/data/lawbench/data``. The vocabulary is ``FLAWN_VOCABULARY`` (a
    SentencePiece model) or the bundled sample vocabulary. A benchmark whose files
    are not found is not registered.
    """
    import os

    from flawn import paths
    from flawn.tasks.benchmarks import register_lawbench_tasks, register_legalbench_tasks
    from flawn.vocab import load_vocabulary

    vocabulary = load_vocabulary(os.environ.get("FLAWN_VOCABULARY", str(paths.SAMPLE_VOCAB)))
    shared = paths.shared_data_dir()
    names = []
    legalbench = os.environ.get("FLAWN_LEGALBENCH_DIR") or (
        shared / "legalbench" if shared else None
    )
    if legalbench and os.path.isdir(os.path.join(legalbench, "tasks")):
        names += register_legalbench_tasks(
            legalbench, vocabulary, os.environ.get("FLAWN_LEGALBENCH_DATA")
        )
    lawbench = os.environ.get("FLAWN_LAWBENCH_DIR") or (
        shared / "lawbench" / "data" if shared else None
    )
    if lawbench and os.path.isdir(os.path.join(lawbench, "zero_shot")):
        names += register_lawbench_tasks(lawbench, vocabulary)
    return names


register_benchmarks()

# Named mixtures refer to the tasks above, so they are loaded after them.
from flawn.mixtures.named import load_all_named_mixtures  # noqa: E402

load_all_named_mixtures()

# Mixtures a run defines by weights (Sweep.mixture_weights), in the files launch.sh names.
from flawn.mixtures.defined import register_from_env  # noqa: E402

register_from_env()
