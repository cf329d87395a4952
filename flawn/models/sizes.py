"""Model sizes as data: the one table the local and the T5X backends both read.

Each ``gin/models/<size>.gin`` names one entry of :data:`SIZES`; the local
backend builds its :class:`~flawn.models.config.T5Config` from the entry and
the T5X backend maps the same entry onto T5X's ``network.T5Config``. The T5
1.1 shapes are those of T5X's ``t5x/examples/t5/t5_1_1/<size>.gin``; Flan-T5
has the same shapes (and vocabulary), only its checkpoints differ.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping

import gin

from flawn.errors import ConfigError
from flawn.models.config import T5Config

#: The T5 / Flan-T5 SentencePiece vocabulary: 32,000 pieces + 100 sentinels, padded to 128s.
T5_VOCAB_SIZE = 32128

#: The public vocabulary of T5 1.1 and Flan-T5 as flawn loads it: 32,000 pieces, then its 100
#: sentinels as extra ids (T5X's ``cc_all.32000.100extra`` holds the sentinels as pieces, so
#: with flawn's 100 extra ids it would give 32,200 ids).
T5_VOCABULARY_GCS = "gs://t5-data/vocabs/cc_all.32000/sentencepiece.model"

#: Model families: where a size's default initial checkpoint comes from.
FAMILIES = ("flawn", "t5_1_1", "flan_t5")

_T5_1_1_STEP = 1_000_000
_FLAN_T5_STEPS = {
    "small": 1_198_000,
    "base": 1_184_000,
    "large": 1_164_000,
    "xl": 1_138_000,
    "xxl": 1_114_000,
}


@dataclasses.dataclass(frozen=True)
class ModelSize:
    """One model size.

    Attributes:
        name: What users pass (``gin/models/<name>.gin``).
        shape: ``emb_dim``, ``num_heads``, ``head_dim``, ``mlp_dim``,
            ``num_encoder_layers`` and ``num_decoder_layers``.
        vocab_size: Embedding rows; ``0`` sizes them from the task's vocabulary
            (the CPU sizes, trained from scratch on the sample vocabulary).
        family: ``flawn`` (CPU sizes, no public checkpoint), ``t5_1_1`` or ``flan_t5``.
        base_size: The T5 1.1 size whose shape this is (``small`` ... ``xxl``),
            or ``None`` for the CPU sizes.
        num_partitions: Model-parallel partitions T5X uses on a TPU pod slice
            (1 = data parallel only).
        description: One line for listings.
    """

    name: str
    shape: Mapping[str, int]
    vocab_size: int = 0
    family: str = "flawn"
    base_size: str | None = None
    num_partitions: int = 1
    description: str = ""

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"ModelSize.family must be one of {FAMILIES}, got {self.family!r}")
        missing = set(_SHAPE_KEYS) - set(self.shape)
        if missing:
            raise ValueError(f"size {self.name}: shape lacks {sorted(missing)}")
        if self.num_partitions < 1:
            raise ValueError(f"size {self.name}: num_partitions must be >= 1")

    def t5_config(self, dropout_rate: float = 0.0, dtype: str = "float32") -> T5Config:
        """The local model's configuration of this size."""
        return T5Config(
            vocab_size=self.vocab_size,
            dropout_rate=dropout_rate,
            dtype=dtype,
            **dict(self.shape),
        )

    def initial_checkpoint(self, family: str | None = None) -> str | None:
        """The public T5X checkpoint of this shape (``None`` for the CPU sizes).

        Args:
            family: ``t5_1_1`` or ``flan_t5``; defaults to the size's own family.
        """
        family = family or self.family
        if self.base_size is None or family == "flawn":
            return None
        if family == "t5_1_1":
            return (
                f"gs://t5-data/pretrained_models/t5x/t5_1_1_{self.base_size}/"
                f"checkpoint_{_T5_1_1_STEP}"
            )
        if family == "flan_t5":
            step = _FLAN_T5_STEPS[self.base_size]
            return f"gs://t5-data/pretrained_models/t5x/flan_t5_{self.base_size}/checkpoint_{step}"
        raise ConfigError(f"unknown model family {family!r}; use one of {FAMILIES}")


_SHAPE_KEYS = (
    "emb_dim",
    "num_heads",
    "head_dim",
    "mlp_dim",
    "num_encoder_layers",
    "num_decoder_layers",
)


def _shape(emb, heads, head_dim, mlp, layers_enc, layers_dec) -> dict[str, int]:
    return dict(zip(_SHAPE_KEYS, (emb, heads, head_dim, mlp, layers_enc, layers_dec), strict=True))


_T5_SHAPES = {
    # name: (emb, heads, head_dim, mlp, enc, dec, partitions on a pod slice)
    "small": (512, 6, 64, 1024, 8, 8, 1),
    "base": (768, 12, 64, 2048, 12, 12, 1),
    "large": (1024, 16, 64, 2816, 24, 24, 1),
    "xl": (2048, 32, 64, 5120, 24, 24, 4),
    "xxl": (4096, 64, 64, 10240, 24, 24, 8),
}


def _build_table() -> dict[str, ModelSize]:
    table = {
        "tiny": ModelSize(
            "tiny",
            _shape(128, 4, 32, 256, 2, 2),
            description="CPU demo and tests (~0.5M parameters plus embeddings)",
        ),
        "mini": ModelSize(
            "mini",
            _shape(256, 4, 64, 512, 4, 4),
            description="CPU: T5 1.1 small's head width and mlp ratio at half width and depth",
        ),
    }
    for name, (*dims, partitions) in _T5_SHAPES.items():
        table[name] = ModelSize(
            name,
            _shape(*dims),
            T5_VOCAB_SIZE,
            "t5_1_1",
            name,
            partitions,
            f"T5 1.1 {name}",
        )
        table[f"flan_t5_{name}"] = ModelSize(
            f"flan_t5_{name}",
            _shape(*dims),
            T5_VOCAB_SIZE,
            "flan_t5",
            name,
            partitions,
            f"Flan-T5 {name} (T5 1.1 {name} shape)",
        )
    return table


#: Every size flawn knows, by name.
SIZES: dict[str, ModelSize] = _build_table()


def get_size(name: str) -> ModelSize:
    """Returns a size by name.

    Raises:
        ConfigError: If there is no such size; the message suggests the nearest names.
    """
    try:
        return SIZES[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(SIZES), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ConfigError(
            f"unknown model size {name!r}{hint} (known: {', '.join(SIZES)})"
        ) from None


@gin.configurable
def sized_t5_config(
    size: str = gin.REQUIRED,
    dropout_rate: float = 0.0,
    dtype: str = "float32",
    vocab_size: int | None = None,
) -> T5Config:
    """The local model's configuration for a named size (what ``gin/models/*.gin`` bind).

    Args:
        size: A name in :data:`SIZES`.
        dropout_rate: Dropout on the residual stream during training.
        dtype: Activation dtype.
        vocab_size: Overrides the size's vocabulary rows (``0``: from the task's vocabulary).
    """
    config = get_size(size).t5_config(dropout_rate, dtype)
    if vocab_size is not None:
        config = dataclasses.replace(config, vocab_size=vocab_size)
    return config
