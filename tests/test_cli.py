import json
import subprocess
import sys

import pytest

from flawn.cli import main


def test_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "flawn.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0
    for command in ("demo", "sweep", "train", "eval", "analysis", "samples", "data", "model"):
        assert command in out.stdout
    assert "examples:" in out.stdout


def test_train_without_required_macros_says_what_to_pass(capsys):
    code = main(["train", "--gin_file=gin/models/tiny.gin", "--gin_file=gin/runs/finetune.gin"])
    assert code == 2
    err = capsys.readouterr().err
    assert "required macro" in err and "--gin." in err


def test_train_with_a_misspelt_binding_names_it_before_anything_runs(tmp_path, capsys):
    model_dir = tmp_path / "run"
    code = main(
        [
            "train",
            "--gin_file=gin/models/tiny.gin",
            "--gin_file=gin/runs/finetune.gin",
            "--gin.MIXTURE_OR_TASK_NAME=demo.legal",
            "--gin.TASK_FEATURE_LENGTHS={'inputs': 64, 'targets': 8}",
            "--gin.TRAIN_STEPS=2",
            "--gin.BATCH_SIZE=4",
            f"--gin.MODEL_DIR={model_dir}",
            "--gin_bindings=TrainConfig.grad_acum_steps = 2",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "'grad_acum_steps'" in err and "did you mean grad_accum_steps" in err
    assert not model_dir.exists()  # nothing was written, let alone compiled


def test_train_without_gin_files_is_an_error(capsys):
    assert main(["train"]) == 2
    assert "--gin_file" in capsys.readouterr().err


def test_analysis_deltas_on_missing_runs_is_a_clear_error(tmp_path, capsys):
    assert main(["analysis", "deltas", str(tmp_path), "--baseline", "x"]) == 2
    err = capsys.readouterr().err
    assert "no finished evaluation" in err and "flawn sweep launch" in err


def test_legalbench_score_command_reports_partial_scores(tmp_path, capsys):
    path = tmp_path / "predictions.jsonl"
    rows = [
        ("0", "generic", "generic"),
        ("1", "descriptive", "descriptive"),
        ("2", "generic", "suggestive"),
        ("3", "arbitrary", "arbitrary"),
    ]
    path.write_text(
        "".join(f'{{"index": "{i}", "prediction": "{p}", "answer": "{a}"}}\n' for i, p, a in rows)
    )
    assert main(["eval", "legalbench", "score", "abercrombie", str(path), "--allow-partial"]) == 0
    out = capsys.readouterr().out
    # recall: generic 1/1, descriptive 1/1, suggestive 0/1, arbitrary 1/1
    assert "balanced_accuracy = 0.7500 on 4 examples" in out and "PARTIAL" in out
    assert main(["eval", "legalbench", "score", "abercrombie", str(path)]) == 2
    assert "95" in capsys.readouterr().err  # the official test size is named


def _bank_without(tmp_path, missing: str) -> str:
    from flawn.tasks.registry import SAMPLE_INSTRUCTION_BANKS

    bank = json.loads(SAMPLE_INSTRUCTION_BANKS.read_text(encoding="utf-8"))
    del bank[missing]
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(bank), encoding="utf-8")
    return str(path)


@pytest.mark.slow
def test_a_failed_check_inside_the_data_pipeline_is_one_line_and_the_command_exits(tmp_path):
    # It used to print TensorFlow's traceback and then never exit: the uncaught
    # error kept the running tf.data iterator alive into interpreter shutdown.
    bank = _bank_without(tmp_path, "swiss_rulings_outcome")
    command = [
        sys.executable,
        "-m",
        "flawn.cli",
        "data",
        "plan",
        "demo.general_plus_legal",
        "--steps=10",
        "--batch-size=4",
        "--inputs=64",
        "--targets=16",
        "--sample=20",
        "--gin.format_lawinstruct.bank_size=2",
        f"--gin.format_lawinstruct.instruction_bank='{bank}'",
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("flawn: error: data pipeline stopped: instruction bank " + bank)
    assert "swiss_rulings_outcome/en/" in lines[0]
    assert "Traceback" not in out.stderr


def test_an_unexpected_error_is_printed_by_main_not_left_to_interpreter_shutdown(
    monkeypatch, capsys
):
    from flawn.cli import sweep

    def broken(args, gin_files, bindings):
        raise RuntimeError("boom")

    monkeypatch.setattr(sweep, "_cmd_plan", broken)
    assert main(["sweep", "plan", "experiments/demo.gin"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: boom" in err


def test_sweep_commands_that_compute_run_ids_take_verify_data():
    from flawn.cli import build_parser

    for action in ("plan", "launch", "status"):
        args = build_parser().parse_args(["sweep", action, "experiments/demo.gin", "--verify-data"])
        assert args.verify_data is True


@pytest.mark.slow
def test_a_process_ends_at_once_only_after_an_error_from_tensorflow():
    script = (
        "import tensorflow as tf\n"
        "from flawn.runtime import exit_after_pipeline_error\n"
        "exit_after_pipeline_error(3, ValueError('not from a pipeline'))\n"
        "print('returned', flush=True)\n"
        "try:\n"
        "    tf.debugging.assert_positive(tf.constant(-1))\n"
        "except tf.errors.InvalidArgumentError as err:\n"
        "    try:\n"
        "        raise RuntimeError('wrapped') from err\n"
        "    except RuntimeError as wrapped:\n"
        "        exit_after_pipeline_error(5, wrapped)\n"
        "print('not reached')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 5, out.stderr
    assert out.stdout.split() == ["returned"]
