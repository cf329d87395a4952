import seqio

import flawn.tasks  # noqa: F401
from flawn.mixtures import stats


def test_tasks_measured_together_match_tasks_measured_alone():
    names = sorted(n for n in seqio.TaskRegistry.names() if n.startswith("sample_lawinstruct."))
    names += ["sample_flan.general", "sample_mlp.de_caselaw"]
    lengths = (("inputs", 144), ("targets", 16))
    tasks = [seqio.get_mixture_or_task(n) for n in names]
    keys = {stats._group_key(t, "train") for t in tasks[:-2]}
    assert len(keys) == 1 and None not in keys  # the LawInstruct subsets form one group
    stats._CACHE.clear()
    together = stats.tasks_stats(names, sample=50, lengths=lengths)
    stats._CACHE.clear()
    alone = {n: stats.task_stats(n, sample=50, lengths=lengths) for n in names}
    assert together == alone
    assert all(s.sampled == 50 for s in together.values())
