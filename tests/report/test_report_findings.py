"""Findings tables (`rows = findings`) from synthetic eval outputs: the measured sign follows the
interval, seeds are paired when both arms ran the same seeds, an item subset from the contamination
checks restricts both arms to the same items, an eval shared by several seeds counts once, and the
four formats say the same thing, byte-identically for the same outputs. Contamination marks of the
variants table count items found with their answer apart from question-only matches, with the
clean-subset score beside them."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import finding, findings_config, write_scores

from olmospec.report import build_table, write_report
from olmospec.report_findings_render import findings_csv, findings_html, findings_latex, findings_markdown
from olmospec.report_render import csv_text, markdown, notes

N = 200


def _row(group: str, seed: int, evals: list[dict]) -> dict:
    return {"variant": f"{group}@seed{seed}", "group": group, "kind": "base" if group == "base" else "ablation",
            "seed": seed, "evals": evals, "stages": []}


def _binary(rng, p: float) -> list[float]:
    return (rng.random(N) < p).astype(float).tolist()


def test_measured_sign_follows_the_interval_and_is_compared_with_the_expected_one(tmp_path):
    rows = []
    for s in (1, 2, 3):
        for k, (group, p) in enumerate((("base", 0.30), ("better", 0.62), ("same", 0.31))):
            ev = write_scores(tmp_path, f"eval-{group}-{s}", "sft", {"exact_match": _binary(np.random.default_rng(10 * s + k), p)})
            rows.append(_row(group, s, [ev]))
    cfg = findings_config(rows, [finding("gain", ("better", "sft"), ("base", "sft"), "higher"),
                                 finding("flat", ("same", "sft"), ("base", "sft"), "none"),
                                 finding("claimed_gain", ("same", "sft"), ("base", "sft"), "higher")])
    t = build_table(cfg, tmp_path)
    gain, flat, claimed = t.findings
    assert gain.delta.low > 20 and gain.measured == "higher" and gain.agrees
    assert gain.measure.mean == pytest.approx(62, abs=5) and gain.against.mean == pytest.approx(30, abs=5)
    assert flat.delta.low < 0 < flat.delta.high and flat.measured == "none" and flat.agrees
    assert claimed.measured == "none" and claimed.agrees is False
    assert gain.paired and gain.n_items == N and len(gain.measure.evals) == 3
    md = findings_markdown(t)
    line = {r.split("|")[1].strip(): r for r in md.splitlines() if r.startswith("| ")}
    assert "| higher | higher | yes |" in line["gain"]
    assert "| no significant difference | higher | no |" in line["claimed_gain"]
    assert "claim gain (a public source, section 1)" in line["gain"] and "(3 seeds)" in line["gain"]
    assert "math, exact_match, 200 items" in line["flat"]
    assert r"no significant difference & higher & no \\" in findings_latex(t)
    csv = findings_csv(t).splitlines()
    assert csv[0].startswith("finding,claim,source,task,metric,items,n_items,measure,measure_mean")
    assert any(x.startswith("claimed_gain,") and ",none,higher,false," in x for x in csv)
    page = findings_html(t)
    assert page.count('class="agree"') == 2 and page.count('class="disagree"') == 1


def test_no_gain_agrees_with_a_drop_or_no_difference_but_not_with_a_rise(tmp_path):
    rows = []
    for s in (1, 2, 3):
        for k, (group, p) in enumerate((("base", 0.40), ("worse", 0.10), ("same", 0.41), ("better", 0.70))):
            ev = write_scores(tmp_path, f"eval-{group}-{s}", "sft", {"exact_match": _binary(np.random.default_rng(10 * s + k), p)})
            rows.append(_row(group, s, [ev]))
    cfg = findings_config(rows, [finding(g, (g, "sft"), ("base", "sft"), "no_gain") for g in ("worse", "same", "better")])
    worse, same, better = build_table(cfg, tmp_path).findings
    assert (worse.measured, same.measured, better.measured) == ("lower", "none", "higher")
    assert (worse.agrees, same.agrees, better.agrees) == (True, True, False)


def test_the_same_seeds_in_both_arms_are_paired_so_what_a_seed_does_to_both_cancels(tmp_path):
    rng = np.random.default_rng(0)
    items = rng.normal(-3.0, 0.5, N)
    effect = {1: -1.0, 2: 0.0, 3: 1.0, 4: -1.0, 5: 0.0, 6: 1.0}  # what the seed does, to both arms alike
    rows = []
    for s in (1, 2, 3):
        base = items + effect[s]
        rows.append(_row("base", s, [write_scores(tmp_path, f"eval-base-{s}", "pretrain",
                                                  {"gold_logprob": base.tolist()}, metric="gold_logprob")]))
        up = base + 0.05 + rng.normal(0, 0.01, N)
        rows.append(_row("up", s, [write_scores(tmp_path, f"eval-up-{s}", "pretrain",
                                                {"gold_logprob": up.tolist()}, metric="gold_logprob")]))
    for s in (4, 5, 6):  # the same numbers under other seeds: nothing to pair with
        up = items + effect[s] + 0.05
        rows.append(_row("other", s, [write_scores(tmp_path, f"eval-other-{s}", "pretrain",
                                                   {"gold_logprob": up.tolist()}, metric="gold_logprob")]))
    cfg = findings_config(rows, [finding("paired", ("up", "pretrain"), ("base", "pretrain"), "higher",
                                         metric="gold_logprob"),
                                 finding("unpaired", ("other", "pretrain"), ("base", "pretrain"), "higher",
                                         metric="gold_logprob")])
    paired, unpaired = build_table(cfg, tmp_path).findings
    assert paired.paired and not unpaired.paired
    assert paired.delta.estimate == pytest.approx(0.05, abs=0.005) and paired.delta.low > 0.04
    assert unpaired.delta.estimate == pytest.approx(0.05, abs=1e-9)
    assert unpaired.delta.low < 0 < unpaired.delta.high, "seed spread of ±1 nat swamps 0.05 without pairing"
    md = findings_markdown(build_table(cfg, tmp_path))
    assert "+0.050 [" in md and "math, gold_logprob, 200 items" in md  # nats, three decimals


def _clean_and_dirty(tmp_path, base, dirty, found: list[str], seen: list[str]) -> list[dict]:
    """A decontaminated model (base) and one whose checks found `found` items, `seen` with answers."""
    return [_row("base", 1, [write_scores(tmp_path, "eval-base", "pretrain", {"gold_logprob": base.tolist()},
                                          metric="gold_logprob")]),
            _row("no_decontamination", 1, [write_scores(tmp_path, "eval-dirty", "pretrain",
                                                        {"gold_logprob": dirty.tolist()}, metric="gold_logprob",
                                                        found=found, answer_seen=seen)])]


ARMS = (("base", "pretrain"), ("no_decontamination", "pretrain"))


def test_an_item_subset_from_the_contamination_checks_scores_both_arms_on_the_same_items(tmp_path):
    rng = np.random.default_rng(1)
    found = [f"math-{i:04d}" for i in range(0, 80, 2)]  # 40 flagged
    seen = found[:10]  # 10 of them with their answer
    base = rng.normal(-4.0, 1.0, N)
    dirty = base + rng.normal(0, 0.3, N)
    dirty[[int(i[-4:]) for i in seen]] += 1.5  # the model that saw their answers likes them better
    rows = _clean_and_dirty(tmp_path, base, dirty, found, seen)
    cfg = findings_config(rows, [finding(f"on_{k}", *ARMS, "lower", metric="gold_logprob", items=k)
                                 for k in ("answer_seen", "flagged", "clean", "all")])
    seen_f, flagged_f, clean_f, all_f = build_table(cfg, tmp_path).findings
    assert (seen_f.n_items, flagged_f.n_items, clean_f.n_items, all_f.n_items) == (10, 40, 160, 200)
    assert seen_f.delta.estimate == pytest.approx(-1.5, abs=0.25) and seen_f.measured == "lower" and seen_f.agrees
    assert clean_f.measured == "none" and abs(clean_f.delta.estimate) < 0.1
    assert abs(all_f.delta.estimate) < abs(flagged_f.delta.estimate) < abs(seen_f.delta.estimate)
    md = findings_markdown(build_table(cfg, tmp_path))
    assert "math, gold_logprob, 10 answer seen items" in md and "math, gold_logprob, 160 clean items" in md


def test_relative_to_clean_takes_out_what_separates_the_two_models_on_every_item(tmp_path):
    """The dirty model is 0.4 nats worse everywhere (other data) and 0.3 better on the 10 items whose
    answers it saw: on those items alone it looks 0.1 worse; relative to the clean items, 0.3 better."""
    rng = np.random.default_rng(2)
    found = [f"math-{i:04d}" for i in range(0, 80, 2)]
    seen = found[:10]
    base = rng.normal(-4.0, 1.0, N)
    dirty = base - 0.4 + rng.normal(0, 0.05, N)
    dirty[[int(i[-4:]) for i in seen]] += 0.3
    rows = _clean_and_dirty(tmp_path, base, dirty, found, seen)
    cfg = findings_config(rows, [finding("raw", *ARMS, "lower", metric="gold_logprob", items="answer_seen"),
                                 finding("did", *ARMS, "lower", metric="gold_logprob", items="answer_seen",
                                         relative_to="clean")])
    raw, did = build_table(cfg, tmp_path).findings
    assert raw.delta.estimate == pytest.approx(0.1, abs=0.05) and raw.measured == "higher" and not raw.agrees
    assert did.delta.estimate == pytest.approx(-0.3, abs=0.05) and did.measured == "lower" and did.agrees
    assert (did.n_items, did.n_relative) == (10, 160)
    base_gap = base[[int(i[-4:]) for i in seen]].mean() - np.delete(base, range(0, 80, 2)).mean()
    assert did.measure.mean == pytest.approx(base_gap)  # each arm shows its own gap
    md = findings_markdown(build_table(cfg, tmp_path))
    assert "10 answer seen items relative to 160 clean items" in md
    assert findings_csv(build_table(cfg, tmp_path)).splitlines()[2].endswith(",clean,160")


def test_an_eval_shared_by_several_seeds_counts_once_and_a_missing_one_is_na(tmp_path):
    shared = write_scores(tmp_path, "eval-pretrain-shared", "pretrain", {"exact_match": [1.0, 0.0] * (N // 2)})
    rows = []
    for s in (1, 2, 3):
        own = write_scores(tmp_path, f"eval-sft-{s}", "sft", {"exact_match": _binary(np.random.default_rng(s), 0.6)})
        rows.append(_row("base", s, [shared, own]))
    cfg = findings_config(rows, [finding("sft_vs_pretrain", ("base", "sft"), ("base", "pretrain"), "higher"),
                                 finding("not_run", ("base", "sft"), ("ghost", "sft"), "higher")])
    f, na = build_table(cfg, tmp_path).findings
    assert f.against.seeds == [1] and len(f.against.evals) == 1 and f.against.sd is None
    assert len(f.measure.evals) == 3 and not f.paired
    assert na.delta is None and na.why_na == "not run yet" and na.agrees is None
    assert "| n/a (not run yet) |" in findings_markdown(build_table(cfg, tmp_path))
    # the variants table too: one eval behind three seeds is one value, not three copies (sd 0)
    vcfg = {"report": {"name": "main", "rows": "variants", "columns": ["math"], "baseline": "base",
                       "format": ["markdown"]}, "rows": [{**r, "evals": r["evals"][:1]} for r in rows],
            "stage_order": ["pretrain"]}
    cell = build_table(vcfg, tmp_path).rows[0].cells["math"]
    assert cell.values == [50.0] and cell.sd is None


def test_findings_files_are_byte_identical_for_the_same_outputs(tmp_path):
    rows = [_row("base", 1, [write_scores(tmp_path, "eval-a", "sft", {"exact_match": _binary(np.random.default_rng(5), 0.4)})]),
            _row("b", 1, [write_scores(tmp_path, "eval-b", "sft", {"exact_match": _binary(np.random.default_rng(6), 0.5)})])]
    cfg = findings_config(rows, [finding("x", ("b", "sft"), ("base", "sft"), "higher")])
    a = write_report(cfg, tmp_path, tmp_path / "a", plots=False)
    b = write_report(cfg, tmp_path, tmp_path / "b", plots=False)
    assert sorted(a) == ["csv", "html", "latex", "markdown"]
    for fmt in a:
        assert a[fmt].read_bytes() == b[fmt].read_bytes(), fmt


def test_a_cell_counts_items_seen_with_their_answer_apart_from_question_matches_and_gives_the_clean_score(tmp_path):
    scores = [1.0] * 20 + [0.0] * (N - 20)  # the 20 first items right, the rest wrong
    found = [f"math-{i:04d}" for i in range(25)]  # flagged: the 20 right ones and 5 more
    ev = write_scores(tmp_path, "eval-dirty", "sft", {"exact_match": scores}, found=found, answer_seen=found[:3])
    cfg = {"report": {"name": "main", "rows": "variants", "columns": ["math"], "baseline": "base",
                      "format": ["markdown"]}, "rows": [_row("base", 1, [ev])], "stage_order": ["sft"]}
    t = build_table(cfg, tmp_path)
    cell = t.rows[0].cells["math"]
    assert (cell.flagged, cell.answer_seen, cell.clean_items) == (25, 3, N - 25)
    assert cell.mean == pytest.approx(10.0) and cell.clean_mean == pytest.approx(0.0)
    assert "| base (baseline) | 10.0 †3 °22 |" in markdown(t)
    assert "3 with their answer (†), 22 on their question only (°); clean subset (175 items found in neither way): 0.0" \
        in notes(t)[0]
    assert csv_text(t).splitlines()[1].endswith(",pretrain:25,25,3,175,0.0000,false,")


def test_a_variant_that_stops_earlier_is_compared_with_the_baseline_at_its_stage(tmp_path):
    """A data ablation measured on the base model: its last math eval is at pretrain while the
    baseline's is at sft; the delta compares both at pretrain, and the cell says so."""
    rng = np.random.default_rng(3)
    base_pre = write_scores(tmp_path, "eval-base-pre", "pretrain", {"exact_match": _binary(rng, 0.10)})
    base_sft = write_scores(tmp_path, "eval-base-sft", "sft", {"exact_match": _binary(rng, 0.60)})
    abl_pre = write_scores(tmp_path, "eval-abl-pre", "pretrain", {"exact_match": _binary(rng, 0.12)})
    rows = [_row("base", 1, [base_pre, base_sft]), _row("abl", 1, [abl_pre])]
    cfg = {"report": {"name": "main", "rows": "variants", "columns": ["math"], "baseline": "base",
                      "format": ["markdown", "csv"]}, "rows": rows, "stage_order": ["pretrain", "sft"], "spec": "f.ospec"}
    t = build_table(cfg, tmp_path)
    cell = next(r for r in t.rows if r.label == "abl").cells["math"]
    assert cell.at == "pretrain" and abs(cell.delta.estimate) < 10  # not 12 - 60
    assert "@pretrain" in markdown(t)
    assert next(line for line in csv_text(t).splitlines() if line.startswith("abl,")).endswith(",pretrain")
