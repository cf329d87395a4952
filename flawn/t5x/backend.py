"""The ``t5x`` backend: a run trained by T5X (this host with launch.sh, a TPU pod with pod.sh).

``prepare`` writes ``<run>/t5x/`` (gin files, ``plan.json``, ``launch.sh``,
``pod.sh``; see :mod:`flawn.t5x.layout`), converting a flawn checkpoint a
stage starts from into T5X's layout. ``train`` runs ``launch.sh train`` on
this host, streaming its output to the console and to
``<run>/t5x/logs/``. ``predictor`` converts the final stage's last T5X
checkpoint back to flawn's parameters, so flawn's own evaluator (rank
classification included) scores a T5X-trained run like a local one.
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Sequence

from flawn.errors import ConfigError, FlawnError
from flawn.runs.backend import Backend, Predictor, ProgressHook
from flawn.runs.run_dir import RunDir
from flawn.runs.spec import INIT_PREVIOUS, INIT_SCRATCH, EvalSpec, RunSpec
from flawn.t5x.install import INSTALL_HINT, SAFE_PATH_ENV, T5X_ROOT_CHECK
from flawn.t5x.layout import T5XLayout

#: The sweep's evaluation list, next to its run folders (written by the sweep launcher).
SWEEP_EVALS_FILE = "evals.json"


def t5x_python() -> str:
    """The interpreter that runs T5X: ``FLAWN_T5X_PYTHON``, else this one."""
    return os.environ.get("FLAWN_T5X_PYTHON") or sys.executable


def check_t5x_importable(python: str | None = None) -> None:
    """Raises :class:`ConfigError` saying how to install T5X if ``python`` cannot import it."""
    _check_importable(python or t5x_python())


@functools.cache
def _check_importable(python: str) -> None:
    # Once per interpreter and process: importing T5X takes seconds, and a plan checks every run.
    try:
        # As launch.sh runs it: without the current folder on the path (flawn.t5x.install).
        result = subprocess.run(
            [python, "-c", T5X_ROOT_CHECK + "import t5x.train, t5x.infer, flawn.tasks\n"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, **SAFE_PATH_ENV},
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ConfigError(f"cannot run {python} to check for T5X ({err}); {INSTALL_HINT}") from err
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise ConfigError(
            f"the t5x backend needs T5X and flawn importable by {python}, which says: {last}; "
            f"{INSTALL_HINT}"
        )


def sweep_evals(run_dir: RunDir) -> list[EvalSpec] | None:
    """The evaluations asked of a run: its own record, else the sweep's ``evals.json``."""
    recorded = run_dir.read_requested_evals()
    if recorded is not None:
        return [EvalSpec.from_json(e) for e in recorded]
    path = run_dir.path.parent / SWEEP_EVALS_FILE
    if not path.exists():
        return None
    return [EvalSpec.from_json(e) for e in json.loads(path.read_text(encoding="utf-8"))]


class T5XBackend(Backend):
    """Trains with T5X: gin files, ``launch.sh`` (this host) and ``pod.sh`` (a TPU pod slice).

    Args:
        evals: The evaluations ``launch.sh`` infers and scores; default: the
            sweep's ``evals.json`` next to the run folder, else the bundled sample suite.
    """

    name = "t5x"

    def __init__(self, evals: Sequence[EvalSpec] | None = None):
        self.evals = list(evals) if evals is not None else None

    # -- checks and files -------------------------------------------------------------------
    def validate(self, spec: RunSpec) -> None:
        """Checks that the stages map onto T5X, with settings T5X trains as flawn does.

        Also that T5X is importable. A training setting T5X would not apply
        (:func:`flawn.t5x.settings.refused_settings`, e.g. AdamW) is refused here.

        Raises:
            ConfigError: Naming the setting and what to do, or saying how to install T5X.
        """
        from flawn.runs.run_vocabulary import check_run_vocabulary
        from flawn.t5x.plan import run_kind, stage_config
        from flawn.t5x.settings import refused_settings

        if spec.vocabulary:
            raise ConfigError(
                f"run {spec.name}: its regime extends the vocabulary, which the t5x backend does "
                "not do yet; train it with the local backend (--backend local), or extend the "
                "vocabulary and resize the checkpoint beforehand (flawn model extend-vocab) and "
                "train without the extension"
            )
        for stage in spec.stages:
            run_kind(stage.run_file)
            if stage.init in (INIT_SCRATCH, INIT_PREVIOUS) or "://" in stage.init:
                continue
            if not os.path.isdir(stage.init):
                raise ConfigError(
                    f"run {spec.name}, stage {stage.name}: initial checkpoint {stage.init} does "
                    "not exist (a T5X checkpoint_<step> folder, gs:// path, or flawn run folder)"
                )
        problems = []
        for stage in spec.stages:
            problems += refused_settings(stage_config(stage), f"stage {stage.name}")
        if problems:
            raise ConfigError("; ".join(problems))
        check_t5x_importable()
        check_run_vocabulary(spec)

    def plan(self, spec: RunSpec, run_dir: RunDir):
        """The run's :class:`~flawn.t5x.plan.RunPlan`."""
        from flawn.t5x.plan import plan_run

        spec.register_mixtures()  # those its experiment defined by weights, before looking up
        evals = self.evals if self.evals is not None else sweep_evals(run_dir)
        return plan_run(spec, evals if evals is not None else [EvalSpec()])

    def prepare(self, spec: RunSpec, run_dir: RunDir) -> None:
        """Writes ``<run>/t5x/``: gin files, plan.json, launch.sh, pod.sh, converted checkpoints."""
        from flawn.t5x.files import write_t5x_files

        write_t5x_files(self.plan(spec, run_dir), spec, run_dir)

    # -- training ----------------------------------------------------------------------------
    def train(self, spec: RunSpec, run_dir: RunDir, progress: Sequence[ProgressHook] = ()) -> None:
        """Runs ``launch.sh train`` on this host, streaming its output.

        Raises:
            FlawnError: If T5X fails, naming the log.
        """
        self.prepare(spec, run_dir)
        layout = T5XLayout(run_dir.t5x_dir)
        layout.logs_dir.mkdir(parents=True, exist_ok=True)
        log_path = layout.logs_dir / f"train-{time.strftime('%Y%m%d-%H%M%S')}.log"
        env = {**os.environ, "FLAWN_T5X_PYTHON": t5x_python()}
        command = ["bash", os.fspath(layout.launch_path), "train"]
        with open(log_path, "w", encoding="utf-8") as log:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
                bufsize=1,
            )
            assert process.stdout is not None
            report = _Progress(progress)
            try:
                for line in process.stdout:
                    log.write(line)
                    sys.stdout.write(line)
                    report(line)
                code = process.wait()
            finally:
                if process.poll() is None:  # interrupted here: do not leave T5X running
                    process.terminate()
                    process.wait()
        if code != 0:
            raise FlawnError(
                f"T5X training of run {spec.name} failed (exit code {code}); its output is in "
                f"{log_path}"
            )

    def checkpoint_location(self, run_dir: RunDir) -> str:
        """The final stage's T5X model dir (``$MODEL_DIR_ROOT/<stage>`` on a pod)."""
        layout = T5XLayout(run_dir.t5x_dir)
        spec = run_dir.read_spec()
        final = spec["stages"][-1]["name"] if spec else "finetune"
        return f"{os.fspath(layout.model_dir(final))} (on a pod: $MODEL_DIR_ROOT/{final})"

    # -- the trained model -------------------------------------------------------------------
    def predictor(self, run_dir: RunDir, step: int | None = None) -> Predictor:
        """The final stage's model, converted from its T5X checkpoint to flawn parameters.

        Args:
            run_dir: The run folder.
            step: A flawn step of the final stage (T5X's step minus the stage's start
                step); default the stage's last step.

        Raises:
            ConfigError: If the checkpoint is not in ``<run>/t5x/model/<stage>/``
                (``pod.sh fetch`` copies it there from Cloud Storage).
        """
        from flawn.models.config import T5Config
        from flawn.models.t5 import Transformer
        from flawn.t5x.checkpoints import read_t5x_params
        from flawn.t5x.plan import RunPlan
        from flawn.vocab import load_vocabulary

        layout = T5XLayout(run_dir.t5x_dir)
        plan = RunPlan.from_json(layout.read_plan())
        final = plan.final_stage
        t5x_step = final.end_step if step is None else final.start_step + step
        path = layout.model_dir(final.name) / f"checkpoint_{t5x_step}"
        if not path.exists():
            raise ConfigError(
                f"{path} not found: train the run first (launch.sh train), or, after pod.sh, "
                "copy the checkpoint here (bash t5x/pod.sh fetch)"
            )
        params = read_t5x_params(path)
        config = T5Config(vocab_size=plan.vocab_size, **plan.shape)
        return Predictor(
            Transformer(config),
            {"params": params},
            load_vocabulary(plan.vocabulary_path(), plan.extra_ids),
            t5x_step - final.start_step,
            dict(final.feature_lengths),
        )


_STAGE_LINE = re.compile(
    r"^== stage \d+/\d+ (?P<name>\S+): T5X steps (?P<start>\d+) -> (?P<end>\d+)"
)
_METRICS_LINE = re.compile(r"\] \[(?P<step>\d+)\] collection=train (?P<pairs>.*)$")
_PAIR = re.compile(r"([\w/]+)=([-+0-9.eE]+|nan|inf)")


def _flawn_metrics(t5x: dict[str, float]) -> dict[str, float]:
    """The ``loss`` (mean cross-entropy per real target token) and ``accuracy`` flawn logs.

    T5X divides its summed cross-entropy by *all* target positions, padding
    included; dividing by the fraction of real ones gives flawn's mean.
    """
    out = {}
    per_position = t5x.get("t5x/cross_ent_loss_per_all_target_tokens")
    real = t5x.get("t5x/non_padding_fraction/loss_weights")
    if per_position is not None and real:
        out["loss"] = per_position / real
    elif "t5x/loss_per_nonpadding_target_token" in t5x:
        out["loss"] = t5x["t5x/loss_per_nonpadding_target_token"]
    if "t5x/accuracy" in t5x:
        out["accuracy"] = t5x["t5x/accuracy"]
    return out


class _Progress:
    """Turns launch.sh's stage headers and T5X's ``[step] collection=train ...`` lines into hooks.

    Steps are reported as flawn counts them: from 0 at the stage's start, out
    of the stage's steps.
    """

    def __init__(self, hooks: Sequence[ProgressHook]):
        self.hooks = hooks
        self.stage: tuple[str, int, int] | None = None

    def __call__(self, line: str) -> None:
        header = _STAGE_LINE.match(line)
        if header:
            start, end = int(header["start"]), int(header["end"])
            self.stage = (header["name"], start, end)
            return
        found = _METRICS_LINE.search(line.rstrip())
        if not (found and self.stage and self.hooks):
            return
        name, start, end = self.stage
        metrics = {}
        for key, value in _PAIR.findall(found["pairs"]):
            try:
                metrics[key] = float(value)
            except ValueError:
                continue
        if not any(key.startswith(("loss", "cross_ent_loss")) for key in metrics):
            return  # timing and summary lines
        metrics = {f"t5x/{key}": value for key, value in metrics.items()}
        metrics.update(_flawn_metrics(metrics))
        for hook in self.hooks:
            hook(name, int(found["step"]) - start, end - start, metrics)
