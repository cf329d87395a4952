"""gin helpers: T5X-style command-line flags, search paths, clear errors."""

from __future__ import annotations

import ast
import difflib
import inspect
import os
import pathlib
import re
import tokenize
from collections.abc import Sequence

import gin

from flawn import paths
from flawn.errors import ConfigError

_REQUIRED = re.compile(r"(\w+)/macro\.value set to `%gin\.REQUIRED`")
_NO_PARAMETER = re.compile(r"Configurable '([\w.]+)' doesn't have a parameter named '(\w+)'")
_NO_CONFIGURABLE = re.compile(r"No configurable matching '([\w.]+)'")


def flag_to_binding(key: str, value: str) -> str:
    """Turns ``--gin.KEY=VALUE`` into a gin binding ``KEY = VALUE``.

    VALUE is used as written when it is a Python literal (``3``, ``'x'``,
    ``{'inputs': 128}``, ``True``) or a gin reference (``@fn()``, ``%MACRO``);
    anything else is taken as a string, so ``--gin.MODEL_DIR=/tmp/run`` works
    without T5X's nested quoting.
    """
    stripped = value.strip()
    if stripped.startswith(("@", "%")):
        return f"{key} = {stripped}"
    try:
        ast.literal_eval(stripped)
        return f"{key} = {stripped}"
    except (ValueError, SyntaxError):
        return f"{key} = {stripped!r}"


_POLICY_BINDING = re.compile(r"bad_record_policy\.policy\s*=\s*['\"](\w+)['\"]")


def policy_in_gin(texts: Sequence[str], files: Sequence[str]) -> str | None:
    """The ``bad_record_policy.policy`` bound in binding texts or gin/experiment files, if any.

    The ``flawn`` command exports it as ``FLAWN_BAD_RECORD_POLICY`` before
    sources are registered, which happens before gin files are parsed.
    """
    found = None
    for text in texts:
        match = _POLICY_BINDING.search(text)
        found = match.group(1) if match else found
    for name in files:
        try:
            text = pathlib.Path(resolve_gin_file(name)).read_text(encoding="utf-8")
        except (OSError, ValueError, ConfigError):
            continue
        match = _POLICY_BINDING.search(text)
        found = match.group(1) if match else found
    return found


def split_gin_flags(argv: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Separates gin flags from the other arguments.

    Recognises ``--gin_file=F`` / ``--gin_file F``, ``--gin_bindings=B`` and
    ``--gin.KEY=VALUE``.

    Returns:
        ``(gin_files, bindings, remaining_args)``.
    """
    files, bindings, rest = [], [], []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--gin_file="):
            files.append(arg.split("=", 1)[1])
        elif arg == "--gin_file" and i + 1 < len(args):
            files.append(args[i + 1])
            i += 1
        elif arg.startswith("--gin_bindings="):
            bindings.append(arg.split("=", 1)[1])
        elif arg.startswith("--gin.") and "=" in arg:
            key, value = arg[len("--gin.") :].split("=", 1)
            bindings.append(flag_to_binding(key, value))
        else:
            rest.append(arg)
        i += 1
    return files, bindings, rest


def resolve_gin_file(path: str) -> str:
    """Finds a gin file as given, or relative to the project root."""
    if os.path.exists(path):
        return os.path.abspath(path)
    candidate = paths.project_root() / path
    if candidate.exists():
        return str(candidate)
    places = list(dict.fromkeys([os.getcwd(), str(paths.project_root())]))
    raise ConfigError(f"gin file {path} not found (looked in {' and '.join(places)})")


def parse(gin_files: Sequence[str], bindings: Sequence[str] = (), text: str | None = None) -> None:
    """Clears gin and parses files, then bindings (or a full config text).

    Raises:
        ConfigError: If a file is missing or a binding is invalid.
    """
    gin.clear_config()
    gin.add_config_file_search_path(str(paths.project_root()))
    try:
        if text is not None:
            gin.parse_config(text)
        gin.parse_config_files_and_bindings(
            [resolve_gin_file(f) for f in gin_files], list(bindings)
        )
    except (ValueError, SyntaxError) as err:
        first, *rest = str(err).split("\n")
        message = "\n".join([first + suggest_name(err), *rest])
        raise explain_required(err) or ConfigError(f"gin: {message}") from err
    except tokenize.TokenError as err:
        # An unclosed bracket: gin's tokenizer gives up at the end of the file.
        message, (line, _) = err.args
        where = ", ".join(gin_files) or "the bindings"
        raise ConfigError(
            f"gin: {where}: {message.lower()} (line {line}): a bracket or quote is not closed"
        ) from err


def explain_required(err: Exception) -> ConfigError | None:
    """Turns gin's "set to %gin.REQUIRED" error into a message saying what to pass."""
    match = _REQUIRED.search(str(err))
    if not match:
        return None
    macro = match.group(1)
    return ConfigError(
        f"the required macro {macro} has no value; pass it as --gin.{macro}=VALUE "
        "or bind it in one of your gin files"
    )


def _nearest(name: str, candidates) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    return f" (did you mean {' or '.join(close)}?)" if close else ""


def suggest_name(err: Exception) -> str:
    """The nearest known names for gin's unknown-parameter and unknown-configurable errors.

    Returns:
        ``" (did you mean X?)"`` to append to the message, or ``""``.
    """
    text = str(err)
    match = _NO_PARAMETER.search(text)
    if match:
        configurable = gin.config._REGISTRY.get_match(match.group(1))
        if configurable is None:
            return ""
        try:
            parameters = inspect.signature(configurable.wrapped).parameters
        except (TypeError, ValueError):
            return ""
        return _nearest(match.group(2), parameters)
    match = _NO_CONFIGURABLE.search(text)
    if match:
        # Short names (OptimizerConfig) as users write them, and full selectors.
        selectors = [str(selector) for selector in gin.config._REGISTRY._selector_map]
        names = selectors + [selector.rsplit(".", 1)[-1] for selector in selectors]
        return _nearest(match.group(1), names)
    return ""
