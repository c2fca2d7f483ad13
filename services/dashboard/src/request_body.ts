import type { IncomingMessage } from 'node:http';
import { ApiError } from './api.ts';

/** Largest request body the dashboard reads (a label: a text of at most 2,000 characters and a few short fields). */
export const MAX_BODY_BYTES = 16 * 1024;

/**
 * A request's JSON body. Only `application/json` is read (a cross-site form or a simple `fetch`
 * cannot send it without a CORS preflight, which the dashboard does not answer); otherwise 415,
 * over `maxBytes` 413, not JSON 400 `E_BAD_JSON`.
 */
export async function readJsonBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new ApiError(415, 'E_UNSUPPORTED_MEDIA_TYPE', 'the body must be JSON (content-type: application/json)');
  }
  const tooLarge = () => new ApiError(413, 'E_PAYLOAD_TOO_LARGE', `the body is over ${maxBytes} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > maxBytes) {
    req.resume();
    throw tooLarge();
  }
  // Events, not `for await`: leaving an async iteration early destroys the request and its socket, and the answer with it.
  const body = await new Promise<Buffer | undefined>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBytes) chunks.push(chunk);
    });
    req.on('end', () => resolve(bytes <= maxBytes ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
  if (!body) throw tooLarge();
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new ApiError(400, 'E_BAD_JSON', 'the body is not valid JSON');
  }
}
