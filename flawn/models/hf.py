"""Hugging Face T5 checkpoints: ``config.json`` + safetensors <-> flawn's (T5X's) parameters.

flawn's model is T5 1.1 / Flan-T5 with T5X's parameter names and shapes
(:mod:`flawn.models.t5`); Hugging Face's ``T5ForConditionalGeneration`` is
the same network under other names and in torch's layouts. The mapping, per
encoder block ``i`` (decoder blocks alike, with ``layer.0`` self-attention,
``layer.1.EncDecAttention`` cross-attention and ``layer.2`` the MLP):

- ``shared.weight`` ``[vocab, d_model]`` -> ``token_embedder/embedding`` (same array);
- ``encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight``
  ``[buckets, heads]`` -> ``encoder/relpos_bias/rel_embedding`` ``[heads, buckets]``
  (only block 0 has one; the table is shared by every layer of a stack);
- ``encoder.block.i.layer.0.SelfAttention.{q,k,v,o}.weight`` ->
  ``encoder/layers_i/attention/{query,key,value,out}/kernel``;
- ``encoder.block.i.layer.0.layer_norm.weight`` ->
  ``encoder/layers_i/pre_attention_layer_norm/scale``;
- ``encoder.block.i.layer.1.DenseReluDense.{wi_0,wi_1,wo}.weight`` ->
  ``encoder/layers_i/mlp/{wi_0,wi_1,wo}/kernel``;
- ``encoder.block.i.layer.1.layer_norm.weight`` -> ``encoder/layers_i/pre_mlp_layer_norm/scale``;
- ``encoder.final_layer_norm.weight`` -> ``encoder/encoder_norm/scale``;
- ``lm_head.weight`` ``[vocab, d_model]`` -> ``decoder/logits_dense/kernel`` ``[d_model, vocab]``.

Every linear weight is transposed. Nothing is rescaled: Hugging Face's
``T5Attention`` sets ``scaling = 1.0`` (no ``1/sqrt(d_kv)`` on the logits;
T5 folds it into the query initialisation, as T5X does), its query rows are
head-major (``view(..., n_heads, d_kv)``, as T5X's 2-D kernel columns), and
with ``tie_word_embeddings: false`` (T5 1.1, Flan-T5) the decoder output
goes into ``lm_head`` unscaled. Only original T5 (tied embeddings) scales the
decoder output by ``d_model ** -0.5`` before the (shared) head, which is folded
into ``logits_dense`` when such a checkpoint is read; transformers 5 saves
that choice as ``scale_decoder_outputs`` and writes ``tie_word_embeddings:
true`` even for T5 1.1, whose ``lm_head.weight`` it still stores apart. ``gated-gelu`` is
``gelu_new``, the tanh approximation flawn uses. ``decoder.block.0.layer.1.
EncDecAttention.relative_attention_bias.weight``, which some conversions
carry, is unused by Hugging Face too and is dropped.

Only numpy and ``safetensors.numpy`` are needed (no torch); nothing is
downloaded.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from flawn.errors import FlawnError
from flawn.models.config import T5Config
from flawn.models.trees import flatten_tree as _flatten
from flawn.models.trees import unflatten_tree as _unflatten

#: The files of a Hugging Face model folder.
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"
GENERATION_CONFIG_FILE = "generation_config.json"
TOKENIZER_MODEL_FILE = "spiece.model"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
#: What an export was made from (flawn's own file; Hugging Face ignores it).
PROVENANCE_FILE = "flawn_export.json"

#: T5's special ids (flawn's vocabularies follow them, :mod:`flawn.vocab`).
PAD_ID = 0
EOS_ID = 1
DECODER_START_ID = 0

#: Shard size of an export, as Hugging Face's ``save_pretrained`` defaults to.
DEFAULT_MAX_SHARD_BYTES = 5 * 10**9

#: Names some Hugging Face T5 files carry that hold nothing of their own.
_TIED_COPIES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
#: A cross-attention position table some conversions carry; Hugging Face ignores it too.
_UNUSED = "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"

Params = dict[str, Any]

#: How an array goes from Hugging Face's layout to flawn's (each is its own inverse).
_LINEAR, _SAME = "linear", "same"


# -- the name table ------------------------------------------------------------------------------
def _attention(hf: str, flawn: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...], str]]:
    for short, long in (("q", "query"), ("k", "key"), ("v", "value"), ("o", "out")):
        yield f"{hf}.{short}.weight", (*flawn, long, "kernel"), _LINEAR


def _mlp(hf: str, flawn: tuple[str, ...]) -> Iterator[tuple[str, tuple[str, ...], str]]:
    for name in ("wi_0", "wi_1", "wo"):
        yield f"{hf}.DenseReluDense.{name}.weight", (*flawn, "mlp", name, "kernel"), _LINEAR


def name_table(
    num_encoder_layers: int, num_decoder_layers: int
) -> list[tuple[str, tuple[str, ...], str]]:
    """Every parameter as ``(hf_name, flawn_path, how)`` for a model of this depth.

    ``how`` is ``"linear"`` (transposed: torch stores ``[out, in]``, T5X
    ``[in, out]``; the relative-attention table is ``[buckets, heads]`` vs
    ``[heads, buckets]``, also a transpose) or ``"same"``.
    """
    table = [("shared.weight", ("token_embedder", "embedding"), _SAME)]
    for stack, layers in (("encoder", num_encoder_layers), ("decoder", num_decoder_layers)):
        table.append(
            (
                f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
                (stack, "relpos_bias", "rel_embedding"),
                _LINEAR,
            )
        )
        for i in range(layers):
            hf, fl = f"{stack}.block.{i}.layer", (stack, f"layers_{i}")
            if stack == "encoder":
                table.append(
                    (f"{hf}.0.layer_norm.weight", (*fl, "pre_attention_layer_norm", "scale"), _SAME)
                )
                table += _attention(f"{hf}.0.SelfAttention", (*fl, "attention"))
                table.append(
                    (f"{hf}.1.layer_norm.weight", (*fl, "pre_mlp_layer_norm", "scale"), _SAME)
                )
                table += _mlp(f"{hf}.1", fl)
            else:
                table.append(
                    (
                        f"{hf}.0.layer_norm.weight",
                        (*fl, "pre_self_attention_layer_norm", "scale"),
                        _SAME,
                    )
                )
                table += _attention(f"{hf}.0.SelfAttention", (*fl, "self_attention"))
                table.append(
                    (
                        f"{hf}.1.layer_norm.weight",
                        (*fl, "pre_cross_attention_layer_norm", "scale"),
                        _SAME,
                    )
                )
                table += _attention(f"{hf}.1.EncDecAttention", (*fl, "encoder_decoder_attention"))
                table.append(
                    (f"{hf}.2.layer_norm.weight", (*fl, "pre_mlp_layer_norm", "scale"), _SAME)
                )
                table += _mlp(f"{hf}.2", fl)
        final = "encoder_norm" if stack == "encoder" else "decoder_norm"
        table.append((f"{stack}.final_layer_norm.weight", (stack, final, "scale"), _SAME))
    table.append(("lm_head.weight", ("decoder", "logits_dense", "kernel"), _LINEAR))
    return table


def _convert(array: np.ndarray, how: str) -> np.ndarray:
    return np.ascontiguousarray(array.T) if how == _LINEAR else np.ascontiguousarray(array)


# -- config.json ---------------------------------------------------------------------------------
def is_hf_checkpoint(path: str | os.PathLike) -> bool:
    """Whether a folder holds a Hugging Face model: ``config.json`` and safetensors weights."""
    path = os.fspath(path)
    if not os.path.isfile(os.path.join(path, CONFIG_FILE)):
        return False
    return any(name.endswith(".safetensors") for name in os.listdir(path))


def read_hf_config(path: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of a Hugging Face model folder."""
    file = os.path.join(os.fspath(path), CONFIG_FILE)
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise FlawnError(f"{file} not found: not a Hugging Face model folder") from None
    except json.JSONDecodeError as err:
        raise FlawnError(f"{file}: not valid JSON ({err})") from None


def _tied(hf_config: Mapping[str, Any]) -> bool:
    # Hugging Face's T5Config treats a missing key as tied (original T5's default).
    return hf_config.get("tie_word_embeddings", True) is not False


def _scales_decoder_output(hf_config: Mapping[str, Any]) -> bool:
    """Whether the decoder output is multiplied by ``d_model ** -0.5`` before the head.

    transformers < 5 scales exactly when the embeddings are tied. transformers
    5 writes the scale as its own key, ``scale_decoder_outputs``, and saves
    every T5 with ``tie_word_embeddings: true``, T5 1.1 and Flan-T5 included
    (their ``lm_head.weight`` stays a separate array in the file).
    """
    if "scale_decoder_outputs" in hf_config:
        return bool(hf_config["scale_decoder_outputs"])
    return _tied(hf_config)


def t5_config_from_hf(hf_config: Mapping[str, Any], where: str = CONFIG_FILE) -> T5Config:
    """The :class:`T5Config` of a Hugging Face T5 ``config.json``.

    Raises:
        FlawnError: If it is not a T5 with T5 1.1's gated-GELU feed-forward
            block (original T5's ``relu``, or another activation, has other
            weights than flawn's model).
    """
    model_type = hf_config.get("model_type", "t5")
    if model_type not in ("t5", "mt5"):
        raise FlawnError(f"{where}: model_type {model_type!r} is not T5 (expected 't5' or 'mt5')")
    projection = hf_config.get("feed_forward_proj", "relu")
    if projection != "gated-gelu":
        raise FlawnError(
            f"{where}: feed_forward_proj is {projection!r}; flawn's model is T5 1.1 / Flan-T5, "
            "whose feed-forward block is 'gated-gelu' (original T5 checkpoints use 'relu' and "
            "cannot be loaded into it)"
        )
    try:
        layers = int(hf_config["num_layers"])
        return T5Config(
            vocab_size=int(hf_config["vocab_size"]),
            emb_dim=int(hf_config["d_model"]),
            num_heads=int(hf_config["num_heads"]),
            head_dim=int(hf_config["d_kv"]),
            mlp_dim=int(hf_config["d_ff"]),
            num_encoder_layers=layers,
            num_decoder_layers=int(hf_config.get("num_decoder_layers") or layers),
            relative_attention_num_buckets=int(hf_config.get("relative_attention_num_buckets", 32)),
            relative_attention_max_distance=int(
                hf_config.get("relative_attention_max_distance", 128)
            ),
            layer_norm_epsilon=float(hf_config.get("layer_norm_epsilon", 1e-6)),
        )
    except KeyError as err:
        raise FlawnError(f"{where}: {err.args[0]!r} is missing") from None
    except ValueError as err:
        raise FlawnError(f"{where}: {err}") from None


#: config.json's key for each T5Config field a checkpoint's arrays depend on.
_HF_KEYS = {
    "emb_dim": "d_model",
    "num_heads": "num_heads",
    "head_dim": "d_kv",
    "mlp_dim": "d_ff",
    "num_encoder_layers": "num_layers",
    "num_decoder_layers": "num_decoder_layers",
    "relative_attention_num_buckets": "relative_attention_num_buckets",
    "relative_attention_max_distance": "relative_attention_max_distance",
    "layer_norm_epsilon": "layer_norm_epsilon",
}


def config_differences(checkpoint: T5Config, model: T5Config) -> list[str]:
    """What differs between a checkpoint's shape and a model's, as ``config.json`` names it.

    ``vocab_size`` is left out: the vocabulary is checked on its own (a
    checkpoint may have more rows than a vocabulary needs).

    Returns:
        One line per field, e.g. ``d_model (emb_dim): checkpoint 768, model 512``.
    """
    lines = []
    for field, key in _HF_KEYS.items():
        have, want = getattr(checkpoint, field), getattr(model, field)
        if have != want:
            lines.append(f"{key} ({field}): checkpoint {have}, model {want}")
    return lines


def hf_config(model: T5Config, vocab_rows: int | None = None) -> dict[str, Any]:
    """The ``config.json`` of a ``T5ForConditionalGeneration`` with flawn's model's shape.

    Args:
        model: The model's shape.
        vocab_rows: Embedding rows (default ``model.vocab_size``).
    """
    return {
        "architectures": ["T5ForConditionalGeneration"],
        "model_type": "t5",
        "vocab_size": int(vocab_rows or model.vocab_size),
        "d_model": model.emb_dim,
        "d_kv": model.head_dim,
        "d_ff": model.mlp_dim,
        "num_heads": model.num_heads,
        "num_layers": model.num_encoder_layers,
        "num_decoder_layers": model.num_decoder_layers,
        "relative_attention_num_buckets": model.relative_attention_num_buckets,
        "relative_attention_max_distance": model.relative_attention_max_distance,
        "layer_norm_epsilon": model.layer_norm_epsilon,
        "dropout_rate": model.dropout_rate,
        "initializer_factor": 1.0,
        # T5 1.1: gated-GELU (tanh approximation, "gelu_new") and an untied, unscaled head.
        "feed_forward_proj": "gated-gelu",
        "dense_act_fn": "gelu_new",
        "is_gated_act": True,
        "tie_word_embeddings": False,
        "is_encoder_decoder": True,
        "use_cache": True,
        "pad_token_id": PAD_ID,
        "eos_token_id": EOS_ID,
        "decoder_start_token_id": DECODER_START_ID,
        "torch_dtype": "float32",
    }


def t5_config_from_params(params: Mapping[str, Any], like: T5Config | None = None) -> T5Config:
    """The shape of a parameter tree (what the arrays alone cannot tell comes from ``like``).

    The relative-position distance and the layer-norm epsilon are not in the
    arrays; they are ``like``'s, else T5 1.1's (128, 1e-6).
    """
    like = like or T5Config()
    try:
        encoder, decoder = params["encoder"], params["decoder"]
        vocab, emb = np.shape(params["token_embedder"]["embedding"])
        heads, buckets = np.shape(encoder["relpos_bias"]["rel_embedding"])
        inner = np.shape(encoder["layers_0"]["attention"]["query"]["kernel"])[-1]
        mlp = np.shape(encoder["layers_0"]["mlp"]["wi_0"]["kernel"])[-1]
    except (KeyError, TypeError, ValueError) as err:
        raise FlawnError(
            f"not a flawn/T5X T5 parameter tree (cannot read its shape: {err})"
        ) from None

    def depth(stack):
        return sum(1 for k in stack if re.fullmatch(r"layers_\d+", k))

    return T5Config(
        vocab_size=int(vocab),
        emb_dim=int(emb),
        num_heads=int(heads),
        head_dim=int(inner) // int(heads),
        mlp_dim=int(mlp),
        num_encoder_layers=depth(encoder),
        num_decoder_layers=depth(decoder),
        dropout_rate=like.dropout_rate,
        relative_attention_num_buckets=int(buckets),
        relative_attention_max_distance=like.relative_attention_max_distance,
        layer_norm_epsilon=like.layer_norm_epsilon,
    )


# -- reading -------------------------------------------------------------------------------------
def _weight_files(path: str) -> list[str]:
    """The safetensors files of a model folder: the index's shards, or the single file."""
    index = os.path.join(path, WEIGHTS_INDEX_FILE)
    if os.path.isfile(index):
        with open(index, encoding="utf-8") as f:
            weight_map = json.load(f).get("weight_map") or {}
        files = sorted(set(weight_map.values()))
        missing = [name for name in files if not os.path.isfile(os.path.join(path, name))]
        if missing:
            raise FlawnError(f"{index} names shard(s) that are not there: {', '.join(missing)}")
        return [os.path.join(path, name) for name in files]
    if os.path.isfile(os.path.join(path, WEIGHTS_FILE)):
        return [os.path.join(path, WEIGHTS_FILE)]
    found = sorted(name for name in os.listdir(path) if name.endswith(".safetensors"))
    if not found:
        raise FlawnError(f"{path}: no {WEIGHTS_FILE}, {WEIGHTS_INDEX_FILE} or *.safetensors file")
    return [os.path.join(path, name) for name in found]


def read_safetensors(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every tensor of a model folder's safetensors files, as numpy arrays in their stored dtype."""
    from safetensors import safe_open

    tensors: dict[str, np.ndarray] = {}
    for file in _weight_files(os.fspath(path)):
        try:
            with safe_open(file, framework="np") as f:
                for name in f.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                    tensors[name] = f.get_tensor(name)
        except Exception as err:  # safetensors raises its own SafetensorError and OSError
            raise FlawnError(f"{file}: cannot be read as safetensors ({err})") from err
    return tensors


def hf_to_flawn(
    tensors: Mapping[str, np.ndarray], hf: Mapping[str, Any], where: str = "the checkpoint"
) -> Params:
    """Maps a Hugging Face T5 state dict onto flawn's parameter tree (float32).

    Args:
        tensors: Name -> array, as in the safetensors files.
        hf: The model's ``config.json``.
        where: How errors name the checkpoint.

    Raises:
        FlawnError: Naming every parameter that is missing, unexpected or of
            the wrong shape for ``config.json``.
    """
    config = t5_config_from_hf(hf, f"{where}/{CONFIG_FILE}")
    table = name_table(config.num_encoder_layers, config.num_decoder_layers)
    expected = _hf_shapes(config)
    tensors = dict(tensors)
    if "shared.weight" not in tensors:
        # Some exports keep only a stack's copy of the shared embedding.
        for copy in _TIED_COPIES:
            if copy in tensors:
                tensors["shared.weight"] = tensors[copy]
                break
    if "lm_head.weight" not in tensors and _tied(hf) and "shared.weight" in tensors:
        tensors["lm_head.weight"] = tensors["shared.weight"]
    known = {hf_name for hf_name, _, _ in table}
    problems = [f"missing {name}" for name, _, _ in table if name not in tensors]
    problems += [
        f"unexpected {name}"
        for name in sorted(tensors)
        if name not in known and name not in _TIED_COPIES and name != _UNUSED
    ]
    problems += [
        f"{name}: shape {tuple(np.shape(tensors[name]))}, config.json says {expected[name]}"
        for name, _, _ in table
        if name in tensors and tuple(np.shape(tensors[name])) != expected[name]
    ]
    if problems:
        more = f"; ... ({len(problems)} in all)" if len(problems) > 8 else ""
        raise FlawnError(
            f"{where} does not hold the T5 its {CONFIG_FILE} describes: "
            + "; ".join(problems[:8])
            + more
        )
    flat = {
        path: _convert(np.asarray(tensors[hf_name], np.float32), how)
        for hf_name, path, how in table
    }
    if _scales_decoder_output(hf):
        # Original T5 scales the decoder output by d_model**-0.5 before its (tied) head; flawn's
        # head is unscaled, so the scale goes into its kernel.
        kernel = ("decoder", "logits_dense", "kernel")
        flat[kernel] = flat[kernel] * np.float32(config.emb_dim**-0.5)
    return _unflatten(flat)


def _hf_shapes(config: T5Config) -> dict[str, tuple[int, ...]]:
    """The shape of every Hugging Face array of a model (``[out, in]`` for linear weights)."""
    inner = config.num_heads * config.head_dim
    shapes = {}
    for hf_name, _, _ in name_table(config.num_encoder_layers, config.num_decoder_layers):
        if hf_name in ("shared.weight", "lm_head.weight"):
            shape = (config.vocab_size, config.emb_dim)
        elif hf_name.endswith("relative_attention_bias.weight"):
            shape = (config.relative_attention_num_buckets, config.num_heads)
        elif hf_name.endswith(".o.weight"):
            shape = (config.emb_dim, inner)
        elif re.search(r"\.[qkv]\.weight$", hf_name):
            shape = (inner, config.emb_dim)
        elif hf_name.endswith(".wo.weight"):
            shape = (config.emb_dim, config.mlp_dim)
        elif hf_name.endswith((".wi_0.weight", ".wi_1.weight")):
            shape = (config.mlp_dim, config.emb_dim)
        else:  # layer norms
            shape = (config.emb_dim,)
        shapes[hf_name] = shape
    return shapes


def read_hf_checkpoint(path: str | os.PathLike) -> tuple[Params, dict[str, Any]]:
    """Reads a Hugging Face T5 / Flan-T5 folder as flawn parameters.

    Args:
        path: A folder with ``config.json`` and ``model.safetensors`` (or
            sharded ``model-0000i-of-0000n.safetensors`` with their index).

    Returns:
        ``(params, config_json)``: float32 numpy arrays in flawn's (T5X's)
        names and shapes, and the folder's ``config.json``.

    Raises:
        FlawnError: If the folder is not a gated-GELU T5 or its arrays do not
            match its ``config.json``.
    """
    path = os.fspath(path)
    hf = read_hf_config(path)
    return hf_to_flawn(read_safetensors(path), hf, path), hf


# -- writing -------------------------------------------------------------------------------------
def flawn_to_hf(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The Hugging Face ``T5ForConditionalGeneration`` state dict of flawn parameters (float32)."""
    config = t5_config_from_params(params)
    flat = _flatten(params)
    table = name_table(config.num_encoder_layers, config.num_decoder_layers)
    missing = ["/".join(path) for _, path, _ in table if path not in flat]
    extra = sorted(set(flat) - {path for _, path, _ in table})
    if missing or extra:
        raise FlawnError(
            "not a flawn T5 parameter tree: "
            + "; ".join(
                [f"missing {m}" for m in missing[:5]]
                + [f"unexpected {'/'.join(e)}" for e in extra[:5]]
            )
        )
    return {
        hf_name: _convert(np.asarray(flat[path], np.float32), how) for hf_name, path, how in table
    }


def write_hf_checkpoint(
    params: Mapping[str, Any],
    out_dir: str | os.PathLike,
    model: T5Config | None = None,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
) -> dict[str, Any]:
    """Writes flawn parameters as a Hugging Face T5 folder ``transformers`` loads.

    Writes ``config.json`` (``T5ForConditionalGeneration``, gated-GELU, untied
    head, ``decoder_start_token_id`` 0, ``pad_token_id`` 0, ``eos_token_id``
    1), ``generation_config.json``, and ``model.safetensors``, or shards of
    at most ``max_shard_bytes`` with ``model.safetensors.index.json`` as
    ``save_pretrained`` writes them. ``config.json`` is written last.

    Args:
        params: flawn / T5X parameters.
        out_dir: The folder (created; must not hold a model already).
        model: The model's shape; what the arrays do not tell (epsilon,
            relative-position distance, dropout) comes from it.
        max_shard_bytes: Largest shard.

    Returns:
        The ``config.json`` written.

    Raises:
        FlawnError: If ``out_dir`` already holds a model.
    """
    from safetensors.numpy import save_file

    out = os.fspath(out_dir)
    if os.path.exists(os.path.join(out, CONFIG_FILE)) or (
        os.path.isdir(out) and any(n.endswith(".safetensors") for n in os.listdir(out))
    ):
        raise FlawnError(f"{out} already holds a model; remove it or choose another folder")
    os.makedirs(out, exist_ok=True)
    shape = t5_config_from_params(params, model)
    tensors = flawn_to_hf(params)
    shards: list[dict[str, np.ndarray]] = [{}]
    size = 0
    for name, array in tensors.items():
        if shards[-1] and size + array.nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = array
        size += array.nbytes
    # transformers refuses safetensors files without this metadata entry.
    metadata = {"format": "pt"}
    if len(shards) == 1:
        save_file(shards[0], os.path.join(out, WEIGHTS_FILE), metadata=metadata)
    else:
        weight_map = {}
        for number, shard in enumerate(shards, 1):
            name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, os.path.join(out, name), metadata=metadata)
            weight_map.update(dict.fromkeys(shard, name))
        total = sum(a.nbytes for a in tensors.values())
        _write_json(
            os.path.join(out, WEIGHTS_INDEX_FILE),
            {"metadata": {"total_size": total}, "weight_map": weight_map},
        )
    _write_json(
        os.path.join(out, GENERATION_CONFIG_FILE),
        {
            "decoder_start_token_id": DECODER_START_ID,
            "eos_token_id": EOS_ID,
            "pad_token_id": PAD_ID,
        },
    )
    config = hf_config(shape)
    _write_json(os.path.join(out, CONFIG_FILE), config)
    return config


def write_hf_tokenizer(
    out_dir: str | os.PathLike, sentencepiece_model: str, extra_ids: int
) -> None:
    """Writes a SentencePiece vocabulary as ``T5Tokenizer`` reads it: ``spiece.model`` + config.

    flawn's vocabularies follow T5's layout (pad 0, eos 1, unk 2, sentinels
    ``<extra_id_0>`` at the top), which is what ``T5Tokenizer`` assumes, so
    it produces the ids seqio does (plus the EOS it appends).
    """
    import shutil

    out = os.fspath(out_dir)
    shutil.copyfile(sentencepiece_model, os.path.join(out, TOKENIZER_MODEL_FILE))
    _write_json(
        os.path.join(out, TOKENIZER_CONFIG_FILE),
        {
            "tokenizer_class": "T5Tokenizer",
            "extra_ids": int(extra_ids),
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "pad_token": "<pad>",
        },
    )


def write_provenance(out_dir: str | os.PathLike, record: Mapping[str, Any]) -> None:
    """Records what an export was made from (``flawn_export.json``; transformers ignores it)."""
    from flawn import __version__

    _write_json(
        os.path.join(os.fspath(out_dir), PROVENANCE_FILE),
        {**record, "flawn_version": __version__},
    )


# -- helpers -------------------------------------------------------------------------------------
def _write_json(path: str, value: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
