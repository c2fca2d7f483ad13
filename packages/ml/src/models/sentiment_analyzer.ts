/**
 * Financial sentiment classifier (negative / neutral / positive) trained from scratch with
 * TensorFlow.js, small enough to train on 2 CPU cores with the wasm backend.
 *
 * Architecture (an ensemble of independently trained members averaged into one tfjs graph; the
 * library default has one member of each kind, the served config/training/sentiment.json one
 * `bag` member solved exactly):
 * - `cnn`: token ids → embedding → n-gram "convolutions" of several widths (windows + dense,
 *   see sentiment_analyzer_layers.ts for why not conv1d) → ReLU → global max pool → dropout →
 *   softmax;
 * - `bag`: TF-IDF weighted word 1–2-grams + character 3–5-grams (each group L2-normalised on
 *   its own) → linear softmax (a multinomial logistic regression with sparse inputs).
 * Each member is trained with class-weighted cross-entropy, Adam, seeded shuffling and
 * early stopping on the validation set (best weights restored) — or, a `bag` member with
 * `solver: 'lbfgs'`, solved to convergence (sentiment_analyzer_linear.ts). Members are trained
 * one after another and the final model outputs the mean of their probabilities.
 *
 * Pure ML logic: no I/O except `loadSentimentCsv`, which reads a local file.
 *
 * This module is the entry point; the code lives next to it, one concern per file:
 * `_config` (labels, errors, configuration), `_network` (the tfjs graph and batched
 * prediction), `_train` (fitting the members), `_model` (a trained model: predict, serialize),
 * `_data` (CSV loading), plus `_features`, `_layers`, `_linear` and `_metrics`.
 */
export * from './sentiment_analyzer_config.ts';
export * from './sentiment_analyzer_data.ts';
export * from './sentiment_analyzer_model.ts';
export * from './sentiment_analyzer_train.ts';
