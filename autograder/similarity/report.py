"""The similarity report on disk: two CSV files, an index page and one page per flagged pair.

``exports/<a>/similarity/``:

    pairs.csv             every pair of students, the highest score first
    reference.csv         every student against the instructor's reference
    index.html            both rankings, the threshold and how scores are weighed, notes
    pair-001.html ...     one per flagged student pair: the units side by side, matching lines marked
    reference-001.html    one per student flagged as close to the reference

Student code and names are hostile text: everything is HTML-escaped, and the pages load
nothing (no script, no external style or font; a Content-Security-Policy says so to the
browser). The folder is written beside the old one and swapped in whole.
"""

import csv
import html
import io
import shutil
import tempfile
from pathlib import Path

from . import COPY_SHARE, FLOOR, SPREADS, SimilarityReport
from .documents import Unit
from .scoring import COMMON, RARE, PairScore, UnitMatch

PAIRS_CSV, REFERENCE_CSV, INDEX = "pairs.csv", "reference.csv", "index.html"
UNFLAGGED_SHOWN = 30   # the index lists every flagged pair and this many more; the CSV has them all
MAX_LINES_SHOWN = 400  # per unit and side, on a pair page

PAIR_COLUMNS = ["rank", "student_a", "student_b", "score", "robust_z", "flagged", "matched_tokens_a",
                "matched_tokens_b", "written_tokens_a", "written_tokens_b", "by_function", "page"]
REFERENCE_COLUMNS = ["rank", "student", "score", "robust_z", "flagged", "matched_tokens_student",
                     "matched_tokens_reference", "written_tokens_student", "written_tokens_reference", "by_function",
                     "page"]


def write_report(report: SimilarityReport, folder: Path) -> Path:
    """Write the report into ``folder`` (replacing what was there); returns the index page."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.partial-"))
    try:
        pages = _write_pages(report, staging)
        _write_csv(staging / PAIRS_CSV, PAIR_COLUMNS, [
            [rank, p.a, p.b, f"{p.score:.3f}", f"{report.robust_z(p):.1f}", _yes(report.flagged(p)), *_token_columns(p),
             by_function(p), pages.get(id(p), "")] for rank, p in enumerate(report.pairs, start=1)])
        _write_csv(staging / REFERENCE_CSV, REFERENCE_COLUMNS, [
            [rank, p.a, f"{p.score:.3f}", f"{report.robust_z(p):.1f}", _yes(report.flagged(p)), *_token_columns(p),
             by_function(p), pages.get(id(p), "")] for rank, p in enumerate(report.reference, start=1)])
        (staging / INDEX).write_text(index_page(report, pages), encoding="utf-8")
        staging.chmod(0o755)
        _swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder / INDEX


def summary_lines(report: SimilarityReport, index: Path, shown: int = 10) -> list[str]:
    """What a terminal shows of the report: counts, the top ``shown`` pairs, who is close to the reference."""
    flagged = [p for p in report.pairs if report.flagged(p)]
    close = [p for p in report.reference if report.flagged(p)]
    lines = [f"similarity: {len(report.students)} submission(s), {len(report.pairs)} pair(s), "
             f"threshold {report.threshold:.2f} ({threshold_origin(report)}): "
             f"{len(flagged)} pair(s) flagged, {len(close)} close to the reference"]
    lines += [f"  {p.score:.3f}  {p.a}  {p.b}{'  FLAGGED' if report.flagged(p) else ''}" for p in report.pairs[:shown]]
    lines += [f"  {p.score:.3f}  {p.a}  the reference  FLAGGED" for p in close]
    lines += [f"  note: {author}: {note}" for author, notes in sorted(report.notes.items()) for note in notes]
    lines.append(f"similarity: {index}")
    return lines


def threshold_origin(report: SimilarityReport) -> str:
    """Where the threshold came from, in a few words."""
    calibration = report.calibration
    if calibration.fixed:
        return "given"
    return (f"calibrated: class median {calibration.median:.2f}, robust spread {calibration.spread:.2f}, "
            f"a verbatim copy of the reference scores {calibration.copy_score:.2f}")


def by_function(pair: PairScore) -> str:
    """``unit alike (matched weight)`` for each unit both wrote, the most matched weight first."""
    return "; ".join(f"{u.unit} {u.alike:.2f} ({u.matched_weight:.1f})" for u in pair.units)


def index_page(report: SimilarityReport, pages: dict[int, str]) -> str:
    flagged_pairs = [p for p in report.pairs if report.flagged(p)]
    shown = flagged_pairs + [p for p in report.pairs if not report.flagged(p)][:UNFLAGGED_SHOWN]
    corpus = (f"{len(report.independent)} known independent implementation(s) "
              f"({', '.join(report.independent)})" if report.independent else "no known independent implementations")
    body = [
        f"<h1>Similarity report: {_e(report.assignment)}</h1>",
        f"<p>{len(report.students)} submission(s) compared pairwise and with the instructor's reference, in "
        f"{len(report.units)} unit(s): {_e(', '.join(report.units))}. Only what students wrote counts: the "
        f"starter code of the release is left out.</p>",
        "<p><b>Threshold: {:.2f}</b> ({}). Code is compared after renaming every identifier and literal, dropping "
        "comments and layout, and putting independent statements in one canonical order; a helper that a task "
        "function or solution cell calls (or names) is compared as part of it, and code outside the tasks and "
        "solution cells is compared too. Fingerprints are winnowed {}-grams of tokens (window {}). A score is how "
        "much of the smaller side the other contains, so code added to a copy does not hide it. Each matching "
        "fingerprint weighs by how rare it is among the students, the reference and {}, students who hold at least "
        "half of the reference's code left out of the count (so that copies, however many, never make the "
        "reference look common); code that every correct solution writes alike (a ReLU, the conv-ReLU-pool "
        "sandwich) weighs almost nothing, and a prior of {:.0f} fingerprints' weight keeps a pair that shares only "
        "a little rare code far below the threshold. The threshold is the class's median score plus {:.0f} robust "
        "standard deviations, at least {:.2f}, and at most {:.0%} of what a verbatim copy of the reference scores "
        "(docs/grading.md). A flagged pair is a reason to read the two submissions, not a verdict.</p>".format(
            report.threshold, _e(threshold_origin(report)), report.k, report.window, _e(corpus),
            report.prior_weight, SPREADS, FLOOR, COPY_SHARE),
        f"<h2>Student pairs ({len(flagged_pairs)} flagged of {len(report.pairs)})</h2>",
        _ranking_table(report, shown, pages, ("student", "student")),
        f"<p>All {len(report.pairs)} pairs: <a href='{PAIRS_CSV}'>{PAIRS_CSV}</a>.</p>",
        "<h2>Close to the instructor's reference</h2>",
        _ranking_table(report, list(report.reference), pages, ("student", "")),
        f"<p>As CSV: <a href='{REFERENCE_CSV}'>{REFERENCE_CSV}</a>.</p>",
    ]
    if report.notes:
        body.append("<h2>Notes</h2><ul>")
        for author, notes in sorted(report.notes.items()):
            body.extend(f"<li>{_e(author)}: {_e(note)}</li>" for note in notes)
        body.append("</ul>")
    return _page(f"Similarity: {report.assignment}", "\n".join(body))


def pair_page(report: SimilarityReport, pair: PairScore, title: str) -> str:
    body = [f"<h1>{_e(title)}</h1>",
            f"<p>Score <b>{pair.score:.3f}</b> (threshold {report.threshold:.2f}); {pair.matched_tokens} "
            f"matching tokens. <a href='{INDEX}'>Back to the report</a>.</p>",
            f"<p class='legend'><span class='{RARE}'>rare</span> match found in no other submission, the reference "
            f"or the corpus (students who copied the reference not counted); "
            f"<span class='{COMMON}'>also elsewhere</span> match others wrote too "
            f"(it weighs less); <span class='given'>starter code</span> given by the release, not compared.</p>"]
    for match in pair.units:
        body.append(_unit_section(match, pair.first.units[match.unit], pair.second.units[match.unit],
                                  pair.a, pair.b))
    return _page(title, "\n".join(body))


# ----------------------------------------------------------------------------- helpers

def _write_pages(report: SimilarityReport, folder: Path) -> dict[int, str]:
    """Write a page per flagged pair; {id(pair): file name}."""
    pages = {}
    for prefix, pairs, title in (("pair", report.pairs, "{a} and {b}"),
                                 ("reference", report.reference, "{a} and the instructor's reference")):
        flagged = [p for p in pairs if report.flagged(p)]
        for number, pair in enumerate(flagged, start=1):
            name = f"{prefix}-{number:03d}.html"
            (folder / name).write_text(pair_page(report, pair, title.format(a=pair.a, b=pair.b)), encoding="utf-8")
            pages[id(pair)] = name
    return pages


def _ranking_table(report: SimilarityReport, pairs: list[PairScore], pages: dict[int, str],
                   headers: tuple[str, str]) -> str:
    if not pairs:
        return "<p>None.</p>"
    rows = ["<table><tr><th>rank</th>" + "".join(f"<th>{h}</th>" for h in headers if h) +
            "<th>score</th><th>matching tokens</th><th>most alike units (alike, weight)</th><th></th></tr>"]
    for rank, pair in enumerate(pairs, start=1):
        names = [pair.a, pair.b] if headers[1] else [pair.a]
        link = f"<a href='{pages[id(pair)]}'>side by side</a>" if id(pair) in pages else ""
        units = ", ".join(f"{u.unit} {u.alike:.2f} ({u.matched_weight:.1f})" for u in pair.units[:3])
        css = " class='flagged'" if report.flagged(pair) else ""
        rows.append(f"<tr{css}><td>{rank}</td>" + "".join(f"<td>{_e(n)}</td>" for n in names) +
                    f"<td>{pair.score:.3f}</td><td>{pair.matched_tokens}</td><td>{_e(units)}</td><td>{link}</td></tr>")
    rows.append("</table>")
    return "\n".join(rows)


def _unit_section(match: UnitMatch, unit_a: Unit, unit_b: Unit, a: str, b: str) -> str:
    return (f"<h2>{_e(match.unit)}</h2><p>alike {match.alike:.2f}, matched weight {match.matched_weight:.1f}; "
            f"matching tokens {match.matched_tokens_a} of {match.tokens_a} ({_e(a)}), "
            f"{match.matched_tokens_b} of {match.tokens_b} ({_e(b)}).</p>"
            f"<table class='side'><tr><th>{_e(a)}: {_e(unit_a.where)}</th><th>{_e(b)}: {_e(unit_b.where)}</th></tr>"
            f"<tr><td>{_listing(unit_a, match.lines_a)}</td><td>{_listing(unit_b, match.lines_b)}</td></tr></table>")


def _listing(unit: Unit, matched: dict[int, str]) -> str:
    out = []
    for offset, text in enumerate(unit.lines[:MAX_LINES_SHOWN]):
        number = unit.first_line + offset
        css = matched.get(number) or ("given" if number in unit.given_lines else "")
        attribute = f" class='{css}'" if css else ""
        out.append(f"<span{attribute}><span class='no'>{number:4d}</span> {_e(text[:300])}</span>")
    if len(unit.lines) > MAX_LINES_SHOWN:
        out.append(f"<span class='given'>... {len(unit.lines) - MAX_LINES_SHOWN} more lines</span>")
    return "<pre>" + "\n".join(out) + "</pre>"


STYLE = """body{font-family:sans-serif;margin:2em;max-width:110em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:.2em .5em;vertical-align:top;text-align:left}
tr.flagged td{background:#fde2e2}.side td{width:50%}pre{margin:0;font-size:85%;white-space:pre-wrap}
.no{color:#999}.given{color:#aaa}.legend span{padding:0 .3em;display:inline}""" + (
    f".{RARE}{{background:#f7b2b2;display:inline-block;width:100%}}"
    f".{COMMON}{{background:#fbe7c6;display:inline-block;width:100%}}")
# Nothing may load: student text that slipped through could not run or call out anyway.
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>{_e(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def _token_columns(pair: PairScore) -> list[int]:
    return [sum(u.matched_tokens_a for u in pair.units), sum(u.matched_tokens_b for u in pair.units),
            pair.tokens_a, pair.tokens_b]


def _write_csv(path: Path, columns: list[str], rows: list[list]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _swap_in(staging: Path, folder: Path) -> None:
    old = None
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{staging.name.rsplit('-', 1)[-1]}")
        folder.rename(old)
    staging.rename(folder)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def _e(text) -> str:
    return html.escape(str(text), quote=True)
