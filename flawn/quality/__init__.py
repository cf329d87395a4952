"""Data quality for legal mixtures: deduplication, decontamination, length and language filters.

``flawn data clean MIXTURE`` (:func:`flawn.quality.pipeline.clean_mixture`)
reads every source of a mixture, applies the filters in a stated order,
and writes a cleaned, versioned copy with a report whose counts reconcile;
:func:`flawn.quality.registration.register_cleaned` registers the copy as
seqio tasks and a mixture with the original's rates.

Modules, one noun each: :mod:`~flawn.quality.text` (normalisation and
tokens), :mod:`~flawn.quality.units` (jieba-cut words for decontamination),
:mod:`~flawn.quality.config` (settings), :mod:`~flawn.quality.example`
(an example and its record format), :mod:`~flawn.quality.counts`,
:mod:`~flawn.quality.length`, :mod:`~flawn.quality.language`,
:mod:`~flawn.quality.dedup`, :mod:`~flawn.quality.benchmarks`,
:mod:`~flawn.quality.ngrams`, :mod:`~flawn.quality.contamination`,
:mod:`~flawn.quality.sources`, :mod:`~flawn.quality.pipeline`,
:mod:`~flawn.quality.report`, :mod:`~flawn.quality.registration`,
:mod:`~flawn.quality.evaluation` (decontamination's recall and precision).

Importing this package imports nothing heavy: :func:`contaminated_tasks` is
safe to call from the analysis (no TensorFlow, no JAX).
"""

from flawn.quality.report import contaminated_tasks, load_report

__all__ = ["contaminated_tasks", "load_report"]
