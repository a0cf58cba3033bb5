import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const ASSETS = new URL('../../assets/dashboard/', import.meta.url);

/**
 * The dashboard's files, read once: the page, its script and style, and uPlot from the installed
 * package. Nothing is fetched from the network and nothing needs building.
 */
export function loadDashboardAssets(): ReadonlyMap<string, Asset> {
  const require = createRequire(import.meta.url);
  const files: [string, string, string][] = [
    ['/', fileURLToPath(new URL('index.html', ASSETS)), 'text/html; charset=utf-8'],
    ['/docs', fileURLToPath(new URL('docs.html', ASSETS)), 'text/html; charset=utf-8'],
    ['/dashboard/app.js', fileURLToPath(new URL('app.js', ASSETS)), 'text/javascript; charset=utf-8'],
    ['/dashboard/app.css', fileURLToPath(new URL('app.css', ASSETS)), 'text/css; charset=utf-8'],
    ['/dashboard/uplot.js', require.resolve('uplot/dist/uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
    ['/dashboard/uplot.css', require.resolve('uplot/dist/uPlot.min.css'), 'text/css; charset=utf-8'],
  ];
  const assets = new Map<string, Asset>();
  for (const [route, file, type] of files) {
    const body = readFileSync(file);
    assets.set(route, { body, type, etag: `"${body.length.toString(36)}-${hash(body)}"` });
  }
  return assets;
}

function hash(body: Buffer): string {
  let h = 2166136261;
  for (const byte of body) h = Math.imul(h ^ byte, 16777619);
  return (h >>> 0).toString(36);
}
