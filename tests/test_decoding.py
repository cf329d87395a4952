"""Sampling and beam search against greedy decoding and against exhaustive enumeration,
on tiny random T5s (no checkpoint, no vocabulary)."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flawn.models.beam_search import beam_search
from flawn.models.config import T5Config
from flawn.models.decoding import EOS_ID, greedy_decode
from flawn.models.sampling import filter_logits, row_keys, sample_decode
from flawn.models.t5 import Transformer

# ids below 6, the smallest vocabulary here
INPUTS = np.array([[3, 4, 5, 1, 0, 0], [2, 5, 1, 0, 0, 0], [4, 4, 2, 3, 1, 0]], np.int32)


def _random_model(vocab: int, seed: int = 0, scale: float = 0.5):
    """A one-layer T5 with N(0, scale) parameters: its next-token distributions are spread out."""
    model = Transformer(T5Config(vocab, 16, 2, 8, 32, 1, 1))
    shapes = jax.eval_shape(
        model.init, jax.random.PRNGKey(0), jnp.ones((1, 6), jnp.int32), jnp.ones((1, 3), jnp.int32)
    )
    rng = np.random.default_rng(seed)
    params = jax.tree.map(lambda s: rng.normal(0.0, scale, s.shape).astype(np.float32), shapes)
    return model, params


@pytest.fixture(scope="module")
def small():
    return _random_model(32)


@functools.partial(jax.jit, static_argnums=0)
def _logits(model, params, encoder_input, decoder_input):
    return model.apply(params, encoder_input, decoder_input)


def _log_probs(model, params, inputs, sequences) -> np.ndarray:
    """log p(sequence | inputs) of each sequence by teacher forcing, in one model call.

    A sequence's tokens count up to and including its EOS.
    """
    length = 16  # one shape for every call with the same number of sequences: one compile
    targets = np.zeros((len(sequences), length), np.int32)
    mask = np.zeros((len(sequences), length), np.float32)
    for row, sequence in enumerate(sequences):
        targets[row, : len(sequence)] = sequence
        mask[row, : len(sequence)] = 1.0
    decoder_input = np.pad(targets[:, :-1], ((0, 0), (1, 0)))
    encoder_input = np.repeat(inputs[None], len(sequences), axis=0)
    logits = _logits(model, params, encoder_input, decoder_input)
    log_probs = np.asarray(jax.nn.log_softmax(logits))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    return (picked * mask).sum(axis=-1)


def _log_prob(model, params, inputs, ids) -> float:
    return float(_log_probs(model, params, inputs, [tuple(ids)])[0])


def _until_eos(ids) -> tuple[int, ...]:
    ids = [int(i) for i in ids]
    return tuple(ids[: ids.index(EOS_ID) + 1]) if EOS_ID in ids else tuple(ids)


# -- sampling -----------------------------------------------------------------------------------
def test_filter_logits_keeps_the_top_k_and_the_nucleus():
    logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
    kept = lambda out: (np.asarray(out) > -1e8)[0].tolist()  # noqa: E731
    assert kept(filter_logits(logits, 1.0, 0, 1.0)) == [True] * 4
    assert kept(filter_logits(logits, 1.0, 2, 1.0)) == [True, True, False, False]
    assert kept(filter_logits(logits, 1.0, 0, 0.5)) == [True, False, False, False]
    assert kept(filter_logits(logits, 1.0, 0, 0.7)) == [True, True, False, False]
    assert kept(filter_logits(logits, 1.0, 0, 0.81)) == [True, True, True, False]
    assert kept(filter_logits(logits, 1.0, 1, 0.99)) == [True, False, False, False]
    # the temperature divides the logits before the nucleus is measured
    scaled = filter_logits(logits, 2.0, 0, 1.0)
    np.testing.assert_allclose(np.asarray(scaled), np.asarray(logits) / 2.0, rtol=1e-6)


def test_sampling_at_temperature_zero_or_with_top_k_1_is_greedy(small):
    model, params = small
    greedy = np.asarray(greedy_decode(model, params, INPUTS, 8))
    keys = row_keys(0, 0, len(INPUTS))
    for temperature, top_k in ((0.0, 0), (1e-4, 0), (1.0, 1), (1.7, 1)):
        sampled = sample_decode(model, params, INPUTS, 8, keys, temperature, top_k, 1.0)
        np.testing.assert_array_equal(np.asarray(sampled), greedy, err_msg=f"{temperature=}")


def test_sampling_is_reproducible_from_the_seed_and_independent_of_the_batch(small):
    model, params = small

    def draw(seed, first=0, rows=INPUTS):
        keys = row_keys(seed, first, len(rows))
        return np.asarray(sample_decode(model, params, rows, 8, keys, 1.0, 0, 0.95))

    first = draw(0)
    np.testing.assert_array_equal(first, draw(0))
    assert not np.array_equal(first, draw(1))  # another seed, other draws
    # the third prompt alone, with its index in the job, draws what it drew in the batch
    np.testing.assert_array_equal(draw(0, 2, INPUTS[2:])[0], first[2])


def test_sampling_never_produces_ids_past_the_vocabulary(small):
    model, params = small
    keys = row_keys(3, 0, len(INPUTS))
    ids = np.asarray(sample_decode(model, params, INPUTS, 8, keys, 2.0, 0, 1.0, vocab_limit=10))
    assert ids.max() < 10
    assert np.asarray(greedy_decode(model, params, INPUTS, 8, vocab_limit=10)).max() < 10


# -- beam search --------------------------------------------------------------------------------
def test_beam_search_with_one_beam_is_greedy(small):
    model, params = small
    greedy = np.asarray(greedy_decode(model, params, INPUTS, 8))
    for penalty in (0.0, 1.0):
        ids, scores = beam_search(model, params, INPUTS, 8, 1, penalty)
        np.testing.assert_array_equal(np.asarray(ids), greedy)
        for row in range(len(INPUTS)):
            ids_row = _until_eos(greedy[row])
            expected = _log_prob(model, params, INPUTS[row], ids_row) / len(ids_row) ** penalty
            assert float(scores[row]) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("penalty", [0.0, 1.0])
def test_an_exhaustive_beam_finds_the_best_sequence(penalty):
    """With as many beams as there are two-token prefixes, three-token beam search is exact."""
    vocab, length = 6, 3
    model, params = _random_model(vocab, seed=1)
    ids, scores = beam_search(model, params, INPUTS, length, vocab**2, penalty)
    for row in range(len(INPUTS)):
        candidates = sorted({_until_eos(s) for s in itertools.product(range(vocab), repeat=length)})
        log_probs = _log_probs(model, params, INPUTS[row], candidates)
        scored = {s: lp / len(s) ** penalty for s, lp in zip(candidates, log_probs, strict=True)}
        best = max(scored, key=scored.get)
        assert _until_eos(np.asarray(ids[row])) == best
        assert float(scores[row]) == pytest.approx(scored[best], abs=1e-4)


def test_beam_search_scores_at_least_as_well_as_greedy(small):
    model, params = small
    greedy = np.asarray(greedy_decode(model, params, INPUTS, 8))
    ids, scores = beam_search(model, params, INPUTS, 8, 4, 0.0)
    better = 0
    for row in range(len(INPUTS)):
        greedy_score = _log_prob(model, params, INPUTS[row], _until_eos(greedy[row]))
        beam_ids = _until_eos(np.asarray(ids[row]))
        assert float(scores[row]) == pytest.approx(
            _log_prob(model, params, INPUTS[row], beam_ids), abs=1e-4
        )
        assert float(scores[row]) >= greedy_score - 1e-5
        better += float(scores[row]) > greedy_score + 1e-3
    assert better  # on these random models beam search does find something greedy missed
