"""A `Table` as Markdown, LaTeX, CSV or one self-contained HTML page.

Every renderer is a pure function of the table (and, for HTML, the plot images): no clock, no
hostname, sorted keys, so the same metrics give byte-identical files. Marks, the same in every
format: `≈` no significant difference from the baseline (the interval contains 0), `†N` N evaluated
items were found in the model's training data with their answer, `°N` N more matched on their
question only (a sibling from the same template, most often), `‡` stale (an input changed since the
number was made), `n/a` not run yet. A `rows = findings` table is rendered by
`report_findings_render`.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from olmospec.report import Cell, Table

LEGEND = ("values: mean ± sd over seeds (percent); Δ: difference from the baseline with a 95% interval "
          "from a two-level bootstrap over seeds and items (seeded, 2000 replicates); "
          "≈ no significant difference (the interval contains 0); †N: N of the evaluated items were found in the "
          "model's training data with their own numbers and answer (8-gram rule plus answer check; see notes); "
          "°N: N more matched the 8-gram rule on their question only (most often a sibling written from the same "
          "template with other numbers); @stage: measured at that stage, and Δ against the baseline at the same "
          "stage; ‡ stale: an input changed since this number was computed (dvc status); n/a: not run yet")


def _num(x: float | None, signed: bool = False, digits: int = 1) -> str:
    if x is None:
        return ""
    s = f"{x:+.{digits}f}" if signed else f"{x:.{digits}f}"
    zero = f"{0:.{digits}f}"
    return (("+" if signed else "") + zero) if s.lstrip("+-") == zero else s


def value_text(c: Cell) -> str:
    if not c.values:
        return "n/a"
    s = _num(c.mean) + (f" ± {_num(c.sd)}" if c.sd is not None else "")
    if c.missing:
        s += f" ({len(c.values)}/{len(c.values) + c.missing} seeds)"
    if c.at:
        s += f" @{c.at}"
    return s + contamination_mark(c) + ("‡" if c.stale else "")


def contamination_mark(c: Cell) -> str:
    """` †3 °9`: items found with their answer, items matched on the question only ("†" alone for
    evals that kept counts but no ids)."""
    if not c.flagged:
        return "†" if c.contaminated else ""
    only_question = c.flagged - c.answer_seen
    return (f" †{c.answer_seen}" if c.answer_seen else "") + (f" °{only_question}" if only_question else "")


def delta_text(c: Cell) -> str:
    d = c.delta
    if d is None:
        return ""
    return f"{_num(d.estimate, True)} [{_num(d.low, True)}, {_num(d.high, True)}]" + ("" if d.significant else " ≈")


def _header(t: Table) -> list[str]:
    head = ["variant" if t.rows_kind == "variants" else "stage"]
    for c in t.columns:
        head.append(_col(c))
        if t.baseline:
            head.append(f"Δ {_col(c)}")
    return head


def _col(c: str) -> str:
    return f"RULER {c.split('@', 1)[1]}" if c.startswith("ruler@") else c


def _cells(t: Table) -> list[list[str]]:
    out = []
    for r in t.rows:
        label = r.label + (" (baseline)" if r.label == t.baseline else "")
        line = [label]
        for c in t.columns:
            line.append(value_text(r.cells[c]))
            if t.baseline:
                line.append(delta_text(r.cells[c]))
        out.append(line)
    return out


def notes(t: Table) -> list[str]:
    lines = []
    for r in t.rows:
        for c in t.columns:
            cell = r.cells[c]
            if cell.contaminated:
                where = ", ".join(f"{st} ({n} items)" for st, n in sorted(cell.contaminated.items()))
                line = f"† {r.label} / {_col(c)}: benchmark items found in the training data of {where}"
                if cell.flagged:
                    clean = f"{_num(cell.clean_mean)}" if cell.clean_mean is not None else "n/a"
                    line += (f"; of the evaluated items, {cell.answer_seen} with their answer (†), "
                             f"{cell.flagged - cell.answer_seen} on their question only (°); clean subset "
                             f"({cell.clean_items} items found in neither way): {clean}")
                lines.append(line)
            if cell.stale:
                lines.append(f"‡ {r.label} / {_col(c)}: stale ({', '.join(cell.evals)})")
    return lines


def provenance_lines(t: Table) -> list[str]:
    p = t.provenance
    if not p:
        return []
    lines = [f"git commit {p['git_commit']}; spec {p.get('spec')} (sha256 {p.get('spec_sha256')})",
             f"stages: {', '.join(p['stages'])}"]
    for sid, outs in sorted(p.get("dvc_lock", {}).items()):
        lines.append(f"dvc.lock {sid}: " + ", ".join(f"{k.rsplit('/', 1)[-1]}={v[:12]}" for k, v in sorted(outs.items())))
    if p.get("data_manifests"):
        lines.append("data manifests: " + ", ".join(f"{k}={v}" for k, v in sorted(p["data_manifests"].items())))
    if p.get("libraries"):
        lines.append("libraries: " + ", ".join(f"{k} {'/'.join(v)}" for k, v in sorted(p["libraries"].items())))
    lines.append(f"hardware: {', '.join(p.get('hardware') or ['unknown'])}; {'; '.join(p.get('backends') or [])}")
    return lines


def markdown(t: Table, images: dict[str, bytes] | None = None) -> str:
    if t.rows_kind == "findings":
        from olmospec.report_findings_render import findings_markdown

        return findings_markdown(t, images)
    head = _header(t)
    lines = [f"# {t.name}", "", "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in _cells(t)]
    lines += ["", LEGEND, ""]
    lines += [f"- {n}" for n in notes(t)]
    lines += ["", "## Provenance", ""] + [f"- {p}" for p in provenance_lines(t)]
    return "\n".join(lines).rstrip() + "\n"


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def _tex(s: str) -> str:
    s = "".join(_TEX.get(ch, ch) for ch in s)
    return (s.replace("±", r"$\pm$").replace("≈", r"$\approx$").replace("†", r"$^\dagger$")
            .replace("‡", r"$^\ddagger$").replace("Δ", r"$\Delta$"))


def latex(t: Table, images: dict[str, bytes] | None = None) -> str:
    if t.rows_kind == "findings":
        from olmospec.report_findings_render import findings_latex

        return findings_latex(t, images)
    head = _header(t)
    lines = [r"% GENERATED by olmospec report; needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
             r"\begin{tabular}{l" + "r" * (len(head) - 1) + "}", r"\toprule",
             " & ".join(_tex(h) for h in head) + r" \\", r"\midrule"]
    lines += [" & ".join(_tex(c) for c in row) + r" \\" for row in _cells(t)]
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + _tex(f"{t.name}: {LEGEND}") + "}",
              r"\end{table}"]
    lines += ["% " + n for n in notes(t)] + ["% " + p for p in provenance_lines(t)]
    return "\n".join(lines) + "\n"


def csv_text(t: Table, images: dict[str, bytes] | None = None) -> str:
    import csv
    import io

    if t.rows_kind == "findings":
        from olmospec.report_findings_render import findings_csv

        return findings_csv(t, images)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["row", "column", "mean", "sd", "seeds", "missing", "delta", "delta_low", "delta_high",
                "significant", "contaminated", "flagged", "answer_seen", "clean_items", "clean_mean", "stale", "at"])
    for r in t.rows:
        for c in t.columns:
            cell, d = r.cells[c], r.cells[c].delta
            w.writerow([r.label, c, _f(cell.mean), _f(cell.sd), len(cell.values), cell.missing,
                        _f(d.estimate if d else None), _f(d.low if d else None), _f(d.high if d else None),
                        "" if d is None else str(d.significant).lower(),
                        ";".join(f"{k}:{v}" for k, v in sorted(cell.contaminated.items())), cell.flagged,
                        cell.answer_seen, cell.clean_items, _f(cell.clean_mean), str(cell.stale).lower(), cell.at or ""])
    return buf.getvalue()


def _f(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


_CSS = """body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#eee}td.stale{color:#999;background:#f4f4f4}td.same{color:#666}td.contaminated{background:#fff3e0}
img{max-width:48%;margin:4px;border:1px solid #ddd}.small{font-size:85%;color:#555}"""
# NOTE: marks the page once every image decoded, so a headless browser can check the page rendered
_SCRIPT = ("window.addEventListener('load',function(){var i=document.images,ok=i.length>0;"
           "for(var k=0;k<i.length;k++){ok=ok&&i[k].complete&&i[k].naturalWidth>0;}"
           "document.body.setAttribute('data-rendered',ok?'yes':'no');});")


def html_page(t: Table, images: dict[str, bytes] | None = None) -> str:
    if t.rows_kind == "findings":
        from olmospec.report_findings_render import findings_html

        return findings_html(t, images)
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in _header(t))
    body = []
    for r, cells in zip(t.rows, _cells(t), strict=True):
        tds = [f"<td>{e(cells[0])}</td>"]
        k = 1
        for c in t.columns:
            cell = r.cells[c]
            seen = bool(cell.answer_seen) or (bool(cell.contaminated) and not cell.flagged)
            cls = " ".join(x for x, on in (("stale", cell.stale), ("contaminated", seen)) if on)
            tds.append(f'<td class="{cls}">{e(cells[k])}</td>' if cls else f"<td>{e(cells[k])}</td>")
            k += 1
            if t.baseline:
                same = cell.delta is not None and not cell.delta.significant
                tds.append(f'<td class="same">{e(cells[k])}</td>' if same else f"<td>{e(cells[k])}</td>")
                k += 1
        body.append("<tr>" + "".join(tds) + "</tr>")
    imgs = "".join(f'<img alt="{e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                   for name, png in sorted((images or {}).items()))
    note_html = "".join(f"<li>{e(n)}</li>" for n in notes(t))
    prov = "".join(f"<li>{e(p)}</li>" for p in provenance_lines(t))
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{e(t.name)}</title>"
            f"<style>{_CSS}</style><script>{_SCRIPT}</script></head><body>\n<h1>{e(t.name)}</h1>\n"
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>\n"
            f"<p class=\"small\">{e(LEGEND)}</p><ul class=\"small\">{note_html}</ul>\n<h2>Plots</h2><div>{imgs}</div>\n"
            f"<h2>Provenance</h2><ul class=\"small\">{prov}</ul>\n</body></html>\n")


RENDERERS: dict[str, Any] = {"markdown": markdown, "latex": latex, "csv": csv_text, "html": html_page}
