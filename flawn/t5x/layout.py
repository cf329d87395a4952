"""The files of the T5X backend inside a run folder (``<run>/t5x/``).

::

    <run>/t5x/
      model.gin            the network (size table -> T5X network.T5Config), optimizer, decoding
      run.gin              shared by training and inference: flawn's tasks, vocabulary, partitions
      stages/<stage>.gin   one per stage, loaded after T5X's runs/{finetune,pretrain}.gin
      infer/<key>.gin      one per evaluation, loaded after T5X's runs/infer.gin
      plan.json            what the files were resolved from: steps, starting points, evaluations
      mixtures.json        mixtures the experiment defined by weights (only when it did)
      launch.sh            train every stage, infer, score (this host)
      pod.sh               the same on every worker of a TPU VM pod slice
      init/<stage>/        flawn checkpoints converted to T5X's layout (a stage's starting point)
      model/<stage>/       T5X's model dir of each stage (launch.sh's default MODEL_DIR_ROOT)
      predictions/<key>/   t5x.infer output (launch.sh's default PREDICTIONS_ROOT)
      logs/                what train attempts printed

Every path written into these files is relative to ``<run>/t5x/`` or comes
from a variable at the top of a script, so the run folder stays relocatable.
"""

from __future__ import annotations

import json
import os
from typing import Any

from etils import epath


class T5XLayout:
    """Names of the T5X backend's files under a run folder's ``t5x/``.

    Args:
        root: ``run_dir.t5x_dir``.
    """

    MODEL_GIN = "model.gin"
    RUN_GIN = "run.gin"
    STAGES = "stages"
    INFER = "infer"
    PLAN = "plan.json"
    MIXTURES = "mixtures.json"
    LAUNCH = "launch.sh"
    POD = "pod.sh"
    INIT = "init"
    MODELS = "model"
    PREDICTIONS = "predictions"
    LOGS = "logs"

    def __init__(self, root: str | os.PathLike | epath.Path):
        self.root = epath.Path(root)

    def stage_gin(self, stage: str) -> str:
        """A stage's gin file, relative to :attr:`root`."""
        return f"{self.STAGES}/{stage}.gin"

    def infer_gin(self, key: str) -> str:
        """An evaluation's inference gin file, relative to :attr:`root`."""
        return f"{self.INFER}/{key}.gin"

    @classmethod
    def init_dir(cls, stage: str) -> str:
        """Where a converted starting checkpoint of a stage goes, relative to :attr:`root`."""
        return f"{cls.INIT}/{stage}"

    def model_dir(self, stage: str) -> epath.Path:
        """The T5X model dir of a stage when launch.sh runs with its default MODEL_DIR_ROOT."""
        return self.root / self.MODELS / stage

    def predictions_dir(self, key: str) -> epath.Path:
        """t5x.infer's output of one evaluation under the default PREDICTIONS_ROOT."""
        return self.root / self.PREDICTIONS / key

    @property
    def launch_path(self) -> epath.Path:
        """The single-host launch script."""
        return self.root / self.LAUNCH

    @property
    def pod_path(self) -> epath.Path:
        """The TPU pod slice launch script."""
        return self.root / self.POD

    @property
    def logs_dir(self) -> epath.Path:
        """Logs of train attempts."""
        return self.root / self.LOGS

    def write(self, relative: str, text: str, executable: bool = False) -> epath.Path:
        """Writes one file under :attr:`root` (creating folders)."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if executable and not os.fspath(path).startswith(("gs://", "s3://")):
            os.chmod(path, 0o755)
        return path

    def write_plan(self, plan: dict[str, Any]) -> None:
        """Stores what the files were resolved from (read back by scoring and the backend)."""
        self.write(self.PLAN, json.dumps(plan, indent=2, sort_keys=False) + "\n")

    def read_plan(self) -> dict[str, Any]:
        """The stored plan.

        Raises:
            FileNotFoundError: Naming the file, when the backend never prepared this run.
        """
        path = self.root / self.PLAN
        if not path.exists():
            raise FileNotFoundError(
                f"{path} not found: the run was not prepared for the t5x backend "
                "(flawn sweep plan EXPERIMENT --backend t5x --write writes it, as does "
                "flawn sweep launch EXPERIMENT --backend t5x)"
            )
        return json.loads(path.read_text(encoding="utf-8"))
