"""A stage's learning rate on T5X: the local backend's schedule, counted from the stage's start.

T5X calls ``trainer.Trainer.learning_rate_fn`` with its global step, which
for a stage that starts from a checkpoint at step ``S`` begins at ``S``
(1,000,000 for the public T5 1.1 checkpoints). The local backend counts
every stage's schedule from 0, so a stage's gin binds::

    trainer.Trainer.learning_rate_fn = @schedule.stage_learning_rate()
    schedule.stage_learning_rate:
      schedule = 'rsqrt'
      learning_rate = 1.0
      warmup_steps = 10000
      steps = 2000
      step_offset = 1000000

and T5X gets :func:`flawn.train.optim.learning_rate_schedule` itself at
``step - step_offset``: the same rate at every step, warm-up included, not a
second implementation of it.
"""

from __future__ import annotations

from collections.abc import Callable

# Imported here, not in the function: T5X calls the function after it has locked the gin
# config, and these modules register gin configurables when they are first imported.
import jax.numpy as jnp

from flawn.train.config import OptimizerConfig
from flawn.train.optim import learning_rate_schedule


def stage_learning_rate(
    schedule: str,
    learning_rate: float,
    warmup_steps: int,
    steps: int,
    step_offset: int = 0,
) -> Callable:
    """The learning rate at T5X's global step for one stage.

    Args:
        schedule: ``OptimizerConfig.schedule``.
        learning_rate: ``OptimizerConfig.learning_rate`` (the peak).
        warmup_steps: ``OptimizerConfig.warmup_steps``.
        steps: The stage's steps (its decay ends there).
        step_offset: The step of the checkpoint the stage starts from.

    Returns:
        ``fn(step) -> learning rate`` (float32), jit-compatible.
    """
    config = OptimizerConfig(
        name="adafactor",
        learning_rate=learning_rate,
        warmup_steps=warmup_steps,
        schedule=schedule,
        weight_decay=0.0,
    )
    local = learning_rate_schedule(config, steps)

    def at(step):
        return jnp.asarray(local(jnp.maximum(jnp.asarray(step) - step_offset, 0)), jnp.float32)

    return at
