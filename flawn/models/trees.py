"""Nested parameter dicts as flat ``{path tuple: array}`` maps and back (numpy only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def flatten_tree(
    tree: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> dict[tuple[str, ...], Any]:
    """``{"a": {"b": x}}`` -> ``{("a", "b"): x}`` (leaves are anything but mappings)."""
    out = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            out.update(flatten_tree(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def unflatten_tree(flat: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """The inverse of :func:`flatten_tree`."""
    tree: dict[str, Any] = {}
    for path, value in flat.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return tree
