"""LawBench: task table, loaders, the 20 official scorers, prediction folders.

Hand-worked cases pin each scorer's rule; the acceptance tests reproduce the
official results.csv shipped with LawBench's predictions to within 1e-6.
"""

import csv
import gzip
import json
import logging
import math
import os
import pathlib
import random
import time

import pytest

from flawn.errors import FlawnError, RecordError
from flawn.evals.lawbench import cherrant, extraction, predictions, rouge, scorers, tasks

TOL = 1e-12


def close(a, b, tol=TOL):
    return abs(a - b) <= tol


# --- task table and loader ------------------------------------------------------------


def test_task_table_lists_the_20_tasks_in_order():
    table = tasks.task_table()
    assert list(table) == [
        *("1-1", "1-2"),
        *(f"2-{i}" for i in range(1, 11)),
        *(f"3-{i}" for i in range(1, 9)),
    ]
    levels = [t.level for t in table.values()]
    assert levels.count("memorization") == 2
    assert levels.count("understanding") == 10
    assert levels.count("applying") == 8
    assert table["3-4"].n == 500 and table["3-4"].n_scored == 496
    assert table["2-1"].metric == "f0.5_cherrant"
    assert not table["2-6"].abstention_reported and table["1-2"].abstention_reported
    assert table["2-10"].name == "Trigger Word Extraction"
    assert set(table) == set(scorers.SCORERS)


def test_get_task_rejects_unknown_ids():
    with pytest.raises(FlawnError, match="unknown LawBench task '4-1'"):
        tasks.get_task("4-1")


def test_read_task_file_builds_prompts(tmp_path):
    path = tmp_path / "1-2.json"
    items = [{"instruction": "请选择。", "question": "问题A", "answer": "正确答案：A。"}]
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    (example,) = tasks.read_task_file(path)
    assert example == tasks.LawBenchExample("1-2", 0, "请选择。\n问题A", "正确答案：A。")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"instruction": "x"}', "holds a JSON dict, not a list"),
        ('[{"instruction": "x", "question": "y"}]', "item 0 lacks answer"),
        ('[{"instruction": "x", "question": "y", "answer": 3}]', "item 0: answer must be a string"),
        ("[1]", "item 0 is not a JSON object"),
    ],
)
def test_read_task_file_names_file_and_item(tmp_path, content, message):
    path = tmp_path / "2-1.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(FlawnError, match=message) as err:
        tasks.read_task_file(path)
    assert str(path) in str(err.value) and "task 2-1" in str(err.value)


def test_read_task_file_reports_json_line(tmp_path):
    path = tmp_path / "3-1.json"
    path.write_text('[\n{"instruction": "x",\n oops}\n]', encoding="utf-8")
    with pytest.raises(RecordError) as err:
        tasks.read_task_file(path)
    assert err.value.path == str(path) and err.value.line == 3


def test_missing_task_file_is_named(tmp_path):
    with pytest.raises(FlawnError, match=r"task 1-1: .*zero_shot/1-1.json is missing"):
        tasks.load_examples("1-1", data_dir=tmp_path)
    with pytest.raises(FlawnError, match="unknown LawBench prompt setting"):
        tasks.load_examples("1-1", shot="two_shot", data_dir=tmp_path)


@pytest.mark.shared_data
def test_shared_task_files_load(shared_data):
    data_dir = shared_data / "lawbench" / "data"
    for task_id in tasks.task_table():
        for shot in tasks.SHOTS:
            examples = tasks.load_examples(task_id, shot, data_dir)
            assert len(examples) == tasks.get_task(task_id).n
    (first, *_) = tasks.load_examples("2-1", "zero_shot", data_dir)
    raw = json.loads((data_dir / "zero_shot" / "2-1.json").read_text(encoding="utf-8"))[0]
    assert first.prompt == raw["instruction"] + "\n" + raw["question"]
    assert scorers.proofreading_source(first.prompt) == raw["question"]


@pytest.mark.shared_data
def test_golds_score_perfectly_against_themselves(shared_data):
    data_dir = shared_data / "lawbench" / "data"
    # Not 2-5/2-6 (golds carry prefixes or formats the output rules read differently) nor
    # 3-3 (some gold charges are missing from upstream's list of 189).
    perfect = ("1-2", "2-2", "2-3", "2-4", "2-8", "2-9", "2-10", "3-1", "3-4", "3-5", "3-6", "3-7")
    for task_id in perfect:
        golds = [e.gold for e in tasks.load_examples(task_id, data_dir=data_dir)]
        result = scorers.score_task(task_id, golds, golds)
        assert result["score"] == pytest.approx(1.0, abs=1e-9), task_id
        assert result["abstention_rate"] == 0.0, task_id


# --- ROUGE-L --------------------------------------------------------------------------


def test_rouge_l_on_segmented_text_by_hand():
    # LCS("甲 乙 丙 丁", "甲 丙") = 2: P = 1, R = 0.5.
    f = rouge.rouge_l_f("甲 丙", "甲 乙 丙 丁")
    assert close(f, 2.0 * (0.5 / (1.5 + 1e-8)))
    # Sentence ends split sentences, but the LCS runs over the whole word lists: 2 of 5.
    assert close(rouge.rouge_l_f("丙 丁 。 甲 乙", "甲 乙 。 丙 丁"), 2.0 * (0.16 / (0.8 + 1e-8)))


def test_rouge_matches_rouge_chinese():
    from rouge_chinese import Rouge

    preds = [
        "根据《刑法》第二百六十四条，盗窃公私财物，数额较大的，处三年以下有期徒刑。",
        "被告人应当赔偿损失。法院判决如下！",
        "我不知道",
        "",
    ]
    refs = [
        "盗窃公私财物，数额较大的，或者多次盗窃的，处三年以下有期徒刑、拘役或者管制。",
        "法院判决被告人赔偿原告损失共计五千元。",
        "依照法律规定，应当予以支持。",
        "应当支持。",
    ]
    ours = rouge.rouge_l_scores(preds, refs)
    hyps = [rouge.segment(p) or rouge.EMPTY_PREDICTION for p in preds]
    theirs = Rouge(metrics=["rouge-l"]).get_scores(hyps, [rouge.segment(r) for r in refs])
    assert ours == [s["rouge-l"]["f"] for s in theirs]


def test_article_recitation_strips_answer_prefix_and_blank_predictions():
    gold = "答案:农民专业合作社设理事长一名。"
    perfect = scorers.article_recitation(["农民专业合作社设理事长一名。"], [gold])
    assert perfect["score"] == pytest.approx(1.0, abs=1e-7) and perfect["abstention_rate"] == 0
    blank = scorers.article_recitation(["  "], [gold])
    assert blank == {"score": 0.0, "abstention_rate": 0.0}  # scored as 无内容
    with pytest.raises(FlawnError, match="task 3-8: item 0: the reference is empty"):
        scorers.consultation(["回答"], [""])


# --- choice tasks ---------------------------------------------------------------------


def test_knowledge_qa_letter_rule():
    golds = ["正确答案：B。"] * 4
    preds = ["[正确答案]B<eoa>", "A或者B", "我无法回答", "Because"]  # "Because" holds B only
    assert scorers.knowledge_qa(preds, golds) == {"score": 0.5, "abstention_rate": 0.25}
    with pytest.raises(FlawnError, match=r"task 1-2: item 0: gold '正确答案:B' is not"):
        scorers.knowledge_qa(["B"], ["正确答案:B"])  # 1-2 uses a full-width colon


def test_case_analysis_and_argument_mining_golds():
    assert scorers.case_analysis(["C"], ["正确答案:C"])["score"] == 1.0
    assert scorers.argument_mining(["E", "AE"], ["[正确答案]E", "[正确答案]E"]) == {
        "score": 0.5,
        "abstention_rate": 0.0,
    }
    with pytest.raises(FlawnError, match="task 2-8: item 0"):
        scorers.argument_mining(["F"], ["[正确答案]F"])


def test_dispute_focus_skips_compensation_but_counts_its_abstention():
    golds = [
        "争议焦点类别：责任认定。",
        "争议焦点类别：赔偿。",
        "争议焦点类别：利息。",
        "争议焦点类别：利息。",
    ]
    preds = ["责任认定", "无", "利息和本金争议", "不清楚"]
    # Item 1 is skipped altogether; of items 0, 2, 3 one is correct and one abstains,
    # and the abstention rate still divides by all 4 items.
    assert scorers.dispute_focus(preds, golds) == {"score": 1 / 3, "abstention_rate": 0.25}
    assert scorers.dispute_focus_corrected(preds, golds) == {
        "score": 1 / 3,
        "abstention_rate": 1 / 3,
    }
    with pytest.raises(FlawnError, match="task 2-2: item 0"):
        scorers.dispute_focus(["x"], ["争议焦点类别：不存在。"])


def test_issue_topic_uses_bare_labels():
    assert scorers.issue_topic(["属于婚姻家庭", "侵权或合同纠纷"], ["婚姻家庭", "侵权"]) == {
        "score": 0.5,
        "abstention_rate": 0.0,
    }
    with pytest.raises(FlawnError, match="one of the 20 topic labels"):
        scorers.issue_topic(["x"], ["刑法"])


def test_judge_single_choice():
    assert extraction.judge_single_choice("选B", "ABCD", "B") == (True, False)
    assert extraction.judge_single_choice("BB", "ABCD", "B") == (True, False)
    assert extraction.judge_single_choice("无", "ABCD", "B") == (False, True)
    assert extraction.judge_single_choice("CD", "ABCD", "B") == (False, False)


# --- set F1 tasks ---------------------------------------------------------------------


def test_marital_disputes_set_f1():
    golds = ["类别:婚后有子女、支付抚养费。", "类别:准予离婚。"]
    preds = ["婚后有子女；准予离婚", "没有"]
    # Item 0: found {婚后有子女, 准予离婚}: P = R = 0.5, F = 0.5. Item 1: abstains, F = 0.
    assert scorers.marital_disputes(preds, golds) == {"score": 0.25, "abstention_rate": 0.5}
    with pytest.raises(FlawnError, match="task 2-3: item 0"):
        scorers.marital_disputes(["x"], ["类别:离婚"])


def test_event_detection_set_f1():
    golds = ["支付/给付;卖出", "拘捕"]
    preds = ["支付/给付；买入", "无事件"]
    assert scorers.event_detection(preds, golds) == {"score": 0.25, "abstention_rate": 0.5}


def test_charge_prediction_substring_search():
    result = scorers.charge_prediction(["构成盗窃罪", "无"], ["罪名:盗窃;诈骗", "罪名:抢劫"])
    assert close(result["score"], (2 / 3) / 2) and result["abstention_rate"] == 0.5
    with pytest.raises(FlawnError, match="task 3-3: item 0"):
        scorers.charge_prediction(["x"], ["盗窃"])


def test_fact_article_prediction_reads_numbers_like_upstream():
    # 第…款 is removed up to the first 款, taking 第六十七条 with it.
    assert extraction.article_numbers("根据刑法第二百六十四条、第六十七条第一款") == [264]
    assert extraction.article_numbers("第264条、第六十七条、无") == [264, 67]
    result = scorers.fact_article_prediction(
        ["根据刑法第二百六十四条、第六十七条第一款", "不知道"], ["法条:刑法第264、67条"] * 2
    )
    assert close(result["score"], (2 / 3) / 2) and result["abstention_rate"] == 0.5
    with pytest.raises(FlawnError, match="task 3-1: item 0"):
        scorers.fact_article_prediction(["x"], ["法条:刑法第999条"])


def test_set_f1():
    assert scorers.set_f1({1, 2}, {2, 3, 4}) == pytest.approx(0.4)
    assert scorers.set_f1({1}, set()) == 0


# --- extraction tasks -----------------------------------------------------------------


def test_char_f1():
    assert scorers.char_f1("21万元借款", "借款21万元。") == 1.0
    assert close(scorers.char_f1("abc", "ABD"), 2 / 3)
    assert scorers.char_f1("，", "") == 1.0  # both empty after normalisation
    assert scorers.char_f1("甲", "") == 0.0


def test_reading_comprehension_drops_answer_prefix():
    result = scorers.reading_comprehension(["21万元", "乙"], ["回答:21万元", "回答:甲"])
    assert result == {"score": 0.5, "abstention_rate": 0.0}


def test_entity_extraction_rules():
    types = scorers.labels()["entity_types_2-6"]
    found = extraction.entities_in_prediction("受害人:严某某\n被盗物品:手机壳\n作案工具:无", types)
    assert found == {"受害人": "严某某", "被盗物品": "手机壳"}
    assert extraction.entities_in_prediction("时间:5", types) == {}  # ends too close to the end
    assert extraction.entities_in_prediction("地点：北京 时间:今天上午", types) == {
        "地点": "北京",
        "时间": "今天上午",
    }
    assert extraction.entities_in_gold("") == {}
    with pytest.raises(ValueError, match="has no ':'"):
        extraction.entities_in_gold("受害人严某")


def test_named_entities_soft_f1_and_abstention_quirk():
    golds = ["受害人:严某某;被盗物品:手机", "", "", "时间:昨天"]
    preds = ["受害人:严某某\n被盗物品:手机壳\n作案工具:无", "没有实体", "地点:北京市", "无"]
    # Item 0: F1s 1 and 0.8 -> P = R = 0.9; item 1: 1; item 2: 0; item 3: abstains, 0.
    expected = (2 * 0.81 / (1.8 + 1e-10) + 1) / 4
    official = scorers.named_entities(preds, golds)
    assert close(official["score"], expected) and official["abstention_rate"] == 0.0
    corrected = scorers.named_entities_corrected(preds, golds)
    assert close(corrected["score"], expected) and corrected["abstention_rate"] == 0.25
    with pytest.raises(FlawnError, match="task 2-6: item 0"):
        scorers.named_entities(["x"], ["受害人严某"])


def test_trigger_words_positional_soft_f1():
    # Item 0: pair F1s 1 and 0.5 -> P = R = 0.75. Item 1: "；" does not split, so one
    # predicted word "查扣；退给" against "查扣": F1 2/3 -> P = 2/3, R = 1/3.
    result = scorers.trigger_words(["查扣;退还", "查扣；退给"], ["查扣;退给", "查扣;退给"])
    item0 = 2 * 0.75 * 0.75 / (1.5 + 1e-10)
    item1 = 2 * (2 / 3) * (1 / 3) / (1 + 1e-10)
    assert close(result["score"], (item0 + item1) / 2) and result["abstention_rate"] == 0.0


# --- regression tasks -----------------------------------------------------------------


def test_prison_term_months_rule():
    assert extraction.prison_term_months("判处有期徒刑一年") == 12
    assert extraction.prison_term_months("三年六个月") == 6  # months win over years
    assert extraction.prison_term_months("[刑期]8月<eoa>") == 8
    assert extraction.prison_term_months("缓刑") is None


def test_prison_term_log_distance_and_skipped_items():
    golds = ["刑期:12个月", "刑期:6个月", "刑期:死刑", "刑期:无期"]
    preds = ["判处有期徒刑一年", "拘役", "死刑", "无期徒刑"]
    cap = math.log(216)
    mean = (0 + cap) / 2  # items 2 and 3 are skipped
    result = scorers.prison_term_without_articles(preds, golds)
    assert close(result["score"], (cap - mean) / cap) and result["abstention_rate"] == 0.25
    corrected = scorers.CORRECTED_SCORERS["3-5"](preds, golds)
    assert close(corrected["score"], result["score"]) and corrected["abstention_rate"] == 0.5
    far = scorers.prison_term_with_articles(["300个月"], ["刑期:2个月"])
    assert close(far["score"], (cap - abs(math.log(3) - math.log(301))) / cap)
    with pytest.raises(FlawnError, match=r"task 3-4: item 0: gold '刑期:一年'"):
        scorers.prison_term_without_articles(["x"], ["刑期:一年"])
    with pytest.raises(FlawnError, match="task 3-4: no item can be scored"):
        scorers.prison_term_without_articles(["死刑"], ["刑期:死刑"])


def test_criminal_damages_number_present():
    gold = "上文涉及到的犯罪金额:8500.0元。"
    result = scorers.criminal_damages(["共计8500元", "8,500元", "不详"], [gold] * 3)
    assert result == {"score": 1 / 3, "abstention_rate": 1 / 3}
    with pytest.raises(FlawnError, match="task 3-7: item 0"):
        scorers.criminal_damages(["x"], ["上文涉及到的犯罪金额:1万元。"])


# --- ChERRANT (2-1) -------------------------------------------------------------------


@pytest.mark.shared_data
def test_shipped_dictionaries_are_lawbench_files(shared_data):
    upstream = shared_data / "lawbench" / "evaluation" / "utils" / "data"
    shipped = pathlib.Path(cherrant.__file__).parent / "data"
    for name in ("cilin.txt", "confusion_dict.txt"):
        packed = gzip.decompress((shipped / f"{name}.gz").read_bytes())
        assert packed == (upstream / name).read_bytes(), name


def test_cherrant_tokens_and_costs():
    assert cherrant.tokenize("他[缺失成分]去") == ["他", cherrant.MISSING_COMPONENT, "去"]
    # '。' is missing from ChERRANT's punctuation list, so '，' -> '。' is a mixed pair.
    assert close(cherrant._substitution_cost("，", "。"), 4 / 6 + 0.5 + 0.499)
    assert close(cherrant._substitution_cost("a", "诉"), 4 / 6 + 0.5 + 0.25)
    assert close(cherrant._substitution_cost("；", "，"), 4 / 6 + 0.5 + 0.0)


def test_cherrant_annotations():
    source = "上诉证据收集程序合法，足以认定指控实施。"
    gold = "上述证据收集程序合法，足以认定指控事实。"
    assert cherrant.annotate(source, gold) == [
        "A 1 2|||S|||述|||REQUIRED|||-NONE-|||0",
        "A 17 17|||M|||事|||REQUIRED|||-NONE-|||0",
        "A 18 19|||R|||-NONE-|||REQUIRED|||-NONE-|||0",
    ]
    assert cherrant.annotate("甲乙丙", "丙乙甲") == ["A 0 3|||W|||丙 乙 甲|||REQUIRED|||-NONE-|||0"]
    assert cherrant.annotate(source, "没有错误") == [
        "A -1 -1|||noop|||-NONE-|||REQUIRED|||-NONE-|||0"
    ]
    # Two cheapest alignments give two distinct edit lists; both are kept (in any order).
    assert sorted(cherrant.annotate("aa", "bab")) == sorted(
        [
            "A 0 0|||M|||b|||REQUIRED|||-NONE-|||0",
            "A 1 2|||S|||b|||REQUIRED|||-NONE-|||0",
            "A 0 1|||S|||b|||REQUIRED|||-NONE-|||0",
            "A 2 2|||M|||b|||REQUIRED|||-NONE-|||0",
        ]
    )


def test_grouped_enumeration_matches_walking_every_alignment():
    # flawn enumerates merged-span sequences instead of alignments; the distinct
    # edit lists must be the same as walking every cheapest alignment.
    rng = random.Random(7)
    alphabet = [*"上述诉事实施证据，。、ab的得", cherrant.MISSING_COMPONENT]
    for _ in range(300):
        src = [rng.choice(alphabet) for _ in range(rng.randint(1, 10))]
        tgt = list(src)
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(tgt) + 1)
            if rng.random() < 0.5 and tgt[where:]:
                tgt[where] = rng.choice(alphabet)
            else:
                tgt.insert(where, rng.choice(alphabet))
        ops = cherrant._align(src, tgt, cherrant._Work(None))
        walked = {
            tuple(cherrant._merge(a, src, tgt))
            for a in cherrant._cheapest_alignments(ops, first_only=False)
        }
        grouped = {tuple(cherrant._refine(g, src, tgt)) for g in cherrant._grouped_alignments(ops)}
        assert walked == grouped, ("".join(src), "".join(tgt))
    ops = cherrant._align(["a", "a"], ["b", "a", "b"], cherrant._Work(None))
    assert cherrant._count_alignments(ops, first_only=False) == 2


def test_cherrant_counts_and_f05_by_hand():
    sources = ["上诉证据合法。", "他去了北京。", "今天天气好。", "我们走吧"]
    hyps = ["上述证据合法。", "他去了北京。", "今天天汽好。", "任意"]
    refs = ["上述证据合法。", "他去过北京。", "今天天气好。", "无法标注"]
    result = cherrant.score_corpus(sources, hyps, refs)
    # Item 0: 1 TP. Item 1: 1 FN (no change made). Item 2: 1 FP. Item 3: unannotatable.
    assert result.counts == cherrant.EditCounts(tp=1, fp=1, fn=1)
    assert (result.precision, result.recall, result.f05) == (0.5, 0.5, 0.5)
    assert cherrant.f_beta(cherrant.EditCounts(1, 3, 0)) == (
        0.25,
        1.0,
        round(1.25 * 0.25 / 1.0625, 4),
    )
    assert cherrant.f_beta(cherrant.EditCounts()) == (1.0, 1.0, 1.0)


def test_cherrant_fallbacks():
    # A correction that is blank once whitespace is removed becomes 无, as upstream does.
    table, fell_back = cherrant.correction_edits("我们走吧", "  \u3000 ")
    assert fell_back and table == cherrant.edit_table(cherrant.annotate("我们走吧", "无"))
    # So does one whose alignment would take too long.
    table, fell_back = cherrant.correction_edits("我们走吧", "他们来了", work_limit=10)
    assert fell_back
    with pytest.raises(FlawnError, match="the source sentence is empty"):
        cherrant.correction_edits(" ", "x")


def test_cherrant_time_limit_fallback(caplog):
    # 950 x 950 table cells alone exceed the estimated time upstream allows.
    source, hyp, gold = "法" * 950, "律" * 950, "法" * 949 + "律"
    result = cherrant.score_corpus([source], [hyp], [gold])
    assert result.fallbacks == (0,) and result.reference_fallbacks == (0,)
    # Both sides became 无, so they agree; annotated in full they share no edit.
    assert result.f05 == 1.0 and result.full_annotation_f05 == 0.0
    assert result.full_annotation_counts == cherrant.EditCounts(tp=0, fp=1, fn=1)
    prompt = "句子：\n" + source
    with caplog.at_level(logging.WARNING):
        scores = scorers.document_proofreading([hyp], [gold], [prompt])
    assert "1 model output(s) scored as 无" in caplog.text and "items 0" in caplog.text
    assert scores == {"score": 1.0, "abstention_rate": 0.0, scorers.FULL_ANNOTATION_KEY: 0.0}
    # Without a limit nothing is replaced, and the full-annotation counts are the counts.
    unlimited = cherrant.score_corpus([source], [hyp], [gold], work_limit=None)
    assert unlimited.fallbacks == () and unlimited.full_annotation_f05 == unlimited.f05 == 0.0


def test_both_2_1_scores_agree_when_no_timeout_triggers():
    prompts = [
        "纠正下面句子。句子：\n上诉证据合法。",
        "句子：\n他去了北京。",
        "句子：\n今天天汽好。",
    ]
    outputs = ["上述证据合法。", "他去过北京了。", "今天天汽好。"]
    golds = ["上述证据合法。", "他去过北京。", "今天天气好。"]
    result = scorers.document_proofreading(outputs, golds, prompts)
    assert 0 < result["score"] < 1
    assert result[scorers.FULL_ANNOTATION_KEY] == result["score"]
    # The corrected scorer annotates in full too, only unrounded.
    corrected = scorers.document_proofreading_corrected(outputs, golds, prompts)["score"]
    assert round(corrected, 4) == result["score"]


def test_full_annotation_gets_its_own_result_row():
    from flawn.evals import rows
    from flawn.results import TASK_COLUMNS, UNAVERAGED_TASKS, write_rows

    identity = {column: "x" for column in TASK_COLUMNS[: TASK_COLUMNS.index("task")]}
    info = tasks.get_task("2-1")
    scores = {"score": 0.0184, "abstention_rate": 0.0, scorers.FULL_ANNOTATION_KEY: 0.0165}
    official, full = rows.lawbench_task_rows(identity, "2-1", info, scores, 500, 3)
    assert (official["task"], official["metric"], official["score"]) == (
        "2-1",
        "f0.5_cherrant",
        0.0184,
    )
    assert (full["task"], full["metric"], full["score"]) == (
        scorers.FULL_ANNOTATION_TASK,
        scorers.FULL_ANNOTATION_METRIC,
        0.0165,
    )
    assert full["category"] == "understanding" and (full["n"], full["n_truncated"]) == (500, 3)
    assert scorers.FULL_ANNOTATION_TASK in UNAVERAGED_TASKS
    assert write_rows(os.devnull, [official, full], TASK_COLUMNS) == 2  # the fixed schema
    # Other tasks, and 2-1 scored by the corrected scorer, keep one row.
    assert (
        len(
            rows.lawbench_task_rows(
                identity, "2-1", info, {"score": 0.0, "abstention_rate": 0.0}, 1, 0
            )
        )
        == 1
    )


def test_document_proofreading_prepares_like_upstream():
    prompt = "纠正下面句子。句子：\n上诉证据合法。"
    assert scorers.proofreading_source(prompt) == "上诉证据合法。"
    assert scorers.proofreading_source([{"prompt": prompt}]) == "上诉证据合法。"
    # Cut to len(gold) + 5 = 12 characters.
    assert scorers.proofreading_hypothesis("上述证据合法。这是修改后的句子", "上述证据合法。") == (
        "上述证据合法。这是修改后"
    )
    assert scorers.proofreading_hypothesis("\n", "x") == "无内容"
    # The newline goes; the inserted "修改后：" is a false positive next to the true
    # correction 诉 -> 述: P = 0.5, R = 1, F0.5 = 1.25 * 0.5 / 1.125.
    result = scorers.document_proofreading(
        ["修改后：\n上述证据合法。"], ["上述证据合法。"], [prompt]
    )
    f05 = round(1.25 * 0.5 / 1.125, 4)
    assert result == {
        "score": f05,
        "abstention_rate": 0.0,
        scorers.FULL_ANNOTATION_KEY: f05,
    }
    corrected = scorers.document_proofreading_corrected(
        ["修改后：\n上述证据合法。"], ["上述证据合法。"], [prompt]
    )
    assert corrected == {"score": 1.25 * 0.5 / 1.125, "abstention_rate": 0.0}
    result = scorers.document_proofreading(["上述证据合法。"], ["上述证据合法。"], [prompt])
    assert result == {"score": 1.0, "abstention_rate": 0.0, scorers.FULL_ANNOTATION_KEY: 1.0}
    with pytest.raises(FlawnError, match="needs the origin prompts"):
        scorers.document_proofreading(["x"], ["y"])
    with pytest.raises(FlawnError, match="task 2-1: item 0: the prompt has no"):
        scorers.document_proofreading(["x"], ["y"], ["没有句子"])


# --- common checks, seqio -------------------------------------------------------------


def test_scorers_check_their_inputs():
    with pytest.raises(FlawnError, match="task 3-6: 1 predictions but 2 golds"):
        scorers.case_analysis(["A"], ["正确答案:A", "正确答案:B"])
    with pytest.raises(FlawnError, match="task 3-6: cannot score an empty task"):
        scorers.case_analysis([], [])
    with pytest.raises(FlawnError, match="task 2-5: item 0: the prediction is a NoneType"):
        scorers.reading_comprehension([None], ["回答:x"])
    with pytest.raises(FlawnError, match="unknown LawBench task"):
        scorers.score_task("9-9", ["x"], ["y"])


def test_seqio_metrics():
    fn = scorers.SEQIO_METRICS["3-6"]
    assert fn(["正确答案:A", "正确答案:B".encode()], ["A", "C"]) == {
        "score": 0.5,
        "abstention_rate": 0.0,
    }
    proofread = scorers.SEQIO_METRICS["2-1"]
    prompt = "句子：\n上诉证据合法。"
    target = {"gold": "上述证据合法。", "prompt": prompt}
    assert proofread([target], ["上述证据合法。"]) == {
        "score": 1.0,
        "abstention_rate": 0.0,
        scorers.FULL_ANNOTATION_KEY: 1.0,
    }
    with pytest.raises(FlawnError, match="mappings with 'gold' and 'prompt'"):
        proofread(["上述证据合法。"], ["上述证据合法。"])
    assert scorers.seqio_metric("2-6", corrected=True)(["时间:昨天"], ["无"]) == {
        "score": 0.0,
        "abstention_rate": 1.0,
    }


# --- prediction folders ---------------------------------------------------------------


def write_predictions(folder, task_id, records):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task_id}.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def record(prediction, refr, prompt="问题"):
    return {"origin_prompt": prompt, "prediction": prediction, "refr": refr}


def test_score_directory_and_reports(tmp_path, caplog):
    folder = tmp_path / "model"
    write_predictions(
        folder, "3-6", {"0": record("A", "正确答案:A"), "1": record("", "正确答案:B")}
    )
    write_predictions(folder, "1-2", {"0": record("选C", "正确答案：C。")})
    (folder / "notes.txt").write_text("x", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        scores = predictions.score_directory(folder)
    assert "notes.txt" in caplog.text
    assert list(scores) == ["1-2", "3-6"]
    assert scores["3-6"] == {"score": 0.5, "abstention_rate": 0.5}
    text = predictions.format_scores(scores)
    assert "Case Analysis" in text and "2 of 20 tasks" in text and "0.7500" in text
    out = predictions.write_scores_json(scores, tmp_path / "out" / "scores.json")
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == {"1-2": scores["1-2"], "3-6": {"score": 0.5, "abstention_rate": 0.5}}
    report = predictions.score_and_report(folder, tmp_path / "r.json")
    assert report.startswith("LawBench scores of") and "written:" in report
    assert scorers.TOLERANCE_NOTE in report and scorers.FULL_ANNOTATION_TASK in report
    with pytest.raises(FlawnError, match="no prediction file for task"):
        predictions.score_directory(folder, task_ids=["2-1"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"0": record("A", "正确答案:A"), "2": record("B", "正确答案:B")}, "missing ids 1"),
        ({"0": record("A", "正确答案:A"), "x": record("B", "正确答案:B")}, "unexpected keys x"),
        ({"0": {"prediction": "A", "refr": "正确答案:A"}}, "id 0 lacks origin_prompt"),
        ({"0": record(None, "正确答案:A")}, "id 0: prediction is a NoneType"),
        ([record("A", "正确答案:A")], "holds a JSON list"),
        ({}, "holds no predictions"),
    ],
)
def test_bad_prediction_files_name_task_file_and_problem(tmp_path, content, message):
    path = write_predictions(tmp_path, "3-6", content)
    with pytest.raises(FlawnError, match=message) as err:
        predictions.score_prediction_file(path)
    assert "task 3-6" in str(err.value) and str(path) in str(err.value)


def test_bad_gold_in_prediction_file_names_the_file(tmp_path):
    path = write_predictions(tmp_path, "3-6", {"0": record("A", "答案A")})
    with pytest.raises(FlawnError, match=r"3-6.json: task 3-6: item 0: gold '答案A'"):
        predictions.score_prediction_file(path)


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(FlawnError, match="holds no LawBench prediction file"):
        predictions.score_directory(tmp_path)
    with pytest.raises(FlawnError, match="is not a folder"):
        predictions.score_directory(tmp_path / "absent")


# --- acceptance: the official results ------------------------------------------------

MODELS = ("chatglm2-6b-hf", "lawgpt-7b-beta1.0-hf")
QUICK_TASKS = ("1-2", "2-2", "2-3", "2-4", "2-5", "2-6", "2-8", "3-1", "3-3", "3-4", "3-5", "3-6")
QUICK_TASKS += ("3-7",)
ROUGE_TASKS = ("1-1", "2-7", "3-2", "3-8")


def official_results(shared_data):
    path = shared_data / "lawbench" / "predictions" / "zero_shot" / "results.csv"
    with open(path, encoding="utf-8") as f:
        return {(row["task"], row["model_name"]): row for row in csv.DictReader(f)}


def check_against_official(shared_data, model, task_ids):
    """Scores ``task_ids`` of a shipped model, checks them against results.csv, returns them."""
    official = official_results(shared_data)
    folder = shared_data / "lawbench" / "predictions" / "zero_shot" / model
    scores = predictions.score_directory(folder, task_ids=task_ids)
    for task_id in task_ids:
        row = official[(task_id, model)]
        assert scores[task_id]["score"] == pytest.approx(float(row["score"]), abs=1e-6), task_id
        assert scores[task_id]["abstention_rate"] == pytest.approx(
            float(row["abstention_rate"]), abs=1e-6
        ), task_id
    return scores


@pytest.mark.shared_data
@pytest.mark.parametrize("model", MODELS)
def test_official_results_quick_tasks(shared_data, model):
    check_against_official(shared_data, model, QUICK_TASKS)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("model", MODELS)
def test_official_results_rouge_tasks(shared_data, model):
    check_against_official(shared_data, model, ROUGE_TASKS)


#: flawn's own 2-1 scores with every output annotated in full (upstream publishes none):
#: the emulated timeout replaces 21 outputs of chatglm2 and 1 of lawgpt.
FULL_ANNOTATION_SCORES = {"chatglm2-6b-hf": 0.0165, "lawgpt-7b-beta1.0-hf": 0.0338}


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("model", MODELS)
def test_official_results_document_proofreading(shared_data, model):
    if not (shared_data / "lawbench" / "predictions").is_dir():
        pytest.skip(f"{shared_data / 'lawbench' / 'predictions'} is not present")
    start = time.perf_counter()
    # Scoring once gives both numbers: the emulated one is the official one ...
    scores = check_against_official(shared_data, model, ("2-1",))
    # ... and the full-annotation one is computed, and printed beside it, outside the mean.
    full = scores["2-1"][scorers.FULL_ANNOTATION_KEY]
    assert full >= 0 and full == FULL_ANNOTATION_SCORES[model]
    report = predictions.format_scores(scores)
    assert f"{scorers.FULL_ANNOTATION_TASK} ({scorers.FULL_ANNOTATION_METRIC}" in report
    assert f"not in the mean): {full:.4f}" in report and scorers.TOLERANCE_NOTE in report
    print(
        f"2-1 ChERRANT (both scores) on 500 items of {model}: {time.perf_counter() - start:.1f} s"
    )


@pytest.mark.shared_data
def test_every_shipped_prediction_file_is_covered(shared_data):
    folder = shared_data / "lawbench" / "predictions" / "zero_shot"
    for model in MODELS:
        files, ignored = predictions.find_prediction_files(folder / model)
        assert not ignored
        assert set(files) == set(QUICK_TASKS) | set(ROUGE_TASKS) | {"2-1"}
    # Upstream published no predictions for 2-9 and 2-10 (their scorers are tested above).
    assert set(tasks.task_table()) - set(files) == {"2-9", "2-10"}
