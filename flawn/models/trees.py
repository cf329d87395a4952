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


def shape_differences(
    have: Mapping[str, tuple[int, ...]], want: Mapping[str, tuple[int, ...]]
) -> tuple[list[str], list[str], list[str]]:
    """How two ``{name: shape}`` maps differ.

    Returns:
        ``(missing, unexpected, differing)``: names only in ``want``, names
        only in ``have``, and names in both with other shapes; each sorted.
    """
    missing = sorted(set(want) - set(have))
    unexpected = sorted(set(have) - set(want))
    differing = sorted(k for k in set(have) & set(want) if tuple(have[k]) != tuple(want[k]))
    return missing, unexpected, differing


def shapes_by_name(tree: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    """``{"a/b": shape}`` of a nested parameter dict (arrays or shape structs)."""
    return {"/".join(path): tuple(leaf.shape) for path, leaf in flatten_tree(tree).items()}
