/**
 * RFC 4180 CSV parser: quoted fields, `""` escapes, commas/CR/LF inside quotes, CRLF or LF
 * record ends, optional UTF-8 BOM, no trailing-newline requirement. Strict about quotes:
 * a quote inside an unquoted field or text after a closing quote is an error with the record
 * number, rather than silently producing shifted columns.
 */
import { TextError } from './errors.ts';

export interface CsvParseOptions {
  /** Field separator, one character. Default `,`. */
  delimiter?: string;
  /** Drop records that consist of a single empty field (blank lines). Default true. */
  skipEmptyLines?: boolean;
}

export function parseCsv(input: string, options: CsvParseOptions = {}): string[][] {
  const delimiter = options.delimiter ?? ',';
  const skipEmpty = options.skipEmptyLines ?? true;
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new TypeError(`invalid CSV delimiter ${JSON.stringify(delimiter)}`);
  }
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let i = 0;
  let line = 1;
  // true after a closing quote: only a delimiter or a record end may follow
  let afterQuoted = false;

  const endField = (): void => {
    record.push(field);
    field = '';
    afterQuoted = false;
  };
  const endRecord = (): void => {
    endField();
    if (!(skipEmpty && record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };

  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === '"') {
      if (field !== '' || afterQuoted) {
        throw new TextError('E_CSV_BAD_QUOTE', `CSV line ${line}: quote inside an unquoted field`, { line });
      }
      const start = line;
      i++;
      for (;;) {
        if (i >= text.length) {
          throw new TextError('E_CSV_UNTERMINATED_QUOTE', `CSV line ${start}: quoted field never closed`, { line: start });
        }
        const c = text[i] as string;
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (c === '\n') line++;
        field += c;
        i++;
      }
      afterQuoted = true;
      continue;
    }
    if (ch === delimiter) {
      endField();
      i++;
      continue;
    }
    if (ch === '\r' || ch === '\n') {
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      endRecord();
      continue;
    }
    if (afterQuoted) {
      throw new TextError('E_CSV_BAD_QUOTE', `CSV line ${line}: text after a closing quote`, { line });
    }
    field += ch;
    i++;
  }
  if (field !== '' || afterQuoted || record.length > 0) endRecord();
  return records;
}

export interface CsvTable {
  header: string[];
  rows: Array<Record<string, string>>;
}

/**
 * Parses a CSV whose first record is the header. Every record must have as many fields as
 * the header (`E_CSV_RAGGED_ROW` otherwise).
 */
export function parseCsvTable(input: string, options: CsvParseOptions = {}): CsvTable {
  const [header, ...records] = parseCsv(input, options);
  if (!header) return { header: [], rows: [] };
  const rows = records.map((fields, r) => {
    if (fields.length !== header.length) {
      throw new TextError('E_CSV_RAGGED_ROW', `CSV record ${r + 2}: ${fields.length} fields, header has ${header.length}`, {
        record: r + 2,
      });
    }
    const row: Record<string, string> = {};
    header.forEach((name, c) => {
      row[name] = fields[c] as string;
    });
    return row;
  });
  return { header, rows };
}
