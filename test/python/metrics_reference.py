#!/usr/bin/env python3
"""Independent reference values for the TypeScript evaluation and drift metrics.

Reads one JSON request on stdin, {"tasks": [{"id": str, "kind": str, ...}, ...]}, and writes
{"results": {id: result}} on stdout. Every number is computed with numpy / scipy / scikit-learn
(never by re-running the TypeScript formulas); NaN is written as null because JSON has no NaN.

Kinds:
  price           lastClose, realizedReturn, predictedReturn -> MAE/RMSE/MAPE (sklearn),
                  directional accuracy (numpy), IC (scipy.stats.pearsonr), rank IC (spearmanr)
  baselines       lastClose, realizedReturn, maWindow -> the price metrics of the zero,
                  persistence and moving-average baselines, predictions built here with numpy
  backtest        predictedReturn, realizedReturn, threshold, costBps, periodsPerYear ->
                  long/flat strategy and buy-and-hold statistics (numpy)
  classification  yTrue, yPred, labels -> sklearn accuracy_score, f1_score(average='macro'),
                  precision_recall_fscore_support, confusion_matrix (zero_division=0)
  ks              a, b -> scipy.stats.ks_2samp(a, b, method='asymp')
  kstwo           points [[n, d], ...] -> scipy.stats.kstwo.sf(d, n)
  psi             reference, current, bins, epsilon -> PSI with bin edges = np.quantile of the
                  reference at 1/bins..(bins-1)/bins, left-closed bins (np.searchsorted
                  side='right'), open outer bins, fractions floored at epsilon
  categorical     reference, current (label lists), labels, epsilon -> PSI of the label
                  distributions and scipy.stats.chisquare against the reference distribution
  chi2sf          points [[x, dof], ...] -> scipy.stats.chi2.sf(x, dof)
  tsf             points [[t, dof], ...] -> scipy.stats.t.sf(t, dof)
  dm              actual, production, challenger, horizon, loss -> Diebold-Mariano statistic
                  on the loss differences (numpy autocovariances up to lag h-1, 1/n divisor),
                  its Harvey-Leybourne-Newbold correction and p-values from scipy.stats.t(n-1)

Exit status 3 with a message on stderr when numpy/scipy/scikit-learn are missing.
"""
import json
import math
import sys

try:
    import numpy as np
    from scipy import stats
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_error,
        precision_recall_fscore_support,
    )
except ImportError as exc:  # pragma: no cover - exercised only on a broken environment
    sys.stderr.write(
        f"metrics_reference.py: missing Python dependency ({exc}); "
        "install with: pip install -r test/python/requirements.txt\n"
    )
    sys.exit(3)


def clean(value):
    """Converts numpy scalars/arrays to JSON-safe Python values (NaN/inf -> None)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return clean(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    return value


def price_metrics(last_close, realized, predicted):
    last_close = np.asarray(last_close, dtype=float)
    realized = np.asarray(realized, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    y_true = last_close * (1 + realized)
    y_pred = last_close * (1 + predicted)
    moving = realized != 0
    directional_n = int(moving.sum())
    hits = np.sign(predicted[moving]) == np.sign(realized[moving])
    constant = np.all(predicted == predicted[0]) or np.all(realized == realized[0])
    return {
        "n": int(len(realized)),
        "mae": mean_absolute_error(y_true, y_pred),
        "rmse": math.sqrt(mean_squared_error(y_true, y_pred)),
        "mape": mean_absolute_percentage_error(y_true, y_pred),
        "directionalAccuracy": float(hits.mean()) if directional_n else float("nan"),
        "directionalN": directional_n,
        "ic": float("nan") if constant else stats.pearsonr(predicted, realized).statistic,
        "rankIc": float("nan") if constant else stats.spearmanr(predicted, realized).statistic,
    }


def baselines(task):
    realized = np.asarray(task["realizedReturn"], dtype=float)
    k = int(task["maWindow"])
    n = len(realized)
    persistence = np.concatenate([[0.0], realized[:-1]])
    moving_average = np.array([realized[max(0, i - k):i].mean() if i > 0 else 0.0 for i in range(n)])
    out = {}
    for name, pred in (("zero", np.zeros(n)), ("persistence", persistence), ("movingAverage", moving_average)):
        out[name] = price_metrics(task["lastClose"], realized, pred)
    return out


def simulate(positions, realized, cost_rate, periods_per_year):
    changes = np.abs(np.diff(np.concatenate([[0.0], positions])))
    returns = positions * realized - cost_rate * changes
    equity = np.cumprod(1 + returns)
    curve = np.concatenate([[1.0], equity])
    drawdown = 1 - curve / np.maximum.accumulate(curve)
    n = len(returns)
    std = returns.std(ddof=1) if n > 1 else float("nan")
    final = equity[-1]
    return {
        "n": n,
        "totalReturn": final - 1,
        "annualizedReturn": final ** (periods_per_year / n) - 1 if final > 0 else -1.0,
        "annualizedVolatility": std * math.sqrt(periods_per_year),
        "sharpe": returns.mean() / std * math.sqrt(periods_per_year) if std > 0 else float("nan"),
        "maxDrawdown": drawdown.max(),
        "trades": int((changes > 0).sum()),
        "exposure": positions.mean(),
        "equity": equity,
    }


def backtest(task):
    predicted = np.asarray(task["predictedReturn"], dtype=float)
    realized = np.asarray(task["realizedReturn"], dtype=float)
    cost_rate = task["costBps"] / 10_000
    ppy = task["periodsPerYear"]
    positions = (predicted > task["threshold"]).astype(float)
    return {
        "strategy": simulate(positions, realized, cost_rate, ppy),
        "buyAndHold": simulate(np.ones_like(realized), realized, cost_rate, ppy),
    }


def classification(task):
    y_true, y_pred, labels = task["yTrue"], task["yPred"], task["labels"]
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": len(y_true),
        "accuracy": accuracy_score(y_true, y_pred),
        "macroF1": f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "confusionMatrix": confusion_matrix(y_true, y_pred, labels=labels),
    }


def ks(task):
    result = stats.ks_2samp(np.asarray(task["a"], dtype=float), np.asarray(task["b"], dtype=float), method="asymp")
    return {"statistic": result.statistic, "pValue": result.pvalue}


def psi_from_fractions(expected, actual, epsilon):
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def psi(task):
    reference = np.asarray(task["reference"], dtype=float)
    current = np.asarray(task["current"], dtype=float)
    bins = int(task["bins"])
    edges = np.quantile(reference, np.arange(1, bins) / bins)

    def fractions(x):
        return np.bincount(np.searchsorted(edges, x, side="right"), minlength=bins) / len(x)

    expected, actual = fractions(reference), fractions(current)
    return {
        "edges": edges,
        "expected": expected,
        "actual": actual,
        "psi": psi_from_fractions(expected, actual, task["epsilon"]),
    }


def categorical(task):
    labels = task["labels"]
    ref_counts = np.array([task["reference"].count(label) for label in labels], dtype=float)
    cur_counts = np.array([task["current"].count(label) for label in labels], dtype=float)
    ref_frac = ref_counts / ref_counts.sum()
    cur_frac = cur_counts / cur_counts.sum()
    floored = np.maximum(ref_frac, task["epsilon"])
    expected = cur_counts.sum() * floored / floored.sum()
    chi = stats.chisquare(cur_counts, expected)
    return {
        "psi": psi_from_fractions(ref_frac, cur_frac, task["epsilon"]),
        "chiSquare": chi.statistic,
        "pValue": chi.pvalue,
    }


def diebold_mariano(task):
    y = np.asarray(task["actual"], dtype=float)
    loss = np.square if task["loss"] == "squared" else np.abs
    d = loss(np.asarray(task["production"], dtype=float) - y) - loss(np.asarray(task["challenger"], dtype=float) - y)
    n, h = d.size, task["horizon"]
    dc = d - d.mean()
    gammas = [np.dot(dc[k:], dc[: n - k]) / n for k in range(h)]
    long_run = gammas[0] + 2 * sum(gammas[1:])
    dm = d.mean() / np.sqrt(long_run / n)
    hln = dm * np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    return {
        "meanDifference": d.mean(),
        "statistic": dm,
        "hlnStatistic": hln,
        "pValue": stats.t.sf(hln, n - 1),
        "pValueTwoSided": 2 * stats.t.sf(abs(hln), n - 1),
    }


HANDLERS = {
    "price": lambda t: price_metrics(t["lastClose"], t["realizedReturn"], t["predictedReturn"]),
    "baselines": baselines,
    "backtest": backtest,
    "classification": classification,
    "ks": ks,
    "kstwo": lambda t: [stats.kstwo.sf(d, n) for n, d in t["points"]],
    "psi": psi,
    "categorical": categorical,
    "chi2sf": lambda t: [stats.chi2.sf(x, dof) for x, dof in t["points"]],
    "tsf": lambda t: [stats.t.sf(x, dof) for x, dof in t["points"]],
    "dm": diebold_mariano,
}


def main():
    request = json.load(sys.stdin)
    results = {task["id"]: clean(HANDLERS[task["kind"]](task)) for task in request["tasks"]}
    versions = {"numpy": np.__version__, "scipy": __import__("scipy").__version__, "sklearn": __import__("sklearn").__version__}
    json.dump({"results": results, "versions": versions}, sys.stdout, allow_nan=False)


if __name__ == "__main__":
    main()
