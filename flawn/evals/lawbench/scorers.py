"""The 20 official LawBench scorers, one plain function per task.

Every scorer is a function of ``(predictions, golds, origin_prompts=None)``:
the model outputs, the gold answers exactly as LawBench stores them (with
prefixes such as ``正确答案：`` or ``刑期:``), and, only for 2-1, the prompts the
model saw. It returns ``{"score": float, "abstention_rate": float}`` on
LawBench's 0-1 scale (2-1 adds :data:`FULL_ANNOTATION_KEY`, see
:data:`TOLERANCE_NOTE`) and reproduces the official ``evaluation/main.py``
numbers, quirks included:

* scores are means over items; the abstention rate (items from which no
  answer could be extracted) is divided by *all* items even where the score
  skips some (2-2 skips gold ``赔偿``, a label missing from its own option
  list; 3-4 and 3-5 skip death-penalty and life-imprisonment golds);
* tasks for which upstream reports no abstention rate (1-1, 2-1, 2-5, 2-6,
  2-7, 2-10, 3-2, 3-8) report 0.0; for 2-6 upstream computes one but stores
  it under a misspelt key, so the official results show 0;
* labels and option letters are found as substrings anywhere in the output
  (see :mod:`flawn.evals.lawbench.extraction`).

:data:`CORRECTED_SCORERS` holds variants that fix reporting quirks (the
abstention denominators of 2-2, 3-4 and 3-5, the dropped abstention rate of
2-6, the clock-dependent fallback and the rounding of 2-1), never the
extraction rules; they are not the official numbers.
:data:`SEQIO_METRICS` wraps each scorer with seqio's
``fn(targets, predictions) -> dict`` signature.

A gold answer that breaks the format its scorer asserts raises
:class:`~flawn.errors.FlawnError` naming the task and item.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import json
import logging
import math
import pathlib
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flawn.errors import FlawnError
from flawn.evals.lawbench import cherrant, extraction, rouge, tasks

_DATA_DIR = pathlib.Path(__file__).resolve().parent / "data"
logger = logging.getLogger(__name__)

#: ``{"score": ..., "abstention_rate": ...}``.
Scores = dict[str, float]
#: A scorer: (predictions, golds, origin_prompts=None) -> Scores.
Scorer = Callable[..., Scores]

#: The log-distance ceiling of prison-term prediction: ln(216), 18 years in months.
LOG_DISTANCE_CAP = math.log(216)

#: Key of 2-1's second score in the official 2-1 scorer's result: the same F0.5
#: (rounded alike) with every output annotated in full, i.e. without the emulated
#: 10-second timeout, so that it depends on no clock.
FULL_ANNOTATION_KEY = "score_full_annotation"
#: Task name of the result row that reports that score beside 2-1. It is not a
#: LawBench task: level and overall averages leave it out (see aggregation.toml).
FULL_ANNOTATION_TASK = "2-1.full_annotation"
#: Metric name of that row.
FULL_ANNOTATION_METRIC = "f0.5_cherrant_full"

#: How far flawn's LawBench numbers can be trusted; printed with every LawBench report.
TOLERANCE_NOTE = (
    "LawBench 2-1 (document proofreading) is approximate. Upstream's scorer replaces a "
    "model output by 无 when annotating it takes more than 10 seconds of wall-clock time, "
    "so the official 2-1 numbers depend on the machine that computed them. flawn emulates "
    "that cut-off deterministically, from an estimate of upstream's annotation time: this "
    "reproduces the official 2-1 scores of both models whose predictions ship with flawn's "
    "data, while of about 100 other published 2-1 scores (LawBench's 51 models, zero- and "
    "one-shot) 31 differ, by at most 0.0021. 2-1 is therefore also reported with every "
    f"output annotated in full ({FULL_ANNOTATION_TASK}, metric {FULL_ANNOTATION_METRIC}), "
    "a number no clock affects and that is never averaged with the tasks. Every other task "
    "with published predictions matches upstream's results to 1e-6; 2-9 and 2-10 have no "
    "published predictions, and their scorers are checked on hand-made cases only."
)


@functools.cache
def labels() -> dict[str, list[str]]:
    """The answer vocabularies of the label tasks (from ``data/labels.json``)."""
    with open(_DATA_DIR / "labels.json", encoding="utf-8") as f:
        table = json.load(f)
    return {key: value for key, value in table.items() if not key.startswith("_")}


@dataclasses.dataclass
class _Tally:
    """Per-item values of one task plus its abstentions.

    ``values`` holds only the scored items; ``n_items`` counts every item.
    """

    n_items: int
    values: list[float] = dataclasses.field(default_factory=list)
    abstentions: int = 0
    task_id: str = ""

    def _require_values(self) -> None:
        if not self.values:
            raise FlawnError(f"task {self.task_id}: no item can be scored (every gold is skipped)")

    def official(self, report_abstention: bool = True) -> Scores:
        self._require_values()
        rate = self.abstentions / self.n_items if report_abstention else 0.0
        return {"score": sum(self.values) / len(self.values), "abstention_rate": rate}

    def over_scored(self) -> Scores:
        self._require_values()
        mean = sum(self.values) / len(self.values)
        return {"score": mean, "abstention_rate": self.abstentions / len(self.values)}


def _check(task_id: str, predictions: Sequence, golds: Sequence, prompts=None) -> None:
    if len(predictions) != len(golds):
        raise FlawnError(f"task {task_id}: {len(predictions)} predictions but {len(golds)} golds")
    if prompts is not None and len(prompts) != len(golds):
        raise FlawnError(f"task {task_id}: {len(prompts)} origin prompts but {len(golds)} golds")
    if not golds:
        raise FlawnError(f"task {task_id}: cannot score an empty task")
    for index, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        for what, value in (("prediction", prediction), ("gold", gold)):
            if not isinstance(value, str):
                raise FlawnError(
                    f"task {task_id}: item {index}: the {what} is a {type(value).__name__}, "
                    "not a string"
                )


def _bad_gold(task_id: str, index: int, gold: str, expected: str) -> FlawnError:
    return FlawnError(f"task {task_id}: item {index}: gold {gold!r} is not {expected}")


# --- shared rules ---------------------------------------------------------------------


def char_f1(gold: str, prediction: str) -> float:
    """CJRC's character F1 (2-5, and per entity or trigger in 2-6 and 2-10).

    Both texts are lower-cased and reduced to letters and digits (any script,
    so Chinese characters stay); the F1 is over the multisets of characters.
    If either side is empty the score is 1 when both are, else 0.
    """
    gold_chars = _letters_and_digits(gold)
    pred_chars = _letters_and_digits(prediction)
    if not gold_chars or not pred_chars:
        return float(gold_chars == pred_chars)
    same = sum((collections.Counter(gold_chars) & collections.Counter(pred_chars)).values())
    if same == 0:
        return 0.0
    precision = same / len(pred_chars)
    recall = same / len(gold_chars)
    return (2 * precision * recall) / (precision + recall)


def _letters_and_digits(text: str) -> list[str]:
    return [ch for ch in text.lower() if ch.isdigit() or ch.isalpha()]


def set_f1(gold: set, predicted: set) -> float:
    """F1 between two sets; 0 when either is empty."""
    common = len(gold & predicted)
    precision = common / len(predicted) if predicted else 0
    recall = common / len(gold) if gold else 0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0


def _rouge_task(task_id: str, predictions: Sequence[str], references: Sequence[str]) -> Scores:
    try:
        values = rouge.rouge_l_scores(predictions, references)
    except ValueError as err:
        raise FlawnError(f"task {task_id}: {err}") from err
    return _Tally(len(values), values).official(report_abstention=False)


def _choice_tally(
    task_id: str,
    predictions: Sequence[str],
    golds: Sequence[str],
    options: Sequence[str],
    parse_gold: Callable[[int, str], str | None],
) -> _Tally:
    """Single-answer accuracy; ``parse_gold`` returns the gold option, or None to skip."""
    tally = _Tally(len(golds), task_id=task_id)
    for index, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        answer = parse_gold(index, gold)
        if answer is None:
            continue
        correct, abstained = extraction.judge_single_choice(prediction, options, answer)
        tally.values.append(float(correct))
        tally.abstentions += abstained
    return tally


def _letter_gold(task_id: str, prefix: str, letters: Sequence[str]):
    def parse(index: int, gold: str) -> str:
        position = len(prefix)
        if not gold.startswith(prefix) or len(gold) <= position or gold[position] not in letters:
            raise _bad_gold(task_id, index, gold, f"{prefix} followed by one of {''.join(letters)}")
        return gold[position]

    return parse


def _set_f1_tally(
    predictions: Sequence[str],
    gold_sets: Sequence[set],
    options: Sequence[str],
) -> _Tally:
    tally = _Tally(len(gold_sets))
    for prediction, gold in zip(predictions, gold_sets, strict=True):
        found = set(extraction.options_in(prediction, options))
        tally.abstentions += not found
        tally.values.append(set_f1(gold, found))
    return tally


# --- memorization -------------------------------------------------------------------


def article_recitation(predictions, golds, origin_prompts=None) -> Scores:
    """1-1: ROUGE-L F on jieba words, after removing ``答案:`` from the golds."""
    _check("1-1", predictions, golds, origin_prompts)
    return _rouge_task("1-1", predictions, [gold.replace("答案:", "") for gold in golds])


def knowledge_qa(predictions, golds, origin_prompts=None) -> Scores:
    """1-2: accuracy; gold ``正确答案：X。``; correct iff X is the only letter A-D in the output."""
    _check("1-2", predictions, golds, origin_prompts)
    parse = _letter_gold("1-2", "正确答案：", extraction.LETTERS_ABCD)
    return _choice_tally("1-2", predictions, golds, extraction.LETTERS_ABCD, parse).official()


# --- understanding ------------------------------------------------------------------


#: Marks the source sentence in a 2-1 prompt; the sentence is the line after it.
PROOFREAD_MARKER = "句子：\n"
_NEWLINE_OR_TAB = re.compile(r"\n|\t")


def proofreading_source(origin_prompt: Any) -> str:
    """The sentence to correct, from a 2-1 prompt: the line after ``句子：``.

    Accepts a plain prompt or OpenCompass's ``[{"prompt": ...}, ...]`` form.

    Raises:
        ValueError: If the prompt has no ``句子：`` line.
    """
    if isinstance(origin_prompt, list):
        origin_prompt = origin_prompt[0]["prompt"]
    start = origin_prompt.find(PROOFREAD_MARKER)
    if start < 0:
        raise ValueError(f"the prompt has no {PROOFREAD_MARKER!r} line before the sentence")
    line = origin_prompt[start + len(PROOFREAD_MARKER) :].split("\n")[0]
    return _NEWLINE_OR_TAB.sub("", line)


def proofreading_hypothesis(prediction: str, gold: str) -> str:
    """2-1's cleaning of a model output before ChERRANT sees it.

    Newlines and tabs are removed; an output more than 5 characters longer
    than the (raw) gold is cut to ``len(gold) + 5``; an empty one becomes ``无内容``.
    Other whitespace, carriage returns included, goes later with the rest
    (upstream's file round trip turns a carriage return into a line break and
    cannot score such an output at all).
    """
    prediction = _NEWLINE_OR_TAB.sub("", prediction)
    if len(prediction) - len(gold) > 5:
        prediction = prediction[: len(gold) + 5]
    return prediction or rouge.EMPTY_PREDICTION


def _proofreading_result(
    predictions, golds, origin_prompts, work_limit: int | None
) -> cherrant.ChERRANTResult:
    _check("2-1", predictions, golds, origin_prompts)
    if origin_prompts is None:
        raise FlawnError("task 2-1: scoring needs the origin prompts (they hold the sentences)")
    sources = []
    for index, prompt in enumerate(origin_prompts):
        try:
            sources.append(proofreading_source(prompt))
        except (ValueError, TypeError, KeyError, IndexError) as err:
            raise FlawnError(f"task 2-1: item {index}: {err}") from err
    hypotheses = [proofreading_hypothesis(p, g) for p, g in zip(predictions, golds, strict=True)]
    references = [_NEWLINE_OR_TAB.sub("", gold) for gold in golds]
    try:
        result = cherrant.score_corpus(sources, hypotheses, references, work_limit)
    except FlawnError as err:
        raise FlawnError(f"task 2-1: {err}") from err
    if result.fallbacks and work_limit is not None:
        logger.warning(
            "task 2-1: %d model output(s) scored as %s, as upstream's 10-second timeout "
            "does (items %s); the full-annotation score (%s) scores them in full",
            len(result.fallbacks),
            cherrant.FALLBACK_CORRECTION,
            ", ".join(map(str, result.fallbacks)),
            FULL_ANNOTATION_TASK,
        )
    return result


def document_proofreading(predictions, golds, origin_prompts=None) -> Scores:
    """2-1: ChERRANT character-level span-correction F0.5, rounded to 4 decimals.

    Needs the prompts, which hold the source sentence (see
    :func:`proofreading_source`). An output whose annotation would take
    upstream past its time limit is scored as ``无``, as upstream does (see
    :mod:`flawn.evals.lawbench.cherrant`); a warning names those items.

    Returns:
        ``score`` (the emulated official number), ``abstention_rate`` (0, as
        upstream) and :data:`FULL_ANNOTATION_KEY`: the same F0.5, rounded
        alike, with every output annotated in full. The two are equal unless
        the emulated timeout replaced an output.
    """
    result = _proofreading_result(predictions, golds, origin_prompts, cherrant.WORK_LIMIT)
    return {
        "score": result.f05,
        "abstention_rate": 0.0,
        FULL_ANNOTATION_KEY: result.full_annotation_f05,
    }


def _dispute_focus_tally(predictions, golds, origin_prompts) -> _Tally:
    _check("2-2", predictions, golds, origin_prompts)
    options = labels()["dispute_focus_2-2"]
    prefix = "争议焦点类别："

    def parse(index: int, gold: str) -> str | None:
        label = gold[len(prefix) : -1]
        if label == "赔偿":  # a gold label absent from the option list; upstream skips it
            return None
        if not gold.startswith(prefix) or label not in options:
            raise _bad_gold("2-2", index, gold, f"{prefix}<one of the 16 labels>。")
        return label

    return _choice_tally("2-2", predictions, golds, options, parse)


def dispute_focus(predictions, golds, origin_prompts=None) -> Scores:
    """2-2: single-label accuracy over 16 dispute labels (upstream's README says F1).

    Gold ``争议焦点类别：<label>。``; correct iff the label is the only one of the
    16 in the output. Items with gold ``赔偿`` (not among the 16) are skipped
    altogether, yet stay in the abstention rate's denominator.
    """
    return _dispute_focus_tally(predictions, golds, origin_prompts).official()


def marital_disputes(predictions, golds, origin_prompts=None) -> Scores:
    """2-3: per-item F1 between the gold label set and the 20 labels found in the output.

    Gold ``类别:<label>、<label>。``.
    """
    _check("2-3", predictions, golds, origin_prompts)
    options = labels()["marital_dispute_2-3"]
    gold_sets = []
    for index, gold in enumerate(golds):
        parts = gold[3:-1].split("、")
        if not (gold.startswith("类别:") and gold.endswith("。")) or any(
            part not in options for part in parts
        ):
            raise _bad_gold("2-3", index, gold, "类别:<labels joined by 、>。 with known labels")
        gold_sets.append(set(parts))
    return _set_f1_tally(predictions, gold_sets, options).official()


def issue_topic(predictions, golds, origin_prompts=None) -> Scores:
    """2-4: single-label accuracy over 20 topic labels; the gold is the bare label."""
    _check("2-4", predictions, golds, origin_prompts)
    options = labels()["issue_topic_2-4"]

    def parse(index: int, gold: str) -> str:
        if gold not in options:
            raise _bad_gold("2-4", index, gold, "one of the 20 topic labels")
        return gold

    return _choice_tally("2-4", predictions, golds, options, parse).official()


def reading_comprehension(predictions, golds, origin_prompts=None) -> Scores:
    """2-5: mean CJRC character F1 (:func:`char_f1`) after removing ``回答:`` from the golds."""
    _check("2-5", predictions, golds, origin_prompts)
    values = [
        char_f1(gold.replace("回答:", ""), p) for p, gold in zip(predictions, golds, strict=True)
    ]
    return _Tally(len(values), values).official(report_abstention=False)


def _entity_tally(predictions, golds, origin_prompts) -> _Tally:
    _check("2-6", predictions, golds, origin_prompts)
    types = labels()["entity_types_2-6"]
    tally = _Tally(len(golds))
    for index, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        try:
            reference = extraction.entities_in_gold(gold)
        except ValueError as err:
            raise FlawnError(f"task 2-6: item {index}: {err}") from err
        found = extraction.entities_in_prediction(prediction, types)
        if not reference:
            tally.values.append(1.0 if not found else 0.0)
            continue
        tally.abstentions += not found
        matched = [char_f1(reference[t], value) for t, value in found.items() if t in reference]
        precision = sum(matched) / len(found) if found else 0
        recall = sum(matched) / len(reference)
        tally.values.append(2 * precision * recall / (precision + recall + 1e-10))
    return tally


def named_entities(predictions, golds, origin_prompts=None) -> Scores:
    """2-6: entity soft F1 over 10 entity types; abstention reported as 0, as officially.

    Gold ``type:value;type:value`` (empty when the sentence has none). Per
    item, precision and recall average the character F1 of the values of the
    types the output names (see
    :func:`~flawn.evals.lawbench.extraction.entities_in_prediction`); an item
    with no gold entity scores 1 iff the output names none.
    """
    return _entity_tally(predictions, golds, origin_prompts).official(report_abstention=False)


def opinion_summarization(predictions, golds, origin_prompts=None) -> Scores:
    """2-7: ROUGE-L F on jieba words."""
    _check("2-7", predictions, golds, origin_prompts)
    return _rouge_task("2-7", predictions, golds)


def argument_mining(predictions, golds, origin_prompts=None) -> Scores:
    """2-8: accuracy; gold ``[正确答案]X``; correct iff X is the only letter A-E in the output."""
    _check("2-8", predictions, golds, origin_prompts)
    parse = _letter_gold("2-8", "[正确答案]", extraction.LETTERS_ABCDE)
    return _choice_tally("2-8", predictions, golds, extraction.LETTERS_ABCDE, parse).official()


def event_detection(predictions, golds, origin_prompts=None) -> Scores:
    """2-9: per-item F1 between the gold events (split on ``;``) and the 20 found in the output."""
    _check("2-9", predictions, golds, origin_prompts)
    gold_sets = [set(gold.split(";")) for gold in golds]
    return _set_f1_tally(predictions, gold_sets, labels()["event_types_2-9"]).official()


def trigger_words(predictions, golds, origin_prompts=None) -> Scores:
    """2-10: positional soft F1 of trigger words; no abstention rate.

    Output and gold are split on ``;`` (ASCII only) and paired by position;
    per item, precision and recall are the summed character F1 of the pairs
    over the number of predicted and of gold words.
    """
    _check("2-10", predictions, golds, origin_prompts)
    values = []
    for prediction, gold in zip(predictions, golds, strict=True):
        answers, predicted = gold.split(";"), prediction.split(";")
        matched = [char_f1(a, p) for a, p in zip(answers, predicted, strict=False)]
        precision = sum(matched) / len(predicted)
        recall = sum(matched) / len(answers)
        values.append(2 * precision * recall / (precision + recall + 1e-10))
    return _Tally(len(values), values).official(report_abstention=False)


# --- applying -----------------------------------------------------------------------


def fact_article_prediction(predictions, golds, origin_prompts=None) -> Scores:
    """3-1: per-item F1 between gold and cited article numbers of the Criminal Law.

    Gold ``法条:刑法第N、M条``; the output's articles are read by
    :func:`~flawn.evals.lawbench.extraction.article_numbers`.
    """
    _check("3-1", predictions, golds, origin_prompts)
    expected = "法条:刑法第<numbers up to 490 joined by 、>条"
    tally = _Tally(len(golds))
    for index, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        if not (gold.startswith("法条:刑法第") and gold.endswith("条")):
            raise _bad_gold("3-1", index, gold, expected)
        articles = set()
        for number in gold.replace("法条:刑法第", "").replace("条", "").split("、"):
            if not number.isascii() or not number.isdigit() or int(number) > 490:
                raise _bad_gold("3-1", index, gold, expected)
            articles.add(int(number))
        try:
            cited = set(extraction.article_numbers(prediction))
        except Exception as err:  # cn2an on free text; name the item rather than crash blind
            raise FlawnError(f"task 3-1: item {index}: cannot read numbers: {err}") from err
        tally.abstentions += not cited
        tally.values.append(set_f1(articles, cited))
    return tally.official()


def scene_article_prediction(predictions, golds, origin_prompts=None) -> Scores:
    """3-2: ROUGE-L F on jieba words."""
    _check("3-2", predictions, golds, origin_prompts)
    return _rouge_task("3-2", predictions, golds)


def charge_prediction(predictions, golds, origin_prompts=None) -> Scores:
    """3-3: per-item F1 of gold charges (``罪名:a;b``) and the 189 charges found in the output."""
    _check("3-3", predictions, golds, origin_prompts)
    gold_sets = []
    for index, gold in enumerate(golds):
        if not gold.startswith("罪名:"):
            raise _bad_gold("3-3", index, gold, "罪名:<charges joined by ;>")
        gold_sets.append(set(gold.replace("罪名:", "").split(";")))
    return _set_f1_tally(predictions, gold_sets, labels()["charges_3-3"]).official()


def _prison_term_tally(task_id: str, predictions, golds, origin_prompts) -> _Tally:
    _check(task_id, predictions, golds, origin_prompts)
    tally = _Tally(len(golds), task_id=task_id)
    for index, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        if "死刑" in gold or "无期" in gold:  # death penalty or life: no month count, skipped
            continue
        months = gold.replace("刑期:", "").replace("个月", "")
        if not (gold.startswith("刑期:") and gold.endswith("个月")) or not months.isdigit():
            raise _bad_gold(task_id, index, gold, "刑期:<N>个月")
        try:
            predicted = extraction.prison_term_months(prediction)
        except Exception as err:  # cn2an on free text; name the item rather than crash blind
            raise FlawnError(f"task {task_id}: item {index}: cannot read numbers: {err}") from err
        if predicted is None:
            tally.abstentions += 1
            tally.values.append(LOG_DISTANCE_CAP)
        else:
            tally.values.append(abs(math.log(int(months) + 1) - math.log(predicted + 1)))
    return tally


def _log_distance_scores(tally: _Tally, scores: Scores) -> Scores:
    """Turns a mean log distance into LawBench's score ``(ln 216 - d) / ln 216``."""
    return {**scores, "score": (LOG_DISTANCE_CAP - scores["score"]) / LOG_DISTANCE_CAP}


def prison_term(task_id: str, predictions, golds, origin_prompts=None) -> Scores:
    """3-4 and 3-5: normalised log distance between gold and predicted months.

    Per item ``|ln(gold + 1) - ln(pred + 1)|``, or ln 216 when the output
    states no term (an abstention); the score is ``(ln 216 - mean) / ln 216``
    (it can be negative). Golds ``刑期:死刑`` and ``刑期:无期`` are skipped for
    the score (496 of the 500 items are scored) but the abstention rate is
    over all 500. The output's term is read by
    :func:`~flawn.evals.lawbench.extraction.prison_term_months`.
    """
    tally = _prison_term_tally(task_id, predictions, golds, origin_prompts)
    return _log_distance_scores(tally, tally.official())


def prison_term_without_articles(predictions, golds, origin_prompts=None) -> Scores:
    """3-4: see :func:`prison_term`."""
    return prison_term("3-4", predictions, golds, origin_prompts)


def prison_term_with_articles(predictions, golds, origin_prompts=None) -> Scores:
    """3-5: see :func:`prison_term`."""
    return prison_term("3-5", predictions, golds, origin_prompts)


def case_analysis(predictions, golds, origin_prompts=None) -> Scores:
    """3-6: accuracy; gold ``正确答案:X``; correct iff X is the only letter A-D in the output."""
    _check("3-6", predictions, golds, origin_prompts)
    parse = _letter_gold("3-6", "正确答案:", extraction.LETTERS_ABCD)
    return _choice_tally("3-6", predictions, golds, extraction.LETTERS_ABCD, parse).official()


def criminal_damages(predictions, golds, origin_prompts=None) -> Scores:
    """3-7: accuracy; correct iff the gold amount equals any number in the output.

    Gold ``上文涉及到的犯罪金额:<amount>元。``; an output with no number abstains.
    """
    _check("3-7", predictions, golds, origin_prompts)
    prefix, suffix = "上文涉及到的犯罪金额:", "元。"
    tally = _Tally(len(golds))
    for index, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        amount_text = gold.replace(prefix, "")
        expected = f"{prefix}<amount>{suffix} (in yuan, no 千元 or 万)"
        if not (gold.startswith(prefix) and gold.endswith(suffix)) or "千元" in amount_text:
            raise _bad_gold("3-7", index, gold, expected)
        if "万" in amount_text:
            raise _bad_gold("3-7", index, gold, expected)
        try:
            amount = float(amount_text.replace(suffix, ""))
        except ValueError as err:
            raise _bad_gold("3-7", index, gold, expected) from err
        numbers = extraction.numbers_in(prediction)
        tally.abstentions += not numbers
        tally.values.append(1.0 if amount in numbers else 0.0)
    return tally.official()


def consultation(predictions, golds, origin_prompts=None) -> Scores:
    """3-8: ROUGE-L F on jieba words."""
    _check("3-8", predictions, golds, origin_prompts)
    return _rouge_task("3-8", predictions, golds)


#: Task id -> official scorer, in LawBench's task order.
SCORERS: dict[str, Scorer] = {
    "1-1": article_recitation,
    "1-2": knowledge_qa,
    "2-1": document_proofreading,
    "2-2": dispute_focus,
    "2-3": marital_disputes,
    "2-4": issue_topic,
    "2-5": reading_comprehension,
    "2-6": named_entities,
    "2-7": opinion_summarization,
    "2-8": argument_mining,
    "2-9": event_detection,
    "2-10": trigger_words,
    "3-1": fact_article_prediction,
    "3-2": scene_article_prediction,
    "3-3": charge_prediction,
    "3-4": prison_term_without_articles,
    "3-5": prison_term_with_articles,
    "3-6": case_analysis,
    "3-7": criminal_damages,
    "3-8": consultation,
}


# --- corrected variants -------------------------------------------------------------


def document_proofreading_corrected(predictions, golds, origin_prompts=None) -> Scores:
    """2-1, not official: every output is annotated in full (no emulated timeout), unrounded."""
    result = _proofreading_result(predictions, golds, origin_prompts, None)
    return {"score": result.f05_unrounded, "abstention_rate": 0.0}


def dispute_focus_corrected(predictions, golds, origin_prompts=None) -> Scores:
    """2-2, not official: the abstention rate is over the scored items only."""
    return _dispute_focus_tally(predictions, golds, origin_prompts).over_scored()


def named_entities_corrected(predictions, golds, origin_prompts=None) -> Scores:
    """2-6, not official: reports the abstention rate upstream computes and drops.

    An abstention is an item with gold entities whose output names none.
    """
    return _entity_tally(predictions, golds, origin_prompts).official()


def prison_term_corrected(task_id: str, predictions, golds, origin_prompts=None) -> Scores:
    """3-4 and 3-5, not official: the abstention rate is over the 496 scored items."""
    tally = _prison_term_tally(task_id, predictions, golds, origin_prompts)
    return _log_distance_scores(tally, tally.over_scored())


#: Task id -> scorer with a reporting quirk fixed; tasks without quirks keep the official one.
CORRECTED_SCORERS: dict[str, Scorer] = {
    **SCORERS,
    "2-1": document_proofreading_corrected,
    "2-2": dispute_focus_corrected,
    "2-6": named_entities_corrected,
    "3-4": functools.partial(prison_term_corrected, "3-4"),
    "3-5": functools.partial(prison_term_corrected, "3-5"),
}


def score_task(
    task_id: str,
    predictions: Sequence[str],
    golds: Sequence[str],
    origin_prompts: Sequence | None = None,
    corrected: bool = False,
) -> Scores:
    """Scores one task with its official (or corrected) scorer.

    Raises:
        FlawnError: If the task is unknown, or the inputs are malformed.
    """
    table = CORRECTED_SCORERS if corrected else SCORERS
    if task_id not in table:
        raise FlawnError(f"unknown LawBench task {task_id!r}; tasks are {', '.join(table)}")
    return table[task_id](predictions, golds, origin_prompts)


# --- seqio -------------------------------------------------------------------------


def _as_text(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def seqio_metric(task_id: str, corrected: bool = False) -> Callable[[Sequence, Sequence], Scores]:
    """A seqio metric function ``fn(targets, predictions) -> {"score", "abstention_rate"}``.

    Each target is the gold answer (``str`` or UTF-8 ``bytes``) or a mapping
    with ``"gold"`` and ``"prompt"`` (the model prompt, as a target
    postprocessor can return it); task 2-1 needs the mapping form, since the
    sentence to correct is in the prompt.

    Raises:
        FlawnError: If the task is unknown; the returned function raises it
            for 2-1 targets without prompts and for malformed golds.
    """
    table = CORRECTED_SCORERS if corrected else SCORERS
    if task_id not in table:
        raise FlawnError(f"unknown LawBench task {task_id!r}; tasks are {', '.join(table)}")
    scorer = table[task_id]

    def metric_fn(targets: Sequence, predictions: Sequence) -> Scores:
        golds, prompts = [], []
        for index, target in enumerate(targets):
            if isinstance(target, Mapping):
                if "gold" not in target:
                    raise FlawnError(f"task {task_id}: target {index} has no 'gold'")
                golds.append(_as_text(target["gold"]))
                prompts.append(_as_text(target.get("prompt")))
            else:
                golds.append(_as_text(target))
                prompts.append(None)
        if any(prompt is None for prompt in prompts):
            if task_id == "2-1":
                raise FlawnError(
                    "task 2-1: seqio targets must be mappings with 'gold' and 'prompt' "
                    "(the prompt holds the sentence to correct)"
                )
            prompts = None
        return scorer([_as_text(p) for p in predictions], golds, prompts)

    metric_fn.__name__ = f"lawbench_{task_id.replace('-', '_')}"
    metric_fn.__doc__ = f"LawBench {task_id} scored for seqio: {tasks.get_task(task_id).metric}."
    return metric_fn


#: Task id -> seqio metric function of the official scorer.
SEQIO_METRICS: dict[str, Callable[[Sequence, Sequence], Scores]] = {
    task_id: seqio_metric(task_id) for task_id in SCORERS
}
