// What the browser scripts share: Debian's Chromium through playwright-core,
// one page of 1280x900 with a 30 s default timeout, page errors collected,
// and `step`, which runs one named step, screenshots it into the artifact
// dir, and on failure prints why (with the page's errors), closes the
// browser and exits 1.

import { mkdir } from 'node:fs/promises';
import { chromium } from 'playwright-core';

/** Opens the browser; screenshots are named `${prefix}-STEP.png`. */
export async function open(artifacts, prefix) {
  await mkdir(artifacts, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const problems = [];
  page.on('pageerror', (err) => problems.push(String(err)));

  async function step(name, body) {
    const started = Date.now();
    try {
      await body();
      await page.screenshot({ path: `${artifacts}/${prefix}-${name}.png` });
      console.log(`ok   ${name} (${Date.now() - started} ms)`);
    } catch (err) {
      await page.screenshot({ path: `${artifacts}/${prefix}-${name}-failed.png`, fullPage: true }).catch(() => {});
      console.error(`FAIL ${name}: ${err.message}`);
      if (problems.length) console.error(`page errors: ${problems.join('\n')}`);
      await browser.close();
      process.exit(1);
    }
  }

  const tab = (name) => page.locator('nav button', { hasText: name });
  return { browser, context, page, step, tab };
}
