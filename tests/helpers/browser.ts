import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';

/*
 * Debian's Chromium driven by playwright-core (no browser download). Screenshots go to
 * artifacts/screenshots/, kept by CI as test artifacts.
 */

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = fileURLToPath(new URL('../../artifacts/screenshots/', import.meta.url));

/*
 * Browser tests need Debian's Chromium (`apt-get install chromium`). On a developer machine
 * without it they are skipped with a warning, so `npm test` still runs everywhere; in CI
 * (CI=true, where .ci/run installs it) a missing Chromium is a failure, never a skip.
 */
const available = existsSync(CHROMIUM_PATH) || process.env.CI === 'true';
if (!available) console.warn(`Browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set CHROMIUM_PATH)`);
export const browserDescribe = Object.assign(available ? describe : describe.skip, { available });

export interface TestBrowser {
  browser: Browser;
  /** A fresh page that fails the test on any console error or page error. */
  newPage(): Promise<{ page: Page; errors: string[] }>;
  screenshot(page: Page, name: string): Promise<void>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  // playwright-core gives each launch a fresh, temporary profile of its own.
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  await mkdir(SCREENSHOTS, { recursive: true });
  return {
    browser,
    async newPage() {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') errors.push(message.text());
      });
      page.on('pageerror', (error) => errors.push(error.message));
      return { page, errors };
    },
    async screenshot(page, name) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
    },
    async close() {
      await browser.close();
    },
  };
}
