"""Charts drawn on the server as SVG: no JavaScript, nothing fetched, every label escaped.

Each function returns :class:`markupsafe.Markup` ready to place in a template: its text
(labels, codes, campaign names) goes through :func:`markupsafe.escape`, so stored text
is shown as text.  Each bar carries a ``<title>`` (the browser's tooltip) with its value.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup

#: Colours for stacked series, in order (distinguishable, and in greyscale print).
PALETTE = ("#2b6cb0", "#38a169", "#d69e2e", "#805ad5", "#e53e3e", "#319795", "#dd6b20", "#718096", "#b83280")
#: The colour of each stage, where a chart shows stages.
STAGE_COLOURS = {
    "accepted": "#718096",
    "sent": "#2b6cb0",
    "delivered": "#38a169",
    "read": "#805ad5",
    "failed": "#e53e3e",
}

_WIDTH, _HEIGHT = 920, 260
_LEFT, _BOTTOM, _TOP = 56, 36, 12


def funnel_bars(stages: Sequence[tuple[str, int]], total: int) -> Markup:
    """Horizontal bars, one per stage: its count and its share of ``total``."""
    row_height, label_width, width = 34, 110, 640
    height = row_height * len(stages) + 8
    parts = [_svg_open(width + label_width + 140, height, "funnel")]
    for index, (stage, count) in enumerate(stages):
        y = index * row_height + 4
        share = count / total if total else 0.0
        bar = max(share * width, 1.0 if count else 0.0)
        colour = STAGE_COLOURS.get(stage, PALETTE[index % len(PALETTE)])
        parts.append(
            Markup('<text x="0" y="{}" class="label">{}</text>').format(y + 20, stage)
            + Markup(
                '<rect x="{}" y="{}" width="{:.1f}" height="24" fill="{}"><title>{}: {:,} ({:.1%})</title></rect>'
            ).format(label_width, y, bar, colour, stage, count, share)
            + Markup('<text x="{:.1f}" y="{}" class="value">{:,} · {:.1%}</text>').format(
                label_width + bar + 6, y + 17, count, share
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def stacked_bars(
    labels: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], *, colours: Sequence[str] = PALETTE
) -> Markup:
    """Vertical bars, one per label (a time bucket), each stacked by series, with a legend.

    ``series`` is ``(name, one value per label)``; a series' colour is ``colours`` in order.
    """
    if not labels:
        return Markup('<p class="empty">Nothing in this range.</p>')
    totals = [sum(values[i] for _, values in series) for i in range(len(labels))]
    top = max(max(totals), 1)
    plot_width, plot_height = _WIDTH - _LEFT - 8, _HEIGHT - _BOTTOM - _TOP
    step = plot_width / len(labels)
    bar = min(max(step * 0.8, 1.0), 48.0)  # a few buckets stay bars, not blocks
    parts = [_svg_open(_WIDTH, _HEIGHT, "stacked"), _axes(top, plot_width, plot_height)]
    for i, label in enumerate(labels):
        x, base = _LEFT + i * step + (step - bar) / 2, float(_TOP + plot_height)
        for index, (name, values) in enumerate(series):
            if not values[i]:
                continue
            height = values[i] / top * plot_height
            base -= height
            parts.append(
                Markup('<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}">').format(
                    x, base, bar, height, colours[index % len(colours)]
                )
                + Markup("<title>{} {}: {:,}</title></rect>").format(label, name, values[i])
            )
    for i in sorted({0, len(labels) // 2, len(labels) - 1}):
        x = _LEFT + i * step + step / 2
        parts.append(
            Markup('<text x="{:.1f}" y="{}" class="tick" text-anchor="middle">{}</text>').format(
                x, _HEIGHT - 14, labels[i]
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts) + legend([(name, colours[i % len(colours)]) for i, (name, _) in enumerate(series)])


def legend(entries: Sequence[tuple[str, str]]) -> Markup:
    """A legend: a swatch and a name per series."""
    items = [
        Markup('<li><span class="swatch" style="background:{}"></span>{}</li>').format(colour, name)
        for name, colour in entries
    ]
    return Markup('<ul class="legend">') + Markup("").join(items) + Markup("</ul>")


def _axes(top: int, plot_width: float, plot_height: float) -> Markup:
    bottom = _TOP + plot_height
    return Markup(
        '<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" class="axis"/>'
        '<line x1="{l}" y1="{b}" x2="{r:.1f}" y2="{b}" class="axis"/>'
        '<text x="{tx}" y="{ty}" class="tick" text-anchor="end">{top:,}</text>'
        '<text x="{tx}" y="{b}" class="tick" text-anchor="end">0</text>'
    ).format(l=_LEFT, t=_TOP, b=bottom, r=_LEFT + plot_width, tx=_LEFT - 6, ty=_TOP + 10, top=top)


def _svg_open(width: float, height: float, kind: str) -> Markup:
    return Markup(
        '<svg class="chart {}" viewBox="0 0 {} {}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg">'
    ).format(kind, width, height)
