"""The training, vocabulary and inference pages' commands, as written (their own file, so
``make test``'s workers can run it beside tests/test_docs.py)."""

import json

import pytest
from doc_commands import run_commands, scratch_project, section_commands
from test_docs import TRAINING, needs_shared, sections_run_by


@pytest.mark.slow
@needs_shared
def test_training_vocabulary_and_inference_commands_run(tmp_path):
    """Training, the legal vocabulary and inference, as written, one after another.

    The pages' runs are short (tens of steps) and write under ``runs/``; the vocabulary
    and inference commands read the folder training wrote.
    """
    project = scratch_project(tmp_path)
    run_commands(
        section_commands(sections_run_by(TRAINING)),
        project,
        env={"WANDB_MODE": "disabled"},
        stdin="Is a verbal contract binding?\nexit\n",
    )
    for folder in ("flawn_run", "flawn_two_stage", "flawn_run_hf", "flawn_from_hf"):
        assert (project / "runs" / folder).is_dir(), folder
    assert (project / "runs" / "flawn_lawgpt").is_dir()
    predictions = (project / "questions.predictions.jsonl").read_text().splitlines()
    assert predictions and all("prediction" in json.loads(row) for row in predictions)
