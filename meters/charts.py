"""Charts of a meter device's readings for the admin: one bounded query, inline SVG, no JavaScript.

**Downsampling in SQL.** ``NTILE(n) OVER (PARTITION BY series ORDER BY timestamp)`` splits each
series' readings of the period into at most ``n`` buckets of consecutive rows; the outer query
keeps one row per bucket (first and last timestamp, mean, minimum and maximum). A series with
fewer readings than ``n`` keeps every reading (one per bucket), a year of quarter-hours comes back
as ``n`` points, and the database returns at most ``n`` rows per series whatever the period. The
same SQL runs on PostgreSQL and SQLite (window functions; values are cast to double precision,
which is fine for drawing: stored values stay exact).

**Rendering.** Each series gets its own small SVG (series have different units): a polyline of
the means, a shaded min-max band when buckets hold several readings, dots when there are few
points, axis labels at both ends. The x axis is the chosen period, so every chart of a page lines
up in time and gaps show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from .models import MeterReading, MeterReadingSeries

MAX_POINTS = 500
MAX_CHARTS = 12
PERIODS = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
    "90d": ("Last 90 days", timedelta(days=90)),
    "365d": ("Last 365 days", timedelta(days=365)),
}
DEFAULT_PERIOD = "7d"


@dataclass
class Point:
    start: datetime
    end: datetime
    mean: float
    low: float
    high: float
    count: int

    @property
    def moment(self) -> datetime:
        return self.start + (self.end - self.start) / 2


@dataclass
class SeriesChart:
    series_id: object
    name: str
    unit: str
    description: str
    points: list[Point] = field(default_factory=list)

    @property
    def readings(self) -> int:
        return sum(p.count for p in self.points)

    @property
    def downsampled(self) -> bool:
        return any(p.count > 1 for p in self.points)


@dataclass
class ChartPeriod:
    start: datetime
    end: datetime
    key: str  # a PERIODS key, or "custom"
    label: str


def chart_period(params, *, now: datetime | None = None) -> ChartPeriod:
    """The period from GET parameters: ``chart_period`` (24h, 7d, ...) or ``chart_start`` /
    ``chart_end`` (ISO dates or date-times, UTC when naive). Bad values fall back to the default."""
    now = now or datetime.now(UTC)
    start, end = _parse_moment(params.get("chart_start")), _parse_moment(params.get("chart_end"), end=True)
    if start is not None or end is not None:
        end = end or now
        start = start or end - PERIODS[DEFAULT_PERIOD][1]
        if start < end:
            return ChartPeriod(start, end, "custom", f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
    key = params.get("chart_period") or DEFAULT_PERIOD
    if key not in PERIODS:
        key = DEFAULT_PERIOD
    label, span = PERIODS[key]
    return ChartPeriod(now - span, now, key, label)


def _parse_moment(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if len(value.strip()) == 10 and end:  # a date as the end means the whole day
        moment += timedelta(days=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    moment = datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def meter_series_charts(
    *, meter_device_id, start: datetime, end: datetime, max_points: int = MAX_POINTS
) -> list[SeriesChart]:
    """Every series with readings of the meter in ``[start, end)``, at most ``max_points`` points
    each (two queries: the buckets, then the series' names)."""
    qn = connection.ops.quote_name
    meta = MeterReading._meta

    def column(name: str) -> str:
        return qn(meta.get_field(name).column)

    series, stamp, value, meter = (
        column("series"),
        column("timestamp"),
        column("value"),
        column("meter_device"),
    )
    sql = (
        f"SELECT series_id, MIN(ts), MAX(ts), AVG(v), MIN(v), MAX(v), COUNT(*) FROM ("
        f"SELECT {series} AS series_id, {stamp} AS ts, CAST({value} AS DOUBLE PRECISION) AS v, "
        f"NTILE(%s) OVER (PARTITION BY {series} ORDER BY {stamp}) AS bucket "
        f"FROM {qn(meta.db_table)} WHERE {meter} = %s AND {stamp} >= %s AND {stamp} < %s"
        f") buckets GROUP BY series_id, bucket ORDER BY series_id, MIN(ts)"
    )
    meter_param = meta.get_field("meter_device").get_db_prep_value(meter_device_id, connection)
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(sql, [int(max_points), meter_param, adapt(start), adapt(end)])
        rows = cursor.fetchall()
    if not rows:
        return []
    series_field = meta.get_field("series").target_field
    points: dict[object, list[Point]] = {}
    for series_id, first, last, mean, low, high, count in rows:
        key = series_field.to_python(series_id)
        points.setdefault(key, []).append(
            Point(_as_datetime(first), _as_datetime(last), float(mean), float(low), float(high), int(count))
        )
    named = MeterReadingSeries.objects.filter(pk__in=list(points)).values_list(
        "pk", "name", "unit", "description"
    )
    charts = [
        SeriesChart(series_id=pk, name=name, unit=unit, description=description, points=points[pk])
        for pk, name, unit, description in named
    ]
    return sorted(charts, key=lambda chart: chart.name)


# --- SVG ------------------------------------------------------------------------------------------

WIDTH, HEIGHT = 560, 190
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 10, 26
DOTS_UP_TO = 120


def _number(value: float) -> str:
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6 or magnitude < 1e-3:
        return f"{value:.3g}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def render_chart_svg(chart: SeriesChart, *, start: datetime, end: datetime) -> SafeString:
    """One series as an inline SVG (escaped text, numbers formatted by us)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max((end - start).total_seconds(), 1.0)
    low = min(p.low for p in chart.points)
    high = max(p.high for p in chart.points)
    if high == low:
        pad = abs(high) * 0.01 or 1.0
        low, high = low - pad, high + pad

    def x(moment: datetime) -> float:
        fraction = (moment - start).total_seconds() / span
        return LEFT + min(max(fraction, 0.0), 1.0) * plot_w

    def y(value: float) -> float:
        return TOP + (1 - (value - low) / (high - low)) * plot_h

    coords = [(x(p.moment), y(p.mean)) for p in chart.points]
    line = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
    parts = [
        format_html(
            '<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>',
            LEFT,
            TOP + plot_h,
            LEFT + plot_w,
            TOP + plot_h,
        ),
        format_html('<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>', LEFT, TOP, LEFT, TOP + plot_h),
    ]
    if chart.downsampled:
        upper = [f"{x(p.moment):.1f},{y(p.high):.1f}" for p in chart.points]
        lower = [f"{x(p.moment):.1f},{y(p.low):.1f}" for p in reversed(chart.points)]
        parts.append(format_html('<polygon class="band" points="{}"/>', " ".join(upper + lower)))
    parts.append(format_html('<polyline class="line" points="{}"/>', line))
    if len(coords) <= DOTS_UP_TO:
        parts.append(
            format_html_join(
                "",
                '<circle class="dot" cx="{}" cy="{}" r="2"/>',
                ((f"{px:.1f}", f"{py:.1f}") for px, py in coords),
            )
        )
    labels = [
        (LEFT - 6, TOP + 10, "end", _number(high)),
        (LEFT - 6, TOP + plot_h, "end", _number(low)),
        (LEFT, HEIGHT - 8, "start", f"{start:%Y-%m-%d %H:%M}"),
        (LEFT + plot_w, HEIGHT - 8, "end", f"{end:%Y-%m-%d %H:%M} UTC"),
    ]
    parts.append(
        format_html_join(
            "", '<text x="{}" y="{}" text-anchor="{}">{}</text>', ((a, b, c, d) for a, b, c, d in labels)
        )
    )
    title = f"{chart.name} [{chart.unit}]: {chart.readings} readings, {len(chart.points)} points"
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" role="img" aria-label="{}" '
        'data-series="{}" data-points="{}" data-readings="{}"><title>{}</title>{}</svg>',
        WIDTH,
        HEIGHT,
        title,
        chart.name,
        len(chart.points),
        chart.readings,
        title,
        mark_safe("".join(parts)),  # every part was built with format_html
    )
