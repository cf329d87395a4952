"""``flawn data clean``: read every source of a mixture, filter, write a versioned cleaned copy.

Filters run per batch in the order of :data:`flawn.quality.config.FILTER_ORDER`
(read, length, language, decontamination, exact and near duplicates); sources
in mixture order (:func:`flawn.quality.sources.mixture_sources`), records in
file order. The copy goes to ``OUT/<mixture>-<hash>/``, the hash being one of
the input files' contents, the benchmark items and the settings, so the same
inputs and settings always name the same folder (and a second run reuses it),
and anything changed names a new one. The folder holds:

* ``data/<task>/``: each source's kept records in its own format and file names;
* ``vocab/``: a copy of each vocabulary the tasks use;
* ``report.json``, ``report.md``, ``contamination.tsv`` (:mod:`flawn.quality.report`);
* ``mixture.py``: registers the copy when the folder is listed in
  ``FLAWN_MIXTURES_PATH`` (see :func:`flawn.quality.registration.register_cleaned`).

The folder is written under a temporary name and renamed when complete, so
a folder with the final name is always whole.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
import time

from tqdm.auto import tqdm

from flawn.errors import ConfigError
from flawn.quality.config import CleanConfig
from flawn.quality.counts import SourceCounts, apply_stage
from flawn.quality.example import FORMATS, Example
from flawn.quality.report import REPORT_JSON, load_report, write_report
from flawn.quality.sources import SourceSpec, mixture_sources
from flawn.sources.policy import ReadStats

log = logging.getLogger(__name__)

#: Bumped when the cleaning rules change, so old copies are not reused for new rules.
FORMAT_VERSION = 2

_MIXTURE_HOOK = '''"""Registers the cleaned copy in this folder (written by `flawn data clean`).

List this folder in FLAWN_MIXTURES_PATH to have it registered in every flawn process.
"""

import pathlib

from flawn.quality.registration import register_cleaned

register_cleaned(pathlib.Path(__file__).resolve().parent)
'''

_NAME = re.compile(r"^[\w.:#]+$")


@dataclasses.dataclass(frozen=True)
class CleanResult:
    """What :func:`clean_mixture` produced.

    Attributes:
        folder: The cleaned copy.
        report: Its ``report.json`` contents.
        reused: Whether the folder existed already (same inputs and settings).
    """

    folder: pathlib.Path
    report: dict
    reused: bool


def _sha256(path: str, progress) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            progress.update(len(chunk))
    return digest.hexdigest()


def task_folder_name(task: str) -> str:
    """A task's folder under ``data/`` (``:`` and ``#`` are replaced for portability)."""
    return re.sub(r"[:#]", "_", task)


class _Cleaner:
    """One cleaning run: the filters, their state and the counts."""

    def __init__(self, config: CleanConfig, sources: list[SourceSpec], decontaminator, progress):
        from flawn.quality.dedup import ExactDeduplicator, NearDeduplicator
        from flawn.quality.language import LanguageFilter
        from flawn.quality.length import LengthFilter

        self.config = config
        self.sources = sources
        self.progress = progress
        self.counts = [SourceCounts(spec.task) for spec in sources]
        self.decontaminator = decontaminator
        stages = []
        if config.length.active:
            stages.append(("length", LengthFilter(config.length)))
        if config.language.active:
            language = LanguageFilter(config.language)

            def judge_language(example):
                reason = language(example)
                if reason:
                    self.counts[example.source].languages_removed[language.last_language] += 1
                return reason

            stages.append(("language", judge_language))
        if decontaminator is not None:
            stages.append(("decontamination", decontaminator))
        dedup = config.dedup
        self.near = None
        if dedup is not None and dedup.exact:
            stages.append(("exact_dedup", self._twin_counter("exact", ExactDeduplicator())))
        if dedup is not None and dedup.near:
            self.near = NearDeduplicator(dedup)
            stages.append(("near_dedup", self._twin_counter("near", self.near)))
        self.stages = stages

    @property
    def filter_order(self) -> list[str]:
        """The stages that run, in order."""
        return ["read", *(name for name, _ in self.stages)]

    def _twin_counter(self, kind: str, deduplicator):
        def judge(example):
            reason = deduplicator(example)
            if reason:
                twin = self.sources[deduplicator.last_twin_source].task
                self.counts[example.source].duplicate_of[kind][twin] += 1
            return reason

        return judge

    def _judge(self, batch: list[Example]) -> list[Example]:
        if self.decontaminator is not None:
            self.decontaminator.scan(batch)
        for name, judge in self.stages:
            batch = apply_stage(name, batch, judge, self.counts)
        return batch

    def clean_file(self, index: int, path: str, out_path: pathlib.Path, bar) -> int:
        """Filters one input file of source ``index`` into ``out_path``; returns records written."""
        spec = self.sources[index]
        record_format = FORMATS[spec.format]
        policy = spec.policy if self.config.policy is None else self.config.policy
        stats = ReadStats()
        selected = [0]

        def kept_records():
            batch: list[Example] = []
            for record in record_format.read(path, policy, stats):
                if spec.flan_filter is not None and (
                    (spec.flan_filter[0] is not None and record.task_source != spec.flan_filter[0])
                    or (spec.flan_filter[1] is not None and record.task_name != spec.flan_filter[1])
                ):
                    continue  # another Flan task's record: not part of this source
                selected[0] += 1
                batch.append(Example.from_record(index, record, record_format))
                if len(batch) >= self.config.batch_size:
                    bar.update(len(batch))
                    yield from (example.record for example in self._judge(batch))
                    batch = []
            bar.update(len(batch))
            yield from (example.record for example in self._judge(batch))

        written = record_format.write(str(out_path), kept_records())
        read = self.counts[index].stage("read")
        read.input += selected[0] + stats.skipped_total
        read.kept += selected[0]
        for reason, n in stats.skipped.items():
            read.removed[f"malformed:{reason}"] += n
        return written

    def run(self, data_dir: pathlib.Path) -> dict[str, list[str]]:
        """Cleans every source into ``data_dir/<task>/``; returns the files written per task."""
        written: dict[str, list[str]] = {}
        for index, spec in enumerate(self.sources):
            for name in self.filter_order:  # every stage exists, in order, even if unused
                self.counts[index].stage(name)
            folder = data_dir / task_folder_name(spec.task)
            folder.mkdir(parents=True)
            names = []
            with tqdm(
                desc=f"cleaning {spec.task}", unit="ex", disable=not self.progress, leave=False
            ) as bar:
                for path in spec.files:
                    out_path = folder / os.path.basename(path)
                    if out_path.exists():
                        raise ConfigError(
                            f"task {spec.task} reads two files named {out_path.name}; "
                            "the cleaned copy keeps file names, so they must differ"
                        )
                    self.clean_file(index, path, out_path, bar)
                    names.append(out_path.name)
                bar.set_postfix(kept=self.counts[index].kept)
            self.counts[index].check()
            written[spec.task] = names
        return written


def _identity(
    mixture: str,
    name: str,
    structure: dict,
    sources: list[SourceSpec],
    file_hashes: dict[str, str],
    vocab_hashes: dict[str, str],
    config: CleanConfig,
    items_digest: str | None,
) -> dict:
    settings = config.as_dict()
    # Where the benchmarks are read from does not matter, only which items they hold.
    for key in ("legalbench_dir", "legalbench_data", "lawbench_dir"):
        settings["decontamination"].pop(key)
    return {
        "format_version": FORMAT_VERSION,
        "mixture": mixture,
        "name": name,
        "structure": structure,
        "sources": [
            {
                "task": s.task,
                "format": s.format,
                "flan_filter": s.flan_filter,
                "policy": s.policy,
                "files": [[os.path.basename(f), file_hashes[f]] for f in s.files],
                "vocabulary": vocab_hashes[s.vocabulary],
            }
            for s in sources
        ],
        "settings": settings,
        "benchmark_items": items_digest,
    }


def clean_mixture(
    mixture: str,
    out_dir: str | os.PathLike,
    config: CleanConfig,
    name: str | None = None,
    force: bool = False,
    progress: bool = True,
) -> CleanResult:
    """Writes a cleaned, versioned copy of a mixture's data (see the module docstring).

    Args:
        mixture: A registered mixture (or task).
        out_dir: Where the copy's folder is created.
        config: What to filter.
        name: The name the copy registers as (default ``<mixture>.clean``);
            its tasks are ``<name>:<task>``.
        force: Rewrite the folder even if it exists.
        progress: Show tqdm progress bars.

    Returns:
        The folder, its report, and whether it was reused.

    Raises:
        FlawnError: On an unknown mixture, an unsupported source, a malformed
            record under the ``error`` policy (naming file and line), or
            missing benchmark folders.
    """
    from flawn.quality.contamination import Decontaminator

    name = name or f"{mixture}.clean"
    if not _NAME.match(name):
        raise ConfigError(f"{name!r} is not a valid task/mixture name (letters, digits, _ . : #)")
    started = time.time()
    structure, sources = mixture_sources(mixture)
    files = sorted({f for s in sources for f in s.files} | {s.vocabulary for s in sources})
    with tqdm(
        total=sum(os.path.getsize(f) for f in files),
        desc="hashing inputs",
        unit="B",
        unit_scale=True,
        disable=not progress,
        leave=False,
    ) as bar:
        hashes = {f: _sha256(f, bar) for f in files}
    decontaminator = (
        Decontaminator(config.decontamination, progress=progress)
        if config.decontamination.active
        else None
    )
    identity = _identity(
        mixture,
        name,
        structure,
        sources,
        hashes,
        hashes,
        config,
        decontaminator.digest if decontaminator else None,
    )
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    out_dir = pathlib.Path(out_dir)
    folder = out_dir / f"{mixture}-{digest}"
    if (folder / REPORT_JSON).is_file() and not force:
        _point_latest(out_dir, mixture, folder)
        return CleanResult(folder, load_report(folder), reused=True)

    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f".{folder.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        vocab_dir = partial / "vocab"
        vocab_dir.mkdir()
        vocabularies = {}
        for source in sources:
            target = f"vocab/{hashes[source.vocabulary][:12]}.model"
            if not (partial / target).exists():
                shutil.copyfile(source.vocabulary, partial / target)
            vocabularies[source.vocabulary] = target
        cleaner = _Cleaner(config, sources, decontaminator, progress)
        cleaning_started = time.time()
        written = cleaner.run(partial / "data")
        cleaning_seconds = time.time() - cleaning_started
        counts = [c.as_dict() for c in cleaner.counts]
        removed: dict[str, int] = {}
        for c in counts:
            for reason, n in c["removed"].items():
                removed[reason] = removed.get(reason, 0) + n
        report = {
            "format_version": FORMAT_VERSION,
            "mixture": mixture,
            "name": name,
            "folder": folder.name,
            "hash": digest,
            "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "filter_order": cleaner.filter_order,
            "order": "sources in mixture order (declaration order, depth first), records in "
            "file order; a duplicate is removed in favour of its first occurrence",
            "settings": config.as_dict(),
            "lsh_bands": cleaner.near.bands if cleaner.near else None,
            "structure": structure,
            "sources": [
                {
                    **spec.as_dict(),
                    "kept": cleaner.counts[i].kept,
                    "output_dir": f"data/{task_folder_name(spec.task)}",
                    "output_files": written[spec.task],
                    "vocabulary_copy": vocabularies[spec.vocabulary],
                }
                for i, spec in enumerate(sources)
            ],
            "inputs": [{"file": f, "sha256": hashes[f]} for f in files],
            "counts": counts,
            "totals": {
                "read": sum(c["read"] for c in counts),
                "kept": sum(c["kept"] for c in counts),
                "removed": dict(sorted(removed.items())),
            },
            "contamination": decontaminator.summary([s.task for s in sources])
            if decontaminator
            else None,
            "seconds": {
                "total": round(time.time() - started, 3),
                "cleaning": round(cleaning_seconds, 3),
            },
        }
        write_report(partial, report)
        (partial / "mixture.py").write_text(_MIXTURE_HOOK, encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _point_latest(out_dir, mixture, folder)
    return CleanResult(folder, report, reused=False)


def latest_link(out_dir: str | os.PathLike, mixture: str) -> pathlib.Path:
    """``OUT/<mixture>.latest``: a link to the newest cleaned copy of ``mixture`` in ``OUT``."""
    return pathlib.Path(out_dir) / f"{mixture}.latest"


def _point_latest(out_dir: pathlib.Path, mixture: str, folder: pathlib.Path) -> None:
    """Points ``<mixture>.latest`` at ``folder`` (relative, so ``OUT`` can move)."""
    link = latest_link(out_dir, mixture)
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(folder.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        pass  # e.g. no symlinks on this file system: the versioned folder is still there
