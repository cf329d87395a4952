import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flawn import paths
from flawn.evals.generation import encode_prompt, generate_ids
from flawn.evals.legalbench.tasks import LegalBenchExample, LegalBenchTask
from flawn.evals.runner import evaluate_legalbench
from flawn.models.config import T5Config
from flawn.models.t5 import Transformer
from flawn.results import RunInfo, read_rows
from flawn.vocab import load_vocabulary


def test_truncation_keeps_the_end_of_the_prompt_and_says_so():
    vocab = load_vocabulary(str(paths.SAMPLE_VOCAB))
    item = "Clause: This Agreement shall be governed by the laws of the State of Ohio."
    prompt = "Instruction words. " * 40 + item
    full = [*vocab.encode(prompt), 1]
    ids, truncated = encode_prompt(vocab, prompt, input_length=32)
    assert truncated and len(ids) == 32
    assert ids == full[-32:]
    assert vocab.decode(ids[:-1]).endswith(item)  # the test item survives intact
    short, cut = encode_prompt(vocab, item, input_length=64)
    assert not cut and short[-1] == 1


# --- generation from fitted prompts, and the runner in generation mode ----------------------------

VOCAB = 16


class _WordVocab:
    """Word-level stand-in vocabulary: a word's id is 2 + its length (capped); 5 decodes to
    "Yes", 6 to a newline and more text, anything else to "?".
    """

    def encode(self, text):
        return [2 + min(len(word), VOCAB - 3) for word in text.split()]

    def decode(self, ids):
        return "".join({5: "Yes", 6: "\nand more"}.get(i, "?") for i in ids)


def _scripted_model():
    """A T5 that always answers 5, 6, EOS: its logits are a bigram table of the previous token
    (decoder output projections zeroed, one-hot embeddings; see test_rank_classification).
    """
    config = T5Config(VOCAB, VOCAB, 2, 4, 8, 1, 1)
    model = Transformer(config)
    shapes = jax.eval_shape(
        model.init, jax.random.PRNGKey(0), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 3), jnp.int32)
    )
    rng = np.random.default_rng(0)
    p = jax.tree.map(lambda s: rng.normal(0.0, 0.5, s.shape).astype(np.float32), shapes)["params"]
    bigram = np.zeros((VOCAB, VOCAB))
    bigram[0, 5] = bigram[5, 6] = bigram[6, 1] = 10.0
    p["token_embedder"]["embedding"] = np.eye(VOCAB, dtype=np.float32)
    layer = p["decoder"]["layers_0"]
    for block in ("self_attention", "encoder_decoder_attention"):
        layer[block]["out"]["kernel"] = np.zeros_like(layer[block]["out"]["kernel"])
    layer["mlp"]["wo"]["kernel"] = np.zeros_like(layer["mlp"]["wo"]["kernel"])
    p["decoder"]["decoder_norm"]["scale"] = np.ones(VOCAB, np.float32)
    p["decoder"]["logits_dense"]["kernel"] = (bigram / math.sqrt(VOCAB)).astype(np.float32)
    return model, {"params": p}


def test_generate_ids_cuts_outputs_at_the_first_newline_and_checks_lengths():
    model, params = _scripted_model()
    texts = generate_ids(model, params, _WordVocab(), [[3, 4, 1], [7, 1]], 8, 4, batch_size=4)
    assert texts == ["Yes", "Yes"]  # decoded "Yes\nand more" is cut at the newline
    with pytest.raises(ValueError, match="prompt 1 has 9 tokens; input_length is 8"):
        generate_ids(model, params, _WordVocab(), [[1], [3] * 8 + [1]], 8, 4, batch_size=4)


def test_runner_generation_mode_scores_counts_truncation_and_states_the_policy(tmp_path):
    model, params = _scripted_model()
    template = (
        "Say yes or no.\n\nQ: is one demo here\nA: Yes\n\nQ: another\nA: No\n\nQ: {{text}}\nA:"
    )
    rows = [("0", "Yes", "short"), ("1", "No", "a much longer question text"), ("2", "No", "x")]
    examples = tuple(
        LegalBenchExample(i, a, {"index": i, "answer": a, "text": t}) for i, a, t in rows
    )
    task = LegalBenchTask("toy", template, examples, "toy/test.tsv", "interpretation")
    info = RunInfo("abc", "run", "sweep", "mix", "tiny", "finetune", 0)
    # Full prompts are 19-24 words + EOS: at 16 tokens the demonstrations have to go.
    (row,) = evaluate_legalbench(
        model,
        params,
        _WordVocab(),
        [task],
        info,
        tmp_path,
        "toy",
        16,
        max_decode_length=4,
        batch_size=4,
    )
    assert row["score"] == pytest.approx(0.5)  # always "Yes": recall 1 for Yes, 0 for No
    assert row["n"] == 3 and row["n_truncated"] == 3
    examples_written = read_rows(tmp_path / "eval" / "toy.generation" / "examples.jsonl")
    assert [e["prediction"] for e in examples_written] == ["Yes"] * 3
    assert [e["value"] for e in examples_written] == [1.0, 0.0, 0.0]
    summary = json.loads((tmp_path / "eval" / "toy.generation" / "summary.json").read_text())
    counts = summary["tasks"]["toy"]
    assert summary["mode"] == "generation" and counts["n_demonstrations_dropped"] == 3
    assert counts["n_item_cut"] == 0 and counts["n_skipped"] == 0
    assert "rule_qa" in summary["manual_note"]
