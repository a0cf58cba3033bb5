import type { Command } from 'commander';
import { resolveEnvConfig } from '../../index.js';
import { type CommonOptions, commandAction, withCommonOptions } from '../cli-command.js';
import { resolveUrl } from '../command-target.js';

/** Secrets in URLs are shown as *** (a password in SLUICE_SYNC_TARGET, say). */
function shown(value: unknown): string {
  if (typeof value !== 'string') return JSON.stringify(value);
  try {
    const url = new URL(value);
    if (url.password) {
      url.password = '***';
      return url.toString();
    }
  } catch {
    // Not a URL: shown as it is.
  }
  return value;
}

export function registerConfig(program: Command): void {
  const command = program
    .command('config')
    .description(
      'print the effective configuration: each value, and whether it came from an option, a SLUICE_* variable, SLUICE_PROFILE or the default',
    );
  withCommonOptions(command).action(
    commandAction('config', async (options: CommonOptions & { db?: string }) => {
      const url = await resolveUrl(options);
      const urlSource = options.db !== undefined ? 'option' : process.env.SLUICE_URL ? 'environment' : 'default or sluice.config';
      const config = resolveEnvConfig({ url });
      const values = [
        { path: 'url', value: shown(url), source: urlSource, variable: 'SLUICE_URL' },
        ...config.values.filter((v) => v.path !== 'url').map((v) => ({ ...v, value: shown(v.value) })),
      ];
      const width = Math.max(...values.map((v) => v.path.length));
      const lines = values.map(
        (v) => `  ${v.path.padEnd(width)}  ${v.value}  (${v.source}${v.source === 'environment' && v.variable ? ` ${v.variable}` : ''})`,
      );
      return {
        ok: true,
        data: { profile: config.profile ?? null, values },
        text: [`Effective configuration${config.profile ? ` (SLUICE_PROFILE=${config.profile})` : ''}:`, ...lines].join('\n'),
      };
    }),
  );
}
