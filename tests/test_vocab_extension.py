"""LaWGPT's legal vocabulary: extending a SentencePiece model, resizing checkpoints, the regime.

Everything runs on the bundled sample vocabulary and a word list the tests
write; the LaWGPT and LawBench files under ``../shared/data`` are used where
present (skipped with the reason otherwise).
"""

import glob
import json
import os
import pathlib
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as model_pb2

from flawn import paths
from flawn.errors import ConfigError, FlawnError
from flawn.models.config import T5Config
from flawn.models.decoding import greedy_decode
from flawn.models.resize import VocabularyResize, padded_rows, resize_params
from flawn.models.t5 import Transformer
from flawn.tokenizer.extension import (
    BASE_FILE,
    WORD_BOUNDARY,
    check_extension,
    extend_vocabulary,
    load_extension,
    pieces_from_corpus,
)
from flawn.tokenizer.lengths import format_lengths, measure_lengths, read_texts
from flawn.vocab import load_vocabulary

BASE = str(paths.SAMPLE_VOCAB)

#: Terms in the languages of the sample data (which the sample vocabulary splits into
#: several pieces), Chinese ones (bytes for the sample vocabulary), a full-width one.
TERMS = [
    "Schiedsgericht",
    "Gerichtsstand",
    "arbitration",
    "subcontractor",
    "案件受理费",
    "受理费",
    "不可抗力",
    "（刑法）",
]

LEGAL_TEXT = [
    "The subcontractor shall not be liable for indemnification under the arbitration clause.",
    "Das Schiedsgericht bestimmt den Gerichtsstand; confidentiality applies to all parties.",
    "本案件受理费由被告负担。因不可抗力不能履行合同的，根据（刑法）规定。",
]


def _pieces(processor, text):
    """Pieces of ``text``, without the word-boundary piece SentencePiece puts before it."""
    pieces = processor.encode(text, out_type=str)
    return pieces[1:] if pieces and pieces[0] == WORD_BOUNDARY else pieces


@pytest.fixture(scope="module")
def extension(tmp_path_factory):
    return extend_vocabulary(BASE, tmp_path_factory.mktemp("vocab"), TERMS)


# -- the extended vocabulary ---------------------------------------------------------------------
def test_every_old_id_keeps_its_piece_and_each_term_becomes_one_piece(extension):
    old = spm.SentencePieceProcessor(model_file=BASE)
    new = spm.SentencePieceProcessor(model_file=extension.model)
    assert new.get_piece_size() == old.get_piece_size() + len(TERMS)
    assert [new.id_to_piece(i) for i in range(old.get_piece_size())] == [
        old.id_to_piece(i) for i in range(old.get_piece_size())
    ]
    assert extension.added == tuple(TERMS)
    for term in TERMS:
        assert len(_pieces(old, term)) > 1, term  # the test is about terms that were split
        assert _pieces(new, term) == [term]
    # Inside running text too; user-defined pieces are not normalised (NFKC turns the
    # full-width comma into ',' but keeps the term's full-width brackets).
    ids = new.encode(LEGAL_TEXT[2])
    assert new.piece_to_id("案件受理费") in ids and new.piece_to_id("（刑法）") in ids
    assert new.decode(ids) == LEGAL_TEXT[2].replace("，", ",")


def test_the_sentinels_stay_the_last_ids_and_move_up_by_the_new_pieces(extension):
    base = load_vocabulary(BASE)
    extended = load_vocabulary(extension.model)
    added = len(TERMS)
    assert extended.vocab_size == base.vocab_size + added == extension.size
    assert extension.sentinel_ids()[0] == (base.vocab_size - 1, extended.vocab_size - 1)
    for old_id, new_id in extension.sentinel_ids():
        assert new_id == old_id + added
        assert extended.tokenizer.id_to_piece(new_id) == base.tokenizer.id_to_piece(old_id)
    assert extended.tokenizer.id_to_piece(extended.vocab_size - 1) == "▁<extra_id_0>"
    assert extension.new_id(5) == 5
    with pytest.raises(ValueError, match="not in the base vocabulary"):
        extension.new_id(base.vocab_size)


def test_an_extension_folder_is_read_back_and_moves_with_its_base(extension, tmp_path):
    import shutil

    folder = os.path.dirname(extension.model)
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    again = load_extension(moved)
    assert again.added == extension.added
    assert again.model == str(moved / "extended.model")
    assert again.base_model == str(moved / BASE_FILE)
    assert again.sub_pieces() == extension.sub_pieces()
    (moved / "extended.model").write_bytes(b"x" + (moved / "extended.model").read_bytes())
    with pytest.raises(FlawnError, match="SHA-256 differs"):
        load_extension(moved)


def test_terms_that_cannot_become_new_pieces_are_skipped_and_counted(tmp_path):
    old = spm.SentencePieceProcessor(model_file=BASE)
    existing = next(
        old.id_to_piece(i)
        for i in range(3, old.get_piece_size())
        if old.is_unknown(i) is False
        and not old.is_byte(i)
        and not old.id_to_piece(i).startswith(WORD_BOUNDARY)
        and len(old.id_to_piece(i)) > 1
    )
    # "indemnification" is not a piece, but "▁indemnification" is.
    terms = ["arbitration", existing, "arbitration", "two words", "<extra_id_7>", "indemnification"]
    extension = extend_vocabulary(BASE, tmp_path, terms)
    assert extension.added == ("arbitration",)
    assert extension.skipped == {
        "already a piece of the base": 1,
        "already a piece of the base as a word": 1,
        "duplicate": 1,
        "contains whitespace": 1,
        "looks like a sentinel": 1,
    }
    with pytest.raises(FlawnError, match="no new pieces"):
        extend_vocabulary(BASE, tmp_path / "none", [existing])


def test_terms_added_as_words_are_one_piece_after_a_space(tmp_path):
    english = ["arbitration", "subcontractor", "Schiedsgericht", "indemnification"]
    as_is = extend_vocabulary(BASE, tmp_path / "as_is", english)
    words = extend_vocabulary(BASE, tmp_path / "words", english, word_start=True)
    assert words.added == ("▁arbitration", "▁subcontractor", "▁Schiedsgericht")
    assert words.skipped == {"already a piece of the base": 1}
    new = spm.SentencePieceProcessor(model_file=words.model)
    assert new.encode("the arbitration", out_type=str) == ["▁the", "▁arbitration"]
    text = LEGAL_TEXT[:2]
    assert (
        measure_lengths(text, BASE, words.model, "w").tokens_after
        < measure_lengths(text, BASE, as_is.model, "a").tokens_after
    )


def test_normal_pieces_are_stored_normalised_and_chosen_by_the_unigram_model(tmp_path):
    chinese = [t for t in TERMS if not t.isascii()]
    extension = extend_vocabulary(BASE, tmp_path, chinese, kind="normal")
    new = spm.SentencePieceProcessor(model_file=extension.model)
    # NFKC turns the full-width brackets into ASCII ones; the piece is stored that way.
    assert "(刑法)" in extension.added and "（刑法）" not in extension.added
    pieces = new.encode(LEGAL_TEXT[2], out_type=str)
    assert {"案件受理费", "不可抗力", "(刑法)"} <= set(pieces)
    # Each new piece is scored so that it replaces the split the base would choose, the
    # longest first: "案件受理费", not the bytes of "案件" and then "受理费".
    assert "受理费" not in pieces
    # Words of a language with spaces are pieces with their word boundary.
    words = extend_vocabulary(BASE, tmp_path / "w", TERMS[:4], kind="normal", word_start=True)
    new = spm.SentencePieceProcessor(model_file=words.model)
    assert new.encode("das Schiedsgericht", out_type=str)[-1] == "▁Schiedsgericht"
    check_extension(extension)


def test_pieces_learned_on_a_corpus_are_new_and_shorten_it(tmp_path):
    corpus = [
        text
        for path in sorted(glob.glob(str(paths.SAMPLE_DATA_DIR / "flan" / "*")))
        for text in _gz_texts(path)
    ][:400]
    learned = pieces_from_corpus(corpus, 50, BASE)
    assert 0 < len(learned) <= 50
    known = {p.piece for p in _model(BASE).pieces}
    assert not set(learned) & known
    assert learned == pieces_from_corpus(corpus, 50, BASE)  # reproducible
    extension = extend_vocabulary(BASE, tmp_path, corpus_pieces=learned, kind="normal")
    assert extension.origins == {"corpus": len(learned)}
    lengths = measure_lengths(corpus, BASE, extension.model, "flan sample")
    assert lengths.tokens_after < lengths.tokens_before


def _gz_texts(path):
    import gzip

    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [" ".join([r["inputs"], r["targets"]]) for r in map(json.loads, f)]


def _model(path):
    proto = model_pb2.ModelProto()
    with open(path, "rb") as f:
        proto.ParseFromString(f.read())
    return proto


def test_a_model_holding_its_sentinels_gets_the_new_pieces_before_them(tmp_path):
    proto = _model(BASE)
    pieces = proto.pieces
    for i in reversed(range(3)):
        pieces.add(piece=f"<extra_id_{i}>", score=0.0)
        pieces[-1].type = model_pb2.ModelProto.SentencePiece.USER_DEFINED
    base = tmp_path / "with_sentinels.model"
    base.write_bytes(proto.SerializeToString())
    extension = extend_vocabulary(base, tmp_path / "out", TERMS[:2], extra_ids=0)
    new = spm.SentencePieceProcessor(model_file=extension.model)
    assert extension.first_added == len(proto.pieces) - 3
    assert new.id_to_piece(new.get_piece_size() - 1) == "<extra_id_0>"
    assert new.id_to_piece(extension.first_added) == TERMS[0]
    assert extension.sentinel_ids() == [
        (len(proto.pieces) - 1 - i, len(proto.pieces) + 1 - i) for i in range(3)
    ]


# -- token lengths -------------------------------------------------------------------------------
def test_legal_text_takes_fewer_tokens_after_the_extension(extension, tmp_path):
    lengths = measure_lengths(LEGAL_TEXT, BASE, extension.model, "test text")
    assert lengths.examples == 3 and lengths.characters == sum(map(len, LEGAL_TEXT))
    assert lengths.tokens_after < lengths.tokens_before
    assert lengths.per_character(True) < lengths.per_character(False)
    assert 0 < lengths.reduction < 1
    table = format_lengths([lengths, lengths])
    assert "| all " in table and "fewer tokens" in table


def test_texts_are_read_from_json_arrays_json_lines_and_text(tmp_path):
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"instruction": "问", "input": "", "output": "答", "n": 1}]))
    lines = tmp_path / "b.json"
    lines.write_text('{"input": "x"}\n\n{"input": "y"}\n')
    text = tmp_path / "c.txt"
    text.write_text("one\n\ntwo\n")
    assert read_texts(array) == ["问\n答"]
    assert read_texts(lines) == ["x", "y"]
    assert read_texts(text) == ["one", "two"]
    bad = tmp_path / "d.jsonl"
    bad.write_text('{"input": "x"}\nnot json\n')
    with pytest.raises(FlawnError, match=r"d\.jsonl:2: not JSON"):
        read_texts(bad)


# -- resizing a checkpoint -----------------------------------------------------------------------
SMALL = dict(
    emb_dim=32, num_heads=2, head_dim=8, mlp_dim=64, num_encoder_layers=2, num_decoder_layers=2
)


def _random_params(rows, seed=0):
    model = Transformer(T5Config(vocab_size=rows, **SMALL))
    variables = jax.jit(model.init)(
        jax.random.PRNGKey(seed), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )
    rng = np.random.default_rng(seed)
    # Larger weights than the initialiser's make the greedy decodes vary.
    return jax.tree.map(
        lambda a: np.asarray(a) * 3 + rng.normal(size=a.shape).astype(np.float32) * 0.3,
        variables["params"],
    )


@pytest.fixture(scope="module")
def resized(extension):
    old_rows = padded_rows(extension.base_size)
    params = _random_params(old_rows)
    plan = extension.resize_plan()
    return params, plan, resize_params(params, plan)


def test_new_rows_are_the_mean_of_their_pieces_and_old_rows_move_unchanged(extension, resized):
    params, plan, new = resized
    old_emb = params["token_embedder"]["embedding"]
    new_emb = new["token_embedder"]["embedding"]
    old_out = params["decoder"]["logits_dense"]["kernel"]
    new_out = new["decoder"]["logits_dense"]["kernel"]
    assert new_emb.shape == (padded_rows(extension.size), 32)
    assert new_out.shape == (32, padded_rows(extension.size))
    moved = plan.new_ids()
    np.testing.assert_array_equal(new_emb[moved], old_emb[: extension.base_size])
    np.testing.assert_array_equal(new_out[:, moved], old_out[:, : extension.base_size])
    for offset, ids in enumerate(extension.sub_pieces()):
        row = extension.first_added + offset
        assert len(ids) > 1
        np.testing.assert_allclose(new_emb[row], old_emb[ids].mean(axis=0), atol=1e-6)
        np.testing.assert_allclose(new_out[:, row], old_out[:, ids].mean(axis=1), atol=1e-6)
    # Every other parameter is untouched.
    assert new["encoder"] is params["encoder"] or jax.tree.all(
        jax.tree.map(np.array_equal, new["encoder"], params["encoder"])
    )


def test_a_resized_model_gives_the_same_logits_and_decodes_on_text_without_new_pieces(
    extension, resized
):
    params, plan, new = resized
    old_model = Transformer(T5Config(vocab_size=padded_rows(extension.base_size), **SMALL))
    new_model = Transformer(T5Config(vocab_size=padded_rows(extension.size), **SMALL))
    vocabulary = load_vocabulary(BASE)
    texts = ["The court held that the contract was void.", "Die Klage wird abgewiesen."]
    rows = [[*vocabulary.encode(t)[:14], 1] for t in texts]
    # A span-corruption input: sentinels move, the other ids do not.
    sentinel = extension.base_size - 1
    rows.append([5, 6, sentinel, 9, sentinel - 1, 12, 1])
    old_in = np.zeros((len(rows), 16), np.int32)
    for i, r in enumerate(rows):
        old_in[i, : len(r)] = r
    new_in = np.where(old_in > 0, plan.new_ids()[old_in], 0)
    assert (new_in[2] != old_in[2]).sum() == 2
    dec_old = np.array([[0, 7, sentinel, 8]] * len(rows), np.int32)
    dec_new = plan.new_ids()[dec_old]
    old_logits = np.asarray(old_model.apply({"params": params}, old_in, dec_old))
    new_logits = np.asarray(new_model.apply({"params": new}, new_in, dec_new))
    np.testing.assert_allclose(
        new_logits[..., plan.new_ids()],
        old_logits[..., : extension.base_size],
        rtol=1e-5,
        atol=1e-5,
    )
    old_ids = np.asarray(greedy_decode(old_model, {"params": params}, jnp.asarray(old_in), 12))
    new_ids = np.asarray(greedy_decode(new_model, {"params": new}, jnp.asarray(new_in), 12))
    assert len(set(old_ids.flatten().tolist())) > 3  # the decodes say something
    assert (old_ids < extension.base_size).all()
    np.testing.assert_array_equal(new_ids, np.where(old_ids > 0, plan.new_ids()[old_ids], 0))


def test_padding_rows_are_kept_and_extra_ones_cannot_outscore_the_vocabulary():
    plan = VocabularyResize(old_size=5, first_moved=3, sources=((0, 1), (2,)))
    array = np.arange(8 * 2, dtype=np.float32).reshape(8, 2)  # 3 padding rows
    out = resize_params({"token_embedder": {"embedding": array}}, plan, rows=10)
    emb = out["token_embedder"]["embedding"]
    np.testing.assert_array_equal(emb[[0, 1, 2, 5, 6]], array[:5])
    np.testing.assert_array_equal(emb[3], array[[0, 1]].mean(axis=0))
    np.testing.assert_array_equal(emb[4], array[2])
    np.testing.assert_array_equal(emb[7:10], array[5:8])
    out = resize_params({"token_embedder": {"embedding": array}}, plan, rows=12)
    np.testing.assert_array_equal(out["token_embedder"]["embedding"][10:], [array[:5].mean(0)] * 2)
    with pytest.raises(FlawnError, match="fewer than the base vocabulary"):
        resize_params({"token_embedder": {"embedding": array[:4]}}, plan)
    with pytest.raises(FlawnError, match="cannot hold"):
        resize_params({"token_embedder": {"embedding": array}}, plan, rows=6)


def test_a_checkpoint_is_written_resized_as_a_hugging_face_folder(extension, resized, tmp_path):
    from flawn.models import hf
    from flawn.train.checkpoints import read_checkpoint
    from flawn.train.resized_checkpoint import fit_to_extension, resize_checkpoint

    params, _, new = resized
    source = tmp_path / "base"
    hf.write_hf_checkpoint(params, source, T5Config(**SMALL))
    summary = resize_checkpoint(source, tmp_path / "resized", extension)
    assert summary["rows_before"] == padded_rows(extension.base_size)
    assert summary["rows_after"] == padded_rows(extension.size)
    loaded = read_checkpoint(tmp_path / "resized")
    for key in ("embedding",):
        np.testing.assert_array_equal(
            loaded.params["token_embedder"][key], new["token_embedder"][key]
        )
    spiece = (tmp_path / "resized" / "spiece.model").read_bytes()
    assert spiece == pathlib.Path(extension.model).read_bytes()
    # A folder resized to this extension is used as it is; to another, refused.
    assert fit_to_extension(loaded, extension) is loaded
    other = extend_vocabulary(BASE, tmp_path / "other", ["arbitration"])
    with pytest.raises(FlawnError, match="another extended vocabulary"):
        fit_to_extension(loaded, other)
    with pytest.raises(FlawnError, match="resized already"):
        resize_checkpoint(tmp_path / "resized", tmp_path / "twice", extension)
    # Without the record, a checkpoint with more rows than the base needs is not resized.
    wide = _random_params(padded_rows(extension.base_size) + 128)
    hf.write_hf_checkpoint(wide, tmp_path / "unmarked", T5Config(**SMALL))
    with pytest.raises(FlawnError, match="more than the base vocabulary's"):
        fit_to_extension(read_checkpoint(tmp_path / "unmarked"), extension)


# -- the CLI -------------------------------------------------------------------------------------
def test_the_cli_extends_reports_and_resizes(resized, tmp_path, capsys):
    from flawn.cli import main
    from flawn.models import hf

    terms = tmp_path / "terms.txt"
    terms.write_text("\n".join(TERMS) + "\n", encoding="utf-8")
    texts = tmp_path / "texts.jsonl"
    texts.write_text("".join(json.dumps({"text": t}) + "\n" for t in LEGAL_TEXT))
    params, _, _ = resized
    hf.write_hf_checkpoint(params, tmp_path / "ckpt", T5Config(**SMALL))
    code = main(
        [
            "model",
            "extend-vocab",
            "--vocab",
            BASE,
            "--terms",
            str(terms),
            "--out",
            str(tmp_path / "vocab"),
            "--measure",
            str(texts),
            "--checkpoint",
            str(tmp_path / "ckpt"),
            "--out-checkpoint",
            str(tmp_path / "out"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert f"{len(TERMS)} new user_defined pieces" in out
    assert f"sentinels moved: <extra_id_0> 1251 -> {1251 + len(TERMS)}" in out
    assert "texts.jsonl" in out and "fewer tokens" in out
    assert f"vocabulary rows 1280 -> {padded_rows(1252 + len(TERMS))}" in out
    assert (tmp_path / "out" / "config.json").exists()


# -- the lawgpt regime ---------------------------------------------------------------------------
MACROS = {
    "TASK_FEATURE_LENGTHS": {"inputs": 144, "targets": 16},
    "TRAIN_STEPS": 2,
    "BATCH_SIZE": 4,
    "PRETRAIN_MIXTURE": "multilegalpile.sample",
    "PRETRAIN_STEPS": 2,
}


def _resolve(size="tiny", **macros):
    import flawn.tasks  # noqa: F401
    from flawn.sweeps.spec import Sweep, SweepPoint, resolve_run

    sweep = Sweep(
        name="v",
        mixtures=["demo.legal"],
        baseline_mixture="demo.legal",
        regimes=["lawgpt"],
        sizes=[size],
        macros={**MACROS, **macros},
    )
    return resolve_run(
        sweep,
        SweepPoint({"mixture": "demo.legal", "size": size, "regime": "lawgpt", "seed": 0}, {}),
    )


@pytest.fixture
def terms_file(tmp_path):
    path = tmp_path / "legal_vocab.txt"
    path.write_text("\n".join(TERMS) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def forget_variants():
    """Removes the task and mixture variants a test registers."""
    from flawn.mixtures.vocabulary import unregister_variants

    tags = []
    yield tags.append
    for tag in tags:
        unregister_variants(tag)


def test_the_lawgpt_regime_binds_the_extended_vocabulary_into_every_stage(
    terms_file, forget_variants
):
    import seqio

    from flawn.runs.vocabulary import VocabularyRecipe
    from flawn.sweeps.planning import _stage_settings

    plain = _resolve()
    assert plain.vocabulary is None
    assert "extended_mixture" not in plain.stages[0].gin
    spec = _resolve(LEGAL_VOCABULARY=str(terms_file))
    recipe = VocabularyRecipe.from_json(spec.vocabulary)
    forget_variants(recipe.tag)
    assert recipe.terms == str(terms_file) and recipe.base_model == BASE
    assert spec.run_id != plain.run_id
    for stage in spec.stages:
        assert "TrainConfig.mixture_or_task_name = @extended_mixture()" in stage.gin
        assert f"extended_mixture.name = '{stage.mixture}'" in stage.gin
    # Planning builds the stage's config: the variant tokenizes with the extended vocabulary.
    settings = _stage_settings(spec.stages[1].gin, spec.stages[1].mixture)
    assert settings.vocab_size == padded_rows(1252 + len(TERMS))
    variant = seqio.get_mixture_or_task(f"{recipe.tag}:demo.legal")
    task = variant.tasks[0]
    assert task.name.startswith(f"{recipe.tag}:sample_lawinstruct.")
    assert task.output_features["targets"].vocabulary.vocab_size == 1252 + len(TERMS)
    # Unregistering a tag removes its variants from seqio and from flawn's own records.
    from flawn.errors import RegistryError
    from flawn.mixtures.registry import get_mixture_spec
    from flawn.mixtures.vocabulary import unregister_variants
    from flawn.tasks.metadata import task_metadata

    get_mixture_spec(variant.name), task_metadata(task.name)  # both recorded
    removed = unregister_variants(recipe.tag)
    assert variant.name in removed and task.name in removed
    assert variant.name not in seqio.MixtureRegistry.names()
    with pytest.raises(RegistryError):
        get_mixture_spec(variant.name)
    with pytest.raises(RegistryError):
        task_metadata(task.name)
    # Another word list is another run; a T5 size is sized from the extended vocabulary.
    terms_file.write_text("arbitration\n", encoding="utf-8")
    assert _resolve(LEGAL_VOCABULARY=str(terms_file)).run_id != spec.run_id
    t5 = _resolve(size="small", LEGAL_VOCABULARY=str(terms_file), INIT="scratch")
    assert "sized_t5_config.vocab_size = 0" in t5.stages[0].gin
    assert t5.model["vocab_size"] == 0


def test_a_missing_word_list_or_a_bad_option_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"vocabulary_extension\['terms'\].*is not a file"):
        _resolve(LEGAL_VOCABULARY=str(tmp_path / "missing.txt"))
    with pytest.raises(ConfigError, match="needs a 'corpus'"):
        _resolve(LEGAL_VOCABULARY_PIECES=10)


def test_the_first_stage_starts_from_the_base_checkpoint_resized(
    terms_file, tmp_path, forget_variants
):
    from flawn.models import hf
    from flawn.models.sizes import get_size
    from flawn.runs import RunDir
    from flawn.runs.vocabulary import VocabularyRecipe
    from flawn.train.backend import LocalBackend, check_initial_params
    from flawn.train.checkpoints import read_checkpoint
    from flawn.train.config import load_train_config

    tiny = get_size("tiny").t5_config().with_vocab_size(1252)
    model = Transformer(tiny)
    params = model.init(
        jax.random.PRNGKey(0), jnp.ones((1, 8), jnp.int32), jnp.ones((1, 4), jnp.int32)
    )["params"]
    hf.write_hf_checkpoint(jax.tree.map(np.asarray, params), tmp_path / "init", tiny)
    spec = _resolve(LEGAL_VOCABULARY=str(terms_file), INIT=str(tmp_path / "init"))
    forget_variants(VocabularyRecipe.from_json(spec.vocabulary).tag)
    assert spec.stages[0].init == str(tmp_path / "init")
    run_dir = RunDir(tmp_path / "run")
    backend = LocalBackend()
    backend.validate(spec)
    run_dir.write_spec(spec.to_json())
    backend.prepare(spec, run_dir)
    extension = load_extension(run_dir.vocab_dir)
    assert extension.added == tuple(TERMS)
    loaded = read_checkpoint(tmp_path / "init")
    fitted = backend._fit_vocabulary(spec, run_dir, loaded, "stage pretrain")
    config = load_train_config(run_dir.stage("pretrain"))
    assert config.mixture_or_task_name.startswith("vocab_")
    checked = check_initial_params(fitted, config, "here")
    expected = resize_params(loaded.params, extension.resize_plan())
    np.testing.assert_array_equal(
        checked["token_embedder"]["embedding"], expected["token_embedder"]["embedding"]
    )


@pytest.mark.slow
def test_the_lawgpt_regime_trains_both_stages_with_the_extended_vocabulary(
    terms_file, tmp_path, forget_variants
):
    from flawn.runs.vocabulary import VocabularyRecipe
    from flawn.train.backend import LocalBackend
    from flawn.train.checkpoints import read_checkpoint
    from flawn.train.resized_checkpoint import fit_to_extension
    from flawn.train.standalone import train_regime_from_gin

    bindings = [f"{k} = {v!r}" for k, v in MACROS.items()] + [
        "MIXTURE_OR_TASK_NAME = 'demo.legal'",
        f"LEGAL_VOCABULARY = {str(terms_file)!r}",
        f"MODEL_DIR = {str(tmp_path / 'run')!r}",
        "TrainConfig.use_wandb = False",
        "TrainConfig.report_data = False",
    ]
    run_dir = train_regime_from_gin(["gin/models/tiny.gin", "gin/regimes/lawgpt.gin"], bindings)
    spec = run_dir.read_spec()
    forget_variants(VocabularyRecipe.from_json(spec["vocabulary"]).tag)
    assert (run_dir.vocab_dir / "extended.model").exists()
    predictor = LocalBackend().predictor(run_dir)
    assert predictor.vocabulary.vocab_size == 1252 + len(TERMS)
    assert predictor.params["params"]["token_embedder"]["embedding"].shape[0] == 1280
    assert predictor.step == 2
    # The run's checkpoints are in its extended vocabulary: another run with the same
    # extension starts from them as they are.
    loaded = read_checkpoint(run_dir.path)
    assert fit_to_extension(loaded, load_extension(run_dir.vocab_dir)) is loaded


# -- LaWGPT's word list and LawBench (../shared/data) ---------------------------------------------
@pytest.mark.shared_data
def test_lawgpts_legal_vocabulary_makes_each_term_one_piece_and_legal_text_shorter(
    shared_data, tmp_path
):
    from flawn.sources.lawgpt import load_legal_vocabulary

    terms = load_legal_vocabulary(shared_data / "lawgpt" / "resources" / "legal_vocab.txt")
    extension = extend_vocabulary(BASE, tmp_path, terms)
    new = spm.SentencePieceProcessor(model_file=extension.model)
    assert len(extension.added) == len(terms)  # none is a piece of the sample vocabulary
    assert all(_pieces(new, term) == [term] for term in extension.added)
    files = sorted((shared_data / "lawgpt" / "resources").glob("example_instruction_*.json"))
    files += sorted((shared_data / "lawbench" / "data" / "zero_shot").glob("*.json"))[:3]
    assert files
    for path in files:
        lengths = measure_lengths(read_texts(path), BASE, extension.model, path.name)
        assert lengths.reduction > 0.05, path.name


def test_a_vocabulary_built_for_planning_is_removed_when_the_process_ends(tmp_path):
    """run_extension without a run folder builds into a temporary folder; exit removes it."""
    import subprocess
    import sys
    import textwrap

    terms = tmp_path / "terms.txt"
    terms.write_text("Rechtsgeschäft\nVerjährungsfrist\n", encoding="utf-8")
    script = textwrap.dedent(f"""
        import os
        from flawn import paths
        from flawn.runs.vocabulary import make_recipe, run_extension
        from flawn.vocab import load_vocabulary

        recipe = make_recipe({{"terms": {str(terms)!r}}}, load_vocabulary(str(paths.SAMPLE_VOCAB)))
        extension = run_extension(recipe)
        folder = os.path.dirname(extension.model)
        assert os.path.isdir(folder) and os.listdir(folder), folder
        print(folder)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    folder = done.stdout.strip().splitlines()[-1]
    assert folder.startswith(tempfile.gettempdir()) and "flawn-vocab_" in folder
    assert not os.path.exists(folder)
