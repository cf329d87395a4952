"""Rank classification: label log-likelihoods under the model, and picking the best label."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sentencepiece

from flawn import paths
from flawn.errors import FlawnError
from flawn.evals import rank_classification as rc
from flawn.evals.legalbench.tasks import LegalBenchExample, LegalBenchTask, load_suite
from flawn.evals.runner import evaluate_legalbench
from flawn.models.config import T5Config
from flawn.models.scoring import score_candidates, score_targets
from flawn.models.t5 import Transformer
from flawn.results import RunInfo, read_rows


class _Vocab:
    """A vocabulary with fixed ids per word (encode only), for label tests."""

    def __init__(self, ids):
        self.ids = ids

    def encode(self, text):
        return [i for word in text.split() for i in self.ids[word]]


def test_encode_labels_appends_eos_pads_and_rejects_clashes():
    vocab = _Vocab({"yes": [5], "no": [7, 8], "nope": [7, 8]})
    assert rc.encode_labels(vocab, ["yes", "no"]).tolist() == [[5, 1, 0], [7, 8, 1]]
    with pytest.raises(ValueError, match="labels 'no' and 'nope' have the same tokens"):
        rc.encode_labels(vocab, ["no", "nope"])
    with pytest.raises(ValueError, match="at least one label"):
        rc.encode_labels(vocab, [])


def test_rank_classify_picks_the_highest_score_with_an_injected_scorer():
    labels = ["A", "B", "C"]
    tokens = np.array([[5, 1, 0], [6, 6, 1], [7, 1, 0]], np.int32)
    table = {3: [-1.0, -2.0, -3.0], 4: [-5.0, -0.5, -1.0], 9: [-2.0, -2.0, -4.0]}
    calls = []

    def scorer(encoder_tokens, candidate_tokens):
        calls.append(encoder_tokens.shape)
        assert candidate_tokens.tolist() == tokens.tolist()
        # the first prompt token selects a row of scores; padding rows get zeros
        return np.array([table.get(int(row[0]), [0.0] * 3) for row in encoder_tokens])

    prompts = [[3, 1], [4, 1], [9, 1]]
    ranked = rc.rank_classify(prompts, labels, tokens, scorer, input_length=4, batch_size=2)
    assert [r.label for r in ranked] == ["A", "B", "A"]  # the tie at 9 goes to the first label
    assert ranked[1].scores == (-5.0, -0.5, -1.0)
    assert calls == [(2, 4), (2, 4)]  # batches padded to batch_size

    # Length normalisation divides by token counts (2, 3, 2): prompt 9 -> -1, -2/3, -2
    normalized = rc.rank_classify(prompts, labels, tokens, scorer, 4, 2, length_normalize=True)
    assert normalized[2].label == "B"
    with pytest.raises(ValueError, match="prompt 0 has 5 tokens; input_length is 4"):
        rc.rank_classify([[3, 3, 3, 3, 1]], labels, tokens, scorer, 4)


# --- the model's log-likelihoods -----------------------------------------------------------------

#: One shape for every model test here, so jitted functions compile once for the module.
CONFIG = T5Config(
    vocab_size=16,
    emb_dim=16,
    num_heads=2,
    head_dim=4,
    mlp_dim=8,
    num_encoder_layers=1,
    num_decoder_layers=1,
)
INPUT_LENGTH, BATCH = 8, 4


def _random_params(model, seed):
    """Random parameters of the right shapes, without compiling ``model.init``."""
    shapes = jax.eval_shape(
        model.init, jax.random.PRNGKey(0), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 3), jnp.int32)
    )
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: rng.normal(0.0, 0.5, s.shape).astype(np.float32), shapes)


def _log_softmax(x):
    x = np.asarray(x, np.float64)
    return x - x.max() - math.log(np.exp(x - x.max()).sum())


def test_scores_are_teacher_forced_sums_of_target_log_probs():
    model = Transformer(CONFIG)
    params = _random_params(model, 0)
    prompts = np.zeros((BATCH, INPUT_LENGTH), np.int32)
    prompts[0, :4] = [4, 9, 2, 1]
    prompts[1, :2] = [7, 1]
    candidates = np.array([[5, 1, 0], [6, 8, 1], [3, 1, 0], [5, 9, 1]], np.int32)
    got = np.asarray(score_candidates(model, params, prompts, candidates))
    assert got.shape == (BATCH, 4)
    apply = jax.jit(model.apply)
    for b in range(2):
        for c in range(4):
            target = candidates[c]
            decoder_inputs = np.concatenate([[0], target[:-1]])[None].astype(np.int32)
            logits = np.asarray(apply(params, prompts[b : b + 1], decoder_inputs))[0]
            expected = sum(
                _log_softmax(logits[t])[target[t]] for t in range(len(target)) if target[t] > 0
            )
            assert got[b, c] == pytest.approx(expected, abs=1e-4)
    pairs = score_targets(model, params, prompts[:2], candidates[[1, 0]])
    assert np.asarray(pairs) == pytest.approx([got[0, 1], got[1, 0]], abs=1e-4)
    assert got[0, 0] != pytest.approx(got[1, 0], abs=1e-4)  # the prompt matters


def _bigram_model(bigram):
    """A T5 whose next-token logits are ``bigram[previous token]``, whatever the prompt.

    Every decoder block's output projections are zero, so the residual stream is the
    embedding of the previous token (one-hot, emb_dim == vocab_size); after the RMS norm it is
    ``sqrt(d) * one_hot``, and the output kernel ``bigram / sqrt(d)`` turns that into the row.
    """
    vocab = CONFIG.vocab_size
    assert bigram.shape == (vocab, vocab) and CONFIG.emb_dim == vocab
    model = Transformer(CONFIG)
    p = _random_params(model, 1)["params"]
    p["token_embedder"]["embedding"] = np.eye(vocab, dtype=np.float32)
    layer = p["decoder"]["layers_0"]
    for block in ("self_attention", "encoder_decoder_attention"):
        layer[block]["out"]["kernel"] = np.zeros_like(layer[block]["out"]["kernel"])
    layer["mlp"]["wo"]["kernel"] = np.zeros_like(layer["mlp"]["wo"]["kernel"])
    p["decoder"]["decoder_norm"]["scale"] = np.ones_like(p["decoder"]["decoder_norm"]["scale"])
    p["decoder"]["logits_dense"]["kernel"] = (bigram / math.sqrt(vocab)).astype(np.float32)
    return model, {"params": p}


def test_rank_classification_picks_the_label_the_model_makes_most_likely():
    rng = np.random.default_rng(0)
    bigram = rng.normal(size=(16, 16))
    bigram[0, 5] = bigram[5, 1] = 8.0  # start -> 5 -> EOS is by far the likeliest path
    model, params = _bigram_model(bigram)
    vocab = _Vocab({"alpha": [3], "beta": [5], "gamma": [7, 8], "delta": [5, 9]})
    labels = ["alpha", "beta", "gamma", "delta"]
    tokens = rc.encode_labels(vocab, labels)
    prompts = [[2, 3, 4, 1], [9, 9, 1], [12, 1]]
    scorer = rc.model_scorer(model, params)
    ranked = rc.rank_classify(prompts, labels, tokens, scorer, INPUT_LENGTH, BATCH)
    assert [r.label for r in ranked] == ["beta"] * 3

    def expected(ids):
        previous, total = 0, 0.0
        for token in ids:
            total += _log_softmax(bigram[previous])[token]
            previous = token
        return total

    wanted = [expected([3, 1]), expected([5, 1]), expected([7, 8, 1]), expected([5, 9, 1])]
    for r in ranked:
        assert r.scores == pytest.approx(wanted, abs=1e-3)
    # "delta" starts like "beta" but must pay for not stopping: EOS counts in the score.
    assert r.scores[1] > r.scores[3]


# --- the runner in rank-classification mode -------------------------------------------------------


class _SpmVocab:
    """The sample SentencePiece model with seqio's encode (same ids), without TensorFlow."""

    def __init__(self):
        self.sp = sentencepiece.SentencePieceProcessor(model_file=str(paths.SAMPLE_VOCAB))

    def encode(self, text):
        return self.sp.encode(text)


def _run_info():
    return RunInfo("abc", "run", "sweep", "mix", "tiny", "finetune", 0)


def test_runner_ranks_labels_and_writes_rows_and_summary(sample_dir, tmp_path):
    vocab = _SpmVocab()
    (task,) = load_suite(sample_dir / "legalbench", tasks=["sample_clause_type"])
    labels = task.label_set()
    assert labels == (
        "confidentiality",
        "governing law",
        "indemnification",
        "payment",
        "termination",
    )
    favourite = [*vocab.encode("termination"), 1]

    def scorer(encoder_tokens, candidate_tokens):
        liked = [list(row[row > 0]) == favourite for row in candidate_tokens]
        return np.tile(np.where(liked, -1.0, -5.0), (len(encoder_tokens), 1))

    manual = LegalBenchTask("rule_qa", "Q: {{text}}\nA:", (), "none", "rule-recall", "manual")
    rows = evaluate_legalbench(
        None,
        None,
        vocab,
        [task, manual],
        _run_info(),
        tmp_path,
        "sample.rank",
        input_length=24,
        mode="rank_classification",
        batch_size=16,
        scorer=scorer,
    )
    (row,) = rows
    # Always "termination": recall 1 for that class, 0 for the other four -> 1 / 5
    assert row["task"] == "sample_clause_type" and row["score"] == pytest.approx(0.2)
    examples = read_rows(tmp_path / "eval" / "sample.rank.rank_classification" / "examples.jsonl")
    assert {e["prediction"] for e in examples} == {"termination"} and len(examples) == row["n"]
    assert row["n_truncated"] == sum(e["truncated"] for e in examples) > 0
    folder = tmp_path / "eval" / "sample.rank.rank_classification"
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["mode"] == "rank_classification" and "rule_qa" in summary["excluded"]
    counts = summary["tasks"]["sample_clause_type"]
    assert counts["n_labels"] == 5 and counts["n_truncated"] == row["n_truncated"]
    assert counts["n_description_dropped"] > 0  # the description goes before the item is cut
    assert "never cut" in summary["truncation_policy"]


def test_runner_refuses_rank_classification_of_open_answer_tasks(tmp_path):
    example = LegalBenchExample("0", "Smith v. Jones", {"text": "x", "index": "0"})
    task = LegalBenchTask(
        "citation_prediction_open",
        "Q: {{text}}\nA:",
        (example,),
        "t.tsv",
        "rule-recall",
        "accuracy_answer_contained",
    )
    with pytest.raises(
        FlawnError, match="citation_prediction_open: rank classification needs a closed label set"
    ):
        evaluate_legalbench(
            None,
            None,
            _SpmVocab(),
            [task],
            _run_info(),
            tmp_path,
            "s",
            32,
            mode="rank_classification",
            scorer=lambda e, c: np.zeros((len(e), len(c))),
        )
    with pytest.raises(ValueError, match="mode must be one of"):
        evaluate_legalbench(
            None, None, _SpmVocab(), [task], _run_info(), tmp_path, "s", 32, mode="rank"
        )
