#!/usr/bin/env python3
"""Regenerate the TA-Lib reference values the indicator tests compare against.

Dev tool, not part of the build. Needs TA-Lib's C library through its Python
wrapper (`pip install TA-Lib numpy`; the 0.6.5+ wheels bundle the C library).

    python3 scripts/talib_reference.py            # writes crates/core/tests/fixtures/talib/reference.json
    python3 scripts/talib_reference.py --bench    # also times TA-Lib's nine series

Real candles are read in place from ../shared/data/candles and only sampled
indices are stored (never the candles themselves). Small hand-made series, built
to hit TA-Lib's edge cases (flat prices, zero volume, tiny prices, inside bars,
equal up/down movement, price gaps), are stored in full with their inputs.

Measured with TA-Lib C 0.8.1: its "is zero" tests in RSI, PLUS_DI/MINUS_DI and
ADX behave as exact comparisons with 0 (the old fixed 1e-8 band is gone: a coin
quoted at 1e-7 keeps its RSI); `tiny_moves_then_flat` pins that down.
"""
import argparse
import json
import math
import pathlib
import timeit

import numpy as np
import talib

ROOT = pathlib.Path(__file__).resolve().parent.parent
CANDLES = ROOT.parent / "shared" / "data" / "candles"
OUT = ROOT / "crates" / "core" / "tests" / "fixtures" / "talib" / "reference.json"

# Binance and Hyperliquid, 15m/1h/4h; the Hyperliquid 15m files hold flat
# zero-volume candles (h == l == c, v == 0).
FILES = [
    "BTCUSDT_BINANCE_15m.json",
    "SOLUSDT_BINANCE_1h.json",
    "ETHUSDT_BINANCE_4h.json",
    "DOGE_HYPERLIQUID_15m.json",
    "ETH_HYPERLIQUID_15m.json",
    "kPEPE_HYPERLIQUID_15m.json",
]
SAMPLES_PER_FILE = 40


def series(h, l, c, v, periods):
    """Every reference series, keyed `<indicator>_<period>` (OBV has none)."""
    out = {"obv": talib.OBV(c, v)}
    for n in periods["rsi"]:
        out[f"rsi_{n}"] = talib.RSI(c, n)
    for n in periods["ema"]:
        out[f"ema_{n}"] = talib.EMA(c, n)
    for n in periods["atr"]:
        out[f"atr_{n}"] = talib.ATR(h, l, c, n)
    for n in periods["dmi"]:
        out[f"plus_di_{n}"] = talib.PLUS_DI(h, l, c, n)
        out[f"minus_di_{n}"] = talib.MINUS_DI(h, l, c, n)
        out[f"adx_{n}"] = talib.ADX(h, l, c, n)
    return out


SCANNER_PERIODS = {"rsi": [14], "ema": [20, 50, 200], "atr": [14], "dmi": [14]}
HAND_PERIODS = {"rsi": [14, 5, 2], "ema": [20, 3], "atr": [14, 5, 1], "dmi": [14, 5, 2]}


def as_json(values):
    return [None if math.isnan(x) else float(x) for x in values]


def load(name):
    rows = json.loads((CANDLES / name).read_text())
    cols = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in "hlcv"}
    return cols["h"], cols["l"], cols["c"], cols["v"]


def sample_indices(n, flat):
    """First-defined indices of every scanner series and the index before each,
    the flat candles and their successors, the last two, then evenly spread."""
    picks = {0, 1, 13, 14, 15, 18, 19, 26, 27, 28, 48, 49, 198, 199, 200, n - 2, n - 1}
    picks |= {i for f in flat for i in (f, f + 1, f + 14)}
    picks = {i for i in picks if 0 <= i < n}
    spread = np.linspace(0, n - 1, SAMPLES_PER_FILE + 2).astype(int)
    for i in spread:
        if len(picks) >= SAMPLES_PER_FILE:
            break
        picks.add(int(i))
    return sorted(picks)


def file_case(name):
    h, l, c, v = load(name)
    flat = [i for i in range(len(c)) if v[i] == 0 or h[i] == l[i]]
    idx = sample_indices(len(c), flat)
    full = series(h, l, c, v, SCANNER_PERIODS)
    return {
        "file": name,
        "len": len(c),
        "indices": idx,
        "series": {k: as_json(s[idx]) for k, s in full.items()},
    }


def hand_made():
    """Small series aimed at TA-Lib's edge cases."""
    rng = np.random.default_rng(20240601)
    cases = {}

    def add(name, h, l, c, v):
        h, l, c, v = (np.asarray(x, dtype=np.float64) for x in (h, l, c, v))
        cases[name] = {
            "high": h.tolist(), "low": l.tolist(), "close": c.tolist(), "volume": v.tolist(),
            "series": {k: as_json(s) for k, s in series(h, l, c, v, HAND_PERIODS).items()},
        }

    def walk(n, start, step, spread):
        c = start + np.cumsum(rng.normal(0, step, n))
        h = c + rng.uniform(0, spread, n)
        l = c - rng.uniform(0, spread, n)
        return h, l, c

    # A textbook-sized random walk.
    h, l, c = walk(60, 100.0, 1.0, 0.8)
    add("random_walk_60", h, l, c, rng.uniform(0, 1000, 60).round(2))
    # Shorter than / exactly at the first defined index of the periods.
    for n in (0, 1, 2, 13, 14, 15, 27, 28):
        h, l, c = walk(n, 50.0, 0.5, 0.3)
        add(f"short_{n}", h, l, c, np.full(n, 10.0))
    # Completely flat, zero volume: TR = 0, DI sum = 0, g + l = 0.
    add("flat_zero_volume", [5.0] * 40, [5.0] * 40, [5.0] * 40, [0.0] * 40)
    # Flat start then a trend: DX skipped in the seed, ADX starts from 0.
    c = np.concatenate([np.full(30, 10.0), 10.0 + np.arange(1, 31) * 0.25])
    add("flat_then_trend", c + 0.1 * (np.arange(60) >= 30), c - 0.1 * (np.arange(60) >= 30), c, np.arange(60.0))
    # A coin quoted at 1e-6 moving by ~1e-9, then flat: every smoothed sum
    # sits below the 1e-8 "is zero" band of TA-Lib <= 0.4, which zeroed RSI
    # and DI here; TA-Lib 0.8 keeps them (exact zero tests only).
    c = np.concatenate([1e-6 + np.cumsum(rng.normal(0, 1e-9, 40)), np.zeros(40)])
    c[40:] = c[39]
    h = c + np.concatenate([rng.uniform(0, 5e-10, 40), np.zeros(40)])
    l = c - np.concatenate([rng.uniform(0, 5e-10, 40), np.zeros(40)])
    add("tiny_moves_then_flat", h, l, c, np.full(80, 3.0))
    # Inside bars (constant high/low, moving close): TR > 0 but no directional
    # movement, so both DI are 0 and DX is skipped; then a breakout.
    c = np.concatenate([10.0 + 0.5 * np.sin(np.arange(35)), 11.0 + np.arange(1, 21) * 0.3])
    h = np.concatenate([np.full(35, 11.0), c[35:] + 0.1])
    l = np.concatenate([np.full(35, 9.0), c[35:] - 0.1])
    add("inside_bars_then_breakout", h, l, c, np.full(55, 2.0))
    # Equal up and down movement: +DI == -DI, DX = 0.
    c = 20.0 + np.tile([1.0, -1.0], 25).cumsum() * 0.0 + np.tile([0.0, 1.0], 25)
    add("zigzag", c + 0.5, c - 0.5, c, np.full(50, 7.0))
    # Gaps: |h - c_prev| and |l - c_prev| dominate the true range.
    c = 100.0 + np.array([(-1) ** i * (5.0 + i % 3) for i in range(45)])
    add("gaps", c + 0.2, c - 0.2, c, rng.uniform(1, 5, 45).round(3))
    return cases


def bench(name="BTCUSDT_BINANCE_15m.json", calls=2000):
    """Times TA-Lib's nine scanner series on one file: min and median of
    single calls, per candle (compare with `cargo bench --bench indicators`)."""
    h, l, c, v = load(name)

    def nine():
        talib.RSI(c, 14)
        talib.ATR(h, l, c, 14)
        talib.ADX(h, l, c, 14)
        talib.PLUS_DI(h, l, c, 14)
        talib.MINUS_DI(h, l, c, 14)
        talib.EMA(c, 20)
        talib.EMA(c, 50)
        talib.EMA(c, 200)
        talib.OBV(c, v)

    times = sorted(timeit.repeat(nine, number=1, repeat=calls))
    per_candle = [t * 1e9 / len(c) for t in times]
    print(f"TA-Lib nine series on {name} ({len(c)} candles): "
          f"min {per_candle[0]:.1f} ns/candle, median {per_candle[len(times) // 2]:.1f} ns/candle")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench", action="store_true", help="time TA-Lib's nine series too")
    args = ap.parse_args()
    doc = {
        "generator": "scripts/talib_reference.py",
        "talib_python": talib.__version__,
        "talib_c": talib.__ta_version__.decode() if isinstance(talib.__ta_version__, bytes) else str(talib.__ta_version__),
        "files": [file_case(f) for f in FILES],
        "hand_made": hand_made(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    if args.bench:
        bench()


if __name__ == "__main__":
    main()
