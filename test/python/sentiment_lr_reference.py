#!/usr/bin/env python3
"""scikit-learn logistic regression reference for the sentiment benchmark (bench/models.bench.ts).

Reads one JSON request on stdin:
  {"datasets": [{"id": str, "train": {"texts": [...], "labels": [int]},
                 "test": {"texts": [...], "labels": [int]}}], "seed": int}
and writes {"results": {id: {"accuracy", "macroF1", "ece", "C", "seconds"}}} on stdout.

Features comparable to the TypeScript `bag` member: TfidfVectorizer on word 1-2-grams and
char_wb 3-5-grams (sublinear tf, min_df 2, each block L2-normalised), stacked. Classifier:
LogisticRegression (lbfgs, class_weight='balanced'); C chosen from a grid on a stratified 15 %
validation split of the training data (never the test split), then refit on all training data.
ECE: top-label, 15 equal-width bins (same definition as expectedCalibrationError in TypeScript).
Exit status 3 with a message on stderr when scikit-learn is missing.
"""
import json
import sys
import time

try:
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
except ImportError as e:  # pragma: no cover
    print(f"missing python dependency: {e}; pip install -r test/python/requirements.txt", file=sys.stderr)
    sys.exit(3)

C_GRID = [0.3, 1.0, 3.0, 10.0, 30.0, 100.0]


def featurize(train_texts):
    word = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=True)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True, lowercase=True, max_features=60000)
    word.fit(train_texts)
    char.fit(train_texts)
    return lambda texts: hstack([word.transform(texts), char.transform(texts)]).tocsr()


def fit(texts, labels, c):
    f = featurize(texts)
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    clf.fit(f(texts), labels)
    return f, clf


def ece(probs, y, bins=15):
    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    b = np.clip(np.ceil(conf * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for i in range(bins):
        m = b == i
        if m.any():
            total += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(total)


def run(ds, seed):
    t0 = time.time()
    xtr, ytr = ds["train"]["texts"], np.array(ds["train"]["labels"])
    xte, yte = ds["test"]["texts"], np.array(ds["test"]["labels"])
    itr, iva = train_test_split(np.arange(len(xtr)), test_size=0.15, stratify=ytr, random_state=seed)
    best = None
    for c in C_GRID:
        f, clf = fit([xtr[i] for i in itr], ytr[itr], c)
        acc = accuracy_score(ytr[iva], clf.predict(f([xtr[i] for i in iva])))
        if best is None or acc > best[0]:
            best = (acc, c)
    f, clf = fit(xtr, ytr, best[1])
    probs = clf.predict_proba(f(xte))
    full = np.zeros((len(xte), 3))
    full[:, clf.classes_] = probs
    pred = full.argmax(axis=1)
    return {
        "accuracy": float(accuracy_score(yte, pred)),
        "macroF1": float(f1_score(yte, pred, average="macro", labels=[0, 1, 2], zero_division=0)),
        "ece": ece(full, yte),
        "C": best[1],
        "seconds": time.time() - t0,
    }


def main():
    req = json.load(sys.stdin)
    out = {d["id"]: run(d, int(req.get("seed", 42))) for d in req["datasets"]}
    json.dump({"results": out}, sys.stdout)


if __name__ == "__main__":
    main()
