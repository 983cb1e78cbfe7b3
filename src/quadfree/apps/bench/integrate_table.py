"""The README table of ``bench integrate``, rendered from its JSON (so the text never drifts
from the measured figures)."""

from __future__ import annotations


def markdown_table(result: dict) -> str:
    """Every row of ``result["table"]`` as a Markdown table: build and answer seconds, relative
    error, and the ratios to AutoInt's row of the same case. Answer seconds timed on a subset
    of the boxes and projected to all of them are marked ``≈``.

    Example:
        >>> row = {"case": "1-D", "method": "AutoInt", "build_seconds": 5.0,
        ...        "answer_seconds": 0.5, "rel_error": 4e-4, "build_seconds_vs_autoint": 1.0,
        ...        "answer_seconds_vs_autoint": 1.0, "rel_error_vs_autoint": 1.0}
        >>> print(markdown_table({"table": [row]}).splitlines()[2])
        | 1-D | AutoInt | 5 | 0.5 | 4.0e-04 | 1 | 1 | 1 |
    """
    lines = ["| case | method | build s | answer s | rel. error | build ÷ AutoInt "
             "| answer ÷ AutoInt | error ÷ AutoInt |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in result["table"]:
        projected = "≈" if "measured_seconds" in row else ""
        lines.append(
            f"| {row['case']} | {row['method']} | {_num(row['build_seconds'])} "
            f"| {projected}{_num(row['answer_seconds'])} | {row['rel_error']:.1e} "
            f"| {_num(row['build_seconds_vs_autoint'])} "
            f"| {projected}{_num(row['answer_seconds_vs_autoint'])} "
            f"| {_num(row['rel_error_vs_autoint'])} |")
    return "\n".join(lines)


def _num(value: float) -> str:
    """Three significant digits, no exponent between 1e-3 and 1e5."""
    if value == 0 or not 1e-3 <= abs(value) < 1e5:
        return f"{value:.2g}"
    return f"{value:.3g}"
