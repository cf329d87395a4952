import dataclasses

import jax
import jax.numpy as jnp
import pytest

from flawn.models.flops import (
    count_parameters,
    optimizer_state_size,
    parameter_shapes,
    six_nd,
    train_step_flops,
)
from flawn.models.info import describe_size
from flawn.models.sizes import SIZES, get_size
from flawn.models.t5 import Transformer
from flawn.train.config import AdafactorConfig, OptimizerConfig
from flawn.train.optim import make_optimizer

PUBLISHED = {  # T5 1.1 / Flan-T5 with the 32,128-row vocabulary
    "small": 76_961_152,
    "base": 247_577_856,
    "large": 783_150_080,
    "xl": 2_849_757_184,
    "xxl": 11_135_332_352,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_equal_the_published_ones(name):
    size = get_size(name)
    assert count_parameters(size.shape, size.vocab_size).total == PUBLISHED[name]
    flan = get_size(f"flan_t5_{name}")
    assert flan.shape == size.shape and flan.initial_checkpoint().startswith(
        f"gs://t5-data/pretrained_models/t5x/flan_t5_{name}/"
    )


@pytest.mark.parametrize("name", ["tiny", "mini"])
def test_counts_equal_the_flax_model(name):
    config = get_size(name).t5_config().with_vocab_size(1000)
    variables = jax.eval_shape(
        lambda: Transformer(config).init(
            jax.random.PRNGKey(0), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 4), jnp.int32)
        )
    )
    actual = sum(x.size for x in jax.tree.leaves(variables))
    assert count_parameters(get_size(name).shape, config.vocab_size).total == actual


def _abstract_params(name: str, vocab: int):
    config = dataclasses.replace(get_size(name).t5_config(), vocab_size=vocab)
    return jax.eval_shape(
        lambda: Transformer(config).init(
            jax.random.PRNGKey(0), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 4), jnp.int32)
        )
    )["params"]


@pytest.mark.parametrize(("name", "vocab"), [("tiny", 1000), ("mini", 512), ("small", 32_128)])
def test_parameter_shapes_are_the_model_s(name, vocab):
    params = _abstract_params(name, vocab)
    actual = sorted(leaf.shape for leaf in jax.tree.leaves(params))
    parts = parameter_shapes(get_size(name).shape, vocab)
    assert sorted(dims for shapes in parts.values() for dims in shapes) == actual


@pytest.mark.parametrize(("name", "vocab"), [("tiny", 1000), ("small", 32_128)])
@pytest.mark.parametrize("beta1", [None, 0.9])
def test_optimizer_state_size_is_what_the_trainer_allocates(name, vocab, beta1):
    # The real optimizers' state, built abstractly (nothing allocated); optax keeps a
    # step counter per leaf and one-element placeholders for the statistics a leaf
    # does not use, which the count leaves out.
    params = _abstract_params(name, vocab)
    shape = get_size(name).shape
    adafactor = make_optimizer(
        OptimizerConfig(name="adafactor", adafactor=AdafactorConfig(beta1=beta1)), 10
    )
    state = jax.eval_shape(adafactor.init, params)
    kept = sum(leaf.size for leaf in jax.tree.leaves(state) if leaf.size > 1)
    assert optimizer_state_size(shape, vocab, momentum=beta1 is not None) == kept
    adamw = jax.eval_shape(make_optimizer(OptimizerConfig(name="adamw"), 10).init, params)
    kept = sum(leaf.size for leaf in jax.tree.leaves(adamw) if leaf.size > 1)
    assert optimizer_state_size(shape, vocab, "adamw") == kept


def test_factored_second_moments_are_small_and_whole_ones_kept_below_the_threshold():
    shape = get_size("base").shape
    # T5 1.1 base: every kernel is factored (rows + columns); norm scales and the
    # [12, 32] position biases are kept whole.
    assert optimizer_state_size(shape, 32_128) == 538_112
    everything_whole = optimizer_state_size(shape, 32_128, min_dim_size_to_factor=10**6)
    assert everything_whole == count_parameters(shape, 32_128).total
    with pytest.raises(ValueError, match="'adafactor' or 'adamw'"):
        optimizer_state_size(shape, 32_128, "sgd")


def test_model_info_reports_optimizer_memory():
    report = describe_size("base", None, 1024, 256, 128)
    assert "+ Adafactor, T5X's (538,112 statistics)      0.92 GiB    0.46 GiB" in report
    assert "+ AdamW (two moments per parameter)          2.77 GiB    1.38 GiB" in report


def test_step_flops_match_xla_for_the_forward_pass():
    # XLA's cost analysis counts every op; matmuls dominate a wide model with a small vocab.
    shape = dict(get_size("mini").shape)
    config = get_size("mini").t5_config().with_vocab_size(512)
    model = Transformer(config)
    enc, dec = jnp.ones((2, 64), jnp.int32), jnp.ones((2, 16), jnp.int32)
    params = model.init(jax.random.PRNGKey(0), enc, dec)

    def forward(p):
        return model.apply(p, enc, dec, deterministic=True)

    cost = jax.jit(forward).lower(params).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    counted = train_step_flops(shape, 512, 64, 16, 2, multiplier=1).total
    assert counted == pytest.approx(cost["flops"], rel=0.05)


def test_six_nd_overstates_an_encoder_decoder():
    size = get_size("base")
    exact = train_step_flops(size.shape, size.vocab_size, 1024, 256, 8).total
    rough = six_nd(count_parameters(size.shape, size.vocab_size).total, 1024, 256, 8)
    assert 1.5 < rough / exact < 2.5


def test_every_size_has_a_gin_file(project_root):
    for name in SIZES:
        text = (project_root / "gin" / "models" / f"{name}.gin").read_text()
        assert f"MODEL_SIZE = '{name}'" in text
