/**
 * Custom tfjs layers for the sentiment analyzer, written so that training works on the
 * WebAssembly backend.
 *
 * Why they exist: tfjs-backend-wasm 4.22 has no `UnsortedSegmentSum` kernel (the gradient of
 * `gather`, hence of `tf.layers.embedding`) and no `Conv2DBackpropFilter` (the kernel gradient
 * of `conv1d`). So:
 * - `SmlEmbedding` looks rows up with `gather` but supplies its own gradient through
 *   `scatterND`, which sums duplicate indices and is implemented on wasm;
 * - a 1-D convolution is expressed as `SmlWindows` (concatenate k shifted slices) followed by
 *   an ordinary `dense` layer on the 3-D tensor, which is the same function with matmul
 *   gradients only;
 * - `SmlTfidfBag` is a sparse linear "bag of n-grams" term: TF-IDF weighting (idf stored as a
 *   non-trainable weight so it travels with the model), L2 normalisation, weighted sum of rows;
 * - `SmlDropout` draws a fresh, seeded mask per training call (tf.layers.dropout with a seed
 *   repeats the same mask every step).
 *
 * All are registered with tf.serialization so topologies round-trip through JSON.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import type { Tf } from '../tf.ts';
import { tfidfWeights } from './sentiment_analyzer_tfidf.ts';

type Tensor = tfTypes.Tensor;
type Kwargs = Record<string, unknown>;
type LayerArgs = NonNullable<ConstructorParameters<typeof tfTypes.layers.Layer>[0]>;

let registered: { tf: Tf; layers: SentimentLayers } | undefined;

export interface SentimentLayers {
  embedding(args: EmbeddingArgs): tfTypes.layers.Layer;
  windows(args: { kernelSize: number; name?: string }): tfTypes.layers.Layer;
  tfidfBag(args: TfidfBagArgs): tfTypes.layers.Layer;
  dropout(args: { rate: number; seed: number; name?: string }): tfTypes.layers.Layer;
}

export interface EmbeddingArgs {
  inputDim: number;
  outputDim: number;
  seed: number;
  /** Uniform init range ±scale. */
  scale?: number;
  /** Zero the output where id == 0 (padding). */
  maskZero?: boolean;
  name?: string;
}

export interface TfidfBagArgs {
  inputDim: number;
  outputDim: number;
  seed: number;
  name?: string;
}

/** gather(w, ids) whose gradient w.r.t. w is a scatterND (wasm has no UnsortedSegmentSum). */
function lookup(tf: Tf, w: Tensor, ids: Tensor): Tensor {
  const f = tf.customGrad((...args: unknown[]) => {
    const [table, idx, save] = args as [Tensor, Tensor, (t: Tensor[]) => void];
    save([idx]);
    const value = tf.gather(table, idx);
    const gradFunc = (dy: Tensor, saved: Tensor[]): Tensor[] => {
      const savedIds = saved[0] as Tensor;
      const dim = table.shape[1] as number;
      const flatIds = tf.reshape(savedIds, [-1, 1]);
      const flatDy = tf.reshape(dy, [-1, dim]);
      return [tf.scatterND(flatIds, flatDy, table.shape), tf.zerosLike(savedIds)];
    };
    return { value, gradFunc };
  });
  return f(w, ids);
}

/** Registers the custom layer classes once per tf instance and returns factories. */
export function sentimentLayers(tf: Tf): SentimentLayers {
  if (registered !== undefined) {
    if (registered.tf !== tf) throw new Error('sentiment layers were registered with another tfjs instance');
    return registered.layers;
  }
  const Layer = tf.layers.Layer;

  class SmlEmbedding extends Layer {
    static className = 'SmlEmbedding';
    private readonly inputDim: number;
    private readonly outputDim: number;
    private readonly seed: number;
    private readonly scale: number;
    private readonly maskZero: boolean;
    private table!: tfTypes.LayerVariable;

    constructor(args: EmbeddingArgs & LayerArgs) {
      super(args);
      this.inputDim = args.inputDim;
      this.outputDim = args.outputDim;
      this.seed = args.seed;
      this.scale = args.scale ?? 0.05;
      this.maskZero = args.maskZero ?? false;
    }

    override build(): void {
      this.table = this.addWeight(
        'embeddings',
        [this.inputDim, this.outputDim],
        'float32',
        tf.initializers.randomUniform({ minval: -this.scale, maxval: this.scale, seed: this.seed }),
      );
      this.built = true;
    }

    override computeOutputShape(inputShape: tfTypes.Shape): tfTypes.Shape {
      return [...inputShape, this.outputDim];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const ids = tf.cast(Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs, 'int32');
        const out = lookup(tf, this.table.read(), ids);
        if (!this.maskZero) return out;
        return tf.mul(out, tf.expandDims(tf.cast(tf.notEqual(ids, 0), 'float32'), -1));
      });
    }

    override getConfig(): tfTypes.serialization.ConfigDict {
      return {
        ...super.getConfig(),
        inputDim: this.inputDim,
        outputDim: this.outputDim,
        seed: this.seed,
        scale: this.scale,
        maskZero: this.maskZero,
      };
    }
  }

  class SmlWindows extends Layer {
    static className = 'SmlWindows';
    private readonly kernelSize: number;

    constructor(args: { kernelSize: number } & LayerArgs) {
      super(args);
      this.kernelSize = args.kernelSize;
    }

    override computeOutputShape(inputShape: tfTypes.Shape): tfTypes.Shape {
      const [batch, len, dim] = inputShape as [number | null, number | null, number];
      return [batch, len === null ? null : len - this.kernelSize + 1, dim * this.kernelSize];
    }

    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const x = Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs;
        const [batch, len, dim] = x.shape as [number, number, number];
        const out = len - this.kernelSize + 1;
        if (this.kernelSize === 1) return x;
        const parts: Tensor[] = [];
        for (let i = 0; i < this.kernelSize; i++) parts.push(tf.slice(x, [0, i, 0], [batch, out, dim]));
        return tf.concat(parts, 2);
      });
    }

    override getConfig(): tfTypes.serialization.ConfigDict {
      return { ...super.getConfig(), kernelSize: this.kernelSize };
    }
  }

  class SmlTfidfBag extends Layer {
    static className = 'SmlTfidfBag';
    private readonly inputDim: number;
    private readonly outputDim: number;
    private readonly seed: number;
    private table!: tfTypes.LayerVariable;
    private idf!: tfTypes.LayerVariable;

    constructor(args: TfidfBagArgs & LayerArgs) {
      super(args);
      this.inputDim = args.inputDim;
      this.outputDim = args.outputDim;
      this.seed = args.seed;
    }

    override build(): void {
      this.table = this.addWeight(
        'embeddings',
        [this.inputDim, this.outputDim],
        'float32',
        tf.initializers.randomUniform({ minval: -0.01, maxval: 0.01, seed: this.seed }),
      );
      this.idf = this.addWeight('idf', [this.inputDim], 'float32', tf.initializers.ones(), undefined, false);
      this.built = true;
    }

    override computeOutputShape(inputShape: tfTypes.Shape | tfTypes.Shape[]): tfTypes.Shape {
      const first = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfTypes.Shape;
      return [first[0] ?? null, this.outputDim];
    }

    /**
     * inputs: pairs [ids (B×M, 0 = padding), term counts (B×M)], one pair per feature group.
     * Each group gets its own L2 normalisation, then the groups' weighted rows are summed.
     */
    override call(inputs: Tensor | Tensor[]): Tensor {
      return tf.tidy(() => {
        const list = inputs as Tensor[];
        const table = this.table.read();
        const idfValues = this.idf.read().dataSync();
        let total: Tensor | undefined;
        for (let g = 0; g + 1 < list.length; g += 2) {
          const ids = tf.cast(list[g] as Tensor, 'int32');
          const counts = list[g + 1] as Tensor;
          // Constant per batch (idf is not trained, counts are inputs): no gradient flows here.
          const [n = 0, width = 0] = ids.shape;
          const weights = tf.tensor2d(tfidfWeights(ids.dataSync(), counts.dataSync(), n, width, idfValues), [n, width]);
          const part = tf.sum(tf.mul(lookup(tf, table, ids), tf.expandDims(weights, -1)), 1);
          total = total === undefined ? part : tf.add(total, part);
        }
        if (total === undefined) throw new Error('SmlTfidfBag needs [ids, counts] input pairs');
        return total;
      });
    }

    override getConfig(): tfTypes.serialization.ConfigDict {
      return { ...super.getConfig(), inputDim: this.inputDim, outputDim: this.outputDim, seed: this.seed };
    }
  }

  class SmlDropout extends Layer {
    static className = 'SmlDropout';
    private readonly rate: number;
    private readonly seed: number;
    private calls = 0;

    constructor(args: { rate: number; seed: number } & LayerArgs) {
      super(args);
      this.rate = args.rate;
      this.seed = args.seed;
    }

    override computeOutputShape(inputShape: tfTypes.Shape): tfTypes.Shape {
      return inputShape;
    }

    override call(inputs: Tensor | Tensor[], kwargs: Kwargs): Tensor {
      const x = Array.isArray(inputs) ? (inputs[0] as Tensor) : inputs;
      if (kwargs['training'] !== true || this.rate <= 0) return tf.clone(x);
      this.calls += 1;
      return tf.dropout(x, this.rate, undefined, this.seed * 100_003 + this.calls);
    }

    override getConfig(): tfTypes.serialization.ConfigDict {
      return { ...super.getConfig(), rate: this.rate, seed: this.seed };
    }
  }

  for (const cls of [SmlEmbedding, SmlWindows, SmlTfidfBag, SmlDropout]) tf.serialization.registerClass(cls);
  const layers: SentimentLayers = {
    embedding: (args) => new SmlEmbedding(args),
    windows: (args) => new SmlWindows(args),
    tfidfBag: (args) => new SmlTfidfBag(args),
    dropout: (args) => new SmlDropout(args),
  };
  registered = { tf, layers };
  return layers;
}
