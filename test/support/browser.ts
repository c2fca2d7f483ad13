/**
 * Test support for the dashboard: headless Chromium (Debian's `chromium` package) driven by
 * playwright-core with a fresh profile per launch, and the dashboard service started under a
 * test stack. A missing browser is a test failure with an install hint, never a skip.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { serviceSpec } from '../../scripts/lib/supervisor.ts';
import { freePort, waitFor, type RunningStack } from './stack.ts';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export class BrowserMissingError extends Error {
  readonly code = 'E_NO_CHROMIUM';
}

/** Fail fast (before starting any services) when the browser is not installed. */
export function requireChromium(): string {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new BrowserMissingError(
      `Chromium not found at ${CHROMIUM_PATH}: the dashboard tests need it. Install it with ` +
        '`bash scripts/tools/install-chromium.sh` (apt-get install -y chromium), or set CHROMIUM_PATH.',
    );
  }
  return CHROMIUM_PATH;
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** console.error messages and uncaught page exceptions, in order. */
  consoleErrors: string[];
  pageErrors: string[];
  close: () => Promise<void>;
}

export async function launchBrowser(opts: { width?: number; height?: number } = {}): Promise<TestBrowser> {
  const executablePath = requireChromium();
  const profile = mkdtempSync(path.join(tmpdir(), 'stock-mlops-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: opts.width ?? 1440, height: opts.height ?? 900 },
      deviceScaleFactor: 1,
      timeout: 60_000,
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const consoleErrors: string[] = [];
  const pageErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => pageErrors.push(`${e.name}: ${e.message}`));
  return {
    context,
    page,
    consoleErrors,
    pageErrors,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Pixels of a colour (within a tolerance per channel) over every canvas inside `selector`:
 * proof that something was drawn in that colour, independent of the chart library's internals.
 */
export async function countCanvasPixels(page: Page, selector: string, rgb: [number, number, number], tolerance = 24): Promise<number> {
  return page.evaluate(
    ({ selector, rgb, tolerance }) => {
      let n = 0;
      for (const c of Array.from(document.querySelectorAll<HTMLCanvasElement>(`${selector} canvas`))) {
        if (!c.width || !c.height) continue;
        const ctx = c.getContext('2d');
        if (!ctx) continue;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i + 3]! > 128 && Math.abs(d[i]! - rgb[0]) <= tolerance && Math.abs(d[i + 1]! - rgb[1]) <= tolerance && Math.abs(d[i + 2]! - rgb[2]) <= tolerance) n++;
        }
      }
      return n;
    },
    { selector, rgb, tolerance },
  );
}

/** Start the dashboard service in a running test stack; resolves once its page is served. */
export async function startDashboard(stack: RunningStack, env: NodeJS.ProcessEnv = {}): Promise<{ url: string; port: number; opsPort: number }> {
  const port = await freePort();
  const opsPort = await freePort();
  stack.sup.start(serviceSpec('dashboard', { HTTP_PORT: String(opsPort), DASHBOARD_PORT: String(port), ...env }));
  const url = `http://127.0.0.1:${port}`;
  await waitFor('the dashboard to serve its page', async () => (await fetch(`${url}/`).catch(() => undefined))?.ok, 60_000, 250);
  return { url, port, opsPort };
}
