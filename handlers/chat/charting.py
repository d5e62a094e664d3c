"""Charts as PNG bytes (matplotlib, Agg backend), rendered off the event loop.

Figures use matplotlib's object API (`Figure` + an Agg canvas), never pyplot's
global state. `render_async` runs renders one at a time in a worker *process*:
in a thread, matplotlib and numpy drop and retake the GIL in tiny steps and
starved the loop for 100-200 ms per chart (measured); a process keeps the
loop's pauses around 10 ms. Every chart says "Information, not advice".

Price charts are shared by every chat (nothing chat-specific is rendered); a chat's
alert levels are drawn over the finished PNG by `draw_levels` with Pillow (tens of
milliseconds, no matplotlib), placed with the frame the render stored in the PNG.
"""

from __future__ import annotations

import asyncio
import functools
import io
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from multiprocessing import get_context
from typing import Any, ParamSpec

import matplotlib

from handlers.chat.copy import NOT_ADVICE

matplotlib.use("Agg")

from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from PIL import Image, ImageDraw, ImageFont

from alerts.domain.backtest import DAY, breakouts, record_highs
from alerts.domain.market import Candle, DailyClose

P = ParamSpec("P")
SIZE_INCHES = (10.0, 6.0)
DPI = 100  # 1000 x 600 px
UP, DOWN, LINE = "#1a9850", "#d73027", "#2c5f8a"
RECORD, ALERT = "#7b3294", "#e08214"
MAX_CANDLES = 120  # beyond this, a close line reads better than candle bodies
AlertLevel = tuple[float, str]  # (price, label shown next to the line, e.g. "#3 above 9.5")
FRAME_KEY = "altbot-frame"  # PNG text chunk: price axes in pixels and its price range
DASH, GAP = 7, 4
LABEL_PX = 12
MAX_PINNED = 3  # levels beyond the price range shown at each edge (the reply lists them all)

_pool: ProcessPoolExecutor | None = None


def _renderer(fresh: bool = False) -> ProcessPoolExecutor:
    """The one render process, started on first use ("spawn": never fork a threaded loop)."""
    global _pool
    if _pool is None or fresh:
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
        _pool = ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"))
    return _pool


async def render_async(fn: Callable[P, bytes], *args: P.args, **kw: P.kwargs) -> bytes:
    """Render in the worker process so the event loop keeps serving chats.

    `fn` and its arguments must pickle (module-level functions, plain data). A
    worker that died (e.g. out of memory) is replaced once before giving up.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(fn, *args, **kw)
    try:
        return await loop.run_in_executor(_renderer(), call)
    except BrokenProcessPool:
        return await loop.run_in_executor(_renderer(fresh=True), call)


def _when(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _x(ts: int) -> float:
    """Matplotlib's date number (days since its default 1970 epoch)."""
    return ts / DAY


def _figure(title: str, subtitle: str) -> Figure:
    fig = Figure(figsize=SIZE_INCHES, dpi=DPI)
    FigureCanvasAgg(fig)
    fig.suptitle(title, x=0.06, y=0.975, ha="left", fontsize=14, fontweight="bold")
    fig.text(0.06, 0.915, f"{subtitle} · {NOT_ADVICE}", ha="left", fontsize=9.5, color="#555555")
    return fig


def _date_axis(ax: Any) -> None:
    ax.xaxis_date(UTC)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    formatter = mdates.ConciseDateFormatter(locator)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(formatter)
    ax.grid(True, color="#e5e5e5", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legend(ax: Any) -> None:
    """Where it hides the least data, on a light box so overlaps stay readable."""
    ax.legend(loc="best", fontsize=8.5, framealpha=0.85, edgecolor="none")


def _png(fig: Figure, frame: str | None = None) -> bytes:
    buf = io.BytesIO()
    metadata = {"Software": None} if frame is None else {"Software": None, FRAME_KEY: frame}
    fig.savefig(buf, format="png", dpi=DPI, metadata=metadata)
    return buf.getvalue()


def _frame(ax: Any) -> str:
    """`x0,x1,top,bottom,low,high`: the axes' pixel box (origin top left) and price range."""
    left, bottom, width, height = ax.get_position().bounds
    w, h = SIZE_INCHES[0] * DPI, SIZE_INCHES[1] * DPI
    low, high = ax.get_ylim()
    box = (left * w, (left + width) * w, (1 - bottom - height) * h, (1 - bottom) * h)
    return ",".join(f"{v:.6g}" for v in (*box, low, high))


@functools.lru_cache(maxsize=1)
def _label_font() -> ImageFont.FreeTypeFont:
    """The chart's own font (matplotlib's DejaVu Sans: it has the arrows and triangles)."""
    return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), LABEL_PX)


def draw_levels(png: bytes, levels: Sequence[AlertLevel]) -> tuple[bytes, list[str]]:
    """A price chart with a chat's alert levels drawn over it: dashed lines inside its price
    range; levels beyond it as ▲/▼ labels pinned to the top/bottom edge (at most
    `MAX_PINNED` each). Returns the PNG and the labels of the levels beyond the range."""
    image = Image.open(io.BytesIO(png))
    frame = image.info.get(FRAME_KEY)
    if not isinstance(frame, str) or not levels:
        return png, [label for _, label in levels]
    x0, x1, top, bottom, low, high = (float(v) for v in frame.split(","))
    above = sorted((lv, lab) for lv, lab in levels if lv > high)
    below = sorted(((lv, lab) for lv, lab in levels if lv < low), reverse=True)
    draw = ImageDraw.Draw(image)
    font = _label_font()
    for level, label in levels:
        if low <= level <= high:
            y = top + (high - level) / (high - low) * (bottom - top)
            for x in range(int(x0), int(x1), DASH + GAP):
                draw.line([(x, y), (min(x + DASH, x1), y)], fill=ALERT, width=2)
            draw.text((x1 + 5, y), label, fill=ALERT, font=font, anchor="lm")
    for i, (_, label) in enumerate(above[:MAX_PINNED]):
        draw.text((x1 + 5, top + i * (LABEL_PX + 3)), f"▲ {label}", fill=ALERT, font=font,
                  anchor="lt")
    for i, (_, label) in enumerate(below[:MAX_PINNED]):
        draw.text((x1 + 5, bottom - i * (LABEL_PX + 3)), f"▼ {label}", fill=ALERT, font=font,
                  anchor="lb")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)  # fast; the size stays near the original
    return out.getvalue(), [label for _, label in (*above, *below)]


def _volume_text(value: float, _pos: object = None) -> str:
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:,.0f}{suffix}"
    return f"{value:,.0f}"


def _log_if_wide(ax: Any, values: Sequence[float]) -> None:
    """Log scale when a series spans more than 8x, so early years stay readable."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > 8:
        ax.set_yscale("log")


def _mark_days(axes: Sequence[Any], days: Sequence[int], label: str) -> None:
    for i, ts in enumerate(days):
        for j, ax in enumerate(axes):
            lab = label if i == 0 and j == 0 else None
            ax.axvline(_x(ts), color=RECORD, alpha=0.55, linewidth=1.2, linestyle=":", label=lab)


def render_price_chart(
    symbol: str,
    candles: Sequence[Candle],
    *,
    r2k_records: Sequence[int] = (),
    range_days: int = 30,
) -> bytes:
    """Price (candles or close line), volume below, R2K record days; the same for every chat
    (alert levels are `draw_levels`' job), with its price frame stored in the PNG."""
    if not candles:
        raise ValueError("no candles to chart")
    start = candles[-1].ts - (range_days - 1) * DAY
    shown = [c for c in candles if c.ts >= start]
    first, last = shown[0], shown[-1]
    change = (last.close / first.open - 1) * 100 if first.open > 0 else 0.0
    fig = _figure(
        f"{symbol} · {range_days}d",
        f"Daily, UTC · last close {last.close:,.6g} · {change:+.1f}% over the range",
    )
    grid = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.06, top=0.87, bottom=0.08,
                            left=0.07, right=0.86)
    ax = fig.add_subplot(grid[0])
    vol = fig.add_subplot(grid[1], sharex=ax)
    when = [_x(c.ts) for c in shown]
    colors = [UP if c.close >= c.open else DOWN for c in shown]
    width = 0.65
    if len(shown) <= MAX_CANDLES:
        ax.vlines(when, [c.low for c in shown], [c.high for c in shown], colors=colors, lw=1)
        bottoms = [min(c.open, c.close) for c in shown]
        heights = [max(abs(c.close - c.open), c.close * 1e-4) for c in shown]
        ax.bar(when, heights, width, bottoms, color=colors, label="Daily candle")
    else:
        ax.plot(when, [c.close for c in shown], color=LINE, linewidth=1.6, label="Close")
        width = 0.9
    vol.bar(when, [c.quote_volume for c in shown], width, color=colors, alpha=0.7)
    vol.set_ylabel("Volume", fontsize=9)
    vol.yaxis.set_major_formatter(FuncFormatter(_volume_text))
    _mark_days([ax, vol], [ts for ts in r2k_records if ts >= start], "R2K record close")
    for axis in (ax, vol):
        _date_axis(axis)
    ax.tick_params(labelbottom=False)
    _legend(ax)
    return _png(fig, _frame(ax))


def render_r2k_chart(rows: Sequence[DailyClose]) -> bytes:
    """The index's daily closes with every record close and the breakouts marked."""
    if not rows:
        raise ValueError("no index rows to chart")
    records = [rows[i] for i in record_highs(rows)]
    found = breakouts(rows)
    last = rows[-1]
    fig = _figure(
        "Russell 2000 (^RUT) daily close",
        f"{_when(rows[0].ts):%Y}–{_when(last.ts):%Y} · last {last.close:,.2f} "
        f"({_when(last.ts):%Y-%m-%d}) · {len(records)} record closes",
    )
    ax = fig.add_axes((0.08, 0.1, 0.88, 0.76))
    ax.plot([_x(r.ts) for r in rows], [r.close for r in rows], color=LINE, lw=1.2,
            label="Close")
    ax.scatter([_x(r.ts) for r in records], [r.close for r in records], s=9, color=RECORD,
               zorder=3, label="Record close")
    by_ts = {r.ts: r.close for r in rows}
    ax.scatter([_x(ts) for ts in found], [by_ts[ts] for ts in found], s=70, marker="^",
               color=ALERT, edgecolor="black", linewidth=0.5, zorder=4,
               label="Breakout (first record after 90+ days)")
    _log_if_wide(ax, [r.close for r in rows])
    _date_axis(ax)
    _legend(ax)
    return _png(fig)


def _rebased(rows: Sequence[DailyClose], start: int) -> tuple[list[float], list[float]]:
    """The rows from `start` on, scaled so the first shown close is 100."""
    shown = [r for r in rows if r.ts >= start and r.close > 0]
    if not shown:
        return [], []
    base = shown[0].close
    return [_x(r.ts) for r in shown], [r.close / base * 100 for r in shown]


def render_regime_chart(
    r2k: Sequence[DailyClose],
    basket: Sequence[DailyClose],
    btc: Sequence[DailyClose],
    breakout_days: Sequence[int],
) -> bytes:
    """R2K, BTC and the alt basket from the start of the crypto data = 100; breakouts marked."""
    if not btc:
        raise ValueError("no BTC history to chart")
    start = btc[0].ts
    fig = _figure(
        "R2K vs BTC vs alt basket (start = 100)",
        f"Daily since {_when(start):%Y-%m-%d}; dotted lines: R2K breakouts",
    )
    ax = fig.add_axes((0.08, 0.1, 0.88, 0.76))
    values: list[float] = []
    for rows, label, color, width in (
        (btc, "BTC", "#f7931a", 1.4),
        (basket, "Alt basket (equal weight)", UP, 1.4),
        (r2k, "Russell 2000", LINE, 1.8),
    ):
        when, level = _rebased(rows, start)
        if when:
            ax.plot(when, level, color=color, linewidth=width, label=label)
            values += level
    ax.axhline(100, color="#999999", linewidth=0.8)
    _mark_days([ax], [ts for ts in breakout_days if ts >= start], "R2K breakout")
    _log_if_wide(ax, values)
    if ax.get_yscale() == "log":
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    _date_axis(ax)
    _legend(ax)
    return _png(fig)
