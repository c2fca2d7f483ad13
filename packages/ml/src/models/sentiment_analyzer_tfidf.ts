/**
 * The TF-IDF weighting of the sentiment model's bag member, in one place: the SmlTfidfBag layer
 * (serving and tfjs training) and the exact linear training (`tfidfRows`) both use it, so the
 * weights the linear solver fits are the ones the served layer applies.
 */

/**
 * Weights of one feature group of a batch: per row, (1 + log count) × idf for every present
 * term (count > 0, padding and absent terms weigh 0), L2-normalised within the row (+1e-8).
 * `ids` and `counts` are n × width row-major; the result has the same shape.
 */
export function tfidfWeights(ids: ArrayLike<number>, counts: ArrayLike<number>, n: number, width: number, idf: ArrayLike<number>): Float32Array {
  const out = new Float32Array(n * width);
  const row = new Float64Array(width);
  for (let i = 0; i < n; i++) {
    let norm = 0;
    for (let j = 0; j < width; j++) {
      const c = counts[i * width + j] as number;
      const w = c > 0 ? (1 + Math.log(Math.max(c, 1))) * (idf[ids[i * width + j] as number] ?? 0) : 0;
      row[j] = w;
      norm += w * w;
    }
    const d = Math.sqrt(norm) + 1e-8;
    for (let j = 0; j < width; j++) out[i * width + j] = (row[j] as number) / d;
  }
  return out;
}
