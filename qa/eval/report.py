"""The typed evaluation `Report`, and writing it: report.json (every figure and row), report.md
(the table, each share with its counts and 95 % interval) and PNG plots."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .metrics import Row, hit_curve, retrieval, summary

ORDER = ["hit@1", "hit@{k}", "recall@{k}", "mrr@10", "accuracy", "false_abstention", "correct_abstention",
         "citation_precision", "citation_precision_answer", "citation_recall", "no_citation", "confidence_auc", "ttft_p50", "ttft_p95",
         "total_p50", "total_p95", "prompt_tokens_mean", "generated_tokens_mean", "generation_tokens_per_s",
         "llm_called"]


@dataclass
class Section:
    """One pipeline's results: figures (`summary`: values; `counts`: shares with n, of and interval),
    hit@1..10, the index it searched, one dict per question, and the models used."""

    summary: dict
    counts: dict
    hit_curve: list
    index: dict
    rows: list = field(default_factory=list)
    model: dict | None = None

    @classmethod
    def from_rows(cls, rows: list[dict], k: int, retrieval_only: bool, index: dict, model: dict | None) -> "Section":
        """Every figure computed from the per-question rows (as report.json holds them): a run and a
        merge of parts compute a section the very same way."""
        names = {f.name for f in fields(Row)}
        scored = [Row(**{key: v for key, v in r.items() if key in names}) for r in rows]
        counts = retrieval(scored, k) if retrieval_only else summary(scored, k)
        return cls(summary={key: (v["value"] if isinstance(v, dict) else v) for key, v in counts.items()},
                   counts={key: v for key, v in counts.items() if isinstance(v, dict)},
                   hit_curve=hit_curve(scored), index=index, rows=list(rows), model=model)

    def cell(self, key: str) -> str:
        """'0.733 (11/15; 0.48–0.89)' for a share, the bare value otherwise, '–' when absent."""
        value = self.summary.get(key)
        if value is None:
            return "–"
        counted = self.counts.get(key)
        if counted and "low" in counted:
            return f"{value:.3f} ({counted['n']}/{counted['of']}; {counted['low']:.2f}–{counted['high']:.2f})"
        if counted:
            return f"{value:.3f} ({counted['n']}/{counted['of']})"
        return f"{value}"


@dataclass
class Report:
    """One run, or a merge of runs of parts of one sample. It holds the questions at positions
    `offset` .. `offset + questions` of the seeded sample (`sample_seed`, `limit`, `excluded`): the
    whole sample unless `first`, `part` or a partial merge said otherwise."""

    set: str
    questions: int  # run: the whole sample, or the part of it this report holds
    of: int  # in the set, less the excluded
    k: int
    limit: int | None
    sample_seed: int
    retrieval_only: bool
    settings: dict
    ours: Section
    yardstick: Section | None = None
    excluded: int = 0  # questions left out of the draw (a development sample leaves the reported one out)
    first: int | None = None  # only the first questions of the sample were run (a long run in parts)
    offset: int = 0  # position in the sample of the first question held
    part: str | None = None  # "2/3": the part of the sample that was asked for
    sample_digest: str | None = None  # fingerprint of the whole sample's ids (sets.sample_digest)
    parts: list | None = None  # a merge: the [offset, questions] of each part merged
    code: str | None = None  # the code that ran: its git commit, and a fingerprint of uncommitted changes (`code_version`)

    @property
    def summary(self) -> dict:
        return self.ours.summary

    @property
    def sample_size(self) -> int:
        """Questions in the whole sample (`sets.sample` draws all the set when the limit is larger)."""
        return min(self.limit, self.of) if self.limit else self.of

    @property
    def whole(self) -> bool:
        return self.offset == 0 and self.questions == self.sample_size

    def held(self) -> str:
        """Which questions of the sample this report holds, in words."""
        if self.whole:
            return f"{self.questions}"
        if not self.offset:
            return f"the first {self.questions} of a {self.sample_size}-question sample"
        return f"questions {self.offset + 1}–{self.offset + self.questions} of a {self.sample_size}-question sample"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Report":
        sections = {name: Section(**data[name]) if data.get(name) else None for name in ("ours", "yardstick")}
        return cls(**{**data, **sections})

    @classmethod
    def load(cls, path: Path) -> "Report":
        return cls.from_dict(json.loads(Path(path).read_text()))

    def table(self) -> str:
        """The Markdown table of every figure, ours beside the yardstick."""
        lines = ["| metric | ours | yardstick (plain RAG) |", "|---|---|---|"]
        for key in ORDER:
            key = key.format(k=self.k)
            if key in self.ours.summary:
                lines.append(f"| {key} | {self.ours.cell(key)} | "
                             f"{self.yardstick.cell(key) if self.yardstick else '–'} |")
        return "\n".join(lines)

    def markdown(self, plots: list[str] = ()) -> str:
        idx = self.ours.index
        head = (f"{self.held()} of {self.of} questions (sample seed {self.sample_seed}"
                + (f", {self.excluded} excluded from the draw" if self.excluded else "")
                + (f"; part {self.part}" if self.part else "") + f"), k = {self.k}"
                + (f", code {self.code}" if self.code else "")
                + (", retrieval only" if self.retrieval_only else "") + ".")
        if self.parts:
            head += f" Merged from {len(self.parts)} parts: questions " + ", ".join(
                f"{o + 1}–{o + n}" for o, n in self.parts) + "; every figure computed from their rows."
        lines = [f"# Evaluation: {self.set}", "", head, "", self.table(), "",
                 f"Index: {idx['documents']} documents, {idx['passages']} passages, built in {idx['seconds']} s "
                 f"({idx['passages_per_s']} passages/s).", ""]
        lines += [f"![{Path(p).stem}]({Path(p).name})" for p in plots]
        return "\n".join(lines) + "\n"


def plot(report: Report, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    sections = [(n, s) for n, s in (("ours", report.ours), ("yardstick", report.yardstick)) if s]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, section in sections:
        curve = section.hit_curve
        ax.plot(range(1, len(curve) + 1), curve, marker="o", label=f"{name}: hit@k")
        acc = section.summary.get("accuracy")
        if acc is not None and not report.retrieval_only:
            ax.scatter([report.k], [acc], marker="*", s=150, label=f"{name}: accuracy at k={report.k}")
    ax.set_ylim(0, 1.05)
    paths.append(_finish(fig, ax, "k (passages)", "share of answerable questions",
                         f"{report.set}: hit rate by k", out / "hits.png"))
    if not report.retrieval_only:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        for name, section in sections:
            totals = [r["total"] for r in section.rows if r["total"]]
            ttfts = [r["ttft"] for r in section.rows if r["ttft"] is not None]
            ax.hist(totals, bins=20, alpha=0.5, label=f"{name}: total")
            ax.hist(ttfts, bins=20, alpha=0.5, label=f"{name}: first token")
        paths.append(_finish(fig, ax, "seconds", "questions", f"{report.set}: latency", out / "latency.png"))
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


def write(report: Report, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report.to_dict(), indent=1, ensure_ascii=False))
    plots = plot(report, out)
    (out / "report.md").write_text(report.markdown(plots))
    return out / "report.md"
