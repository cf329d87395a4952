"""``flawn propose``'s limits: licence views, excluded sources, minimum general share, settings."""

import numpy as np
import pytest

from flawn.propose.next_sweep import (
    ProposalSettings,
    constraints_for,
    excluded_sources,
    without_sources,
)
from flawn.propose.observations import Observations


def _observations(by="group", components=("legal", "general"), within=None) -> Observations:
    n = 2
    return Observations(
        sweep="s", sweep_dir=None, experiment=None, objective="sample.overall",
        mode="generation", by=by, components=list(components), mixtures=["base", "m"],
        shares=np.full((n, len(components)), 1 / len(components)), scores=np.zeros(n),
        se=np.ones(n), lo=np.zeros(n), hi=np.ones(n), n_seeds=np.ones(n, int),
        baseline="base", within=within or {}, run_ids={}, group={}, level=0.95,
    )  # fmt: skip


def test_a_licence_view_excludes_catalog_subsets_outside_it_and_names_what_it_cannot_judge():
    sources = [
        "lawinstruct.billsum_summarization",  # research licence only
        "lawinstruct.bva_decisions_label",  # commercial, English
        "sample_flan.general",
        "sample_lawinstruct.contract_clauses_type",  # a bundled sample: not in the catalog
    ]
    excluded, unjudged = excluded_sources(sources, "english_commercial", [])
    assert excluded == ["lawinstruct.billsum_summarization"]
    assert unjudged == ["sample_lawinstruct.contract_clauses_type"]
    assert excluded_sources(sources, "english_research", [])[0] == []
    excluded, _ = excluded_sources(sources, None, ["sample_*", "lawinstruct.bva_*"])
    assert excluded == [
        "lawinstruct.bva_decisions_label",
        "sample_flan.general",
        "sample_lawinstruct.contract_clauses_type",
    ]


def test_group_proportions_are_renormalised_without_excluded_sources():
    within = {"legal": {"a": 0.5, "b": 0.25, "c": 0.25}, "general": {"g": 1.0}}
    observed = without_sources(_observations(within=within), ["b"])
    assert observed.within["legal"] == pytest.approx({"a": 2 / 3, "c": 1 / 3})
    assert observed.source_weights([0.6, 0.4]) == pytest.approx({"a": 0.4, "c": 0.2, "g": 0.4})
    with pytest.raises(ValueError, match="every legal source of sweep s is excluded"):
        without_sources(_observations(within=within), ["a", "b", "c"])


def test_the_minimum_general_share_is_a_bound_by_group_and_a_group_minimum_by_source():
    settings = ProposalSettings("sample.overall", min_general=0.3, upper={"legal": 0.6})
    region = constraints_for(_observations(), settings, []).resolve(["legal", "general"])
    assert region.contains(np.array([[0.6, 0.4], [0.7, 0.3]])).tolist() == [True, False]
    assert region.contains(np.array([[0.65, 0.35]])).tolist() == [False]  # legal <= 0.6
    sources = ("sample_flan.general", "sample_lawinstruct.a", "sample_lawinstruct.b")
    observed = _observations(by="source", components=sources)
    constraints = constraints_for(
        observed, ProposalSettings("sample.overall", by="source", min_general=0.3),
        ["sample_lawinstruct.b"],
    )  # fmt: skip
    assert constraints.excluded == ["sample_lawinstruct.b"]
    region = constraints.resolve(sources)
    inside = region.contains(np.array([[0.3, 0.7, 0.0], [0.2, 0.8, 0.0], [0.3, 0.4, 0.3]]))
    assert inside.tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"objective": "overall"}, "SUITE.NAME"),
        ({"k": 0}, "positive integer"),
        ({"by": "dataset"}, "by must be one of"),
        ({"min_general": 1.5}, r"min_general must be in \[0, 1\]"),
        ({"method": "ucb"}, "method must be one of"),
        ({"view": "english_comercial"}, "no LawInstruct view named 'english_comercial'"),
    ],
)
def test_settings_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ProposalSettings(**{"objective": "sample.overall", **kwargs})


def test_the_command_names_a_malformed_limit(tmp_path, capsys):
    from flawn.cli import main

    out = tmp_path / "next.gin"
    code = main(["propose", str(tmp_path), "--objective", "sample.overall", "--out", str(out)])
    assert code == 2 and "no runs in" in capsys.readouterr().err
    code = main(
        ["propose", str(tmp_path), "--objective", "sample.overall", "--out", str(out),
         "--min", "legal:0.2"]
    )  # fmt: skip
    assert code == 2 and "--min 'legal:0.2': expected COMPONENT=SHARE" in capsys.readouterr().err
    assert not out.exists()


def test_realised_shares_are_the_drawn_ones_where_a_run_recorded_them(tmp_path):
    import json

    from flawn.errors import ConfigError
    from flawn.propose.observations import realised_shares

    (tmp_path / "spec.json").write_text(json.dumps({"stages": [{"name": "finetune"}]}))
    stage = tmp_path / "stages" / "finetune"
    stage.mkdir(parents=True)
    assert realised_shares(tmp_path) is None
    rows = [{"source": "g", "share": 0.5}, {"source": "a", "share": 0.5}]
    (stage / "plan.json").write_text(json.dumps({"rows": rows}))
    assert realised_shares(tmp_path) == {"g": 0.5, "a": 0.5}
    drawn = {"g": {"drawn": 60, "drawn_share": 0.6}, "a": {"drawn": 40, "drawn_share": 0.4}}
    (stage / "data_counts.json").write_text(json.dumps({"sources": drawn}))
    assert realised_shares(tmp_path) == pytest.approx({"g": 0.6, "a": 0.4})
    (stage / "data_counts.json").write_text('{"sources": {"g": {"drawn": 3}}}')
    with pytest.raises(ConfigError, match=r"data_counts.json: not a record of drawn examples"):
        realised_shares(tmp_path)


def test_drawn_counts_name_a_users_seqio_task_instead_of_failing_the_run():
    """A mixture with a task registered by seqio directly (no ``source_task`` label).

    seqio cannot mix it with flawn's labelled tasks when the label is passed through, so
    the count raised at the end of training and failed a finished run; now it names the task,
    and the trainer warns and keeps the planned shares (plan.json).
    """
    import seqio
    import tensorflow as tf

    from flawn import paths
    from flawn.mixtures import FixedWeight, register_mixture
    from flawn.tasks.features import text_output_features
    from flawn.train.realised import CountsUnavailable, realised_counts, unlabelled_tasks
    from flawn.vocab import load_vocabulary

    def rows(split, shuffle_files, seed=None):
        return tf.data.Dataset.from_tensor_slices({"inputs": ["a"] * 8, "targets": ["b"] * 8})

    seqio.TaskRegistry.add(
        "test_next.plain",
        source=seqio.FunctionDataSource(rows, splits=["train"], num_input_examples={"train": 8}),
        preprocessors=[seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
        output_features=text_output_features(load_vocabulary(str(paths.SAMPLE_VOCAB))),
    )
    register_mixture(
        "test_next.mixed",
        [("demo.general_only", FixedWeight(1.0)), ("test_next.plain", FixedWeight(1.0))],
    )
    try:
        assert unlabelled_tasks(seqio.get_mixture_or_task("test_next.mixed")) == ["test_next.plain"]
        with pytest.raises(CountsUnavailable, match=r"test_next\.plain of test_next\.mixed"):
            realised_counts("test_next.mixed", {"inputs": 16, "targets": 4}, 0, 4)
        assert unlabelled_tasks(seqio.get_mixture_or_task("demo.general_plus_legal")) == []
    finally:
        from flawn.mixtures.registry import forget_mixture_spec

        forget_mixture_spec("test_next.mixed")
        seqio.MixtureRegistry.remove("test_next.mixed")
        seqio.TaskRegistry.remove("test_next.plain")
