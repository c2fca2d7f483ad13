/** Labelled texts for the sentiment analyzer, read from a local CSV file. */
import { readFile } from 'node:fs/promises';
import { parseCsvTable } from '../text/csv.ts';
import { SENTIMENT_LABELS, SentimentError, type SentimentLabel } from './sentiment_analyzer_config.ts';

export interface LabelledTexts {
  texts: string[];
  labels: SentimentLabel[];
}

export interface LoadSentimentCsvOptions {
  textColumn: string;
  labelColumn: string;
  /**
   * Raw label → sentiment label, as an object or a string like `0=negative,1=positive,2=neutral`.
   * The label names themselves (case-insensitive) are always understood as well.
   */
  labelMap?: Record<string, SentimentLabel> | string;
  /** Skip rows whose label is not in the map instead of failing. Default false. */
  skipUnknownLabels?: boolean;
}

export function parseLabelMap(spec: string): Record<string, SentimentLabel> {
  const map: Record<string, SentimentLabel> = {};
  for (const part of spec.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    const raw = trimmed.slice(0, eq).trim();
    const label = trimmed.slice(eq + 1).trim().toLowerCase();
    if (eq <= 0 || !SENTIMENT_LABELS.includes(label as SentimentLabel)) {
      throw new SentimentError('E_SENTIMENT_BAD_INPUT', `bad label map entry ${JSON.stringify(trimmed)} (expected raw=negative|neutral|positive)`);
    }
    map[raw] = label as SentimentLabel;
  }
  return map;
}

export async function loadSentimentCsv(path: string, options: LoadSentimentCsvOptions): Promise<LabelledTexts> {
  const { header, rows } = parseCsvTable(await readFile(path, 'utf8'));
  for (const column of [options.textColumn, options.labelColumn]) {
    if (!header.includes(column)) {
      throw new SentimentError('E_SENTIMENT_BAD_INPUT', `${path}: no column ${JSON.stringify(column)} (have ${header.join(', ')})`);
    }
  }
  const lookup = labelLookup(options.labelMap);
  const texts: string[] = [];
  const labels: SentimentLabel[] = [];
  rows.forEach((row, i) => {
    const raw = (row[options.labelColumn] ?? '').trim();
    const label = lookup.get(raw.toLowerCase());
    if (label === undefined) {
      if (options.skipUnknownLabels) return;
      const inFile = [...new Set(rows.map((r) => (r[options.labelColumn] ?? '').trim()))];
      throw new SentimentError(
        'E_SENTIMENT_UNKNOWN_LABEL',
        `${path}: record ${i + 2} has label ${JSON.stringify(raw)}, which the label map does not cover. ` +
          `Labels in column ${JSON.stringify(options.labelColumn)}: ${inFile.slice(0, 12).map((l) => JSON.stringify(l)).join(', ')}${inFile.length > 12 ? ', …' : ''}; ` +
          `mapped: ${[...lookup.keys()].join(', ')}. Pass --label-map with one RAW=negative|neutral|positive per label, ` +
          `e.g. --label-map ${inFile.slice(0, 3).map((l, k) => `${l}=${SENTIMENT_LABELS[k % SENTIMENT_LABELS.length]}`).join(',')}`,
        { record: i + 2, labels: inFile.slice(0, 50) },
      );
    }
    texts.push(row[options.textColumn] ?? '');
    labels.push(label);
  });
  return { texts, labels };
}

/**
 * Raw label (lower case) → sentiment label: the map's entries, plus the label names themselves
 * (`negative`, `Neutral`, `POSITIVE`…) unless the map gives that raw value another meaning. So a
 * CSV with text labels needs no map, whatever map the config carries for numeric ones.
 */
export function labelLookup(labelMap: Record<string, SentimentLabel> | string | undefined): Map<string, SentimentLabel> {
  const map = typeof labelMap === 'string' ? parseLabelMap(labelMap) : (labelMap ?? {});
  const lookup = new Map(Object.entries(map).map(([k, v]) => [k.trim().toLowerCase(), v]));
  for (const l of SENTIMENT_LABELS) if (!lookup.has(l)) lookup.set(l, l);
  return lookup;
}
