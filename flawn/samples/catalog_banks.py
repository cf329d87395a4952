"""Instruction banks for the synthetic catalog shards (see :mod:`flawn.samples.catalog_shards`).

The instruction-bank ablation (``format_lawinstruct.bank_size`` = k) needs k
paraphrases for every (subset, language) the data holds. The synthetic shards
give every subset English instructions from one template per task type, so
their bank holds, for each subset, :data:`BANK_SIZE` variations of that
template worded around its main jurisdiction; index 0 is the template itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from flawn.catalog import Subset

#: Paraphrases per subset: the largest bank size of ``experiments/instruction_banks.gin``.
BANK_SIZE = 10

#: Ways of wording an instruction ``{core}``; the first leaves it as it is.
_WORDINGS: tuple[str, ...] = (
    "{core}",
    "Task: {core}",
    "{core} Be concise.",
    "Read the input carefully. {core}",
    "Instruction: {core}",
    "{core} Answer directly.",
    "You are assisting a lawyer. {core}",
    "Here is a legal task. {core}",
    "{core} Give only the answer.",
    "Please do the following. {core}",
)


def catalog_instruction_bank(
    subsets: Iterable[Subset], templates: dict[str, str], default: str
) -> dict[str, dict[str, list[str]]]:
    """Returns ``{subset_name: {"en": [BANK_SIZE paraphrases]}}`` for the given subsets.

    Args:
        subsets: The catalog subsets written.
        templates: Instruction template per task type, with a ``{jurisdiction}`` field.
        default: The template of task types without their own.

    Subsets that share a subset name (``MainSubset``) share the entry of the
    first of them, as the bank is keyed by subset name.
    """
    bank: dict[str, dict[str, list[str]]] = {}
    for subset in subsets:
        if subset.subset_name in bank:
            continue
        template = templates.get(subset.task_types[0], default)
        core = template.format(jurisdiction=subset.jurisdictions[0])
        bank[subset.subset_name] = {"en": [w.format(core=core) for w in _WORDINGS]}
    return bank
