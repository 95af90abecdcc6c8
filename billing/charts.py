"""A server-rendered SVG bar chart of sales by hour: no JavaScript, no external library, prints as it shows."""

from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 12, 28


def hourly_sales_svg(rows: list[dict], *, currency: str = "") -> SafeString:
    """`rows` are the 24 rows of reports.by_hour: {"hour", "orders", "sales"}. Bars are scaled to the busiest hour."""
    peak = max((row["sales"] for row in rows), default=Decimal(0)) or Decimal(1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(rows), 1)
    bars = []
    for i, row in enumerate(rows):
        h = float(row["sales"] / peak) * plot_h
        x = LEFT + i * slot + slot * 0.15
        bars.append(
            (
                f"{x:.1f}",
                f"{TOP + plot_h - h:.1f}",
                f"{slot * 0.7:.1f}",
                f"{h:.1f}",
                f"{row['hour']:02d}:00 — {row['sales']} {currency} ({row['orders']} orders)".strip(),
            )
        )
    labels = [
        (f"{LEFT + i * slot + slot / 2:.1f}", f"{HEIGHT - 10}", f"{row['hour']:02d}")
        for i, row in enumerate(rows)
        if row["hour"] % 3 == 0
    ]
    ticks = [(f"{TOP + plot_h - plot_h * k / 4:.1f}", f"{LEFT - 6}", f"{peak * k / 4:.0f}") for k in range(5)]
    return format_html(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="100%" role="img" aria-labelledby="chart-title" '
        'xmlns="http://www.w3.org/2000/svg"><title id="chart-title">Sales by hour</title>'
        '<g fill="#5f6b7a" font-size="11" text-anchor="end">{ticks}</g>'
        '<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#d9dde3"/>'
        '<g fill="#1f6f5c">{bars}</g>'
        '<g fill="#5f6b7a" font-size="11" text-anchor="middle">{labels}</g></svg>',
        w=WIDTH,
        h=HEIGHT,
        left=LEFT,
        right=WIDTH - RIGHT,
        base=TOP + plot_h,
        ticks=format_html_join("", '<text x="{1}" y="{0}" dy="4">{2}</text>', ticks),
        bars=format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>', bars),
        labels=format_html_join("", '<text x="{}" y="{}">{}</text>', labels),
    )
