import { HttpError } from './http-errors.js';

/** Rejects with 503 when `work` has not settled within `ms`; the work itself runs on. */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, 'UNAVAILABLE', `${what} took longer than the ${ms} ms request timeout.`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}
