"""Sharding over a (data, model) mesh: the rules, and sharded steps equal unsharded ones.

JAX fixes its device count when it starts, so the two-device checks run in a
subprocess started with ``--xla_force_host_platform_device_count=2``.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from jax.sharding import PartitionSpec as P

from flawn.errors import ConfigError
from flawn.train.sharding import param_spec, resolve_mesh_shape


def test_mesh_shapes_fill_the_devices_or_say_why_not():
    assert resolve_mesh_shape((-1, 1), 8) == (8, 1)
    assert resolve_mesh_shape((2, -1), 8) == (2, 4)
    assert resolve_mesh_shape((4, 2), 8) == (4, 2)
    with pytest.raises(ConfigError, match=r"mesh_shape \(3, -1\) does not fit the 8 device"):
        resolve_mesh_shape((3, -1), 8)
    with pytest.raises(ConfigError, match="multiplies to the device count"):
        resolve_mesh_shape((2, 2), 8)


def test_parameters_split_along_model_by_name_and_only_when_it_divides():
    assert param_spec(("encoder", "layers_0", "attention", "query", "kernel"), (64, 96), 2) == P(
        None, "model"
    )
    assert param_spec(("decoder", "layers_0", "self_attention", "out", "kernel"), (96, 64), 2) == P(
        "model", None
    )
    assert param_spec(("encoder", "layers_0", "mlp", "wi_1", "kernel"), (64, 128), 4) == P(
        None, "model"
    )
    assert param_spec(("decoder", "layers_0", "mlp", "wo", "kernel"), (128, 64), 4) == P(
        "model", None
    )
    assert param_spec(("token_embedder", "embedding"), (256, 64), 2) == P("model", None)
    assert param_spec(("decoder", "logits_dense", "kernel"), (64, 256), 2) == P(None, "model")
    # Norms, position biases, a model axis of 1 and dimensions it does not divide: whole.
    assert param_spec(("encoder", "encoder_norm", "scale"), (64,), 2) == P()
    assert param_spec(("encoder", "relpos_bias", "rel_embedding"), (2, 32), 2) == P()
    assert param_spec(("encoder", "layers_0", "mlp", "wi_0", "kernel"), (64, 128), 1) == P()
    assert param_spec(("encoder", "layers_0", "mlp", "wi_0", "kernel"), (64, 130), 4) == P()


def test_the_mesh_shape_is_validated_by_the_config(tmp_path):
    from flawn.train.config import TrainConfig

    def config(**overrides):
        return TrainConfig(
            model_dir=str(tmp_path),
            mixture_or_task_name="demo.legal",
            task_feature_lengths={"inputs": 8, "targets": 4},
            train_steps=1,
            batch_size=2,
            **overrides,
        )

    assert config(mesh_shape=[2, -1]).mesh_shape == (2, -1)  # gin passes lists
    for bad in ((-1, -1), (0, 1), (2,), (-2, 1)):
        with pytest.raises(ValueError, match="mesh_shape"):
            config(mesh_shape=bad)


# Runs with two host devices: the same steps unsharded (one device), data-parallel
# (data=2) and model-parallel (model=2), on fixed synthetic batches; then train() with
# model=2 stopped and resumed (restored into its sharding) against data=2 straight.
TWO_DEVICE_SCRIPT = textwrap.dedent("""
    import json, sys
    import jax, jax.numpy as jnp, numpy as np
    import flawn.tasks  # noqa: F401
    from flawn.models.config import T5Config
    from flawn.models.t5 import Transformer
    from flawn.train import local
    from flawn.train.config import OptimizerConfig, TrainConfig
    from flawn.train.optim import make_optimizer
    from flawn.train.sharding import bytes_per_device, make_layout, make_mesh
    from flawn.train.step import make_train_step

    assert len(jax.devices()) == 2, jax.devices()
    out = {}
    # Every matrix at least 128 x 128, so Adafactor factors its second moments.
    shape = T5Config(vocab_size=256, emb_dim=128, num_heads=2, head_dim=64, mlp_dim=128,
                     num_encoder_layers=1, num_decoder_layers=1, dropout_rate=0.1)
    model = Transformer(shape)
    lengths = {"inputs": 16, "targets": 8}
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(2):
        inputs = rng.integers(2, 256, (4, 16)).astype(np.int32)
        targets = rng.integers(2, 256, (4, 8)).astype(np.int32)
        batches.append({
            "encoder_input_tokens": inputs,
            "decoder_target_tokens": targets,
            "decoder_input_tokens": np.concatenate(
                [np.zeros((4, 1), np.int32), targets[:, :-1]], axis=1),
            "decoder_loss_weights": np.ones((4, 8), np.int32),
        })
    # AdamW on both meshes; Adafactor (factored statistics) where its state is split.
    for name, opt, meshes in (
        ("adamw", OptimizerConfig(warmup_steps=0), ((2, 1), (1, 2))),
        ("adafactor", OptimizerConfig(name="adafactor", warmup_steps=0), ((1, 2),)),
    ):
        optimizer = make_optimizer(opt, 10)
        abstract = jax.eval_shape(lambda: local._fresh_state(model, optimizer, lengths, 0))
        runs = {}
        for mesh_shape in ((1, 1), *meshes):
            devices = jax.devices()[:1] if mesh_shape == (1, 1) else None
            layout = make_layout(make_mesh(mesh_shape, devices), abstract)
            state = local._placed_state(model, optimizer, lengths, 0, layout, None)
            step = jax.jit(make_train_step(model, optimizer, 1e-4, 0),
                           in_shardings=(layout.state, layout.batch),
                           out_shardings=(layout.state, layout.replicated), donate_argnums=0)
            losses = []
            for batch in batches + batches:  # each twice: the loss must fall
                state, metrics = step(state, jax.device_put(batch, layout.batch))
                losses.append(float(metrics["loss"]))
            runs[mesh_shape] = (losses, state, layout)
        ref_losses, ref_state, _ = runs[(1, 1)]
        for mesh_shape in meshes:
            losses, state, layout = runs[mesh_shape]
            diff = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                       for a, b in zip(jax.tree.leaves(ref_state["params"]),
                                       jax.tree.leaves(state["params"]), strict=True))
            split = sorted(
                "/".join(str(k.key) for k in path) for path, s in
                jax.tree_util.tree_flatten_with_path(layout.state["params"])[0]
                if "model" in tuple(s.spec))
            opt_split = sum("model" in tuple(s.spec)
                            for s in jax.tree.leaves(layout.state["opt_state"]))
            # Factored statistics (vectors) of split matrices follow them too.
            opt_split_vectors = sum(
                "model" in tuple(s.spec) and np.ndim(leaf) == 1
                for s, leaf in zip(jax.tree.leaves(layout.state["opt_state"]),
                                   jax.tree.leaves(state["opt_state"]), strict=True))
            out[f"{name} {mesh_shape}"] = {
                "loss_diff": max(abs(a - b) for a, b in zip(ref_losses, losses)),
                "param_diff": diff, "losses": losses, "ref_losses": ref_losses,
                "split": split, "opt_split": opt_split, "opt_split_vectors": opt_split_vectors,
                "bytes": bytes_per_device(state["params"]),
                "ref_bytes": bytes_per_device(ref_state["params"]),
            }

    tiny = T5Config(emb_dim=32, num_heads=2, head_dim=16, mlp_dim=64,
                    num_encoder_layers=1, num_decoder_layers=1)
    def config(folder, mesh_shape):
        return TrainConfig(model_dir=folder, mixture_or_task_name="demo.general_plus_legal",
                           task_feature_lengths={"inputs": 64, "targets": 16}, train_steps=4,
                           batch_size=4, model=tiny, seed=1, log_every=2, checkpoint_every=2,
                           use_wandb=False, report_data=False, mesh_shape=mesh_shape,
                           optimizer=OptimizerConfig(learning_rate=3e-3, warmup_steps=1))
    print("steps done", flush=True)
    straight = local.train(config(sys.argv[1] + "/data", (-1, 1)))
    local.train(config(sys.argv[1] + "/model", (1, -1)), stop_after=2)
    resumed = local.train(config(sys.argv[1] + "/model", (1, -1)))
    kernel = resumed.params["params"]["encoder"]["layers_0"]["mlp"]["wi_0"]["kernel"]
    out["train"] = {
        "param_diff": max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                          for a, b in zip(jax.tree.leaves(straight.params),
                                          jax.tree.leaves(resumed.params), strict=True)),
        "loss_diff": abs(straight.final_loss - resumed.final_loss),
        "resumed_spec": str(kernel.sharding.spec),
    }
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.slow
def test_sharded_steps_equal_unsharded_ones_on_two_devices(tmp_path):
    script = tmp_path / "two_devices.py"
    script.write_text(TWO_DEVICE_SCRIPT)
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
        "JAX_PLATFORMS": "cpu",
        "WANDB_MODE": "disabled",
    }
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    for run in result.values():
        if "losses" in run:
            assert run["loss_diff"] < 1e-5, run
            # Parameters to 1e-4: a split reduction sums in another order, and Adam's
            # normalised update turns the last-bit differences of near-zero gradients into
            # differences of up to learning_rate x 1e-2 (seen: 2.3e-5 after 4 steps).
            assert run["param_diff"] < 1e-4, run
            assert run["losses"][2] != run["losses"][0]  # the updates changed the parameters
    data = result["adamw (2, 1)"]
    assert data["split"] == [] and data["bytes"] == data["ref_bytes"]  # replicated
    for optimizer in ("adamw", "adafactor"):
        model = result[f"{optimizer} (1, 2)"]
        # Attention, MLP, embedding and output layer split; each device holds less.
        assert "encoder/layers_0/mlp/wi_0/kernel" in model["split"]
        assert "decoder/layers_0/self_attention/out/kernel" in model["split"]
        assert "token_embedder/embedding" in model["split"]
        assert "decoder/logits_dense/kernel" in model["split"]
        assert "encoder/encoder_norm/scale" not in model["split"]
        assert model["bytes"] < 0.7 * model["ref_bytes"]
        assert model["opt_split"] > 0  # optimizer state follows its parameters
    assert result["adafactor (1, 2)"]["opt_split_vectors"] > 0
    # train() on model=2, stopped and resumed from its sharded checkpoint, ends where
    # train() on data=2 does.
    assert result["train"]["param_diff"] < 1e-5, result["train"]
    assert result["train"]["loss_diff"] < 1e-5, result["train"]
    assert "model" in result["train"]["resumed_spec"]
