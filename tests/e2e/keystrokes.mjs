// Benchmark, not a test: how long a key typed into the app's browser view
// (studio-ui --web) takes to come back rendered, while runs stream. The
// palette is opened and letters that match nothing are typed one at a
// time: each key's round trip ends when the server's re-render of the
// empty state names the new query. Timed inside the page by the app's own
// probe (ui-dioxus/src/key_probe.js, which the desktop window runs too),
// from the keydown to the DOM change, so the browser's own input latency
// is left out and nothing is polled.
// Run by ui-dioxus/benches/ui/keystrokes.rs.
//
// Usage: node keystrokes.mjs URL TOKEN_FILE ARTIFACT_DIR KEYS
// Prints one JSON line: {"latencies_ms": [...]}.

import { readFile } from 'node:fs/promises';
import { open } from './harness.mjs';

const [url, tokenFile, artifacts, keys] = process.argv.slice(2);
const count = Number(keys);
if (!url || !tokenFile || !artifacts || !(count > 0)) {
  console.error('usage: node keystrokes.mjs URL TOKEN_FILE ARTIFACT_DIR KEYS');
  process.exit(2);
}
const token = (await readFile(tokenFile, 'utf8')).trim();
const probe = await readFile(new URL('../../ui-dioxus/src/key_probe.js', import.meta.url), 'utf8');
const { browser, page, step } = await open(artifacts, 'keystrokes');
let latencies = [];

await step('measure', async () => {
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  await page.locator('span.link.up').waitFor();
  await page.locator('.app').focus();
  await page.keyboard.press('Control+k');
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'palette');
  await page.evaluate((probe) => {
    window.__latencies = [];
    (0, eval)(probe)((ms) => window.__latencies.push(ms));
  }, probe);
  // Letters that match no page, agent or session.
  const letters = 'zqxjzqxvzqxk';
  for (let n = 0; n < count; n++) {
    if (n > 0 && n % 10 === 0) {
      // Start again from an empty field, so the query stays short.
      await page.keyboard.press('Control+a');
      await page.keyboard.press('Backspace');
      await page.waitForTimeout(200);
    }
    const before = await page.evaluate(() => window.__latencies.length);
    await page.keyboard.press(letters[n % letters.length]);
    await page.waitForFunction((b) => window.__latencies.length > b, before, { timeout: 10_000 });
    await page.waitForTimeout(50);
  }
  latencies = await page.evaluate(() => window.__latencies);
});

await browser.close();
console.log(JSON.stringify({ latencies_ms: latencies }));
process.exit(0);
