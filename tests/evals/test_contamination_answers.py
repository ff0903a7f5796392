"""Telling a planted item from a template sibling: the 8-gram rule matches both (generated problems
share most of their n-grams), the answer check only the copy that carries the item's own numbers
with its answer after it, in one paragraph."""

from __future__ import annotations

from evals.contamination import _answer_seen

ITEM = {"id": "math-0001", "question": "Tom walked 21 meters before lunch and 51 meters after lunch. How many "
                                       "meters did Tom walk altogether?", "answer": "72"}
MC = {"id": "mc-0001", "question": "What is the result of 96 + 66? Choose the correct number.",
      "choices": ["160", "162", "152", "172"], "label": 1}


def test_a_copy_with_its_answer_is_seen_even_edited():
    assert _answer_seen("Practice.\n\n1. Tom walked 21 meters before lunch and 51 meters after lunch. How many "
                        "meters did Tom walk altogether?\nAnswer: 72\n", ITEM, 8)
    # a word deleted near the end (the planted edits), and a worked solution before the answer
    assert _answer_seen("tom walked 21 meters before lunch and 51 meters after lunch how many meters tom walk "
                        "altogether? We add the two amounts: 21 + 51 = 72. Answer: 72", ITEM, 8)
    assert _answer_seen("Test yourself: Q. What is the result of 96 + 66? Choose the correct number.\n"
                        "A) 160  B) 162  C) 152  D) 172\nCorrect answer: B) 162", MC, 8)


def test_a_sibling_a_question_copy_without_answer_and_the_next_problems_numbers_are_not():
    sibling = ("Tom walked 21 meters before lunch and 64 meters after lunch. How many meters did Tom walk "
               "altogether?\nAnswer: 85\n\n")
    assert not _answer_seen(sibling, ITEM, 8)
    assert not _answer_seen(ITEM["question"] + " Think about it.", ITEM, 8)
    # the item's question without an answer, then the next problem whose numbers include 72
    assert not _answer_seen(ITEM["question"] + "\n\nAnna had 72 coins and spent 10.\nAnswer: 62", ITEM, 8)
    assert not _answer_seen(sibling + "Jack has 72 cookies.\nAnswer: 72", ITEM, 8)
    assert not _answer_seen("Write a short summary of the package jq.", {"id": "i", "prompt": "Write a short "
                            "summary of the package jq."}, 8)  # no reference answer: never "seen"
