"""The Analytics page: the engagement funnel per group and a chart of opens and views."""

from flask import Blueprint, render_template
from flask_login import current_user, login_required

import analytics

bp = Blueprint("analytics", __name__)
# The chart's drawing area, in SVG user units (the SVG scales to the page's width).
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 40, 24, 12


@bp.get("/analytics")
@login_required
def index():
    """Each group's funnel, all groups together, and the last 30 days' opens and views."""
    funnels = analytics.funnels(current_user.org_id)
    total = analytics.Funnel(0, "All groups")
    for funnel in funnels:
        for field in ("credentials", *analytics.STAGES):
            setattr(total, field, getattr(total, field) + getattr(funnel, field))
    days = analytics.daily(current_user.org_id)
    return render_template("analytics/index.html", funnels=funnels, total=total,
                           stages=analytics.STAGES, labels=analytics.STAGE_LABELS,
                           chart=chart(days), days=analytics.DAYS)


def chart(days):
    """The geometry of a bar chart of opens and views per day, for the template's SVG."""
    top = max([1] + [count for _, counts in days for count in counts.values()])
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT) / len(days)
    bar = slot * 0.36

    def height(count):
        return round(count / top * plot_height, 1)

    bars, labels = [], []
    for n, (day, counts) in enumerate(days):
        x = LEFT + n * slot + slot * 0.14
        for offset, kind in ((0, "opened"), (bar, "viewed")):
            h = height(counts[kind])
            bars.append({"kind": kind, "x": round(x + offset, 1), "y": HEIGHT - BOTTOM - h,
                         "width": round(bar, 1), "height": h, "count": counts[kind],
                         "day": day})
        if n % 5 == 0:
            labels.append({"x": round(LEFT + n * slot + slot / 2, 1), "anchor": "middle",
                           "text": day.strftime("%-d %b")})
    # Today's label ends at the right edge, so it is never cut off.
    labels.append({"x": WIDTH, "anchor": "end", "text": days[-1][0].strftime("%-d %b")})
    ticks = sorted({0, top // 2, top})
    return {"width": WIDTH, "height": HEIGHT, "left": LEFT, "base": HEIGHT - BOTTOM,
            "bars": bars, "labels": labels, "empty": top == 1 and not any(
                b["count"] for b in bars),
            "ticks": [{"value": t, "y": HEIGHT - BOTTOM - height(t)} for t in ticks]}
