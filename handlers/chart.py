"""The summary's chart: proposals by kecamatan and status, drawn to be read on a phone."""

from __future__ import annotations

import io
import threading

from handlers import texts
from models.rules.status import Status

# Colours that stay apart for the common colour-blindnesses (Okabe-Ito), one per status.
COLOURS = {
    Status.MENUNGGU_CAMAT: "#E69F00",
    Status.MENUNGGU_DINAS: "#56B4E9",
    Status.DITETAPKAN: "#009E73",
    Status.DIKEMBALIKAN: "#F0E442",
    Status.DITOLAK: "#D55E00",
}
WIDTH_INCHES = 7.2  # at 150 dpi: 1080 px, a phone screen's width
DPI = 150
# pyplot keeps global state; the scheduler and a /ringkasan may draw at the same time in worker threads.
_drawing = threading.Lock()


def proposals_by_kecamatan(
    rows: list[tuple[str, dict[Status, int]]],
    *,
    title: str,
    image_format: str = "png",
    quotas: list[int | None] | None = None,
) -> bytes:
    """A horizontal stacked bar per kecamatan (every one, even with no proposal), its total at the end;
    ``quotas`` (one per row, None: not allocated): each kecamatan's allocation marked across its bar."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    names = [name for name, _ in rows][::-1]  # the first kecamatan on top
    counts = [counts for _, counts in rows][::-1]
    height = 1.9 + 0.42 * max(len(rows), 1)
    with _drawing, plt.rc_context({"svg.fonttype": "none", "font.size": 11}):
        figure, axes = plt.subplots(figsize=(WIDTH_INCHES, height), dpi=DPI)
        try:
            left = [0] * len(rows)
            for status, colour in COLOURS.items():
                values = [c.get(status, 0) for c in counts]
                label = texts.SHORT_STATUS[status]
                axes.barh(names, values, left=left, color=colour, label=label, height=0.7)
                left = [a + b for a, b in zip(left, values, strict=True)]
            peak = max(left, default=0)
            if quotas is not None:
                marks = quotas[::-1]
                for y, quota in enumerate(marks):
                    if quota is not None:
                        axes.plot([quota, quota], [y - 0.45, y + 0.45], color="black", linewidth=2.5)
                axes.plot([], [], color="black", linewidth=2.5, label=texts.CHART_QUOTA)
                peak = max(peak, *(q for q in marks if q is not None), 0)
            for y, total in enumerate(left):
                axes.text(total + peak * 0.01, y, texts.angka(total), va="center", fontsize=10)
            axes.set_xlim(0, max(peak * 1.12, 1))
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_title(title, fontsize=13, loc="left")
            axes.spines[["top", "right"]].set_visible(False)
            axes.tick_params(axis="y", length=0)
            axes.legend(
                loc="upper center",
                bbox_to_anchor=(0.45, -0.06 if len(rows) > 3 else -0.15),
                ncol=3,
                frameon=False,
                fontsize=10,
            )
            figure.tight_layout()
            out = io.BytesIO()
            figure.savefig(out, format=image_format, dpi=DPI)
            return out.getvalue()
        finally:
            plt.close(figure)


def warm_up() -> None:
    """Import matplotlib and draw once (its font cache is built on the very first import, seconds), so
    the first summary or /ringkasan does not pay for it while holding the database."""
    proposals_by_kecamatan([("-", {})], title="-")
