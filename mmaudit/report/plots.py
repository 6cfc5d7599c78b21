"""Small inline SVG plots: no plotting library, no network, safe to embed."""

from __future__ import annotations

from html import escape

import numpy as np

W, H, PAD = 520, 220, 36


def _frame(title: str, body: str, x_label: str, y_label: str) -> str:
    return (f'<svg class="plot" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}">'
            f'<text x="{W / 2}" y="14" text-anchor="middle" class="t">{escape(title)}</text>'
            f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - 8}" y2="{H - PAD}" class="axis"/>'
            f'<line x1="{PAD}" y1="20" x2="{PAD}" y2="{H - PAD}" class="axis"/>'
            f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle">{escape(x_label)}</text>'
            f'<text x="10" y="{H / 2}" transform="rotate(-90 10 {H / 2})" text-anchor="middle">{escape(y_label)}</text>'
            f'{body}</svg>')


def histogram(scores: np.ndarray, threshold: float, bins: int = 40) -> str:
    """Distribution of mismatch scores (log counts) with the threshold marked."""
    scores = scores[np.isfinite(scores)]
    if len(scores) == 0:
        return "<p>No scored products.</p>"
    counts, edges = np.histogram(scores, bins=bins, range=(0.0, 1.0))
    heights = np.log1p(counts) / max(np.log1p(counts).max(), 1e-9)
    width = (W - PAD - 8) / bins
    bars = "".join(f'<rect x="{PAD + i * width:.1f}" y="{H - PAD - h * (H - PAD - 24):.1f}" width="{width - 1:.1f}" '
                   f'height="{h * (H - PAD - 24):.1f}" class="{"hi" if edges[i] >= threshold else "lo"}">'
                   f'<title>{edges[i]:.3f}-{edges[i + 1]:.3f}: {c}</title></rect>' for i, (h, c) in enumerate(zip(heights, counts)))
    x = PAD + min(max(threshold, 0), 1) * (W - PAD - 8)
    marker = f'<line x1="{x:.1f}" y1="20" x2="{x:.1f}" y2="{H - PAD}" class="thr"/><text x="{x + 4:.1f}" y="30">threshold {threshold:.3f}</text>'
    return _frame("mismatch score distribution", bars + marker, "mismatch score", "products (log)")


def pr_curve(labels: np.ndarray, scores: np.ndarray, threshold: float) -> str:
    """Precision-recall curve against a truth file, with the operating point."""
    order = np.argsort(-scores, kind="stable")
    y, s = labels[order], scores[order]
    if y.sum() == 0:
        return "<p>The truth file marks no product as mismatched.</p>"
    tp = np.cumsum(y)
    recall, precision = tp / y.sum(), tp / np.arange(1, len(y) + 1)
    step = max(1, len(y) // 400)
    points = " ".join(f"{PAD + r * (W - PAD - 8):.1f},{H - PAD - p * (H - PAD - 24):.1f}" for r, p in zip(recall[::step], precision[::step]))
    at = np.searchsorted(-s, -threshold, side="right") - 1
    marker = ""
    if at >= 0:
        rx, py = PAD + recall[at] * (W - PAD - 8), H - PAD - precision[at] * (H - PAD - 24)
        marker = (f'<circle cx="{rx:.1f}" cy="{py:.1f}" r="5" class="op"/>'
                  f'<text x="{rx + 6:.1f}" y="{py - 6:.1f}">P {precision[at]:.2f} R {recall[at]:.2f}</text>')
    return _frame("precision-recall against the truth file", f'<polyline points="{points}" class="curve"/>{marker}', "recall", "precision")
