/**
 * Exact (converged) training of the `bag` member's linear softmax in plain TypeScript: the
 * member's TF-IDF rows are built as a sparse matrix from the SmlTfidfBag layer's own weighting
 * (`tfidfWeights`), and class-weighted multinomial logistic regression with an L2 penalty is
 * minimised full-batch with L-BFGS (what scikit-learn's LogisticRegression does). The result is
 * written into the tfjs layers, so the artifact format does not change.
 *
 * Also: an L2 path chosen on validation data and temperature scaling (a single scalar dividing
 * the logits, fitted on validation negative log-likelihood). Pure functions, no tfjs.
 */
import type { EncodedBatch } from './sentiment_analyzer_features.ts';
import { tfidfWeights } from './sentiment_analyzer_tfidf.ts';

/** Compressed sparse rows. */
export interface SparseRows {
  n: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float32Array;
}

/**
 * TF-IDF rows of an encoded batch: per group the weights of `tfidfWeights` (as SmlTfidfBag.call),
 * groups concatenated (their feature ids are disjoint), zero weights left out.
 */
export function tfidfRows(x: EncodedBatch, idf: Float32Array): SparseRows {
  const weights = x.bags.map((bag) => tfidfWeights(bag.ids, bag.counts, x.n, bag.width, idf));
  const indptr = new Int32Array(x.n + 1);
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < x.n; i++) {
    x.bags.forEach((bag, b) => {
      for (let j = 0; j < bag.width; j++) {
        const w = weights[b]![i * bag.width + j] as number;
        if (w === 0) continue;
        idx.push(bag.ids[i * bag.width + j] as number);
        val.push(w);
      }
    });
    indptr[i + 1] = idx.length;
  }
  return { n: x.n, indptr, indices: Int32Array.from(idx), values: Float32Array.from(val) };
}

export function concatRows(a: SparseRows, b: SparseRows): SparseRows {
  const indptr = new Int32Array(a.n + b.n + 1);
  indptr.set(a.indptr);
  const off = a.indptr[a.n] as number;
  for (let i = 1; i <= b.n; i++) indptr[a.n + i] = off + (b.indptr[i] as number);
  const indices = new Int32Array(a.indices.length + b.indices.length);
  indices.set(a.indices);
  indices.set(b.indices, a.indices.length);
  const values = new Float32Array(a.values.length + b.values.length);
  values.set(a.values);
  values.set(b.values, a.values.length);
  return { n: a.n + b.n, indptr, indices, values };
}

/** Softmax regression parameters: `weights` is dim × k row-major, `bias` has k entries. */
export interface LinearParams {
  dim: number;
  k: number;
  weights: Float64Array;
  bias: Float64Array;
}

/** Row-major n × k logits. */
export function linearLogits(rows: SparseRows, p: LinearParams): Float64Array {
  const { k, weights, bias } = p;
  const out = new Float64Array(rows.n * k);
  for (let i = 0; i < rows.n; i++) {
    const o = i * k;
    for (let c = 0; c < k; c++) out[o + c] = bias[c] as number;
    for (let q = rows.indptr[i] as number; q < (rows.indptr[i + 1] as number); q++) {
      const v = rows.values[q] as number;
      const w = (rows.indices[q] as number) * k;
      for (let c = 0; c < k; c++) out[o + c] = (out[o + c] as number) + v * (weights[w + c] as number);
    }
  }
  return out;
}

/** Row-wise softmax of logits / temperature (in place on a copy). */
export function softmaxRows(logits: Float64Array, k: number, temperature = 1): Float64Array {
  const out = new Float64Array(logits.length);
  for (let o = 0; o < logits.length; o += k) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, (logits[o + c] as number) / temperature);
    let sum = 0;
    for (let c = 0; c < k; c++) {
      const e = Math.exp((logits[o + c] as number) / temperature - max);
      out[o + c] = e;
      sum += e;
    }
    for (let c = 0; c < k; c++) out[o + c] = (out[o + c] as number) / sum;
  }
  return out;
}

/** Mean negative log-likelihood of row-major probabilities. */
export function meanNll(probs: ArrayLike<number>, y: readonly number[], k: number): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s -= Math.log(Math.max(probs[i * k + (y[i] as number)] as number, 1e-12));
  return s / Math.max(1, y.length);
}

export interface FitLinearOptions {
  l2: number;
  /** Per-sample weights (class weighting); default 1. */
  sampleWeights?: ArrayLike<number>;
  maxIterations?: number;
  /** Stop when the relative decrease of the objective over an iteration is below this. */
  tolerance?: number;
  /** Warm start (copied; in the unscaled parameter space θ when `scale` is given). */
  init?: LinearParams;
  /**
   * Fixed per-weight scale (dim × k, e.g. `nbLogCountRatios`): the model's weights are θ ⊙ scale,
   * the L2 penalty is on θ. `params` of the result are the scaled weights (what logits use);
   * `raw` holds θ for a warm start.
   */
  scale?: Float64Array;
}

export interface FitLinearResult {
  params: LinearParams;
  /** θ (equal to `params` without a scale). */
  raw: LinearParams;
  objective: number;
  iterations: number;
}

/**
 * Minimises Σ wᵢ·CE(xᵢ, yᵢ) / Σ wᵢ + l2·‖W‖² (bias not penalised, as the tfjs bag member) with L-BFGS.
 */
export function fitSoftmaxRegression(rows: SparseRows, y: readonly number[], dim: number, k: number, options: FitLinearOptions): FitLinearResult {
  if (y.length !== rows.n) throw new RangeError('rows and labels differ in length');
  const sw = options.sampleWeights;
  let wsum = 0;
  for (let i = 0; i < rows.n; i++) wsum += sw ? (sw[i] as number) : 1;
  const nW = dim * k;
  const x0 = new Float64Array(nW + k);
  if (options.init) {
    x0.set(options.init.weights);
    x0.set(options.init.bias, nW);
  }
  const l2 = options.l2;
  const scale = options.scale;
  if (scale && scale.length !== nW) throw new RangeError('scale must have dim × k entries');
  const z = new Float64Array(k);
  const f = (theta: Float64Array, grad: Float64Array): number => {
    grad.fill(0);
    let loss = 0;
    for (let i = 0; i < rows.n; i++) {
      for (let c = 0; c < k; c++) z[c] = theta[nW + c] as number;
      const a = rows.indptr[i] as number;
      const b = rows.indptr[i + 1] as number;
      for (let q = a; q < b; q++) {
        const v = rows.values[q] as number;
        const w = (rows.indices[q] as number) * k;
        if (scale) for (let c = 0; c < k; c++) z[c] = (z[c] as number) + v * (theta[w + c] as number) * (scale[w + c] as number);
        else for (let c = 0; c < k; c++) z[c] = (z[c] as number) + v * (theta[w + c] as number);
      }
      let max = -Infinity;
      for (let c = 0; c < k; c++) max = Math.max(max, z[c] as number);
      let sum = 0;
      for (let c = 0; c < k; c++) {
        z[c] = Math.exp((z[c] as number) - max);
        sum += z[c] as number;
      }
      const yi = y[i] as number;
      const wi = (sw ? (sw[i] as number) : 1) / wsum;
      loss -= wi * Math.log(Math.max((z[yi] as number) / sum, 1e-300));
      for (let c = 0; c < k; c++) z[c] = wi * ((z[c] as number) / sum - (c === yi ? 1 : 0));
      for (let c = 0; c < k; c++) grad[nW + c] = (grad[nW + c] as number) + (z[c] as number);
      for (let q = a; q < b; q++) {
        const v = rows.values[q] as number;
        const w = (rows.indices[q] as number) * k;
        if (scale) for (let c = 0; c < k; c++) grad[w + c] = (grad[w + c] as number) + v * (z[c] as number) * (scale[w + c] as number);
        else for (let c = 0; c < k; c++) grad[w + c] = (grad[w + c] as number) + v * (z[c] as number);
      }
    }
    if (l2 > 0) {
      for (let j = 0; j < nW; j++) {
        const t = theta[j] as number;
        loss += l2 * t * t;
        grad[j] = (grad[j] as number) + 2 * l2 * t;
      }
    }
    return loss;
  };
  const { x, value, iterations } = lbfgs(f, x0, { maxIterations: options.maxIterations ?? 300, tolerance: options.tolerance ?? 1e-6 });
  const raw: LinearParams = { dim, k, weights: x.slice(0, nW), bias: x.slice(nW) };
  const params = scale ? { ...raw, weights: Float64Array.from(raw.weights, (t, j) => t * (scale[j] as number)) } : raw;
  return { params, raw, objective: value, iterations };
}

/**
 * NB-SVM log-count ratios (Wang & Manning 2012), one vector per class, one-vs-rest: with x̂ the
 * binarised rows (feature present in the document), p_c = α + Σ_{y=c} x̂ and q_c = α + Σ_{y≠c} x̂,
 * r_c = log((p_c / ‖p_c‖₁) / (q_c / ‖q_c‖₁)). Returned dim × k row-major (entry j·k + c), the
 * layout of `LinearParams.weights` and of `fitSoftmaxRegression`'s `scale`.
 */
export function nbLogCountRatios(rows: SparseRows, y: readonly number[], dim: number, k: number, alpha = 1): Float64Array {
  if (y.length !== rows.n) throw new RangeError('rows and labels differ in length');
  const inClass = new Float64Array(dim * k);
  const total = new Float64Array(dim);
  for (let i = 0; i < rows.n; i++) {
    const yi = y[i] as number;
    for (let q = rows.indptr[i] as number; q < (rows.indptr[i + 1] as number); q++) {
      if (!((rows.values[q] as number) > 0)) continue;
      const j = rows.indices[q] as number;
      inClass[j * k + yi] = (inClass[j * k + yi] as number) + 1;
      total[j] = (total[j] as number) + 1;
    }
  }
  const pSum = new Float64Array(k);
  const qSum = new Float64Array(k);
  for (let j = 0; j < dim; j++) {
    for (let c = 0; c < k; c++) {
      const a = inClass[j * k + c] as number;
      pSum[c] = (pSum[c] as number) + alpha + a;
      qSum[c] = (qSum[c] as number) + alpha + (total[j] as number) - a;
    }
  }
  const out = new Float64Array(dim * k);
  for (let j = 0; j < dim; j++) {
    for (let c = 0; c < k; c++) {
      const a = inClass[j * k + c] as number;
      const p = (alpha + a) / (pSum[c] as number);
      const q = (alpha + (total[j] as number) - a) / (qSum[c] as number);
      out[j * k + c] = Math.log(p / q);
    }
  }
  return out;
}

/**
 * Limited-memory BFGS (two-loop recursion, memory 10) with a backtracking Armijo line search.
 * `f` writes the gradient into its second argument and returns the value.
 */
export function lbfgs(
  f: (x: Float64Array, grad: Float64Array) => number,
  x0: Float64Array,
  options: { maxIterations: number; tolerance: number; memory?: number },
): { x: Float64Array; value: number; iterations: number } {
  const n = x0.length;
  const m = options.memory ?? 10;
  let x = Float64Array.from(x0);
  let g = new Float64Array(n);
  let fx = f(x, g);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dot = (a: Float64Array, b: Float64Array): number => {
    let s = 0;
    for (let i = 0; i < n; i++) s += (a[i] as number) * (b[i] as number);
    return s;
  };
  const d = new Float64Array(n);
  let it = 0;
  for (; it < options.maxIterations; it++) {
    // d = −H·g
    d.set(g);
    const alpha: number[] = new Array<number>(S.length);
    for (let j = S.length - 1; j >= 0; j--) {
      const a = (rho[j] as number) * dot(S[j] as Float64Array, d);
      alpha[j] = a;
      const yj = Y[j] as Float64Array;
      for (let i = 0; i < n; i++) d[i] = (d[i] as number) - a * (yj[i] as number);
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last] as Float64Array, Y[last] as Float64Array) / dot(Y[last] as Float64Array, Y[last] as Float64Array);
      for (let i = 0; i < n; i++) d[i] = (d[i] as number) * gamma;
    } else {
      const gn = Math.sqrt(dot(g, g));
      if (gn === 0) break;
      for (let i = 0; i < n; i++) d[i] = (d[i] as number) / gn;
    }
    for (let j = 0; j < S.length; j++) {
      const b = (rho[j] as number) * dot(Y[j] as Float64Array, d);
      const sj = S[j] as Float64Array;
      for (let i = 0; i < n; i++) d[i] = (d[i] as number) + sj[i]! * ((alpha[j] as number) - b);
    }
    for (let i = 0; i < n; i++) d[i] = -(d[i] as number);
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction: restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) d[i] = -(g[i] as number);
      slope = dot(g, d);
      if (!(slope < 0)) break;
    }
    let step = 1;
    const xn = new Float64Array(n);
    const gn = new Float64Array(n);
    let fn = Infinity;
    for (let ls = 0; ls < 30; ls++) {
      for (let i = 0; i < n; i++) xn[i] = (x[i] as number) + step * (d[i] as number);
      fn = f(xn, gn);
      if (fn <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fn < fx)) break;
    const s = new Float64Array(n);
    const yv = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = (xn[i] as number) - (x[i] as number);
      yv[i] = (gn[i] as number) - (g[i] as number);
    }
    const sy = dot(s, yv);
    if (sy > 1e-12) {
      S.push(s);
      Y.push(yv);
      rho.push(1 / sy);
      if (S.length > m) {
        S.shift();
        Y.shift();
        rho.shift();
      }
    }
    const rel = (fx - fn) / Math.max(Math.abs(fx), Math.abs(fn), 1e-12);
    x = xn;
    g = gn;
    fx = fn;
    if (rel < options.tolerance) {
      it++;
      break;
    }
  }
  return { x, value: fx, iterations: it };
}

/**
 * Temperature T > 0 minimising the validation NLL of softmax(logits / T) (golden-section search
 * on log T in [e⁻³, e³]). T > 1 softens over-confident probabilities.
 */
export function fitTemperature(logits: Float64Array, y: readonly number[], k: number): number {
  const nll = (logT: number): number => meanNll(softmaxRows(logits, k, Math.exp(logT)), y, k);
  let lo = -3;
  let hi = 3;
  const phi = (Math.sqrt(5) - 1) / 2;
  let a = hi - phi * (hi - lo);
  let b = lo + phi * (hi - lo);
  let fa = nll(a);
  let fb = nll(b);
  for (let i = 0; i < 40; i++) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - phi * (hi - lo);
      fa = nll(a);
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + phi * (hi - lo);
      fb = nll(b);
    }
  }
  return Math.exp((lo + hi) / 2);
}
