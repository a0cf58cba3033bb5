import { type SyncNode, syncNodes } from '../../index.js';
import type { CommandOutcome } from '../cli-command.js';

/**
 * `sluice sync nodes --target <url>`: the centre's record of every edge node shipping into it, read
 * on the centre alone (no edge file is opened), so an operator there sees which node went silent.
 */
export async function syncNodesAction(opts: { target?: string; targetSchema?: string; timeoutMs: number }): Promise<CommandOutcome> {
  const target = opts.target ?? process.env.SLUICE_SYNC_TARGET;
  if (!target) {
    return {
      ok: false,
      data: { error: 'no target' },
      text: 'sync nodes needs the centre: pass --target postgres://… or set SLUICE_SYNC_TARGET.',
    };
  }
  const schema = opts.targetSchema ?? process.env.SLUICE_SYNC_SCHEMA;
  const nodes = await syncNodes({ url: target, schema, connectTimeoutMs: opts.timeoutMs });
  return { ok: true, data: { schema: schema ?? null, nodes }, text: describeNodes(schema, nodes) };
}

function describeNodes(schema: string | undefined, nodes: readonly SyncNode[]): string {
  const where = schema ? `schema ${schema}` : 'the default schema';
  if (nodes.length === 0) return `No node has shipped into ${where} yet.`;
  const header = ['node', 'seq', 'changes', 'last batch', 'silent for', 'shipping'];
  const rows = nodes.map((n) => [
    n.nodeId,
    String(n.seq),
    String(n.changes),
    n.lastBatchAt.toISOString(),
    `${(n.sinceLastBatchMs / 1000).toFixed(1)} s`,
    n.shipping ? 'yes' : 'no',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [`${nodes.length} nodes ship into ${where}:`, line(header), ...rows.map(line)].join('\n');
}
