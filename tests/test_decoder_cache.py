"""The decoder's key/value cache: one position per call, same logits as teacher forcing."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flawn.models.config import T5Config
from flawn.models.decoding import encode_inputs, init_cache, next_token_logits, take_cache_rows
from flawn.models.t5 import Transformer

# Row 1 is padded: the cross-attention mask must hold at every cached step too.
INPUTS = jnp.array([[5, 6, 7, 8, 9, 1], [9, 3, 1, 0, 0, 0]], jnp.int32)
LENGTH = 7  # output positions, longer than the bidirectional buckets' exact range


def _model(dtype: str):
    # Two layers of each, few buckets and a short max distance, so that the steps cross
    # the relative-position buckets' log-spaced range.
    config = T5Config(
        vocab_size=40,
        emb_dim=32,
        num_heads=4,
        head_dim=8,
        mlp_dim=64,
        num_encoder_layers=2,
        num_decoder_layers=2,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=6,
        dtype=dtype,
    )
    model = Transformer(config)
    decoder_input = jnp.ones((1, LENGTH), jnp.int32)
    params = jax.jit(model.init)(jax.random.PRNGKey(3), INPUTS[:1], decoder_input)
    return model, params


# Compiled, not run op by op: on a 2-core host that is several times faster here.
_encode = jax.jit(encode_inputs, static_argnums=0)
_init_cache = jax.jit(init_cache, static_argnums=(0, 4))
_next_token_logits = jax.jit(next_token_logits, static_argnums=0)


@functools.partial(jax.jit, static_argnums=0)
def _forced(model, params, inputs, decoder_input):
    return model.apply(params, inputs, decoder_input)


@functools.partial(jax.jit, static_argnums=0)
def _decode_with_cache(model, params, encoded, encoder_segment_ids, tokens, cache):
    logits, variables = model.apply(
        {**params, "cache": cache},
        encoded,
        encoder_segment_ids,
        tokens,
        use_cache=True,
        method=Transformer.decode,
        mutable=["cache"],
    )
    return logits, variables["cache"]


def _cached_logits(model, params, decoder_input):
    encoded, encoder_segment_ids = _encode(model, params, INPUTS)
    cache = _init_cache(model, params, encoded, encoder_segment_ids, decoder_input.shape[1])
    steps = []
    for position in range(decoder_input.shape[1]):
        logits, cache = _next_token_logits(
            model, params, encoded, encoder_segment_ids, decoder_input[:, position], cache
        )
        steps.append(logits)
    return jnp.stack(steps, axis=1), cache


# bfloat16 activations round at every layer, and where they round depends on how XLA
# fuses: here the teacher-forced logits compiled and run eagerly differ by up to 0.033
# (logits up to 2.9, a bf16 step there is 0.016), so the cached ones are held to 0.05.
@pytest.mark.parametrize(("dtype", "tolerance"), [("float32", 1e-5), ("bfloat16", 5e-2)])
def test_cached_steps_give_the_teacher_forced_logits(dtype, tolerance):
    model, params = _model(dtype)
    rng = np.random.default_rng(0)
    targets = rng.integers(2, 40, (2, LENGTH)).astype(np.int32)
    decoder_input = jnp.asarray(np.pad(targets[:, :-1], ((0, 0), (1, 0))))

    cached, cache = _cached_logits(model, params, decoder_input)
    forced = _forced(model, params, INPUTS, decoder_input)

    assert cached.shape == forced.shape == (2, LENGTH, 40)
    np.testing.assert_allclose(np.asarray(cached), np.asarray(forced), atol=tolerance)
    assert int(cache["decoder"]["index"]) == LENGTH
    if dtype == "bfloat16":  # bf16 rounding aside, the same next tokens
        assert (np.asarray(cached).argmax(-1) == np.asarray(forced).argmax(-1)).mean() > 0.9


def test_the_cache_holds_cross_attention_keys_once_and_room_for_every_position():
    model, params = _model("float32")
    encoded, encoder_segment_ids = _encode(model, params, INPUTS)
    cache = _init_cache(model, params, encoded, encoder_segment_ids, LENGTH)
    layer = cache["decoder"]["layers_0"]
    assert layer["self_attention"]["cached_key"].shape == (2, 4, LENGTH, 8)
    assert not np.asarray(layer["self_attention"]["cached_key"]).any()  # nothing written yet
    assert layer["encoder_decoder_attention"]["cached_value"].shape == (2, 4, INPUTS.shape[1], 8)
    assert np.asarray(layer["encoder_decoder_attention"]["cached_value"]).any()
    assert int(cache["decoder"]["index"]) == 0


def test_reordered_rows_continue_their_new_prefix():
    model, params = _model("float32")
    same_input = jnp.repeat(INPUTS[:1], 2, axis=0)  # two hypotheses of one input
    encoded, encoder_segment_ids = _encode(model, params, same_input)
    cache = _init_cache(model, params, encoded, encoder_segment_ids, LENGTH)
    for tokens in ([0, 0], [11, 23], [12, 30]):  # the rows' prefixes differ after step 0
        logits, cache = _next_token_logits(
            model, params, encoded, encoder_segment_ids, jnp.array(tokens), cache
        )
    assert not np.allclose(logits[0], logits[1])

    cache = take_cache_rows(cache, jnp.array([1, 1]))  # both rows continue row 1's prefix
    logits, _ = _next_token_logits(
        model, params, encoded, encoder_segment_ids, jnp.array([7, 7]), cache
    )
    np.testing.assert_allclose(logits[0], logits[1], atol=1e-6)
    forced = _forced(model, params, same_input[:1], jnp.array([[0, 23, 30, 7]]))
    np.testing.assert_allclose(logits[0], forced[0, -1], atol=1e-5)


def test_calls_may_take_several_positions_at_once():
    model, params = _model("float32")
    rng = np.random.default_rng(1)
    decoder_input = jnp.asarray(rng.integers(2, 40, (2, LENGTH)).astype(np.int32)).at[:, 0].set(0)
    encoded, encoder_segment_ids = _encode(model, params, INPUTS)
    cache = _init_cache(model, params, encoded, encoder_segment_ids, LENGTH)
    parts = []
    for start, stop in ((0, 1), (1, 4), (4, 5), (5, 7)):  # one, three, one, two positions
        logits, cache = _decode_with_cache(
            model, params, encoded, encoder_segment_ids, decoder_input[:, start:stop], cache
        )
        parts.append(logits)
    forced = _forced(model, params, INPUTS, decoder_input)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), forced, atol=1e-5)
