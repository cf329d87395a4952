import pytest

from flawn import gin_utils
from flawn.errors import ConfigError


@pytest.mark.parametrize(
    ("value", "binding"),
    [
        ("3", "K = 3"),
        ("'x'", "K = 'x'"),
        ("{'inputs': 128, 'targets': 16}", "K = {'inputs': 128, 'targets': 16}"),
        ("True", "K = True"),
        ("@T5Config()", "K = @T5Config()"),
        ("%OTHER", "K = %OTHER"),
        ("/tmp/run dir", "K = '/tmp/run dir'"),
        ("demo.general_only", "K = 'demo.general_only'"),
    ],
)
def test_flag_values_become_gin_literals(value, binding):
    assert gin_utils.flag_to_binding("K", value) == binding


def test_split_gin_flags_separates_files_bindings_and_the_rest():
    files, bindings, rest = gin_utils.split_gin_flags(
        [
            "train",
            "--gin_file=a.gin",
            "--gin_file",
            "b.gin",
            "--gin.STEPS=3",
            "--gin_bindings=X = 1",
            "--verbose",
        ]
    )
    assert files == ["a.gin", "b.gin"]
    assert bindings == ["STEPS = 3", "X = 1"]
    assert rest == ["train", "--verbose"]


def test_missing_gin_file_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"gin file nowhere\.gin not found"):
        gin_utils.parse(["nowhere.gin"])


def test_required_macro_error_says_what_to_pass():
    err = ValueError(
        "TRAIN_STEPS/macro.value set to `%gin.REQUIRED` but not subsequently overridden."
    )
    explained = gin_utils.explain_required(err)
    assert "--gin.TRAIN_STEPS=VALUE" in str(explained)
    assert gin_utils.explain_required(ValueError("something else")) is None


def test_an_unclosed_bracket_names_the_file(tmp_path):
    from flawn import gin_utils
    from flawn.errors import ConfigError

    path = tmp_path / "broken.gin"
    path.write_text("A = 1\nB = ['x',\n")
    with pytest.raises(ConfigError, match=r"broken\.gin: eof in multi-line statement"):
        gin_utils.parse([str(path)])


def test_unknown_names_in_bindings_get_the_nearest_known_ones():
    import flawn.train.config  # noqa: F401  (registers the configurables)

    with pytest.raises(ConfigError, match=r"'learning_rat'\. \(did you mean learning_rate\?\)"):
        gin_utils.parse([], ["OptimizerConfig.learning_rat = 3"])
    with pytest.raises(ConfigError, match=r"'OptimizrConfig'\. \(did you mean OptimizerConfig\?\)"):
        gin_utils.parse([], ["OptimizrConfig.name = 'adamw'"])
    with pytest.raises(ConfigError) as raised:
        gin_utils.parse([], ["OptimizerConfig.zzz = 1"])
    assert "did you mean" not in str(raised.value)  # nothing close: no guess
