#!/usr/bin/env python3
"""Independent reference values for the monitor's drift statistics (numpy / scipy only).

Reads one JSON request on stdin and writes one JSON answer on stdout:

  {"bins": 10, "epsilon": 1e-4, "sampleSize": 200,
   "numeric": [{"id": str, "reference": [float], "current": [float]}, ...],
   "categorical": [{"id": str, "labels": [str], "reference": [str], "current": [str]}, ...]}
  -> {"numeric": {id: {...}}, "categorical": {id: {...}}}

Numeric (what the monitor computes for each feature and for the predicted returns, against
reference statistics stored with the model version):
  psi            PSI over `bins` bins whose interior edges are np.quantile(reference, k/bins)
                 (linear interpolation), left-closed (np.searchsorted side='right'), open outer
                 bins, fractions floored at epsilon: sum((a - e) * ln(a / e)).
  ks_statistic   scipy.stats.ks_2samp(sample, current).statistic, where `sample` is the stored
                 reference subsample: sorted reference values at ranks floor((i + 0.5) n / s),
                 i < s (all values when n <= s).
  ks_p_value     scipy.stats.kstwo.sf(D, round(n * m / (n + m))) with n the FULL reference size
                 (the asymptotic p-value of ks_2samp(method='asymp') for samples of n and m).
  ks_full        scipy.stats.ks_2samp(reference, current).statistic: KS against the full
                 reference, to bound the subsample's approximation.
Categorical (sentiment labels):
  psi            PSI of the label fractions (epsilon floor).
  chi_square, p_value
                 scipy.stats.chisquare(current counts, expected = m * floored reference fractions
                 renormalised).
Exit status 3 with a message on stderr when numpy/scipy are missing.
"""
import json
import math
import sys

try:
    import numpy as np
    from scipy import stats
except ImportError as exc:  # pragma: no cover - exercised only on a broken environment
    sys.stderr.write(f"drift_reference.py: missing Python dependency ({exc}); pip install -r test/python/requirements.txt\n")
    sys.exit(3)


def psi(expected, actual, epsilon):
    e = np.maximum(np.asarray(expected, dtype=float), epsilon)
    a = np.maximum(np.asarray(actual, dtype=float), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def numeric(task, bins, epsilon, sample_size):
    ref = np.asarray(task["reference"], dtype=float)
    cur = np.asarray(task["current"], dtype=float)
    edges = np.quantile(ref, [k / bins for k in range(1, bins)])

    def fractions(x):
        idx = np.searchsorted(edges, x, side="right")
        return np.bincount(idx, minlength=bins) / len(x)

    srt = np.sort(ref)
    n = len(srt)
    if n <= sample_size:
        sample = srt
    else:
        sample = srt[np.floor((np.arange(sample_size) + 0.5) * n / sample_size).astype(int)]
    d = float(stats.ks_2samp(sample, cur).statistic)
    m = len(cur)
    eff = round(n * m / (n + m))  # Python rounds half to even, as scipy does
    return {
        "psi": psi(fractions(ref), fractions(cur), epsilon),
        "ks_statistic": d,
        "ks_p_value": float(min(1.0, max(0.0, stats.kstwo.sf(d, eff)))),
        "ks_full": float(stats.ks_2samp(ref, cur).statistic),
        "reference_mean": float(np.mean(ref)),
        "current_mean": float(np.mean(cur)),
    }


def categorical(task, epsilon):
    labels = task["labels"]
    ref_counts = np.array([task["reference"].count(l) for l in labels], dtype=float)
    cur_counts = np.array([task["current"].count(l) for l in labels], dtype=float)
    ref_frac = ref_counts / ref_counts.sum()
    cur_frac = cur_counts / cur_counts.sum()
    floored = np.maximum(ref_frac, epsilon)
    expected = cur_counts.sum() * floored / floored.sum()
    chi = stats.chisquare(cur_counts, expected)
    return {
        "psi": psi(ref_frac, cur_frac, epsilon),
        "chi_square": float(chi.statistic),
        "p_value": float(chi.pvalue),
    }


def main():
    req = json.load(sys.stdin)
    bins, epsilon, sample_size = req["bins"], req["epsilon"], req["sampleSize"]
    out = {
        "numeric": {t["id"]: numeric(t, bins, epsilon, sample_size) for t in req.get("numeric", [])},
        "categorical": {t["id"]: categorical(t, epsilon) for t in req.get("categorical", [])},
    }
    json.dump(out, sys.stdout, allow_nan=False, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v)


if __name__ == "__main__":
    main()
