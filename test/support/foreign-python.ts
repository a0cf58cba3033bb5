import { execFileSync } from 'node:child_process';

export interface ForeignResult {
  ok: boolean;
  error?: string;
}

const SCRIPT = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
results = []
for statement in json.loads(sys.argv[2]):
    try:
        db.execute(statement)
        results.append({"ok": True})
    except sqlite3.Error as error:
        results.append({"ok": False, "error": str(error)})
print(json.dumps(results))
`;

/**
 * Runs statements through Python's sqlite3 module, a writer that never passes through Sluice;
 * one result per statement. `python` and `env` choose the interpreter and its SQLite library.
 */
export function foreignPython(file: string, statements: string[], python = 'python3', env?: NodeJS.ProcessEnv): ForeignResult[] {
  const out = execFileSync(python, ['-c', SCRIPT, file, JSON.stringify(statements)], { encoding: 'utf8', ...(env ? { env } : {}) });
  return JSON.parse(out) as ForeignResult[];
}
