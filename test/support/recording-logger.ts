import type { SluiceLogger } from '../../src/index.js';

export interface Line {
  level: string;
  fields: Record<string, unknown>;
  message: string | undefined;
}

/** A logger that keeps every line, as pino would write them. */
export function recorder(): SluiceLogger & { lines: Line[]; events: (event: string) => Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: Record<string, unknown>, message?: string) => lines.push({ level, fields, message });
  return {
    lines,
    events: (event) => lines.filter((l) => l.fields.event === event),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
  };
}
