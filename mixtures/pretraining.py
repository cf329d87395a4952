"""Continued pre-training mixtures (T5 span corruption on legal text).

* ``multilegalpile.sample``: the bundled MultiLegalPile-style sample (German case
  law, English contracts), in proportion to their sizes. With the real corpus,
  register its files with ``flawn.tasks.registry.register_pretraining_text``
  and a mixture of them the same way.
"""

import seqio

from flawn.mixtures import ExamplesProportional, register_mixture
from flawn.tasks.registry import SAMPLE_PRETRAINING_PREFIX

register_mixture(
    "multilegalpile.sample",
    [
        (name, ExamplesProportional())
        for name in sorted(seqio.TaskRegistry.names())
        if name.startswith(SAMPLE_PRETRAINING_PREFIX)
    ],
    description="bundled MultiLegalPile-style sample, span corruption, examples-proportional",
)
