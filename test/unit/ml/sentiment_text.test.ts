import * as assert from 'uvu/assert';
import { suite } from '../../harness/index.ts';
import { charNgrams, ngrams, tokenize, tokenKind } from '@stock-mlops/ml/text/tokenizer';
import { PAD_ID, SPECIAL_TOKENS, UNK_ID, Vocabulary } from '@stock-mlops/ml/text/vocabulary';
import { parseCsv, parseCsvTable } from '@stock-mlops/ml/text/csv';

const errorCode = (code: string) => (err: unknown) => (err as { code?: string }).code === code;

const t = suite('sentiment text: tokenizer, vocabulary, csv');

t('keeps cashtags as single lowercase tokens', () => {
  assert.equal(tokenize('$AAPL and $BRK.B beat; $TSLA.'), ['$aapl', 'and', '$brk.b', 'beat', '$tsla']);
  // money amounts are numbers, not tickers
  assert.equal(tokenize('$5.2bn deal'), ['5.2', 'bn', 'deal']);
});

t('keeps percentages as one token with an explicit sign only', () => {
  assert.equal(tokenize('up 5.2% today, -3 % later, +4% more'), ['up', '5.2%', 'today', '-3%', 'later', '+4%', 'more']);
  // PhraseBank writes ranges as "20 % -40 %": the dash is a range dash, not a sign
  assert.equal(tokenize('growth of 20 % -40 %'), ['growth', 'of', '20%', '40%']);
  assert.is(tokenKind('5.2%'), 'percent');
  assert.is(tokenKind('-3%'), 'percent');
});

t('normalises numbers and splits ranges', () => {
  assert.equal(tokenize('EUR 1,234.5 mn in 2009-2012'), ['eur', '1234.5', 'mn', 'in', '2009', '2012']);
  assert.equal(tokenize('3,5 Mrd'), ['3.5', 'mrd']);
  assert.is(tokenKind('1234.5'), 'number');
});

t('replaces URLs with <url>', () => {
  assert.equal(tokenize('$GM cuts to Hold https://t.co/7Fv1ZiFZBS via www.example.com/a?b=1'), ['$gm', 'cuts', 'to', 'hold', '<url>', 'via', '<url>']);
  assert.is(tokenKind('<url>'), 'url');
});

t('NFKC-normalises full-width text and lowercases', () => {
  assert.equal(tokenize('ＡＢＣ１２３ Ｎｏｋｉａ'), ['abc123', 'nokia']);
});

t('keeps emoji (with modifiers) and !/? as tokens', () => {
  assert.equal(tokenize('to the moon 🚀🚀 👍🏽!?'), ['to', 'the', 'moon', '🚀', '🚀', '👍🏽', '!', '?']);
  assert.equal(tokenize('ok!', { keepExclamation: false }), ['ok']);
  assert.is(tokenKind('🚀'), 'emoji');
});

t('tokenizes Korean as words and Han/Kana runs as character bigrams', () => {
  assert.equal(tokenize('삼성전자 주가가 3.5% 상승했다'), ['삼성전자', '주가가', '3.5%', '상승했다']);
  assert.equal(tokenize('日経平均が上昇'), ['日経', '経平', '平均', '均が', 'が上', '上昇']);
  assert.equal(tokenize('株'), ['株']);
  assert.equal(tokenize('ソニー株 rose'), ['ソニ', 'ニー', 'ー株', 'rose']);
});

t('keeps words with inner apostrophes, hyphens and ampersands', () => {
  assert.equal(tokenize("AT&T's year-on-year result"), ["at&t's", 'year-on-year', 'result']);
});

t('never fails on empty or odd input', () => {
  assert.equal(tokenize(''), []);
  assert.equal(tokenize('  ,,, ;; '), []);
  assert.is(tokenize('x'.repeat(500))[0]?.length, 64);
});

t('builds word and character n-grams', () => {
  assert.equal(ngrams(['a', 'b', 'c'], 2), ['a b', 'b c']);
  assert.equal(ngrams(['a'], 2), []);
  assert.equal(charNgrams('up', 3, 4), ['<up', 'up>', '<up>']);
});

t('vocabulary is deterministic, ordered by count then token, and bounded', () => {
  const docs = [['b', 'a', 'c'], ['a', 'b'], ['a', 'd'], ['e']];
  const v1 = Vocabulary.build(docs, { minFrequency: 1 });
  const v2 = Vocabulary.build([...docs].reverse(), { minFrequency: 1 });
  assert.equal(v1.tokens, v2.tokens);
  assert.equal(v1.tokens.slice(SPECIAL_TOKENS.length), ['a', 'b', 'c', 'd', 'e']);
  const small = Vocabulary.build(docs, { minFrequency: 2, maxSize: SPECIAL_TOKENS.length + 1 });
  assert.equal(small.tokens.slice(SPECIAL_TOKENS.length), ['a']);
  assert.throws(() => Vocabulary.build(docs, { maxSize: 2 }), errorCode('E_VOCAB_INVALID'));
});

t('vocabulary maps OOV tokens to their shape back-off and pads', () => {
  const v = Vocabulary.build([tokenize('shares rose 5% after $AAPL beat on 12 march')], { minFrequency: 1 });
  const ids = v.encode(tokenize('shares fell 7% for $MSFT on 13 🚀'), 10);
  assert.is(ids.length, 10);
  assert.is(v.token(ids[0] as number), 'shares');
  assert.is(ids[1], UNK_ID);
  assert.is(v.token(ids[2] as number), '<pct>');
  assert.is(v.token(ids[4] as number), '<ticker>');
  assert.is(v.token(ids[6] as number), '<num>');
  assert.is(v.token(ids[7] as number), '<emoji>');
  assert.is(ids[8], PAD_ID);
  assert.equal(Array.from(v.encode(['shares', 'rose', 'after'], 2)), [v.id('shares'), v.id('rose')]);
});

t('vocabulary round-trips through JSON and rejects foreign JSON', () => {
  const v = Vocabulary.build([['x', 'y', 'x']]);
  const back = Vocabulary.fromJSON(JSON.parse(JSON.stringify(v)));
  assert.equal(back.tokens, v.tokens);
  assert.throws(() => Vocabulary.fromJSON({ kind: 'vocabulary', version: 1, specials: ['<pad>'], tokens: [] }), errorCode('E_VOCAB_INVALID'));
  assert.throws(() => Vocabulary.fromJSON({ tokens: 'nope' }), errorCode('E_VOCAB_INVALID'));
});

t('CSV: quoted fields with commas, escaped quotes and newlines; CRLF; BOM', () => {
  const csv = '\uFEFFid,text\r\n1,"a, b"\r\n2,"say ""hi"""\n3,"line1\nline2"\n4,\n"5",""';
  assert.equal(parseCsv(csv), [
    ['id', 'text'],
    ['1', 'a, b'],
    ['2', 'say "hi"'],
    ['3', 'line1\nline2'],
    ['4', ''],
    ['5', ''],
  ]);
});

t('CSV: trailing newline, blank lines, custom delimiter', () => {
  assert.equal(parseCsv('a,b\n\n1,2\n'), [['a', 'b'], ['1', '2']]);
  assert.equal(parseCsv('a;b\n1;"x;y"', { delimiter: ';' }), [['a', 'b'], ['1', 'x;y']]);
  assert.equal(parseCsv(''), []);
  assert.equal(parseCsv('a,,\n'), [['a', '', '']]);
});

t('CSV: malformed quoting fails with a code', () => {
  assert.throws(() => parseCsv('a,"unterminated\n'), errorCode('E_CSV_UNTERMINATED_QUOTE'));
  assert.throws(() => parseCsv('a,b"c"\n'), errorCode('E_CSV_BAD_QUOTE'));
  assert.throws(() => parseCsv('"a"b,c\n'), errorCode('E_CSV_BAD_QUOTE'));
});

t('CSV table: header mapping and ragged rows', () => {
  const table = parseCsvTable('text,label\n"good, very",1\nbad,0\n');
  assert.equal(table.header, ['text', 'label']);
  assert.equal(table.rows, [{ text: 'good, very', label: '1' }, { text: 'bad', label: '0' }]);
  assert.throws(() => parseCsvTable('a,b\n1\n'), errorCode('E_CSV_RAGGED_ROW'));
});

t.run();
