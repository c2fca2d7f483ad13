#!/usr/bin/env python3
"""Open Inference Protocol conformance probe with the real Triton client (tritonclient[grpc]).

Usage: oip_client.py HOST:PORT REQUEST.json

REQUEST.json: {"windows": [[[...nFeatures] * lookback] * n], "texts": [...], "token": optional}
Prints one JSON object: server/model health and metadata as the client parsed them, the price
model's predicted returns for the windows, the sentiment model's probabilities and labels for
the texts, and the status codes of deliberately bad requests. The calling TypeScript test
compares the numbers with the domain API's answers.
"""
import json
import sys

import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException


def status_of(fn):
    try:
        fn()
        return "OK"
    except InferenceServerException as e:
        return str(e.status())


def main() -> None:
    url, request_path = sys.argv[1], sys.argv[2]
    with open(request_path, encoding="utf-8") as f:
        req = json.load(f)
    headers = {"authorization": f"Bearer {req['token']}"} if req.get("token") else None
    client = grpcclient.InferenceServerClient(url=url)
    out = {
        "live": client.is_server_live(headers=headers),
        "ready": client.is_server_ready(headers=headers),
        "price_ready": client.is_model_ready("price", headers=headers),
        "server": client.get_server_metadata(headers=headers, as_json=True),
        "price_metadata": client.get_model_metadata("price", headers=headers, as_json=True),
        "sentiment_metadata": client.get_model_metadata("sentiment", headers=headers, as_json=True),
    }

    windows = np.asarray(req["windows"], dtype=np.float32)
    inp = grpcclient.InferInput("features", list(windows.shape), "FP32")
    inp.set_data_from_numpy(windows)
    res = client.infer("price", [inp], outputs=[grpcclient.InferRequestedOutput("predicted_return")], request_id="py-1", headers=headers)
    ret = res.as_numpy("predicted_return")
    out["price"] = {
        "shape": list(ret.shape),
        "dtype": str(ret.dtype),
        "values": [float(x) for x in ret.reshape(-1)],
        "model_version": res.get_response().model_version,
        "id": res.get_response().id,
    }

    texts = np.asarray([t.encode("utf-8") for t in req["texts"]], dtype=np.object_)
    tin = grpcclient.InferInput("text", [len(req["texts"])], "BYTES")
    tin.set_data_from_numpy(texts)
    sres = client.infer("sentiment", [tin], headers=headers)
    probs = sres.as_numpy("probabilities")
    labels = sres.as_numpy("label")
    out["sentiment"] = {
        "shape": list(probs.shape),
        "probabilities": [[float(x) for x in row] for row in probs],
        "labels": [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in labels.reshape(-1)],
    }

    def bad_shape():
        b = grpcclient.InferInput("features", [1, windows.shape[1] + 1, windows.shape[2]], "FP32")
        b.set_data_from_numpy(np.zeros((1, windows.shape[1] + 1, windows.shape[2]), dtype=np.float32))
        client.infer("price", [b], headers=headers)

    def bad_dtype():
        b = grpcclient.InferInput("features", list(windows.shape), "FP64")
        b.set_data_from_numpy(windows.astype(np.float64))
        client.infer("price", [b], headers=headers)

    out["errors"] = {
        "unknown_model": status_of(lambda: client.infer("nope", [inp], headers=headers)),
        "unknown_model_metadata": status_of(lambda: client.get_model_metadata("nope", headers=headers)),
        "wrong_version": status_of(lambda: client.infer("price", [inp], model_version="999", headers=headers)),
        "bad_shape": status_of(bad_shape),
        "bad_dtype": status_of(bad_dtype),
    }
    client.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
