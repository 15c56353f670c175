"""The `logo run` report: one static HTML page with PNGs and the numbers behind them, per round."""
from __future__ import annotations

import html
import json
import shutil
import time
from pathlib import Path

import numpy as np

from logo.files import atomic_write, read_jsonl, write_json


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _last_eval(metrics: list[dict]) -> dict:
    evals = [m for m in metrics if m.get("kind") == "eval"]
    return evals[-1] if evals else {}


def round_record(round_no: int, paths: dict, rdir: Path) -> dict:
    """Collect one round's numbers and pictures into `rdir` (PNG files referenced by the page)."""
    from data.db import Database
    from logo.pictures import save_sheet

    rdir.mkdir(parents=True, exist_ok=True)
    rec: dict = {"round": round_no, "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    db = Database(paths["db"], create=False)
    try:
        rec["db_entries"] = len(db)
        stats = db.stats()
        rec["db_stats"] = stats
        sources: dict[str, int] = {}
        for e in db.entries():
            sources[e.source] = sources.get(e.source, 0) + 1
        rec["db_sources"] = sources
        # a sheet of the newest entries, and of the entries dreaming found
        newest = list(db.entries(min_id=max(0, db.max_entry_id() - 60)))[-60:]
        if newest:
            save_sheet([e.image for e in newest], rdir / "db_newest.png",
                       [f"{e.entry_id} {e.source}" for e in newest], columns=12, scale=2)
        dreamed = [e for e in db.entries(where="source = ?", params=("dream",))][-60:]
        if dreamed:
            save_sheet([e.image for e in dreamed], rdir / "db_dreamed.png",
                       [f"{e.entry_id} {len(e.head.split())}w" for e in dreamed], columns=12, scale=2)
        lib = db.library()
        heads = [h for _, h in db.heads()] if lib else []
    finally:
        db.close()

    metrics = read_jsonl(paths["ckpt"] / "metrics.jsonl")
    rec["train_steps"] = max((m.get("step", 0) for m in metrics), default=0)
    keep = ("loss", "token_acc", "exact", "reproduces", "reproduces_edit", "reproduces_denovo", "reproduces_lateral")
    rec["train_eval"] = {k: v for k, v in _last_eval(metrics).items() if k in keep}
    for plot in sorted(paths["ckpt"].glob("*.png")):
        shutil.copyfile(plot, rdir / plot.name)
    rec["train_plots"] = [p.name for p in sorted(paths["ckpt"].glob("*.png"))]

    rec["arms"] = arms_record(rdir)
    # the model's numbers, also at the top level (as in reports from before the baselines)
    rec.update({k: rec["arms"].get("model", {}).get(k) for k in ARM_KEYS})

    dream_log = read_jsonl(paths["dream"] / "found.jsonl")
    rec["dream_records"] = len(dream_log)
    rec["wake"] = wake_record(dream_log)
    heldout = heldout_record(rdir)
    if heldout:
        rec["heldout"] = heldout
    fit = _read_json(rdir / "grammar_fit.json")
    if fit:
        rec["grammar"] = fit

    _library_record(rec, paths, rdir, lib, heads)
    return rec


def _library_record(rec: dict, paths: dict, rdir: Path, db_lib, heads) -> None:
    """The library section's numbers and drawing: each procedure drawn with its typical argument (the one
    its calls in the solutions use most; else by the shortest database program calling it, else with
    every argument 2), the solutions that use it and the tokens it saved them, the retired ones, and
    the library-off vs library-on comparison of the round (`app.library_arms`)."""
    from logo.pictures import save_sheet
    import logo
    from library import load_library
    comp = _read_json(rdir / "library" / "compress.json")
    lib = (load_library(paths["library"]) if paths["library"].exists() else []) or list(db_lib)
    uses = comp.get("uses", {})
    rec["library"] = [logo.to_text(d) for d in lib]
    drawings, labels, examples = [], [], []
    for d in lib:
        typical = (uses.get(d.name) or {}).get("typical_args")
        users = sorted((h for h in heads if f"({d.name} " in h or f"({d.name})" in h), key=len)
        choices = ([f"({d.name}{''.join(' ' + a for a in typical)})"] if typical is not None else []) + users[:1] + [
            logo.to_text(logo.Program((), (logo.Call(d.name, tuple(logo.Num(2) for _ in d.params)),)))]
        img, program = np.zeros((48, 48), np.uint8), choices[0]
        for program in choices:              # the first that draws
            try:
                img = logo.render(program, size=48, library=lib)
                break
            except logo.LogoError:
                continue
        drawings.append(img)
        labels.append(f"{d.name}({', '.join(d.params)})")
        examples.append(program)
    rec["library_examples"] = examples
    rec["library_uses"] = {n: {k: u.get(k) for k in ("calls", "tokens_saved", "targets")} for n, u in uses.items()}
    rec["library_retired"] = comp.get("retired", [])
    rec["library_corpus"] = {k: comp.get(k) for k in ("corpus_targets", "corpus_kinds", "tokens_before",
                                                       "tokens_after") if k in comp}
    arms = _read_json(rdir / "library" / "arms.json")
    if arms:
        rec["library_arms"] = {"proposer": arms.get("proposer"), "budget_s": arms.get("budget_s"),
                               "library_size": arms.get("library_size"),
                               "sets": {name: {arm: r.get(arm) for arm in ("off", "on")}
                                        for name, r in arms.get("results", {}).items()}}
    if drawings:
        save_sheet(drawings, rdir / "library.png", labels, columns=8, scale=2)


def _library_section(h: dict) -> list[str]:
    """HTML for one round's library: each procedure, its typical call, who uses it and what it saved."""
    if not h.get("library"):
        return []
    corpus = h.get("library_corpus", {})
    parts = []
    if corpus:
        parts.append(f"<p>Learned from {_fmt(corpus.get('corpus_targets'))} solved targets "
                     f"({html.escape(', '.join(f'{k} {v}' for k, v in (corpus.get('corpus_kinds') or {}).items()))}); "
                     f"their solutions: {_fmt(corpus.get('tokens_before'))} → {_fmt(corpus.get('tokens_after'))} "
                     "tokens with the library.</p>")
    lines = []
    uses = h.get("library_uses", {})
    for d, ex in zip(h["library"], h.get("library_examples", h["library"])):
        name = d.split()[1].lstrip("(") if d.startswith("(define (") else ""
        u = uses.get(name)
        lines.append(f"{d}\n    ; drawn as {ex}")
        if u:
            top = sorted(u.get("targets", {}).items(), key=lambda kv: (-kv[1], kv[0]))
            shown = ", ".join(f"{t} −{s}" for t, s in top[:8]) + (" …" if len(top) > 8 else "")
            lines.append(f"    ; used {u.get('calls')} times in {len(top)} solutions, {u.get('tokens_saved')} tokens "
                         f"saved" + (f": {shown}" if shown else " (inside other procedures)"))
    parts.append("<pre>" + html.escape("\n".join(lines)) + "</pre>")
    if h.get("library_retired"):
        parts.append(f"<p>Retired this round (no solution uses them): "
                     f"{html.escape(', '.join(h['library_retired']))}</p>")
    return parts


def library_arms_table(history: list[dict]) -> list[str]:
    """HTML: per round, the same search with the library off and on (solved, mean IoU, mean tokens)."""
    rows = []
    for h in history:
        arms = h.get("library_arms")
        if not arms:
            continue
        for name, by_arm in arms.get("sets", {}).items():
            for arm in ("off", "on"):
                s = by_arm.get(arm) or {}
                rows.append(f"<tr><td>{h['round']}</td><td>{html.escape(name)}</td><td>{arm}</td>"
                            f"<td>{_fmt(arms.get('library_size') if arm == 'on' else 0)}</td>"
                            f"<td>{_fmt(s.get('solved'))}/{_fmt(s.get('targets'))}</td><td>{_fmt(s.get('mean_iou'))}</td>"
                            f"<td>{_fmt(s.get('mean_tokens'))}</td><td>{_fmt(s.get('calls_library'))}</td></tr>")
    if not rows:
        return []
    first = next(h["library_arms"] for h in history if h.get("library_arms"))
    return ["<h2>Library off vs on</h2>",
            "<table><tr><th>round</th><th>targets</th><th>library</th><th>procedures</th><th>solved</th>"
            "<th>mean IoU</th><th>mean tokens</th><th>calls library</th></tr>" + "".join(rows) + "</table>",
            f"<p>The same search ({html.escape(str(first.get('proposer')))} proposer, {_fmt(first.get('budget_s'))} s "
            "per target) on DreamCoder test tasks and held-out MNIST digits, without and with the round's library "
            "(on: the proposer may call the procedures and the start programs include their library-rewritten "
            "forms). Tokens count calls, not procedure bodies.</p>"]


# ---- held-out evaluation: the round's full system next to the round-0 system -------------------------------

#: the systems of `app.run.heldout_commands`
SYSTEMS = ("full", "baseline")


def _system_numbers(rdir: Path, system: str) -> dict:
    """One system's held-out numbers in a round, from its `logo solve` results ({} if not evaluated)."""
    where = Path(rdir) / "heldout" / system
    tasks = _read_json(where / "tasks" / "results.json")
    mnist = _read_json(where / "mnist" / "results.json")
    if not tasks and not mnist:
        return {}
    ts, ms = tasks.get("summary") or {}, mnist.get("summary") or {}
    return {"arm": ts.get("proposer", ms.get("proposer")), "budget_s": ts.get("budget_s", ms.get("budget_s")),
            "solved": ts.get("solved"), "targets": ts.get("targets"), "mean_iou": ts.get("mean_iou"),
            "mnist_solved": ms.get("solved"), "mnist_targets": ms.get("targets"),
            "mnist_mean_iou": ms.get("mean_iou"), "mnist_mean_tokens": ms.get("mean_tokens"),
            "mnist_median_tokens": ms.get("median_tokens"),
            # the digit classifier's reading (`app.digit_reading`; absent from results written before it)
            "mnist_classified": ms.get("classified_as_label"), "mnist_classifier_ceiling": ms.get("classifier_on_targets"),
            "solved_tasks": sorted(r["name"] for r in tasks.get("results", []) if r.get("solved"))}


def heldout_record(rdir: Path) -> dict:
    """{"full": numbers, "baseline": numbers} of a round (`state.json`: history[i].heldout.full.solved, ...)."""
    out = {s: n for s in SYSTEMS if (n := _system_numbers(rdir, s))}
    systems = _read_json(Path(rdir) / "heldout" / "systems.json")
    if out and systems:
        out["checkpoint_kind"] = systems.get("checkpoint_kind")
    return out


def wake_record(dream_log: list[dict]) -> dict:
    """What the wakes so far solved, by target set (distinct targets solved / searched)."""
    seen: dict[str, set] = {}
    solved: dict[str, set] = {}
    for r in dream_log:
        if r.get("event") != "target":
            continue
        name = str(r.get("target", ""))
        kind = "laps" if name.startswith("laps-") else r.get("kind", "")
        seen.setdefault(kind, set()).add(name)
        if r.get("solved") and kind != "db":
            solved.setdefault(kind, set()).add(name)
    return {k: {"solved": len(solved.get(k, ())), "searched": len(v)} for k, v in sorted(seen.items())}


def gained_and_lost(history: list[dict]) -> list[tuple[int, list[str], list[str]]]:
    """(round, tasks gained, tasks lost) of the full system's held-out DreamCoder tasks, each round against
    the round before (round 1 against the round-0 system of the same evaluation)."""
    out = []
    before = None
    for h in history:
        ho = h.get("heldout") or {}
        full = ho.get("full")
        if full is None:
            continue
        now = set(full.get("solved_tasks") or ())
        if before is None:
            before = set((ho.get("baseline") or {}).get("solved_tasks") or ())
        out.append((h["round"], sorted(now - before), sorted(before - now)))
        before = now
    return out


def save_curve(history: list[dict], path: Path) -> Path | None:
    """The learning curve (PNG): held-out DreamCoder test tasks solved, and mean IoU (tasks and MNIST), per
    round, for the full system and the round-0 system (round 0 on the axis: the round-0 system itself)."""
    rows = [(h["round"], h["heldout"]) for h in history if (h.get("heldout") or {}).get("full")]
    if not rows:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from logo.files import atomic_write
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x = [r for r, _ in rows]
    base = [ho.get("baseline") or {} for _, ho in rows]
    full = [ho["full"] for _, ho in rows]

    def series(items, key):
        return [float("nan") if i.get(key) is None else i[key] for i in items]

    start = base[0]       # round 0 = the round-0 system, as measured in round 1's evaluation
    ax = axes[0]
    ax.plot([0] + x, series([start] + full, "solved"), "o-", label="full system")
    ax.plot(x, series(base, "solved"), "s--", color="grey", label="round-0 system (same run)")
    n = full[-1].get("targets")
    ax.set_title(f"DreamCoder test tasks solved{f' (of {n})' if n else ''}")
    ax.set_xlabel("round")
    ax.set_ylim(0, max(n or 1, 1))
    ax.legend(loc="best", fontsize=8)
    ax = axes[1]
    ax.plot([0] + x, series([start] + full, "mean_iou"), "o-", label="tasks, full")
    ax.plot(x, series(base, "mean_iou"), "s--", color="grey", label="tasks, round 0")
    ax.plot([0] + x, series([start] + full, "mnist_mean_iou"), "o-", color="tab:green", label="MNIST, full")
    ax.plot(x, series(base, "mnist_mean_iou"), "s--", color="tab:olive", label="MNIST, round 0")
    ax.set_title("held-out mean IoU")
    ax.set_xlabel("round")
    ax.legend(loc="best", fontsize=8)
    for ax in axes:
        ax.set_xticks([0] + x)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)
    return path


def digits_read(history: list[dict]) -> bool:
    """Whether any round's held-out MNIST results say what the digit classifier reads (`logo solve` writes it
    since issue 31; a run from before has no such column)."""
    return any((h.get("heldout") or {}).get(s, {}).get("mnist_classified") is not None
               for h in history for s in SYSTEMS)


def classifier_ceiling(history: list[dict]) -> float | None:
    """The digit classifier's share on the held-out digits themselves, in the newest round that has one."""
    for h in reversed(history):
        for s in SYSTEMS:
            v = ((h.get("heldout") or {}).get(s) or {}).get("mnist_classifier_ceiling")
            if v is not None:
                return v
    return None


def heldout_section(history: list[dict], out: Path) -> list[str]:
    """HTML: the learning curve, the per-round held-out table (full vs round 0) and the tasks gained and lost."""
    rows = []
    digits = digits_read(history)
    for h in history:
        ho = h.get("heldout") or {}
        if not ho.get("full"):
            continue
        cells = f"<td>{h['round']}</td>"
        for system in SYSTEMS:
            s = ho.get(system) or {}
            cells += (f"<td>{_fmt(s.get('arm'))}</td><td>{_fmt(s.get('solved'))}/{_fmt(s.get('targets'))}</td>"
                      f"<td>{_fmt(s.get('mean_iou'))}</td><td>{_fmt(s.get('mnist_mean_iou'))}</td>")
            if digits:
                cells += f"<td>{_fmt(s.get('mnist_classified'))}</td><td>{_fmt(s.get('mnist_median_tokens'))}</td>"
        wake = h.get("wake") or {}
        woke = ", ".join(f"{k} {v['solved']}/{v['searched']}" for k, v in wake.items() if k != "db")
        cells += (f"<td>{len(h.get('library', []))}</td><td>{_fmt(h.get('db_entries'))}</td>"
                  f"<td class='l'>{html.escape(woke) or '–'}</td>")
        rows.append(f"<tr>{cells}</tr>")
    if not rows:
        return []
    parts = ["<h2>Held-out: the full system per round vs the round-0 system</h2>"]
    if save_curve(history, out / "curve.png"):
        parts.append("<img src='curve.png' alt='held-out solved and mean IoU per round, full system and round 0'>")
    budget = next((h["heldout"]["full"].get("budget_s") for h in history if (h.get("heldout") or {}).get("full")),
                  None)
    columns = "<th>arm</th><th>DC test solved</th><th>tasks IoU</th><th>MNIST IoU</th>"
    if digits:
        columns += "<th>MNIST read as digit</th><th>MNIST tokens</th>"
    span = 6 if digits else 4
    parts.append(f"<div class='wide'><table><tr><th rowspan='2'>round</th><th colspan='{span}'>full system</th>"
                 f"<th colspan='{span}'>round-0 system</th><th rowspan='2'>library</th><th rowspan='2'>DB entries</th>"
                 "<th rowspan='2'>wake solved so far</th></tr><tr>"
                 + columns * 2 + "</tr>"
                 + "".join(rows) + "</table></div>")
    if digits:
        ceiling = classifier_ceiling(history)
        parts.append("<p>MNIST read as digit: the share of the drawings found that a digit classifier (trained on "
                     "the training digits only, <code>model.digit_classifier</code>) reads as the digit's label"
                     + (f"; it reads {_fmt(ceiling)} of the held-out digits themselves (its ceiling)"
                        if ceiling is not None else "")
                     + ". MNIST tokens: the median length of the programs found. Under each digit on the sheets: its "
                     "label &gt;what the classifier reads, and under each drawing: IoU, tokens &gt;what the "
                     "classifier reads.</p>")
    parts.append(f"<p>Both systems search the same held-out targets (DreamCoder <b>test</b> tasks, never a wake "
                 f"target, and held-out MNIST digits) with the same budget ({_fmt(budget)} s per target) in the same "
                 "run. Full system: the round's arm (the enumerator without a checkpoint, the network's arm with one), "
                 "under the round's grammar (refitted on the library-rewritten solutions), with the round's library "
                 "and database. Round-0 system: the enumerator under a grammar fitted on the DreamCoder train "
                 "programs, no library, no network. On the curve, round 0 is the round-0 system of round 1's "
                 "evaluation.</p>")
    changes = gained_and_lost(history)
    if changes:
        items = "".join(f"<li>round {r}: gained {len(g)}{': ' + html.escape(', '.join(g)) if g else ''}; "
                        f"lost {len(lost)}{': ' + html.escape(', '.join(lost)) if lost else ''}</li>"
                        for r, g, lost in changes)
        parts.append(f"<h3>DreamCoder test tasks gained and lost (full system, against the round before; round 1 "
                     f"against round 0)</h3><ul>{items}</ul>")
    return parts


# ---- evaluation arms: every figure next to its baseline ------------------------------------------------

#: the numbers of one arm in a round, from its `logo solve` summaries
ARM_KEYS = ("tasks_solved", "tasks_total", "tasks_solved_by_edits", "tasks_mean_iou", "mnist_mean_iou",
            "mnist_mean_tokens", "solve_budget_s")
#: columns of the numbers table that belong to an arm (one row per arm)
ARM_COLUMNS = [("tasks_solved", "tasks solved"), ("tasks_total", "of"), ("tasks_solved_by_edits", "after edits"),
               ("tasks_mean_iou", "tasks IoU"), ("mnist_mean_iou", "MNIST IoU"), ("mnist_mean_tokens", "MNIST tokens")]
SETS = ("tasks", "mnist")


def arm_dir(rdir: Path, set_name: str, arm: str) -> Path:
    """Where `logo run` puts one arm's `logo solve` output: the model in ROUND/SET (as before the baselines),
    any other arm in ROUND/SET-ARM."""
    return Path(rdir) / (set_name if arm == "model" else f"{set_name}-{arm}")


def arm_numbers(rdir: Path, arm: str) -> dict:
    """One arm's numbers in a round ({} if it was not evaluated)."""
    tasks = _read_json(arm_dir(rdir, "tasks", arm) / "results.json").get("summary")
    mnist = _read_json(arm_dir(rdir, "mnist", arm) / "results.json").get("summary")
    if tasks is None and mnist is None:
        return {}
    tasks, mnist = tasks or {}, mnist or {}
    return {"tasks_solved": tasks.get("solved"), "tasks_total": tasks.get("targets"),
            "tasks_solved_by_edits": tasks.get("solved_by_edits"), "tasks_mean_iou": tasks.get("mean_iou"),
            "mnist_mean_iou": mnist.get("mean_iou"), "mnist_mean_tokens": mnist.get("mean_tokens"),
            "solve_budget_s": tasks.get("budget_s", mnist.get("budget_s"))}


def round_arms(rdir: Path) -> list[str]:
    """The arms evaluated in a round: the model first, then every ROUND/tasks-ARM or mnist-ARM folder."""
    others = {d.name.split("-", 1)[1] for set_name in SETS for d in Path(rdir).glob(f"{set_name}-*") if d.is_dir()}
    return ["model"] + sorted(others)


def arms_record(rdir: Path) -> dict:
    """{arm: numbers} for every arm evaluated in the round."""
    out = {}
    for arm in round_arms(rdir):
        numbers = arm_numbers(rdir, arm)
        if numbers:
            out[arm] = numbers
    return out


def history_arms(h: dict) -> dict:
    """A round record's arms; a record from before the baselines holds only the model's numbers."""
    if h.get("arms"):
        return h["arms"]
    return {"model": {k: h.get(k) for k in ARM_KEYS}}


def arm_rows(h: dict, round_cells_before: str, round_cells_after: str) -> list[str]:
    """The numbers table's rows of one round: one per arm; the round's own cells span them all."""
    arms = history_arms(h)
    n = len(arms)

    def span(cells: str) -> str:
        return cells.replace("<td>", f"<td rowspan='{n}'>") if n > 1 else cells

    rows = []
    for i, (arm, numbers) in enumerate(arms.items()):
        cells = f"<td>{html.escape(arm)}</td>" + "".join(f"<td>{_fmt(numbers.get(k))}</td>" for k, _ in ARM_COLUMNS)
        rows.append(f"<tr>{span(round_cells_before) + cells + span(round_cells_after) if i == 0 else cells}</tr>")
    return rows


def arm_sheets(h: dict) -> list[tuple[str, str]]:
    """(picture, caption) of each arm's contact sheets (target | best program found)."""
    out = []
    for arm in history_arms(h):
        who = "" if arm == "model" else f", {arm} proposer"
        out.append((f"{arm_dir(Path(), 'tasks', arm)}/sheet.png",
                    f"DreamCoder training tasks{who}: target | best program found"))
        out.append((f"{arm_dir(Path(), 'mnist', arm)}/sheet.png",
                    f"Held-out MNIST digits{who}: target | best program found"))
    return out


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
.wide{max-width:100%;overflow-x:auto}
table{border-collapse:collapse;margin:1em 0;max-width:100%;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right;overflow-wrap:anywhere}td.l{text-align:left}
th{background:#f3f3f3}img{max-width:100%;border:1px solid #ddd;margin:4px 0}code,pre{background:#f6f6f6}
pre{padding:8px;overflow-x:auto;font-size:12px}h2{border-bottom:1px solid #ddd;padding-bottom:4px}"""


def _fmt(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}"
    return html.escape(str(v))


def write_report(paths: dict, history: list[dict], config: str) -> Path:
    """(Re)write report/index.html from every finished round's record."""
    out = paths["report"]
    out.mkdir(parents=True, exist_ok=True)
    write_json(history, out / "history.json")
    eval_keys = [k for k in ("loss", "token_acc", "exact", "reproduces", "reproduces_edit", "reproduces_denovo",
                             "reproduces_lateral") if any(k in h.get("train_eval", {}) for h in history)]
    before = [("round", "round"), ("db_entries", "DB entries"), ("train_steps", "train steps"),
              ("dream_records", "dream records")]
    legacy = any(any(v is not None for v in a.values()) for h in history for a in history_arms(h).values())
    head = "".join(f"<th>{html.escape(t)}</th>" for _, t in before) + ("<th>proposer</th>" + "".join(
        f"<th>{html.escape(t)}</th>" for _, t in ARM_COLUMNS) if legacy else "") + "".join(
        f"<th>{html.escape(k)}</th>" for k in eval_keys) + "<th>library</th>"
    rows = []
    for h in history:
        cells_before = "".join(f"<td>{_fmt(h.get(k))}</td>" for k, _ in before)
        cells_after = "".join(f"<td>{_fmt(h.get('train_eval', {}).get(k))}</td>" for k in eval_keys)
        cells_after += f"<td>{len(h.get('library', []))}</td>"
        rows.extend(arm_rows(h, cells_before, cells_after) if legacy else [f"<tr>{cells_before}{cells_after}</tr>"])
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>logo-synth: {config} run</title>"
             f"<style>{_STYLE}</style></head><body>",
             f"<h1>logo-synth — <code>logo run --config {html.escape(config)}</code></h1>",
             f"<p>{len(history)} round(s) finished. Each round: wake (dream searches the training targets with the "
             "best search the round has; train trains the network beside it), abstraction (the library from the "
             "solutions, the grammar refitted on their rewrites), dreams (the database grows by programs of that "
             "grammar), and the held-out evaluation of the full system next to the round-0 system.</p>"]
    parts += heldout_section(history, out)
    parts += ["<h2>Numbers per round</h2>", f"<div class='wide'><table><tr>{head}</tr>{''.join(rows)}</table></div>"]
    if legacy:
        parts.append(
             "<p>proposer: what proposed the search's steps, on the same targets with the same budget and "
             "start programs (the empty program and the nearest database entries): <b>model</b>, the newest "
             "checkpoint; <b>random</b>, random token mutations, as many per expansion as the model proposes "
             "(the baseline the model must beat). tasks solved: DreamCoder training tasks solved exactly at "
             "28×28 within the search budget; after edits: of those, solved by an edit rather than by a start "
             "program as it was; IoU: mean intersection-over-union of the best program's drawing and the "
             "target; eval columns: the model's held-out metrics at the end of the round's training.</p>")
    parts += library_arms_table(history)
    for h in reversed(history):
        r = h["round"]
        rd = f"round{r}"
        parts.append(f"<h2>Round {r}</h2>")

        def img(name: str, caption: str) -> None:
            if (out / rd / name).exists():
                parts.append(f"<h3>{html.escape(caption)}</h3><img src='{rd}/{name}' alt='{html.escape(caption)}'>")

        for plot in h.get("train_plots", []):
            img(plot, "Training: loss and accuracy")
        for system, who in (("full", "the round's full system"), ("baseline", "the round-0 system")):
            img(f"heldout/{system}/tasks/sheet.png", f"DreamCoder test tasks, {who}: target | best program found")
            read = ((h.get("heldout") or {}).get(system) or {}).get("mnist_classified")
            img(f"heldout/{system}/mnist/sheet.png", f"Held-out MNIST digits, {who}: target | best program found"
                + (f"; {read:.0%} read as their digit (target: digit >read as; drawing: IoU tokens >read as)"
                   if isinstance(read, (int, float)) else ""))
        for picture, caption in arm_sheets(h):
            img(picture, caption)
        img("library.png", "Library procedures, each drawn with its typical argument")
        parts += _library_section(h)
        img("db_dreamed.png", "Database entries found by dreaming (newest)")
        img("db_newest.png", "Newest database entries")
        parts.append(f"<details><summary>all numbers</summary><pre>{html.escape(json.dumps(h, indent=1))}"
                     "</pre></details>")
    parts.append("</body></html>")
    index = out / "index.html"
    with atomic_write(index, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    return index
