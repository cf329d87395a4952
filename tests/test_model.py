import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flawn.models.config import T5Config
from flawn.models.decoding import greedy_decode
from flawn.models.t5 import Transformer, relative_position_bucket

TINY = T5Config(
    vocab_size=64,
    emb_dim=32,
    num_heads=2,
    head_dim=8,
    mlp_dim=64,
    num_encoder_layers=2,
    num_decoder_layers=2,
)


@pytest.fixture(scope="module")
def model_and_params():
    model = Transformer(TINY)
    params = model.init(
        jax.random.PRNGKey(0), jnp.ones((1, 12), jnp.int32), jnp.ones((1, 6), jnp.int32)
    )
    return model, params


def test_parameter_names_follow_t5x(model_and_params):
    _, params = model_and_params
    flat = {
        "/".join(k.key for k in path): leaf.shape
        for path, leaf in jax.tree_util.tree_flatten_with_path(params["params"])[0]
    }
    expected = {
        "token_embedder/embedding": (64, 32),
        "encoder/relpos_bias/rel_embedding": (2, 32),
        "encoder/layers_0/pre_attention_layer_norm/scale": (32,),
        "encoder/layers_0/attention/query/kernel": (32, 16),
        "encoder/layers_0/attention/out/kernel": (16, 32),
        "encoder/layers_1/mlp/wi_0/kernel": (32, 64),
        "encoder/layers_1/mlp/wi_1/kernel": (32, 64),
        "encoder/layers_1/mlp/wo/kernel": (64, 32),
        "encoder/encoder_norm/scale": (32,),
        "decoder/layers_0/self_attention/key/kernel": (32, 16),
        "decoder/layers_0/encoder_decoder_attention/value/kernel": (32, 16),
        "decoder/layers_0/pre_cross_attention_layer_norm/scale": (32,),
        "decoder/decoder_norm/scale": (32,),
        "decoder/logits_dense/kernel": (32, 64),
    }
    for name, shape in expected.items():
        assert flat.get(name) == shape, name
    assert not any(name.endswith("bias") for name in flat)  # T5 v1.1 has no bias terms


def test_relative_position_buckets_match_hand_computed_values():
    rel = jnp.array([0, -1, 1, -7, -8, -100, -1000, 5])
    bidirectional = relative_position_bucket(rel, True, 32, 128).tolist()
    # key before query -> lower half; after -> upper half (+16); exact below 8, log-spaced to 15.
    assert bidirectional[:5] == [0, 1, 17, 7, 8]
    assert bidirectional[5] == 8 + int(np.log(100 / 8) / np.log(128 / 8) * 8)  # = 15
    assert bidirectional[6] == 15  # saturates
    assert bidirectional[7] == 16 + 5
    causal = relative_position_bucket(rel, False, 32, 128).tolist()
    assert causal[:4] == [0, 1, 0, 7] and causal[7] == 0  # future keys all share bucket 0


def test_decoder_is_causal(model_and_params):
    model, params = model_and_params
    enc = jnp.array([[5, 6, 7, 8, 1, 0]])
    dec = jnp.array([[0, 9, 10, 11, 12]])
    changed = dec.at[0, 3].set(30)
    a = model.apply(params, enc, dec)
    b = model.apply(params, enc, changed)
    np.testing.assert_allclose(a[0, :3], b[0, :3], atol=1e-5)
    assert not np.allclose(a[0, 3:], b[0, 3:])


def test_packed_examples_do_not_see_each_other(model_and_params):
    model, params = model_and_params
    enc = jnp.array([[5, 6, 7, 1, 20, 21, 1, 0]])
    enc_seg = jnp.array([[1, 1, 1, 1, 2, 2, 2, 0]])
    dec = jnp.array([[0, 9, 10, 0, 11, 0]])
    dec_seg = jnp.array([[1, 1, 1, 2, 2, 0]])
    base = model.apply(params, enc, dec, enc_seg, dec_seg)
    other = model.apply(params, enc.at[0, 4].set(40), dec.at[0, 4].set(41), enc_seg, dec_seg)
    np.testing.assert_allclose(base[0, :3], other[0, :3], atol=1e-5)  # segment 1 unchanged
    assert not np.allclose(base[0, 3:5], other[0, 3:5])


def test_greedy_decode_matches_step_by_step_argmax(model_and_params):
    model, params = model_and_params
    enc = jnp.array([[5, 6, 7, 8, 1, 0], [9, 9, 3, 1, 0, 0]])
    out = np.asarray(greedy_decode(model, params, enc, max_decode_length=5))
    for row in range(2):
        prefix = [0]
        expected = []
        for _ in range(5):
            logits = model.apply(params, enc[row : row + 1], jnp.array([prefix]))
            token = int(jnp.argmax(logits[0, -1]))
            expected.append(token)
            if token == 1:
                break
            prefix.append(token)
        expected += [0] * (5 - len(expected))
        assert out[row].tolist() == expected


def test_config_validates_itself():
    with pytest.raises(ValueError, match="emb_dim must be positive"):
        T5Config(emb_dim=0)
    with pytest.raises(ValueError, match="dtype"):
        T5Config(dtype="float16")
    assert T5Config().with_vocab_size(1252).vocab_size == 1280
    with pytest.raises(ValueError, match="smaller than the vocabulary"):
        T5Config(vocab_size=100).with_vocab_size(1252)


def test_attention_kernels_are_stored_2d_as_t5x_and_initialised_as_t5x():
    """T5X's DenseGeneral keeps ``[emb, heads * head_dim]`` / ``[heads * head_dim, emb]``
    kernels, initialised with variance 1/fan_in over the 2-D rows, the query's divided by
    sqrt(head_dim)."""
    config = T5Config(
        vocab_size=128,
        emb_dim=256,
        num_heads=4,
        head_dim=32,
        mlp_dim=64,
        num_encoder_layers=1,
        num_decoder_layers=1,
    )
    params = Transformer(config).init(
        jax.random.PRNGKey(0), jnp.ones((1, 4), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )["params"]
    attention = params["encoder"]["layers_0"]["attention"]
    inner = config.num_heads * config.head_dim
    expected_std = {
        "query": (256 * 32) ** -0.5,
        "key": 256**-0.5,
        "value": 256**-0.5,
        "out": inner**-0.5,
    }
    for name, std in expected_std.items():
        kernel = np.asarray(attention[name]["kernel"])
        assert kernel.shape == ((inner, 256) if name == "out" else (256, inner)), name
        assert abs(kernel.std() / std - 1) < 0.03, (name, kernel.std(), std)


@pytest.mark.parametrize("cross", [False, True], ids=["self", "cross"])
def test_head_major_attention_equals_t5xs_einsum_over_the_same_2d_kernels(cross):
    from flawn.models.t5 import MultiHeadAttention

    rng = np.random.default_rng(0)
    batch, length, emb, heads, head_dim = 2, 5, 16, 2, 4
    x = jnp.asarray(rng.normal(size=(batch, length, emb)), jnp.float32)
    # Self-attention runs query, key and value as one product; cross-attention key and value.
    kv = jnp.asarray(rng.normal(size=(batch, length + 2, emb)), jnp.float32) if cross else x
    bias = jnp.asarray(rng.normal(size=(batch, heads, length, kv.shape[1])), jnp.float32)
    layer = MultiHeadAttention(heads, head_dim)
    variables = layer.init(jax.random.PRNGKey(1), x, kv, bias, True)
    got = layer.apply(variables, x, kv, bias, True)
    p = variables["params"]

    def project(name, inputs):  # T5X: reshape the 2-D kernel to [emb, heads, head_dim], then einsum
        kernel = p[name]["kernel"].reshape(emb, heads, head_dim)
        return jnp.einsum("bld,dhk->blhk", inputs, kernel)

    logits = jnp.einsum("bqhk,bvhk->bhqv", project("query", x), project("key", kv)) + bias
    weights = jax.nn.softmax(logits, axis=-1)
    mixed = jnp.einsum("bhqv,bvhk->bqhk", weights, project("value", kv))
    want = jnp.einsum("bqhk,hkd->bqd", mixed, p["out"]["kernel"].reshape(heads, head_dim, emb))
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)


def test_gated_gelu_and_its_gradient_equal_autodiff_of_the_two_halves():
    from flawn.models.t5 import gated_gelu

    rng = np.random.default_rng(0)
    both = jnp.asarray(rng.normal(size=(3, 5, 8)) * 3, jnp.float32)
    cotangent = jnp.asarray(rng.normal(size=(3, 5, 4)), jnp.float32)

    def reference(both):
        return jax.nn.gelu(both[..., :4], approximate=True) * both[..., 4:]

    np.testing.assert_allclose(gated_gelu(both), reference(both), rtol=1e-6, atol=1e-6)
    got = jax.vjp(gated_gelu, both)[1](cotangent)[0]
    want = jax.vjp(reference, both)[1](cotangent)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("dtype", "tolerance"), [(jnp.float32, 1e-6), (jnp.bfloat16, 1e-2)])
def test_rounded_softmax_and_its_gradient_follow_softmax(dtype, tolerance):
    from flawn.models.t5 import rounded_softmax

    rng = np.random.default_rng(0)
    logits = jnp.asarray(rng.normal(size=(2, 3, 5, 7)) * 3, jnp.float32)
    logits = logits.at[..., -2:].set(-1e10)  # masked keys, as attention has them
    cotangent = jnp.asarray(rng.normal(size=logits.shape), dtype)

    weights = rounded_softmax(logits, jnp.dtype(dtype))
    assert weights.dtype == dtype
    np.testing.assert_array_equal(weights, jax.nn.softmax(logits, axis=-1).astype(dtype))
    got = jax.vjp(lambda x: rounded_softmax(x, jnp.dtype(dtype)), logits)[1](cotangent)[0]
    exact = jax.vjp(lambda x: jax.nn.softmax(x, axis=-1), logits)[1](cotangent.astype(jnp.float32))[
        0
    ]
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, exact, atol=tolerance * float(jnp.abs(exact).max()))
    assert not np.asarray(got[..., -2:]).any()  # masked keys get no gradient


def test_attention_bias_masks_and_sums_the_position_gradient_over_the_batch():
    from flawn.models.t5 import attention_bias

    rng = np.random.default_rng(0)
    mask = jnp.asarray(rng.random((3, 1, 4, 6)) > 0.3)
    position = jnp.asarray(rng.normal(size=(1, 2, 4, 6)), jnp.float32)
    cotangent = jnp.asarray(rng.normal(size=(3, 2, 4, 6)), jnp.float32)

    def reference(position):
        return jnp.where(mask, position, -1e10)

    np.testing.assert_array_equal(attention_bias(mask, position), reference(position))
    got = jax.vjp(lambda p: attention_bias(mask, p), position)[1](cotangent)[0]
    want = jax.vjp(reference, position)[1](cotangent)[0]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    # Without a position bias, the mask alone broadcasts over heads.
    assert attention_bias(mask).shape == (3, 1, 4, 6)


# --- bfloat16 compute with float32 parameters ----------------------------------------------


def _loss_and_grads(config, params, batch):
    """Cross entropy per target token and its gradients, jitted."""
    from flawn.train.losses import cross_entropy_with_z_loss

    model = Transformer(config)

    def loss(p):
        logits = model.apply({"params": p}, batch["enc"], batch["dec_in"])
        assert logits.dtype == jnp.float32  # logits and the loss are float32 in both modes
        weights = jnp.ones(batch["dec_out"].shape, jnp.float32)
        return cross_entropy_with_z_loss(logits, batch["dec_out"], weights, 1e-4)[0]

    return jax.jit(jax.value_and_grad(loss))(params)


def test_bfloat16_keeps_float32_parameters_and_gradients_and_is_close_to_float32(
    model_and_params,
):
    import dataclasses

    _, params = model_and_params
    rng = np.random.default_rng(0)
    batch = {
        "enc": jnp.asarray(rng.integers(2, 64, (4, 12)), jnp.int32),
        "dec_in": jnp.asarray(rng.integers(2, 64, (4, 6)), jnp.int32),
        "dec_out": jnp.asarray(rng.integers(2, 64, (4, 6)), jnp.int32),
    }
    loss32, grads32 = _loss_and_grads(TINY, params["params"], batch)
    loss16, grads16 = _loss_and_grads(
        dataclasses.replace(TINY, dtype="bfloat16"), params["params"], batch
    )
    assert {leaf.dtype for leaf in jax.tree.leaves(grads16)} == {jnp.dtype(jnp.float32)}
    assert float(loss16) == pytest.approx(float(loss32), rel=1e-2)
    # Gradients agree in direction to bfloat16's ~3 significant digits.
    flat32 = jnp.concatenate([g.ravel() for g in jax.tree.leaves(grads32)])
    flat16 = jnp.concatenate([g.ravel() for g in jax.tree.leaves(grads16)])
    cosine = jnp.dot(flat32, flat16) / (jnp.linalg.norm(flat32) * jnp.linalg.norm(flat16))
    assert float(cosine) > 0.999


def test_bfloat16_train_steps_keep_float32_parameters_and_track_float32(model_and_params):
    import dataclasses

    from flawn.train.config import OptimizerConfig
    from flawn.train.optim import make_optimizer
    from flawn.train.step import make_train_step

    _, params = model_and_params
    rng = np.random.default_rng(1)
    targets = rng.integers(2, 64, (4, 6)).astype(np.int32)
    batch = {
        "encoder_input_tokens": rng.integers(2, 64, (4, 12)).astype(np.int32),
        "decoder_input_tokens": np.concatenate([np.zeros((4, 1), np.int32), targets[:, :-1]], 1),
        "decoder_target_tokens": targets,
        "decoder_loss_weights": np.ones((4, 6), np.float32),
    }
    optimizer = make_optimizer(
        OptimizerConfig(name="adafactor", learning_rate=1e-2, schedule="constant", warmup_steps=0),
        10,
    )
    losses = {}
    for dtype in ("float32", "bfloat16"):
        model = Transformer(dataclasses.replace(TINY, dtype=dtype))
        step = jax.jit(make_train_step(model, optimizer, 1e-4, 0))
        state = {
            "params": params["params"],
            "opt_state": optimizer.init(params["params"]),
            "step": jnp.asarray(0),
        }
        losses[dtype] = []
        for _ in range(3):
            state, metrics = step(state, batch)
            losses[dtype].append(float(metrics["loss"]))
        assert {leaf.dtype for leaf in jax.tree.leaves(state["params"])} == {jnp.dtype(jnp.float32)}
    np.testing.assert_allclose(losses["bfloat16"], losses["float32"], rtol=2e-2)
    assert losses["bfloat16"][-1] < losses["bfloat16"][0]


def test_bfloat16_products_take_bfloat16_operands_and_accumulate_in_float32(model_and_params):
    """Every matrix product, forward and backward: bf16 x bf16 -> f32 (the fast CPU kernels).

    Checked on the optimised HLO: XLA:CPU upcasts a bfloat16 product to float32
    when an operand's layout does not suit its kernels, which is what made
    bfloat16 slower than float32 before.
    """
    import dataclasses
    import re

    _, params = model_and_params
    config = dataclasses.replace(TINY, dtype="bfloat16")
    batch = {
        "enc": jnp.ones((2, 12), jnp.int32),
        "dec_in": jnp.ones((2, 6), jnp.int32),
        "dec_out": jnp.ones((2, 6), jnp.int32),
    }
    from flawn.train.losses import cross_entropy_with_z_loss

    model = Transformer(config)

    def loss(p):
        logits = model.apply({"params": p}, batch["enc"], batch["dec_in"])
        return cross_entropy_with_z_loss(logits, batch["dec_out"], jnp.ones((2, 6)), 1e-4)[0]

    lowered = jax.jit(jax.grad(loss)).lower(params["params"])
    products = re.findall(
        r"stablehlo\.dot_general.*?:\s*\((tensor<[^)]*)\)\s*->\s*(tensor<\S+>)", lowered.as_text()
    )
    # Per layer: 8 (encoder: query, key, value, scores, weighted values, out; wi_0 and wi_1
    # as one, wo) or 14 (decoder: two attentions); then the logits. Each with its two
    # gradient products.
    assert len(products) == 3 * (2 * 8 + 2 * 14 + 1)
    for operands, result in products:
        assert operands.count("xbf16>") == 2 and result.endswith("xf32>"), (operands, result)
    if jax.default_backend() == "cpu":
        compiled = lowered.compile().as_text()
        types = dict(re.findall(r"%([\w.\-]+) = (\w+)\[", compiled))
        for operands in re.findall(r"\bdot\(([^)]*)\)", compiled):
            names = [name.strip().lstrip("%") for name in operands.split(",")]
            assert [types.get(name) for name in names] == ["bf16", "bf16"], operands
