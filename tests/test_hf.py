"""Hugging Face T5 checkpoints in and out (flawn.models.hf), on a tiny model the test writes."""

import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from flawn.errors import FlawnError
from flawn.models import hf
from flawn.models.config import T5Config
from flawn.models.t5 import Transformer

TINY = T5Config(
    vocab_size=128,
    emb_dim=32,
    num_heads=2,
    head_dim=8,
    mlp_dim=64,
    num_encoder_layers=2,
    num_decoder_layers=3,  # unequal depths catch a stack mixed up with the other
)
ENC = np.array([[5, 6, 7, 8, 1, 0], [9, 9, 3, 1, 0, 0]])
DEC = np.array([[0, 9, 10, 11], [0, 4, 5, 6]])


def _logits(params, config=TINY):
    return np.asarray(Transformer(config).apply({"params": params}, ENC, DEC))


@pytest.fixture(scope="module")
def params():
    """Tiny parameters with every array perturbed, so no norm or bias is a constant."""
    variables = Transformer(TINY).init(
        jax.random.PRNGKey(3), jnp.ones((1, 6), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )
    rng = np.random.default_rng(0)
    return jax.tree.map(
        lambda a: np.asarray(a) + rng.normal(size=a.shape).astype(np.float32) * 0.1,
        variables["params"],
    )


def _flat(tree, prefix=()):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def test_the_name_table_covers_every_parameter_once(params):
    table = hf.name_table(TINY.num_encoder_layers, TINY.num_decoder_layers)
    assert sorted(path for _, path, _ in table) == sorted(_flat(params))
    assert len({name for name, _, _ in table}) == len(table)


def test_arrays_are_laid_out_as_torch_and_hugging_face_store_them(params):
    tensors = hf.flawn_to_hf(params)
    attention = params["encoder"]["layers_1"]["attention"]
    # torch's Linear is [out, in]: T5X's [emb, heads * head_dim] query kernel, transposed.
    np.testing.assert_array_equal(
        tensors["encoder.block.1.layer.0.SelfAttention.q.weight"], attention["query"]["kernel"].T
    )
    np.testing.assert_array_equal(
        tensors["encoder.block.1.layer.0.SelfAttention.o.weight"], attention["out"]["kernel"].T
    )
    cross = params["decoder"]["layers_2"]["encoder_decoder_attention"]["key"]["kernel"]
    np.testing.assert_array_equal(
        tensors["decoder.block.2.layer.1.EncDecAttention.k.weight"], cross.T
    )
    np.testing.assert_array_equal(
        tensors["decoder.block.2.layer.2.DenseReluDense.wi_1.weight"],
        params["decoder"]["layers_2"]["mlp"]["wi_1"]["kernel"].T,
    )
    # Relative-attention bias: Hugging Face's Embedding(buckets, heads) vs T5X's [heads, buckets].
    bias = tensors["decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
    assert bias.shape == (32, 2)
    np.testing.assert_array_equal(bias, params["decoder"]["relpos_bias"]["rel_embedding"].T)
    assert not any("block.1" in n and "relative_attention_bias" in n for n in tensors)
    np.testing.assert_array_equal(tensors["shared.weight"], params["token_embedder"]["embedding"])
    assert tensors["lm_head.weight"].shape == (128, 32)
    np.testing.assert_array_equal(
        tensors["lm_head.weight"], params["decoder"]["logits_dense"]["kernel"].T
    )


def test_config_json_says_what_transformers_needs(params, tmp_path):
    config = hf.write_hf_checkpoint(params, tmp_path / "hf", TINY)
    stored = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert stored == config
    assert stored["architectures"] == ["T5ForConditionalGeneration"]
    assert (stored["d_model"], stored["num_heads"], stored["d_kv"], stored["d_ff"]) == (
        32,
        2,
        8,
        64,
    )
    assert (stored["num_layers"], stored["num_decoder_layers"], stored["vocab_size"]) == (2, 3, 128)
    assert stored["feed_forward_proj"] == "gated-gelu"
    assert stored["tie_word_embeddings"] is False
    assert (stored["decoder_start_token_id"], stored["pad_token_id"], stored["eos_token_id"]) == (
        0,
        0,
        1,
    )
    generation = json.loads((tmp_path / "hf" / "generation_config.json").read_text())
    assert generation["decoder_start_token_id"] == 0
    assert hf.t5_config_from_hf(stored) == TINY
    with pytest.raises(FlawnError, match="already holds a model"):
        hf.write_hf_checkpoint(params, tmp_path / "hf", TINY)


@pytest.mark.parametrize("shard_bytes", [hf.DEFAULT_MAX_SHARD_BYTES, 20_000])
def test_flawn_to_hf_to_flawn_keeps_the_logits(params, tmp_path, shard_bytes):
    out = tmp_path / "hf"
    hf.write_hf_checkpoint(params, out, TINY, max_shard_bytes=shard_bytes)
    files = sorted(os.listdir(out))
    if shard_bytes == hf.DEFAULT_MAX_SHARD_BYTES:
        assert "model.safetensors" in files and hf.WEIGHTS_INDEX_FILE not in files
    else:
        index = json.loads((out / hf.WEIGHTS_INDEX_FILE).read_text())
        shards = sorted(set(index["weight_map"].values()))
        assert len(shards) > 1 and shards[0].startswith("model-00001-of-")
        assert index["metadata"]["total_size"] == sum(
            np.asarray(a).nbytes for a in jax.tree.leaves(params)
        )
    assert hf.is_hf_checkpoint(out)
    back, config = hf.read_hf_checkpoint(out)
    assert config["vocab_size"] == 128
    for path, value in _flat(params).items():
        np.testing.assert_array_equal(_flat(back)[path], value, err_msg="/".join(path))
    np.testing.assert_array_equal(_logits(back), _logits(params))


def test_bfloat16_weights_are_read_as_float32(params, tmp_path):
    import ml_dtypes
    from safetensors.numpy import save_file

    out = tmp_path / "bf16"
    out.mkdir()
    tensors = {k: v.astype(ml_dtypes.bfloat16) for k, v in hf.flawn_to_hf(params).items()}
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    (out / "config.json").write_text(json.dumps(hf.hf_config(TINY)))
    back, _ = hf.read_hf_checkpoint(out)
    kernel = back["encoder"]["layers_0"]["mlp"]["wo"]["kernel"]
    assert kernel.dtype == np.float32
    expected = params["encoder"]["layers_0"]["mlp"]["wo"]["kernel"]
    np.testing.assert_allclose(kernel, expected, rtol=1e-2, atol=1e-2)


def test_a_tied_checkpoint_gets_its_output_scale_folded_into_the_head(params):
    """Original-T5-style tying: no lm_head, decoder output scaled by d_model**-0.5."""
    tensors = hf.flawn_to_hf(params)
    del tensors["lm_head.weight"]
    config = {**hf.hf_config(TINY), "tie_word_embeddings": True}
    back = hf.hf_to_flawn(tensors, config)
    np.testing.assert_allclose(
        back["decoder"]["logits_dense"]["kernel"],
        params["token_embedder"]["embedding"].T * TINY.emb_dim**-0.5,
        rtol=1e-6,
    )
    # transformers 5 saves T5 1.1 as "tied" with the scale off and lm_head kept apart.
    saved_by_v5 = {**config, "scale_decoder_outputs": False}
    back = hf.hf_to_flawn(hf.flawn_to_hf(params), saved_by_v5)
    np.testing.assert_array_equal(_logits(back), _logits(params))


def test_checkpoints_flawn_cannot_hold_are_refused_saying_why(params):
    tensors = hf.flawn_to_hf(params)
    config = hf.hf_config(TINY)
    with pytest.raises(FlawnError, match=r"feed_forward_proj is 'relu'.*original T5"):
        hf.t5_config_from_hf({**config, "feed_forward_proj": "relu"})
    with pytest.raises(FlawnError, match="model_type 'bart' is not T5"):
        hf.t5_config_from_hf({**config, "model_type": "bart"})
    broken = dict(tensors)
    del broken["encoder.block.1.layer.1.DenseReluDense.wo.weight"]
    broken["encoder.block.2.layer.0.layer_norm.weight"] = np.ones(32, np.float32)
    broken["decoder.block.0.layer.0.SelfAttention.q.weight"] = np.zeros((8, 32), np.float32)
    with pytest.raises(FlawnError) as err:
        hf.hf_to_flawn(broken, config, "ckpt")
    message = str(err.value)
    assert "missing encoder.block.1.layer.1.DenseReluDense.wo.weight" in message
    assert "unexpected encoder.block.2.layer.0.layer_norm.weight" in message
    assert (
        "decoder.block.0.layer.0.SelfAttention.q.weight: shape (8, 32), config.json says (16, 32)"
        in message
    )


def test_config_differences_name_both_values():
    other = T5Config(vocab_size=128, emb_dim=48, num_heads=4, head_dim=8, mlp_dim=64)
    lines = hf.config_differences(other, TINY)
    assert "d_model (emb_dim): checkpoint 48, model 32" in lines
    assert "num_heads (num_heads): checkpoint 4, model 2" in lines
    assert "num_layers (num_encoder_layers): checkpoint 8, model 2" in lines
    assert not any("vocab" in line for line in lines)
    assert hf.config_differences(TINY, TINY) == []


_HAVE_TRANSFORMERS = all(importlib.util.find_spec(m) for m in ("torch", "transformers"))


@pytest.mark.skipif(
    not _HAVE_TRANSFORMERS,
    reason="torch and transformers are not installed (they come with the `bench` extra: "
    "pip install -e .[bench])",
)
def test_transformers_loads_an_export_and_gives_flawns_logits(params, tmp_path):
    import torch
    import transformers

    hf.write_hf_checkpoint(params, tmp_path / "hf", TINY)
    model = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "hf")
    model.eval()
    assert model.config.decoder_start_token_id == 0 and model.config.eos_token_id == 1
    with torch.no_grad():
        theirs = model(
            input_ids=torch.tensor(ENC),
            attention_mask=torch.tensor(ENC > 0, dtype=torch.long),
            decoder_input_ids=torch.tensor(DEC),
        ).logits.numpy()
    ours = _logits(params)
    difference = float(np.abs(theirs - ours).max())
    print(f"transformers vs flawn logits: max abs diff {difference:.2e}")
    assert difference < 1e-4
    # And Hugging Face's weights come back into flawn unchanged.
    model.save_pretrained(tmp_path / "resaved")
    back, _ = hf.read_hf_checkpoint(tmp_path / "resaved")
    np.testing.assert_array_equal(_logits(back), ours)
