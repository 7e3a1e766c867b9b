// The Plugins section of Settings in the browser view, used as a person
// uses it (real key events 50 ms apart) while runs stream: a marketplace's
// git URL is typed and added; its plugins are listed; "Review" on the
// tracker fetches and checks it and says what it runs and asks for
// (nothing beyond its own folder); "Install" puts it in; a plugin that
// needs a token is reviewed (the token named), installed, and the token
// typed into a password field and stored (it never stays in the page);
// the tracker is disabled, then removed. Run by ui-dioxus/tests/app/plugins.rs,
// which makes the marketplace and checks what was installed and stored.
//
// Usage: node plugins.mjs URL TOKEN_FILE ARTIFACT_DIR MARKET_URL SECRET STUDIO DATA_DIR

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { open } from './harness.mjs';

const [url, tokenFile, artifacts, marketUrl, secret, studio, dataDir] = process.argv.slice(2);
if (!url || !tokenFile || !artifacts || !marketUrl || !secret || !studio || !dataDir) {
  console.error('usage: node plugins.mjs URL TOKEN_FILE ARTIFACT_DIR MARKET_URL SECRET STUDIO DATA_DIR');
  process.exit(2);
}
const token = (await readFile(tokenFile, 'utf8')).trim();
const { browser, page, step, tab } = await open(artifacts, 'plugins');

const PER_KEY_MS = 50;
const section = page.locator('section#settings-plugins');

async function typeInto(field, text) {
  await field.click();
  await page.keyboard.type(text, { delay: PER_KEY_MS });
  await page.waitForTimeout(500);
  const held = await field.inputValue();
  if (held !== text) throw new Error(`typed ${JSON.stringify(text)}, the field holds ${JSON.stringify(held)}`);
}

await step('settings-shows-the-plugins-section', async () => {
  const cli = (...args) => execFileSync(studio, ['--data-dir', dataDir, ...args], { stdio: 'pipe' });
  cli('agent', 'create', 'streamer', '--chunks', '30000', '--chunk-delay-ms', '10');
  for (let n = 0; n < 4; n += 1) cli('run', 'streamer', '--prompt', `load ${n}`, '--detach');
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  await page.locator('span.link.up').waitFor();
  await tab('Settings').click();
  await page.locator('nav.sections button[data-section=settings-plugins]').click();
  await section.getByText('No plugin is installed.').waitFor();
});

await step('a-marketplace-is-added-by-its-typed-url', async () => {
  await typeInto(section.locator('input[name=market_url]'), marketUrl);
  await section.getByRole('button', { name: 'Add marketplace' }).click();
  await section.locator('.market[data-market=team] li[data-plugin=tracker]').waitFor();
  await section.locator('.market[data-market=team] li[data-plugin=needy]').waitFor();
  const input = await section.locator('input[name=market_url]').elementHandle();
  await page.waitForFunction((el) => el.value === '', input, { timeout: 5000 })
    .catch(() => { throw new Error('the URL stayed'); });
});

await step('review-says-what-the-tracker-runs-and-asks', async () => {
  await section.locator('li[data-plugin=tracker]').getByRole('button', { name: 'Review' }).click();
  const review = section.locator('.plugin-review');
  await review.waitFor();
  await review.getByText('Nothing beyond its own folder').waitFor();
  await review.getByText('server.mjs').waitFor();
  await review.getByText("Its files' sha256").waitFor();
  await review.getByRole('button', { name: 'Install' }).click();
  await section.locator('.installed-plugin[data-plugin=tracker][data-enabled=true]').waitFor();
  await section.locator('li[data-plugin=tracker]', { hasText: '(installed)' }).waitFor();
});

await step('a-plugin-that-needs-a-token-gets-it-typed-and-stored', async () => {
  await section.locator('li[data-plugin=needy]').getByRole('button', { name: 'Review' }).click();
  const review = section.locator('.plugin-review');
  await review.getByText('a value for NEEDY_TOKEN (A token of your account)').waitFor();
  await review.getByRole('button', { name: 'Install' }).click();
  const installed = section.locator('.installed-plugin[data-plugin=needy]');
  await installed.waitFor();
  const field = installed.locator('input[name=plugin_value_needy_NEEDY_TOKEN]');
  if ((await field.getAttribute('type')) !== 'password') throw new Error('the value field shows what is typed');
  await typeInto(field, secret);
  await installed.getByRole('button', { name: 'Store' }).click();
  await installed.getByText('stored').waitFor();
  // The app empties the field; the page may show "stored" a moment before.
  await page.waitForFunction((el) => el.value === '', await field.elementHandle(), { timeout: 5000 })
    .catch(() => { throw new Error('the value stayed in its field'); });
  if ((await page.content()).includes(secret)) throw new Error('the value is in the page');
});

await step('the-tracker-is-disabled-then-removed', async () => {
  const tracker = section.locator('.installed-plugin[data-plugin=tracker]');
  await tracker.getByRole('button', { name: 'Disable' }).click();
  await section.locator('.installed-plugin[data-plugin=tracker][data-enabled=false]').waitFor();
  await tracker.getByRole('button', { name: 'Remove' }).click();
  await tracker.waitFor({ state: 'detached' });
  await section.locator('li[data-plugin=tracker]').getByRole('button', { name: 'Review' }).waitFor();
});

await browser.close();
console.log('all steps passed');
