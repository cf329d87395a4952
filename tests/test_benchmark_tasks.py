import csv
import json

import pytest
import seqio

import flawn.tasks  # noqa: F401
from flawn import paths
from flawn.errors import FlawnError
from flawn.evals.lawbench import tasks as lawbench_tasks
from flawn.evals.legalbench.prompts import EOS_ID, fill
from flawn.evals.legalbench.table import task_table
from flawn.evals.legalbench.tasks import load_legalbench
from flawn.evals.t5x_predictions import score_t5x_files, task_of_file
from flawn.tasks.benchmarks import (
    LegalBenchSource,
    benchmark_preprocessors,
    lawbench_task_name,
    legalbench_task_name,
    register_lawbench_tasks,
    register_legalbench_tasks,
)
from flawn.tasks.features import text_output_features
from flawn.vocab import load_vocabulary

VOCAB = load_vocabulary(str(paths.SAMPLE_VOCAB))


@pytest.fixture(scope="module")
def registered(shared_data):
    legal = register_legalbench_tasks(shared_data / "legalbench", VOCAB)
    law = register_lawbench_tasks(shared_data / "lawbench" / "data", VOCAB)
    return legal, law


def test_every_automatic_legalbench_task_and_every_lawbench_setting_is_a_task(registered):
    legal, law = registered
    automatic = [t for t, info in task_table().items() if info.metric != "manual"]
    assert len(legal) == len(set(legal)) == len(automatic) == 161
    assert legalbench_task_name("maud_cor_standard_(superior_offer)") in legal
    assert len(law) == 40 and lawbench_task_name("2-1", "one_shot") in law


def _rows(task_name, sequence_length, split):
    """The task's examples as T5X reads them: ``get_dataset`` with its lengths."""
    task = seqio.get_mixture_or_task(task_name)
    return list(task.get_dataset(sequence_length, split=split, shuffle=False).as_numpy_iterator())


def test_legalbench_task_fits_prompts_without_cutting_the_item(registered):
    task = seqio.get_mixture_or_task(legalbench_task_name("abercrombie"))
    full = list(task.get_dataset(None, split="train", shuffle=False).as_numpy_iterator())
    short = list(
        task.get_dataset(
            {"inputs": 48, "targets": 8}, split="train", shuffle=False
        ).as_numpy_iterator()
    )
    assert len(full) == len(short) == 5
    for long_example, short_example in zip(full, short, strict=True):
        text = short_example["inputs_pretokenized"].decode()
        assert len(short_example["inputs"]) <= 48
        assert long_example["inputs_pretokenized"].decode().endswith(text)  # earlier parts dropped
        assert text.rstrip().endswith("What is the type of mark?\nA:")
    with pytest.raises(FlawnError, match="no 'test' split"):
        task.get_dataset(None, split="test", shuffle=False)


def test_legalbench_input_ids_are_the_local_evaluators_fitted_prompt(registered, shared_data):
    # seqio passes sequence_length to preprocessors, not to sources: before the fit moved
    # into a preprocessor, seqio's trimming kept the description and cut the test item.
    (local,) = load_legalbench(shared_data / "legalbench", None, "train", ["abercrombie"])
    rows = _rows(legalbench_task_name("abercrombie"), {"inputs": 144, "targets": 16}, "train")
    assert [row["idx"].decode() for row in rows] == [e.index for e in local.examples]
    for row, example in zip(rows, local.examples, strict=True):
        ids = row["inputs"].tolist()
        assert len(VOCAB.encode(local.prompt(example))) + 1 > 144  # the full prompt does not fit
        assert len(ids) <= 144 and ids[-1] == EOS_ID
        fitted = local.fit(example, VOCAB.encode, 144)  # what evaluate_legalbench feeds the model
        assert ids == list(fitted.ids)
        assert fitted.demonstrations_dropped and not fitted.item_cut
        item = fill(local.parts.item, example.fields)  # the test item: the end of the prompt
        assert VOCAB.decode(ids[:-1]).endswith(VOCAB.decode(VOCAB.encode(item)))
        assert row["inputs_pretokenized"].decode() == fitted.text
        assert sorted(row) == [
            "idx",
            "inputs",
            "inputs_pretokenized",
            "targets",
            "targets_pretokenized",
        ]


def test_lawbench_input_ids_keep_the_end_of_the_prompt(registered, shared_data):
    from flawn.evals.generation import encode_prompt

    examples = lawbench_tasks.load_examples("1-1", "zero_shot", shared_data / "lawbench" / "data")
    rows = _rows(lawbench_task_name("1-1"), {"inputs": 24, "targets": 64}, "test")
    assert [row["idx"].decode() for row in rows] == [str(e.index) for e in examples]
    n_cut = 0
    for row, example in zip(rows, examples, strict=True):
        ids = row["inputs"].tolist()
        expected, cut = encode_prompt(VOCAB, example.prompt, 24)  # the local evaluator's ids
        assert ids == expected and len(ids) <= 24 and ids[-1] == EOS_ID
        full = VOCAB.encode(example.prompt)
        assert ids[:-1] == full[len(full) - len(ids) + 1 :]  # the end, the question, is kept
        # The text shown is the prompt's own end, from the first character the ids cover.
        shown = row["inputs_pretokenized"].decode()
        assert example.prompt.endswith(shown) and len(ids) - 1 <= len(VOCAB.encode(shown))
        n_cut += cut
    assert n_cut == len(rows) == 500


@pytest.mark.parametrize("sequence_length", [None, {"inputs": 4096, "targets": 512}])
def test_prompts_that_fit_are_not_cut(registered, shared_data, sequence_length):
    (legal,) = load_legalbench(shared_data / "legalbench", None, "train", ["abercrombie"])
    law = lawbench_tasks.load_examples("1-1", "zero_shot", shared_data / "lawbench" / "data")
    cases = [
        (legalbench_task_name("abercrombie"), "train", [legal.prompt(e) for e in legal.examples]),
        (lawbench_task_name("1-1"), "test", [e.prompt for e in law]),
    ]
    for name, split, prompts in cases:
        rows = _rows(name, sequence_length, split)
        assert len(rows) == len(prompts)
        for row, prompt in zip(rows, prompts, strict=True):
            assert row["inputs"].tolist() == [*VOCAB.encode(prompt), EOS_ID]
            assert row["inputs_pretokenized"].decode() == prompt


def _checkout(root, description, demonstrations, texts):
    """A LegalBench checkout holding only ``abercrombie`` (5 train rows, as the table says)."""
    folder = root / "tasks" / "abercrombie"
    folder.mkdir(parents=True)
    template = description + "\n\n"
    template += "".join(f"Q: {d}\nA: generic\n\n" for d in demonstrations)
    template += "Q: {{text}} What is the type of mark?\nA:"
    (folder / "base_prompt.txt").write_text(template, encoding="utf-8")
    with open(folder / "train.tsv", "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["index", "answer", "text"])
        writer.writerows([i, "generic", text] for i, text in enumerate(texts))
    return root


@pytest.mark.parametrize(
    ("length", "expected"),
    # Sample-vocabulary tokens: description 19, each demonstration 29, short item 25, long 390.
    [(80, ("demonstrations", 2)), (64, ("demonstrations", 3)), (40, ("description", 3))],
)
def test_fitting_on_a_made_up_checkout_follows_the_policy(tmp_path, length, expected):
    # Runs without ../shared/data: a task built as flawn registers one, on a made-up checkout.
    long_item = " ".join(f"word{i}" for i in range(80))
    root = _checkout(
        tmp_path,
        "A mark is generic if it names the product.",
        [f'The mark "M{i}" for goods number {i}.' for i in range(3)],
        ['The mark "A".', 'The mark "B".', 'The mark "C".', 'The mark "D".', long_item],
    )
    source = LegalBenchSource("abercrombie", str(root), None, VOCAB)
    task = seqio.Task(
        "test_benchmark_tasks.made_up",
        source=source,
        preprocessors=benchmark_preprocessors(source),
        output_features=text_output_features(VOCAB),
    )
    (local,) = load_legalbench(root, None, "train", ["abercrombie"])
    dataset = task.get_dataset({"inputs": length, "targets": 8}, split="train", shuffle=False)
    rows = list(dataset.as_numpy_iterator())
    steps = []
    for row, example in zip(rows, local.examples, strict=True):
        fitted = local.fit(example, VOCAB.encode, length)
        ids = row["inputs"].tolist()
        assert ids == list(fitted.ids) and len(ids) <= length and ids[-1] == EOS_ID
        shown = row["inputs_pretokenized"].decode()
        assert fitted.text.endswith(shown) if fitted.item_cut else shown == fitted.text
        steps.append((fitted.truncation, fitted.demonstrations_dropped))
    assert steps == [expected] * 4 + [("item_cut", 3)]
    full = VOCAB.encode(local.prompt(local.examples[4]))
    assert rows[4]["inputs"].tolist()[:-1] == full[-(length - 1) :]  # the item keeps its end


def test_legalbench_metric_fns_are_the_official_metric(registered):
    task = seqio.get_mixture_or_task(legalbench_task_name("abercrombie"))
    targets = ["generic", "descriptive", "suggestive", "arbitrary"]
    predictions = [
        task.postprocess_fn(p) for p in ["generic\nmore", " Descriptive.", "x", "arbitrary"]
    ]
    (metrics,) = [fn(targets, predictions) for fn in task.metric_fns]
    assert metrics == {"balanced_accuracy": pytest.approx(0.75)}


def _official(shared_data, model, task_id):
    path = shared_data / "lawbench" / "predictions" / "zero_shot" / "results.csv"
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["task"] == task_id and row["model_name"] == model:
                return float(row["score"]), float(row["abstention_rate"])
    raise AssertionError((model, task_id))


def _t5x_file(tmp_path, shared_data, model, task_id):
    shipped = json.loads(
        (
            shared_data / "lawbench" / "predictions" / "zero_shot" / model / f"{task_id}.json"
        ).read_text(encoding="utf-8")
    )
    name = lawbench_task_name(task_id)
    path = tmp_path / f"{name}-predict.jsonl-00000-of-00001"
    with open(path, "w", encoding="utf-8") as out:
        for key in sorted(shipped, key=int):
            item = shipped[key]
            out.write(
                json.dumps(
                    {
                        "inputs": {
                            "inputs_pretokenized": item["origin_prompt"],
                            "targets_pretokenized": item["refr"],
                        },
                        "prediction": item["prediction"],
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return path


@pytest.mark.parametrize("task_id", ["3-6", pytest.param("2-1", marks=pytest.mark.slow)])
def test_t5x_prediction_files_score_like_the_official_results(
    registered, shared_data, tmp_path, task_id
):
    model = "chatglm2-6b-hf"
    path = _t5x_file(tmp_path, shared_data, model, task_id)
    assert task_of_file(path) == lawbench_task_name(task_id)
    (result,) = score_t5x_files([path])
    score, abstention = _official(shared_data, model, task_id)
    assert result["n"] == 500
    assert result["score"] == pytest.approx(score, abs=1e-6)
    assert result["abstention_rate"] == pytest.approx(abstention, abs=1e-6)


@pytest.mark.slow
def test_2_1_scores_of_fitted_prompts_are_those_of_the_whole_prompts(
    registered, shared_data, tmp_path
):
    # 2-1's scorer reads the sentence to correct from the prompt. At 512 input tokens some
    # prompts lose the line that marks it, so the rows keep the whole prompt for scoring.
    task = seqio.get_mixture_or_task(lawbench_task_name("2-1"))
    rows = _rows(task.name, {"inputs": 512, "targets": 512}, "test")
    examples = lawbench_tasks.load_examples("2-1", "zero_shot", shared_data / "lawbench" / "data")
    shipped = json.loads(
        (
            shared_data / "lawbench" / "predictions" / "zero_shot" / "chatglm2-6b-hf" / "2-1.json"
        ).read_text(encoding="utf-8")
    )
    n = 120  # a part, to keep ChERRANT quick
    rows, examples = rows[:n], examples[:n]
    marker_lost = [r for r in rows if "句子：\n" not in r["inputs_pretokenized"].decode()]
    assert marker_lost  # the case this guards against
    predictions = [task.postprocess_fn(shipped[r["idx"].decode()]["prediction"]) for r in rows]
    # As seqio's evaluator (and so T5X's) calls it: the target with its dataset example.
    targets = [
        task.postprocess_fn(r["targets_pretokenized"], example=r, is_target=True) for r in rows
    ]
    assert [t["prompt"] for t in targets] == [e.prompt for e in examples]
    (metric_fn,) = task.metric_fns
    whole = [{"gold": e.gold, "prompt": e.prompt} for e in examples]
    expected = metric_fn(whole, predictions)
    assert metric_fn(targets, predictions) == expected
    # And as `flawn eval score` reads t5x.infer's file of these rows (every *_pretokenized field).
    path = tmp_path / f"{task.name}-predict.jsonl-00000-of-00001"
    with open(path, "w", encoding="utf-8") as out:
        for row in rows:
            inputs = {k: v.decode() for k, v in row.items() if k.endswith("_pretokenized")}
            prediction = shipped[row["idx"].decode()]["prediction"]
            out.write(json.dumps({"inputs": inputs, "prediction": prediction}) + "\n")
    (scored,) = score_t5x_files([path])
    assert {k: scored[k] for k in expected} == expected


def test_t5x_file_errors_name_the_file_and_line(registered, tmp_path):
    # ``registered``: the file names legalbench.abercrombie, which must be registered first
    # (else the error is the unregistered task's, whatever ran before this test).
    with pytest.raises(FlawnError, match=r"not a t5x\.infer prediction file"):
        task_of_file(tmp_path / "predictions.json")
    path = tmp_path / "legalbench.abercrombie-predict.jsonl-00000-of-00001"
    path.write_text('{"inputs": {"inputs_pretokenized": "q"}, "prediction": "generic"}\n')
    with pytest.raises(FlawnError, match=r":1: no inputs.targets_pretokenized"):
        score_t5x_files([path])


@pytest.mark.slow
def test_evaluate_lawbench_writes_official_scores_and_abstention(shared_data, tmp_path):
    import jax
    import jax.numpy as jnp

    from flawn.evals.lawbench.scorers import score_task
    from flawn.evals.runner import evaluate_lawbench
    from flawn.models.config import T5Config
    from flawn.models.t5 import Transformer
    from flawn.results import RunInfo, read_rows

    model = Transformer(
        T5Config(
            emb_dim=32,
            num_heads=2,
            head_dim=16,
            mlp_dim=64,
            num_encoder_layers=1,
            num_decoder_layers=1,
        ).with_vocab_size(VOCAB.vocab_size)
    )
    params = model.init(
        jax.random.PRNGKey(0), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )
    run = RunInfo("r1", "tiny-random", "", "none", "tiny", "finetune", 0)
    rows = evaluate_lawbench(
        model, params, VOCAB, ["1-2", "3-6"], run, tmp_path, 64, 8, limit=6, batch_size=8
    )
    assert [(r["task"], r["n"]) for r in rows] == [("1-2", 6), ("3-6", 6)]
    # One evaluation, one folder under eval/ (its name is the evaluation's identity).
    (examples_file,) = (tmp_path / "eval").glob("*/examples.jsonl")
    examples = read_rows(examples_file)
    assert len(examples) == 12 and all(e["truncated"] for e in examples)  # long prompts, 64 tokens
    for row in rows:  # the per-task row is the official scorer on the written predictions
        mine = [e for e in examples if e["task"] == row["task"]]
        official = score_task(
            row["task"], [e["prediction"] for e in mine], [e["gold"] for e in mine]
        )
        assert row["score"] == official["score"]
        assert row["abstention_rate"] == official["abstention_rate"]
