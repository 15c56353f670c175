"""Whether the drawings `logo solve` finds for MNIST digits read as their digits (issue 31, "where a user sees it").

Why: IoU says how many pixels agree, not whether a person would read the drawing as a 7. The digit classifier
(`model.digit_classifier`, trained on the training digits only) is the judge `bench/digits.py` uses; here it
reads every labelled MNIST target's best drawing (the row's `_image28`) and the target itself (its ceiling).
Only targets of kind "mnist" that carry `extra["label"]` are read, so other target sets never import torch.
"""
from __future__ import annotations

import numpy as np

#: a sheet label's width in characters at scale 3 (`logo.pictures.contact_sheet`: about 6 px a character)
SHEET_CHARS = 15


def labelled(targets) -> list[int]:
    """Indices of the targets that are MNIST digits with a known label."""
    return [i for i, t in enumerate(targets) if t.kind == "mnist" and isinstance(t.extra.get("label"), int)]


def read_digits(targets, rows: list[dict]) -> dict:
    """Classify the labelled MNIST targets and their rows' best drawings; sets each such row's `label`,
    `classified_as` (None for a row whose search failed: it drew nothing) and `target_classified_as`.

    Returns the summary's numbers ({} when no target is a labelled digit): `classified_as_label`, the share of
    labelled targets whose drawing reads as their label (a failed search counts as not read); and
    `classifier_on_targets`, the share of the targets themselves read as their label (the classifier's ceiling)."""
    idx = labelled(targets)
    if not idx:
        return {}
    from model.digit_classifier import classify, load_or_train     # torch: only for digits
    net = load_or_train()
    labels = np.array([targets[i].extra["label"] for i in idx])
    on_targets = classify(np.stack([targets[i].image28 for i in idx]), net)
    drawn = [i for i in idx if "_image28" in rows[i]]
    read = dict(zip(drawn, classify(np.stack([rows[i]["_image28"] for i in drawn]), net).tolist())) if drawn else {}
    hits = 0
    for k, i in enumerate(idx):
        row = rows[i]
        row["label"] = int(labels[k])
        row["classified_as"] = read.get(i)
        row["target_classified_as"] = int(on_targets[k])
        hits += row["classified_as"] == row["label"]
    return {"digits": len(idx), "classified_as_label": round(hits / len(idx), 4),
            "classifier_on_targets": round(float((on_targets == labels).mean()), 4)}


def drawing_label(row: dict) -> str:
    """A drawing's sheet label: `iou 0.83 41t >7` (IoU, tokens, what the classifier reads; `iou ` dropped when
    it would not fit)."""
    text = f"iou {row['iou']:.2f} {row['tokens']}t >{row['classified_as']}"
    return text if len(text) <= SHEET_CHARS else text[4:]


def target_label(row: dict, name: str) -> str:
    """A digit target's sheet label: `7 >7 #123` (its label, what the classifier reads, the number in its name)."""
    return f"{row['label']} >{row['target_classified_as']} #{name.rsplit('-', 1)[-1]}"
