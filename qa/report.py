"""Writing an evaluation report: report.json (every figure and row) and report.md with PNG plots."""
from __future__ import annotations

import json
from pathlib import Path

ORDER = ["hit@1", "hit@{k}", "recall@{k}", "mrr@10", "accuracy", "false_abstention", "correct_abstention",
         "citation_precision", "citation_recall", "no_citation", "ttft_p50", "ttft_p95", "total_p50",
         "total_p95", "prompt_tokens_mean", "generated_tokens_mean", "generation_tokens_per_s", "llm_called"]


def cell(section: dict | None, key: str) -> str:
    """'0.733 (11/15)' for a share with counts, the bare value otherwise, '–' when absent."""
    if not section:
        return "–"
    counted = section["counts"].get(key)
    value = section["summary"].get(key)
    if value is None:
        return "–"
    if counted:
        return f"{value:.3f} ({counted['n']}/{counted['of']})"
    return f"{value}"


def markdown(report: dict, plots: list[str]) -> str:
    k = report["k"]
    ours, base = report["ours"], report.get("baseline")
    lines = [f"# Evaluation: {report['set']}", "",
             f"{report['questions']} of {report['of']} questions (sample seed {report['sample_seed']}), k = {k}"
             + (", retrieval only" if report["retrieval_only"] else "") + ".", "",
             "| metric | ours | naive yardstick |", "|---|---|---|"]
    for key in ORDER:
        key = key.format(k=k)
        if key in ours["summary"]:
            lines.append(f"| {key} | {cell(ours, key)} | {cell(base, key)} |")
    idx = ours["index"]
    lines += ["", f"Index: {idx['documents']} documents, {idx['passages']} passages, built in {idx['seconds']} s "
              f"({idx['passages_per_s']} passages/s).", ""]
    lines += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
    return "\n".join(lines) + "\n"


def plot(report: dict, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    sections = [(n, report[n]) for n in ("ours", "baseline") if report.get(n)]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, section in sections:
        curve = section["hit_curve"]
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=f"{name}: hit@k")
        acc = section["summary"].get("accuracy")
        if acc is not None and not report["retrieval_only"]:
            ax.scatter([report["k"]], [acc], marker="*", s=150, label=f"{name}: accuracy at k={report['k']}")
    ax.set_ylim(0, 1.05)
    paths.append(_finish(fig, ax, "k (passages)", "share of answerable questions",
                         f"{report['set']}: hit rate by k", out / "hits.png"))
    if not report["retrieval_only"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, section in sections:
            totals = [r["total"] for r in section["rows"] if r["total"]]
            ttfts = [r["ttft"] for r in section["rows"] if r["ttft"] is not None]
            ax.hist(totals, bins=20, alpha=0.5, label=f"{name}: total")
            ax.hist(ttfts, bins=20, alpha=0.5, label=f"{name}: first token")
        paths.append(_finish(fig, ax, "seconds", "questions", f"{report['set']}: latency", out / "latency.png"))
    return paths


def _finish(fig, ax, xlabel: str, ylabel: str, title: str, path: Path) -> str:
    """Label, lay out, save and close one plot; returns its path."""
    import matplotlib.pyplot as plt

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)


def write(report: dict, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    plots = plot(report, out)
    (out / "report.md").write_text(markdown(report, plots))
    return out / "report.md"
