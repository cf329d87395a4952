"""Evaluating one run under one :class:`~flawn.runs.EvalSpec`.

The evaluation's id hashes the spec, the input length prompts are fitted to,
the checkpoint step and a fingerprint of the suite's files; its rows go to
``<run>/eval/<eval_id>/`` and ``eval.json`` is written last, so a folder with
it is complete. Asking again with the same settings reuses the rows; changing
anything scored (mode, decode length, tasks, truncation policy, the step, the
suite's files) evaluates again under a new id.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pathlib
import shutil
from typing import Any

from flawn.errors import ConfigError, FlawnError
from flawn.results import RunInfo
from flawn.runs.backend import Predictor
from flawn.runs.fingerprint import files_fingerprint, folder_fingerprint
from flawn.runs.run_dir import RunDir
from flawn.runs.spec import EvalSpec, content_hash

log = logging.getLogger(__name__)


@dataclasses.dataclass
class EvalOutcome:
    """One evaluation of a run.

    Attributes:
        eval_id: Its identity (the folder name under ``eval/``).
        spec: The settings.
        rows: Per-task rows.
        reused: Whether finished rows were found and nothing was recomputed.
        directory: Where the rows are.
        step: The checkpoint step evaluated.
    """

    eval_id: str
    spec: EvalSpec
    rows: list[dict[str, Any]]
    reused: bool
    directory: Any
    step: int = 0


def run_info(run_dir: RunDir) -> RunInfo:
    """The identity columns of a run's rows (from its spec, or its config for a bare train dir)."""
    spec = run_dir.read_spec()
    if spec is not None:
        return RunInfo(
            run_id=spec["run_id"],
            run_name=spec["name"],
            sweep=spec["sweep"],
            mixture=spec["stages"][-1]["mixture"],
            size=spec["size"],
            regime=spec["regime"],
            seed=int(spec["seed"]),
            backend=trained_by(run_dir, spec),
            axes=dict(spec["axes"]),
        )
    from flawn.train.config import load_train_config  # deferred: gin configurables

    config = load_train_config(run_dir.final_stage())
    return RunInfo.unswept(run_dir.path.name, config.mixture_or_task_name, config.seed)


def legalbench_location(spec: EvalSpec) -> tuple[str, str | None]:
    """The LegalBench checkout and test rows of a spec.

    The spec's own ``legalbench_dir`` / ``data`` win; otherwise
    ``FLAWN_LEGALBENCH_DIR`` (else ``../shared/data/legalbench``) and
    ``FLAWN_LEGALBENCH_DATA``, as task registration finds them.

    Raises:
        ConfigError: If no checkout is found, saying what to set.
    """
    from flawn import paths

    folder = spec.legalbench_dir or os.environ.get("FLAWN_LEGALBENCH_DIR")
    if not folder and paths.shared_data_dir():
        folder = os.fspath(paths.shared_data_dir() / "legalbench")
    if not folder or not os.path.isdir(os.path.join(folder, "tasks")):
        raise ConfigError(
            "the legalbench suite needs a LegalBench checkout (tasks/<name>/base_prompt.txt): "
            "pass --legalbench-dir, set legalbench_dir in the eval spec, or set "
            "FLAWN_LEGALBENCH_DIR; the official test rows come from --data / "
            "FLAWN_LEGALBENCH_DATA"
        )
    return folder, spec.data or os.environ.get("FLAWN_LEGALBENCH_DATA")


def suite_fingerprint(spec: EvalSpec) -> dict[str, Any]:
    """A fingerprint of the files an evaluation reads (task prompts and rows)."""
    if spec.suite == "lawbench":
        from flawn.evals.lawbench.tasks import task_file, task_table

        tasks = spec.tasks or list(task_table())
        return files_fingerprint([task_file(t, spec.shot) for t in tasks])
    if spec.suite == "legalbench":
        folder, data_path = legalbench_location(spec)
        root = pathlib.Path(folder)
        tasks = spec.tasks or sorted(p.name for p in (root / "tasks").iterdir() if p.is_dir())
        files = [f for t in tasks for f in sorted((root / "tasks" / t).glob("*")) if f.is_file()]
        out = {"prompts": files_fingerprint(files, root)}
        if data_path:
            data = pathlib.Path(data_path)
            out["data"] = folder_fingerprint(data) if data.is_dir() else files_fingerprint([data])
        return out
    from flawn.evals.suites import suite_dir

    return folder_fingerprint(suite_dir(spec.suite))


def request_key(spec: EvalSpec) -> str:
    """What a sweep asks for: the settings and the suite's files, whatever model is scored.

    A run records, per request key, the eval id it produced; a sweep whose
    evaluation settings or suite files change asks for a new key, which makes
    finished runs ``stale`` until they are evaluated again.
    """
    return content_hash([dataclasses.asdict(spec), suite_fingerprint(spec)], 12)


def eval_id(spec: EvalSpec, predictor: Predictor) -> str:
    """The id of evaluating ``predictor``'s model under ``spec``."""
    return spec.eval_id(predictor.lengths["inputs"], predictor.step, suite_fingerprint(spec))


def load_legalbench_format_tasks(spec: EvalSpec):
    """The LegalBench-format tasks of a spec (bundled sample, a folder, or official LegalBench)."""
    from flawn.evals.legalbench.tasks import load_legalbench, load_suite
    from flawn.evals.suites import suite_dir

    tasks = list(spec.tasks) if spec.tasks else None
    if spec.suite == "legalbench":
        folder, data = legalbench_location(spec)
        return load_legalbench(folder, data, spec.split, tasks, allow_partial=spec.allow_partial)
    return load_suite(suite_dir(spec.suite), spec.split, tasks)


def check_eval_spec(spec: EvalSpec) -> None:
    """Checks that a spec's suite and tasks can be found, before any run trains.

    Raises:
        ConfigError: Naming what is missing and what to pass.
    """
    try:
        if spec.suite == "lawbench":
            from flawn.evals.lawbench.tasks import task_table

            unknown = sorted(set(spec.tasks or ()) - set(task_table()))
            if unknown:
                raise ConfigError(
                    f"unknown LawBench task(s) {unknown}; known: {', '.join(task_table())}"
                )
            suite_fingerprint(spec)
        else:
            load_legalbench_format_tasks(spec)
    except ConfigError:
        raise
    except (FileNotFoundError, FlawnError) as err:
        raise ConfigError(f"eval suite {spec.suite!r}: {err}") from err


def evaluate_run(
    run_dir: RunDir,
    spec: EvalSpec,
    predictor: Predictor,
    info: RunInfo | None = None,
    force: bool = False,
    batch_size: int = 64,
) -> EvalOutcome:
    """Evaluates a run's model under ``spec`` (or reuses finished rows) and writes the rows.

    Args:
        run_dir: The run folder.
        spec: What to evaluate and how.
        predictor: The run's model (from its backend's ``predictor``).
        info: The identity columns (default: from the run folder).
        force: Evaluate again even if finished rows exist.
        batch_size: Prompts per model call.

    Returns:
        The outcome, with the per-task rows.
    """
    from flawn.evals.runner import evaluate_lawbench, evaluate_legalbench
    from flawn.results import TASKS_FILE, read_rows

    info = info or run_info(run_dir)
    identity = eval_id(spec, predictor)
    out = run_dir.eval_dir(identity)
    if run_dir.has_eval(identity) and not force:
        rows = read_rows(os.fspath(out / TASKS_FILE))
        return EvalOutcome(identity, spec, rows, True, out, predictor.step)
    if out.exists():  # an unfinished earlier attempt: start it clean
        shutil.rmtree(os.fspath(out))
    input_length = predictor.lengths["inputs"]
    common = dict(model=predictor.model, params=predictor.params, vocabulary=predictor.vocabulary)
    if spec.suite == "lawbench":
        from flawn.evals.lawbench.tasks import task_table

        rows = evaluate_lawbench(
            **common,
            task_ids=list(spec.tasks or task_table()),
            run=info,
            run_dir=os.fspath(run_dir.path),
            input_length=input_length,
            max_decode_length=spec.max_decode_length,
            shot=spec.shot,
            limit=spec.limit,
            corrected=spec.corrected,
            batch_size=batch_size,
            eval_id=identity,
        )
    else:
        tasks = load_legalbench_format_tasks(spec)
        if spec.limit:
            tasks = [dataclasses.replace(t, examples=t.examples[: spec.limit]) for t in tasks]
        rows = evaluate_legalbench(
            **common,
            tasks=tasks,
            run=info,
            run_dir=os.fspath(run_dir.path),
            suite=spec.suite_name,
            input_length=input_length,
            max_decode_length=spec.max_decode_length,
            mode=spec.mode,
            overflow=spec.overflow,
            batch_size=batch_size,
            eval_id=identity,
        )
    if not rows:
        raise FlawnError(f"evaluation {identity} of {run_dir.path} scored no task")
    run_dir.write_eval_spec(
        identity,
        {
            "eval_id": identity,
            "spec": dataclasses.asdict(spec),
            "describe": spec.describe(),
            "step": predictor.step,
            "input_length": input_length,
            "suite_data": suite_fingerprint(spec),
        },
    )
    log.info("%s: %s -> %s", info.run_name, spec.describe(), out)
    return EvalOutcome(identity, spec, rows, False, out, predictor.step)


def trained_by(run_dir: RunDir, spec: dict[str, Any] | None = None) -> str:
    """The name of the backend that trained a run.

    ``run.json``'s (the latest attempt's: a run keeps its id on either
    backend), else the spec's, else ``local`` for a bare train folder.
    """
    spec = run_dir.read_spec() if spec is None else spec
    recorded = run_dir.read_status().get("backend")
    return recorded or (spec["backend"] if spec else "local")


def run_backend(run_dir: RunDir):
    """The backend that trained a run (:func:`trained_by`)."""
    from flawn.runs.backend import get_backend

    return get_backend(trained_by(run_dir))


def evaluate_checkpoint(
    path: str | os.PathLike, spec: EvalSpec, step: int | None = None, force: bool = False
) -> tuple[EvalOutcome, str | None]:
    """Evaluates a run or train folder's model through its backend (``flawn eval run``).

    Returns:
        The outcome and the local W&B folder of the eval job (``None`` without W&B).

    Raises:
        FlawnError: If the folder is not a run, or holds no checkpoint.
    """
    run_dir = RunDir(path)
    run_dir.require(str(path))
    check_eval_spec(spec)
    predictor = run_backend(run_dir).predictor(run_dir, step)
    outcome = evaluate_run(run_dir, spec, predictor, force=force)
    wandb_dir = None if outcome.reused else log_eval_to_wandb(run_dir, outcome)
    if run_dir.is_sweep_run:  # a sweep's status then knows this evaluation exists
        done = dict(run_dir.read_status().get("evals") or {})
        done[request_key(spec)] = outcome.eval_id
        run_dir.update_status(evals=done)
    return outcome, wandb_dir


def read_eval_record(run_dir: RunDir, identity: str) -> dict[str, Any]:
    """The stored eval.json of a finished evaluation."""
    record = run_dir.read_eval_spec(identity)
    if record is None:
        raise FileNotFoundError(f"{run_dir.eval_dir(identity)} has no eval.json (unfinished)")
    return json.loads(json.dumps(record))


def log_eval_to_wandb(run_dir: RunDir, outcome: EvalOutcome) -> str | None:
    """Logs an evaluation to W&B as an ``eval`` job of the run's group, with its per-task table.

    Offline without an account, off when the run's config says ``use_wandb =
    False`` or ``WANDB_MODE=disabled``. Returns the local W&B folder, if any.
    """
    from flawn.train.config import load_train_config
    from flawn.train.tracking import RunTracker

    config = load_train_config(run_dir.final_stage())
    if not config.use_wandb:
        return None
    info = run_info(run_dir)
    label = f"{outcome.spec.suite_name}.{outcome.spec.mode}"
    tracker = RunTracker(
        os.fspath(outcome.directory),
        f"{info.run_name} eval {label}",
        {
            "run_id": info.run_id,
            "eval_id": outcome.eval_id,
            **{f"axis.{k}": v for k, v in info.axes.items()},
        },
        use_wandb=True,
        project=config.wandb_project,
        group=info.sweep or None,
        job_type="eval",
        tags=[f"{k}={v}" for k, v in info.axes.items()],
        run_id=f"{info.run_id}-{outcome.eval_id}".replace(".", "-")[:64],
        wandb_dir=os.fspath(run_dir.path),
        metrics_file=None,
    )
    try:
        columns = ["task", "category", "metric", "score", "n", "n_truncated", "abstention_rate"]
        tracker.log_table(
            f"eval/{label}", columns, [[r.get(c) for c in columns] for r in outcome.rows]
        )
        tracker.summary({f"eval/{label}/{r['task']}": r["score"] for r in outcome.rows})
        return tracker.wandb_dir
    finally:
        tracker.close()
