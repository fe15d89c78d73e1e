"""Joining the reports of a sample run in parts (`qa eval --part I/N`) into one report, computed
from their rows as a single run's would be; parts that do not fit together are refused.

    report = merge([Report.load(Path("part-1-of-2/report.json")), Report.load(Path("part-2-of-2/report.json"))])
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from .report import Report, Section
from .sets import EvalError, sample_digest

# where things live, not what is measured: parts may be run with these apart
PLACES = ("data_dir", "cache_dir", "seeds")


class MergeError(EvalError):
    """The part reports are not parts of one run of one sample."""


def load_parts(paths: Sequence[Path]) -> list[tuple[str, Report]]:
    """Each part report (report.json, or the folder that holds it), named by its path."""
    parts = []
    for path in map(Path, paths):
        file = path / "report.json" if path.is_dir() else path
        if not file.is_file():
            raise MergeError(f"{path}: no report.json there")
        try:
            parts.append((str(path), Report.load(file)))
        except (ValueError, KeyError, TypeError) as exc:
            raise MergeError(f"{file}: not an evaluation report ({exc})") from exc
    return parts


def merge(parts: Sequence[Report | tuple[str, Report]], partial: bool = False) -> Report:
    """One report of the questions the parts hold, every figure recomputed from their rows.

    Refused: parts of different sets, samples (seed, limit, exclusions, ids), k, settings or models,
    with the yardstick in some only, overlapping, or with questions missing between them; and,
    unless `partial`, parts that leave the sample's first or last questions out (the merged
    report then says which questions it holds)."""
    named = [p if isinstance(p, tuple) else (f"part {i}", p) for i, p in enumerate(parts, start=1)]
    if len(named) < 2:
        raise MergeError("a merge needs two part reports or more")
    named.sort(key=lambda p: p[1].offset)
    (name0, base), rest = named[0], named[1:]
    for name, report in rest:
        _same_run(name0, base, name, report)
    _contiguous(named)
    start = base.offset
    end = named[-1][1].offset + named[-1][1].questions
    if (start, end) != (0, base.sample_size) and not partial:
        raise MergeError(f"the parts hold {questions(start, end)} of the {base.sample_size}-question sample: "
                         f"run the missing part(s), or merge with --partial to report only these")
    digest = next((r.sample_digest for _, r in named if r.sample_digest), None)
    sections = {}
    for pipeline in ("ours", "yardstick"):
        first: Section | None = getattr(base, pipeline)
        if first is None:
            continue
        rows = [row for _, r in named for row in getattr(r, pipeline).rows]
        _distinct(rows, pipeline)
        if digest and (start, end) == (0, base.sample_size) and sample_digest([r["id"] for r in rows]) != digest:
            raise MergeError(f"{pipeline}: the questions of the parts are not those of the sample they were drawn "
                             f"from (its fingerprint {digest} differs): was questions.jsonl changed between parts?")
        sections[pipeline] = Section.from_rows(rows, base.k, base.retrieval_only, first.index, first.model)
    return Report(set=base.set, questions=end - start, of=base.of, k=base.k, limit=base.limit,
                  sample_seed=base.sample_seed, retrieval_only=base.retrieval_only, settings=base.settings,
                  ours=sections["ours"], yardstick=sections.get("yardstick"), excluded=base.excluded,
                  offset=start, sample_digest=digest, parts=[[r.offset, r.questions] for _, r in named],
                  code=base.code)


def _same_run(name0: str, a: Report, name: str, b: Report) -> None:
    """Refuse a part that is not of the same sample, run the same way, as the first."""
    def differ(what: str, x, y) -> MergeError:
        return MergeError(f"{name} and {name0} are not parts of one run: {what}: {y} in {name}, {x} in {name0}")

    for field, what in [("set", "set"), ("sample_seed", "sample seed"), ("limit", "--limit"), ("of", "questions in the set"),
                        ("excluded", "questions excluded from the draw"), ("k", "k"),
                        ("retrieval_only", "retrieval only")]:
        if getattr(a, field) != getattr(b, field):
            raise differ(what, getattr(a, field), getattr(b, field))
    if a.code and b.code and a.code != b.code:
        raise differ("the code that ran", a.code, b.code)
    if a.sample_digest and b.sample_digest and a.sample_digest != b.sample_digest:
        raise differ("the sample's questions (their fingerprint)", a.sample_digest, b.sample_digest)
    keys = sorted((set(a.settings) | set(b.settings)) - set(PLACES))
    changed = [key for key in keys if a.settings.get(key) != b.settings.get(key)]
    if changed:
        raise MergeError(f"{name} and {name0} are not parts of one run: settings differ: " + "; ".join(
            f"{key} {b.settings.get(key)!r} in {name}, {a.settings.get(key)!r} in {name0}" for key in changed))
    for pipeline in ("ours", "yardstick"):
        x, y = getattr(a, pipeline), getattr(b, pipeline)
        if (x is None) != (y is None):
            raise differ(f"the {pipeline} run", "present" if x else "absent", "present" if y else "absent")
        if x is None:
            continue
        if _model(x.model) != _model(y.model):
            raise differ(f"models ({pipeline})", x.model, y.model)
        size = lambda s: (s.index.get("documents"), s.index.get("passages"))  # noqa: E731
        if size(x) != size(y):
            raise differ(f"index ({pipeline}: documents, passages)", size(x), size(y))


def _model(info: dict | None) -> dict | None:
    """The models' identity: a profile's GGUF by its hash (its path depends on the cache folder)."""
    if info and info.get("generator_sha256"):
        return {key: v for key, v in info.items() if key != "generator"}
    return info


def _contiguous(named: list[tuple[str, Report]]) -> None:
    for (name_a, a), (name_b, b) in zip(named, named[1:]):
        end = a.offset + a.questions
        if b.offset < end:
            raise MergeError(f"{name_a} and {name_b} overlap: both hold "
                             f"{questions(b.offset, min(end, b.offset + b.questions))} of the sample")
        if b.offset > end:
            raise MergeError(f"{questions(end, b.offset)} of the sample: in no part (between {name_a} and {name_b})")


def questions(start: int, end: int) -> str:
    """Positions start .. end (exclusive, from 0) of a sample, in words.

    >>> questions(2, 3), questions(0, 150)
    ('question 3', 'questions 1–150')
    """
    return f"question {end}" if end - start == 1 else f"questions {start + 1}–{end}"


def _distinct(rows: list[dict], pipeline: str) -> None:
    seen: set[str] = set()
    for row in rows:
        if row["id"] in seen:
            raise MergeError(f"{pipeline}: question {row['id']} is in two parts")
        seen.add(row["id"])
