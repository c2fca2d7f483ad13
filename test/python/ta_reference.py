#!/usr/bin/env python3
"""Reference indicator values from TA-Lib (and numpy) for cross-checking @stock-mlops/transform.

Usage:
    python3 test/python/ta_reference.py <prices.csv>

Prints one JSON object on stdout:
    {"meta": {...versions}, "raw": {"dates": [...], "series": {name: [...]}},
     "features": {"dates": [...], "series": {name: [...]}}}
Arrays are aligned with their `dates` (ascending); positions inside a warm-up are null.

The CSV is read with the same rules as the TypeScript `parseYahooCsv`: columns found by name
(case, spaces and underscores ignored; unnamed pandas index ignored), rows with a missing/'null'/
non-numeric value or a wrong cell count are dropped, rows sorted ascending by date (stable).

"raw" feeds TA-Lib the unadjusted Open/High/Low/Close/Volume of every parsed row
(zero-volume rows included), exactly what the TypeScript test feeds the indicator classes.

"features" recomputes the FeatureEngine's output from its documented definitions: OHLC
multiplied by adjFactor = AdjClose/Close (when the file has it), zero-volume rows dropped, TA
indicators from TA-Lib, Alpha158 rolling features from numpy windows (two-pass mean/std,
np.corrcoef) — an implementation independent of the engine's running sums.

Exit code 3 (with a message on stderr) when numpy or TA-Lib is not installed.
"""

import csv
import datetime as dt
import json
import math
import re
import sys

try:
    import numpy as np
    import talib
except ImportError as exc:  # the TS test turns this into a failure with the message below
    sys.stderr.write(
        f"ta_reference.py: {exc}. Install the reference libs: pip install -r test/python/requirements.txt\n"
    )
    sys.exit(3)

NUMBER_RE = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

SMA_PERIODS = [5, 10, 20, 30, 50, 60]
EMA_PERIODS = [5, 10, 20, 50]
WINDOWS = [5, 10, 20, 30, 60]  # STDDEV, MAX, MIN, CORREL and the Alpha158 windows
RETURN_HORIZONS = [1, 5, 10, 20]
MA_WINDOWS = [5, 10, 20, 50]
WARMUP_BARS = 61
QLIB_EPS = 1e-12


def canonical(cell):
    key = re.sub(r"[\s_]", "", cell.strip().strip('"').lower())
    if key in ("date", "datetime", "timestamp"):
        return "date"
    if key in ("open", "high", "low", "close", "volume"):
        return key
    if key in ("adjclose", "adjustedclose"):
        return "adjclose"
    return None


def read_prices(path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        lines = [line for line in csv.reader(fh)]
    lines = [row for row in lines if any(cell.strip() for cell in row)]
    header = lines[0]
    index = {}
    for i, cell in enumerate(header):
        col = canonical(cell)
        if col and col not in index:
            index[col] = i
    rows = []
    for cells in lines[1:]:
        if len(cells) != len(header):
            continue
        date = cells[index["date"]].strip().strip('"')
        if not DATE_RE.match(date):
            continue
        try:
            dt.date.fromisoformat(date)
        except ValueError:
            continue
        values = {}
        ok = True
        for col in ("open", "high", "low", "close", "volume", "adjclose"):
            if col not in index:
                continue
            text = cells[index[col]].strip().strip('"')
            if not NUMBER_RE.match(text):
                ok = False
                break
            values[col] = float(text)
        if ok:
            values["date"] = date
            rows.append(values)
    rows.sort(key=lambda r: r["date"])  # stable, like Array.prototype.sort
    return rows


def to_list(arr):
    return [None if (x is None or math.isnan(x)) else float(x) for x in arr]


def raw_indicators(rows):
    h = np.array([r["high"] for r in rows], dtype=np.float64)
    low = np.array([r["low"] for r in rows], dtype=np.float64)
    c = np.array([r["close"] for r in rows], dtype=np.float64)
    v = np.array([r["volume"] for r in rows], dtype=np.float64)
    log_v = np.log(v + 1.0)
    out = {}
    for n in SMA_PERIODS:
        out[f"SMA_{n}"] = to_list(talib.SMA(c, timeperiod=n))
    for n in EMA_PERIODS:
        out[f"EMA_{n}"] = to_list(talib.EMA(c, timeperiod=n))
    out["RSI_14"] = to_list(talib.RSI(c, timeperiod=14))
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    out["MACD_line"], out["MACD_signal"], out["MACD_hist"] = to_list(macd), to_list(signal), to_list(hist)
    upper, middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    out["BBANDS_upper_20"], out["BBANDS_middle_20"], out["BBANDS_lower_20"] = to_list(upper), to_list(middle), to_list(lower)
    out["TRANGE"] = to_list(talib.TRANGE(h, low, c))
    out["ATR_14"] = to_list(talib.ATR(h, low, c, timeperiod=14))
    for n in WINDOWS:
        out[f"STDDEV_{n}"] = to_list(talib.STDDEV(c, timeperiod=n, nbdev=1.0))
        out[f"MAX_{n}"] = to_list(talib.MAX(h, timeperiod=n))
        out[f"MIN_{n}"] = to_list(talib.MIN(low, timeperiod=n))
        out[f"CORREL_{n}"] = to_list(talib.CORREL(c, log_v, timeperiod=n))
    return out


def windows(x, n):
    """Row t holds x[t-n+1 .. t]; rows before n-1 are padded with NaN windows."""
    view = np.lib.stride_tricks.sliding_window_view(x, n)
    pad = np.full((n - 1, n), np.nan)
    return np.vstack([pad, view]) if len(x) >= n else np.full((len(x), n), np.nan)


def safe_div(a, b):
    return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


def engine_features(rows):
    kept = [r for r in rows if r["volume"] != 0]
    factor = np.array([r["adjclose"] / r["close"] if "adjclose" in r else 1.0 for r in kept])
    o = np.array([r["open"] for r in kept]) * factor
    h = np.array([r["high"] for r in kept]) * factor
    low = np.array([r["low"] for r in kept]) * factor
    c = np.array([r["close"] for r in kept]) * factor
    v = np.array([r["volume"] for r in kept])
    n_rows = len(kept)
    feats = {}

    def shift(x, d):
        out = np.full(n_rows, np.nan)
        out[d:] = x[:-d] if d > 0 else x
        return out

    for hz in RETURN_HORIZONS:
        feats[f"ret_{hz}"] = np.log(c / shift(c, hz))
    for n in MA_WINDOWS:
        feats[f"sma_ratio_{n}"] = c / talib.SMA(c, timeperiod=n) - 1
    for n in MA_WINDOWS:
        feats[f"ema_ratio_{n}"] = c / talib.EMA(c, timeperiod=n) - 1
    feats["rsi_14"] = talib.RSI(c, timeperiod=14) / 100
    macd, signal, hist = talib.MACD(c, fastperiod=12, slowperiod=26, signalperiod=9)
    feats["macd_line"], feats["macd_signal"], feats["macd_hist"] = macd / c, signal / c, hist / c
    upper, _middle, lower = talib.BBANDS(c, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0)
    feats["bb_pctb_20"] = safe_div(c - lower, upper - lower)
    atr = talib.ATR(h, low, c, timeperiod=14)
    feats["atr_14"], feats["atr_ratio_14"] = atr, atr / c
    r1 = np.log(c / shift(c, 1))
    feats["volatility_20"] = np.std(windows(r1, 20), axis=1, ddof=1)
    vw = windows(v, 20)
    feats["volume_z_20"] = safe_div(v - vw.mean(axis=1), vw.std(axis=1, ddof=0))

    rng = h - low + QLIB_EPS
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    feats["KMID"], feats["KLEN"], feats["KMID2"] = (c - o) / o, (h - low) / o, (c - o) / rng
    feats["KUP"], feats["KUP2"] = (h - top) / o, (h - top) / rng
    feats["KLOW"], feats["KLOW2"] = (bottom - low) / o, (bottom - low) / rng
    feats["KSFT"], feats["KSFT2"] = (2 * c - h - low) / o, (2 * c - h - low) / rng

    log_v = np.log(v + 1.0)
    cw_all = {d: windows(c, d) for d in WINDOWS}
    for d in WINDOWS:
        feats[f"ROC{d}"] = shift(c, d) / c
    for d in WINDOWS:
        feats[f"MA{d}"] = cw_all[d].mean(axis=1) / c
    for d in WINDOWS:
        feats[f"STD{d}"] = cw_all[d].std(axis=1, ddof=1) / c
    for d in WINDOWS:
        feats[f"MAX{d}"] = windows(h, d).max(axis=1) / c
    for d in WINDOWS:
        feats[f"MIN{d}"] = windows(low, d).min(axis=1) / c
    for d in WINDOWS:
        hi, lo = windows(h, d).max(axis=1), windows(low, d).min(axis=1)
        feats[f"RSV{d}"] = (c - lo) / (hi - lo + QLIB_EPS)
    for d in WINDOWS:
        xw, yw = cw_all[d], windows(log_v, d)
        xm = xw - xw.mean(axis=1, keepdims=True)
        ym = yw - yw.mean(axis=1, keepdims=True)
        sxx, syy = (xm * xm).sum(axis=1), (ym * ym).sum(axis=1)
        feats[f"CORR{d}"] = safe_div((xm * ym).sum(axis=1), np.sqrt(sxx * syy))

    out = {}
    for name, arr in feats.items():
        arr = np.array(arr, dtype=np.float64)
        arr[:WARMUP_BARS - 1] = np.nan  # the engine is not ready before WARMUP_BARS bars
        out[name] = to_list(arr)
    return [r["date"] for r in kept], out


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: ta_reference.py <prices.csv>\n")
        return 2
    rows = read_prices(argv[1])
    ta_c = getattr(talib, "__ta_version__", "unknown")
    ta_c = ta_c.decode() if isinstance(ta_c, bytes) else str(ta_c)
    meta = {"talib": talib.__version__, "ta_lib_c": ta_c, "numpy": np.__version__}
    feature_dates, feature_series = engine_features(rows)
    result = {
        "meta": meta,
        "raw": {"dates": [r["date"] for r in rows], "series": raw_indicators(rows)},
        "features": {"dates": feature_dates, "series": feature_series},
    }
    # One write: json.dump would issue ~10^6 tiny writes to the pipe.
    sys.stdout.write(json.dumps(result, allow_nan=False, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
