"""A backtest for people: a table to read and a chart (PNG) to look at."""

from collections.abc import Sequence
from pathlib import Path

from services.forecast.domain.backtest import METHODS, BacktestRow, Summary

_LABELS = {"weighted": "weighted pipeline", "win_rate": "win-rate forecast", "p50": "Monte Carlo P50"}


def table(rows: Sequence[BacktestRow], summary: Summary) -> str:
    """Each period's actual beside each method's forecast and error, then MAPE and P10-P90 coverage."""
    head = (
        f"{'period':<9} {'cur':<4} {'actual':>13} {'weighted':>13} {'err':>7} {'win rate':>13} {'err':>7} "
        f"{'P50':>13} {'err':>7} {'P10':>13} {'P90':>13} {'in':>3} {'open':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        if not r.closed_history:
            lines.append(f"{r.period:<9} {r.currency:<4} {r.actual:>13,.0f}   (no closed history before it: skipped)")
            continue
        lines.append(
            f"{r.period:<9} {r.currency:<4} {r.actual:>13,.0f} "
            f"{r.weighted:>13,.0f} {r.error('weighted'):>+7.1%} {r.win_rate:>13,.0f} {r.error('win_rate'):>+7.1%} "
            f"{r.p50:>13,.0f} {r.error('p50'):>+7.1%} {r.p10:>13,.0f} {r.p90:>13,.0f} {'yes' if r.inside else 'no':>3} "
            f"{r.open_opportunities:>5}"
        )
    lines.append("-" * len(head))
    mape = "  ".join(f"{_LABELS[m]} {summary.mape[m]:.1%}" for m in METHODS)
    lines.append(f"MAPE over {summary.periods} periods: {mape}")
    lines.append(f"actual inside P10-P90: {summary.coverage:.0%} of periods")
    return "\n".join(lines)


class ChartUnavailable(RuntimeError):
    """The charting library is not installed (it is an extra: the image leaves it out)."""


def chart(rows: Sequence[BacktestRow], path: Path, title: str) -> Path:
    """Actual won per period as bars, each method as a line, P10-P90 as a band."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ChartUnavailable("the chart needs the 'charts' extra: pip install 'leadflow[charts]'") from exc

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    shown = [r for r in rows if r.closed_history]
    x = list(range(len(shown)))
    fig, ax = plt.subplots(figsize=(max(6, len(shown) * 1.2), 4.5))
    ax.bar(x, [float(r.actual) for r in shown], color="#c8d6e5", label="actual won")
    ax.fill_between(
        x, [float(r.p10) for r in shown], [float(r.p90) for r in shown], color="#54a0ff", alpha=0.2, label="P10-P90"
    )
    for method, style in (("weighted", "--"), ("win_rate", "-"), ("p50", ":")):
        ax.plot(x, [float(getattr(r, method)) for r in shown], style, marker="o", label=_LABELS[method])
    ax.set_xticks(x, [r.period for r in shown])
    ax.set_ylabel(f"won revenue ({shown[0].currency})" if shown else "won revenue")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small")
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
