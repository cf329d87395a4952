"""``flawn infer`` and the library under it: settings, templates, input records, the
Generator's strategies, predictions files and the interactive loop, on a tiny run folder
with random parameters (written by the test, shared by the module)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from tiny_runs import write_random_run

from flawn.cli import main
from flawn.errors import ConfigError, RecordError
from flawn.inference.records import default_output_path, read_prompt_records
from flawn.inference.settings import GenerationSettings
from flawn.inference.templates import ALPACA_TEMPLATE, resolve_template
from flawn.sources.alpaca import PromptTemplate

QUESTIONS = [
    {"instruction": "Which article of the GDPR grants the right to erasure?", "id": "q1"},
    {
        "instruction": "Does the clause name the governing law? Answer Yes or No.",
        "input": "Clause: This Agreement is governed by the laws of Ohio.",
        "output": "Yes",
        "id": "q2",
    },
    {"instruction": "Name the limitation period for contract claims.", "input": "", "id": "q3"},
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return write_random_run(tmp_path_factory.mktemp("runs"), "demo.general_plus_legal", seed=0)


@pytest.fixture(scope="module")
def generator(run_dir):
    from flawn.inference.generator import Generator

    return Generator.load(run_dir.path)


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- settings, templates, records (no model) ----------------------------------------------------
def test_settings_validate_themselves_and_name_the_field():
    assert GenerationSettings().strategy == "greedy"
    for bad, field in (
        ({"strategy": "nucleus"}, "strategy"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": -2}, "top_k"),
        ({"num_beams": 0}, "num_beams"),
        ({"max_input_tokens": 1}, "max_input_tokens"),
    ):
        with pytest.raises(ConfigError, match=f"GenerationSettings.{field} must be"):
            GenerationSettings(**bad)


def test_options_imply_the_strategy_and_refuse_options_that_would_be_ignored():
    assert GenerationSettings.from_options(temperature=0.7).strategy == "sample"
    assert GenerationSettings.from_options(num_beams=3).strategy == "beam"
    assert GenerationSettings.from_options(max_new_tokens=5).strategy == "greedy"
    with pytest.raises(ConfigError, match="--temperature does not apply to --strategy greedy"):
        GenerationSettings.from_options("greedy", temperature=0.7)
    with pytest.raises(ConfigError, match="both sampling and beam search"):
        GenerationSettings.from_options(top_k=5, num_beams=2)
    beam = GenerationSettings.from_options("beam", num_beams=2, max_new_tokens=9)
    assert beam.used() == {
        "strategy": "beam",
        "max_new_tokens": 9,
        "num_beams": 2,
        "length_penalty": 1.0,
        "max_input_tokens": None,
    }


def test_templates_by_name_or_file(tmp_path):
    assert resolve_template(None)[0] == "plain"
    assert resolve_template(None)[1].render("Q?", "ctx") == "Q?\n\nctx"
    _, alpaca = resolve_template("alpaca")
    assert alpaca is ALPACA_TEMPLATE and "### Response:" in alpaca.render("Q?")
    path = tmp_path / "law.json"
    path.write_text(
        json.dumps(
            {"prompt_input": "问题: {instruction}\n{input}", "prompt_no_input": "{instruction}"}
        )
    )
    assert resolve_template(path)[1].render("x", "y") == "问题: x\ny"
    with pytest.raises(ConfigError, match=r"neither a known name .*plain, alpaca"):
        resolve_template("alpacca")


def test_bad_records_name_the_file_and_line(tmp_path):
    plain = resolve_template(None)[1]
    path = tmp_path / "q.jsonl"
    path.write_text('{"instruction": "fine"}\n{"instruction": \n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"q\.jsonl:2: bad_json"):
        read_prompt_records(path, plain)
    path.write_text('{"instruction": "fine"}\n\n{"input": "no question"}\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"q\.jsonl:3: missing_field: .*'instruction'"):
        read_prompt_records(path, plain)
    # LaWGPT's law template has no {input} slot: a record with an input cannot be rendered
    no_slot = PromptTemplate("{instruction}", "{instruction}", "", "law")
    path.write_text('{"instruction": "a"}\n{"instruction": "b", "input": "c"}\n', encoding="utf-8")
    with pytest.raises(RecordError, match=r"q\.jsonl:2: template: .*no \{input\} slot"):
        read_prompt_records(path, no_slot)


def test_default_output_sits_next_to_the_input(tmp_path):
    for name in ("q.jsonl", "q.json", "q.jsonl.gz", "q"):
        assert default_output_path(tmp_path / name) == tmp_path / "q.predictions.jsonl"


def test_a_malformed_input_fails_before_the_model_is_loaded(tmp_path, capsys):
    bad = tmp_path / "questions.jsonl"
    bad.write_text('{"instruction": "ok"}\n{"instruction": 3}\n', encoding="utf-8")
    missing = tmp_path / "no_such_run"
    code = main(["infer", "--checkpoint", str(missing), "--input", str(bad)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: wrong_type: field 'instruction' must be a string" in err
    assert not default_output_path(bad).exists()


# -- the model -----------------------------------------------------------------------------------
def test_every_strategy_answers_each_prompt(generator):
    prompts = [generator.prompt(q["instruction"], q.get("input", "")) for q in QUESTIONS]
    for settings in (
        GenerationSettings(max_new_tokens=8),
        GenerationSettings("sample", max_new_tokens=8, temperature=0.8, top_p=0.9, seed=1),
        GenerationSettings("beam", max_new_tokens=8, num_beams=3),
    ):
        answers = generator.generate(prompts, settings, batch_size=4)
        assert len(answers) == len(prompts), settings.describe()
        assert all(isinstance(a.text, str) and not a.truncated for a in answers)
        assert any(a.text for a in answers), settings.describe()


def test_answers_do_not_depend_on_the_batch_and_sampling_follows_the_seed(generator):
    prompts = [generator.prompt(q["instruction"], q.get("input", "")) for q in QUESTIONS]
    greedy = GenerationSettings(max_new_tokens=8)
    sample = GenerationSettings("sample", max_new_tokens=8, seed=4)
    # each prompt draws from the key of its place in the job, whatever batch it lands in
    one_by_one = [a.text for a in generator.generate(prompts, sample, batch_size=1)]
    assert [a.text for a in generator.generate(prompts, sample, batch_size=4)] == one_by_one
    cold = GenerationSettings("sample", max_new_tokens=8, temperature=0.0)
    assert generator.generate(prompts, cold) == generator.generate(prompts, greedy)
    other_seed = GenerationSettings("sample", max_new_tokens=8, seed=5)
    assert generator.generate(prompts, sample) != generator.generate(prompts, other_seed)


def test_long_prompts_keep_their_end_and_say_so(generator):
    settings = GenerationSettings(max_new_tokens=8, max_input_tokens=8)
    answer = generator.generate(["word " * 50 + "Which article?"], settings)[0]
    assert answer.truncated
    assert generator.record(settings)["max_input_tokens"] == 8


def test_infer_writes_one_prediction_per_record_with_its_provenance(run_dir, tmp_path, capsys):
    questions = _write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    code = main(
        [
            *("infer", "--checkpoint", str(run_dir.path), "--input", str(questions)),
            *("--max-new-tokens", "8", "--batch-size", "4"),
        ]
    )
    assert code == 0
    out, err = capsys.readouterr()
    output = tmp_path / "questions.predictions.jsonl"
    assert out.splitlines()[0].startswith("3 predictions from demo.general_plus_legal")
    assert str(output) in out and "\r" not in out  # the progress bar stays on stderr
    assert "3/3" in err
    rows = _read_jsonl(output)
    assert [r["id"] for r in rows] == ["q1", "q2", "q3"]  # order and extra fields kept
    assert rows[1]["output"] == "Yes" and all(isinstance(r["prediction"], str) for r in rows)
    assert rows[0]["generation"] == {
        "strategy": "greedy",
        "max_new_tokens": 8,
        "max_input_tokens": 144,
        "template": "plain",
    }
    checkpoint = rows[0]["checkpoint"]
    assert checkpoint["run_id"] == run_dir.path.name and checkpoint["step"] == 1
    assert checkpoint["mixture"] == "demo.general_plus_legal"
    assert not list(tmp_path.glob("*.partial"))


def test_infer_with_sampling_and_beam_search_flags(run_dir, tmp_path, capsys):
    questions = _write_jsonl(tmp_path / "q.json", QUESTIONS)
    for flags, strategy in (
        (["--temperature", "0.8", "--top-k", "20", "--seed", "3"], "sample"),
        (["--strategy", "beam", "--num-beams", "2", "--length-penalty", "0"], "beam"),
    ):
        out_file = tmp_path / f"{strategy}.jsonl"
        args = ["infer", "--checkpoint", str(run_dir.path), "--input", str(questions)]
        code = main([*args, "--output", str(out_file), "--max-new-tokens", "8", *flags])
        assert code == 0, capsys.readouterr().err
        rows = _read_jsonl(out_file)
        assert len(rows) == 3 and rows[0]["generation"]["strategy"] == strategy
    assert _read_jsonl(tmp_path / "sample.jsonl")[0]["generation"]["seed"] == 3
    capsys.readouterr()
    code = main(
        ["infer", "--checkpoint", str(run_dir.path), "--strategy", "greedy", "--top-p", "0.5"]
    )
    assert code == 2 and "--top-p does not apply" in capsys.readouterr().err


def test_a_flawn_train_folder_is_a_checkpoint_too(run_dir, tmp_path):
    from flawn.inference.generator import Generator

    train = tmp_path / "flawn_run"  # what `flawn train --gin.MODEL_DIR=...` leaves
    shutil.copytree(os.fspath(run_dir.final_stage().path), train)
    generator = Generator.load(train)
    assert generator.identity["run_id"] == "flawn_run" and generator.identity["step"] == 1
    assert generator.identity["mixture"] == "demo.general_plus_legal"
    assert len(generator.generate(["Which article?"], GenerationSettings(max_new_tokens=8))) == 1
    with pytest.raises(ConfigError, match="not a run folder; pass a sweep run folder"):
        Generator.load(tmp_path)


def test_a_missing_step_lists_the_steps_there_are(run_dir, capsys):
    assert main(["infer", "--checkpoint", str(run_dir.path), "--step", "7"]) == 2
    assert "no checkpoint at step 7; it has steps 1" in capsys.readouterr().err


@pytest.mark.shared_data
def test_infer_on_lawgpts_example_file(run_dir, shared_data, tmp_path, capsys):
    source = shared_data / "lawgpt" / "resources" / "example_infer_data.json"
    if not source.exists():
        pytest.skip(f"{source} is not present")
    example = tmp_path / source.name
    shutil.copy(source, example)  # the predictions go next to the input: not into shared data
    template = shared_data / "lawgpt" / "templates" / "alpaca.json"
    code = main(
        [
            *("infer", "--checkpoint", str(run_dir.path), "--input", str(example)),
            *("--template", str(template), "--max-new-tokens", "8"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    inputs = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines() if line]
    rows = _read_jsonl(tmp_path / "example_infer_data.predictions.jsonl")
    assert len(rows) == len(inputs) == 5
    for given, row in zip(inputs, rows, strict=True):
        assert {k: row[k] for k in given} == given
        assert isinstance(row["prediction"], str)
        assert row["generation"]["template"] == str(template)


@pytest.mark.slow
def test_interactive_mode_answers_typed_lines_until_exit(run_dir):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "flawn.cli",
            "infer",
            "--checkpoint",
            str(run_dir.path),
            "--max-new-tokens",
            "8",
        ],
        input="Which article of the GDPR grants the right to erasure?\n\nexit\nnot asked\n",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1  # one answer, nothing after exit, no prompts
    assert "'exit' or Ctrl-D to quit" in done.stderr
