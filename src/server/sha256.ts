import * as crypto from 'node:crypto';

/** Node's one-shot digest (20.12 and later): a third of createHash's cost on a short input. */
const oneShot: typeof crypto.hash | undefined = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** SHA-256 of a string, one-shot where Node has it (a row's body per GET, a token per request). */
export function sha256(value: string, encoding: 'base64url'): string;
export function sha256(value: string, encoding: 'buffer'): Buffer;
export function sha256(value: string, encoding: 'base64url' | 'buffer'): string | Buffer {
  if (oneShot) return oneShot('sha256', value, encoding as 'base64url');
  const hash = crypto.createHash('sha256').update(value);
  return encoding === 'buffer' ? hash.digest() : hash.digest('base64url');
}
