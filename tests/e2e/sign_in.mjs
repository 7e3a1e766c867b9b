// Sign in clicked in the browser view while runs stream: in Settings' MCP
// servers, "Sign in" on an HTTP server that asks for OAuth runs `studio
// mcp login` (its "browser" a curl that follows the redirect, set by the
// test), the row says "signed in", and "Sign out" undoes it; in Plugins,
// the installed plugin's own HTTP server signs in the same way. Run by
// ui-dioxus/tests/app/sign_in.rs, which starts the server and checks what
// the daemon keeps.
//
// Usage: node sign_in.mjs URL TOKEN_FILE ARTIFACT_DIR STUDIO DATA_DIR

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { open } from './harness.mjs';

const [url, tokenFile, artifacts, studio, dataDir] = process.argv.slice(2);
if (!url || !tokenFile || !artifacts || !studio || !dataDir) {
  console.error('usage: node sign_in.mjs URL TOKEN_FILE ARTIFACT_DIR STUDIO DATA_DIR');
  process.exit(2);
}
const token = (await readFile(tokenFile, 'utf8')).trim();
const { browser, page, step, tab } = await open(artifacts, 'sign-in');

const mcp = page.locator('section#settings-mcp');
const row = mcp.locator('tr', { has: page.locator('td', { hasText: /^notes$/ }) });

await step('settings-lists-the-server-not-signed-in', async () => {
  const cli = (...args) => execFileSync(studio, ['--data-dir', dataDir, ...args], { stdio: 'pipe' });
  cli('agent', 'create', 'streamer', '--chunks', '30000', '--chunk-delay-ms', '10');
  for (let n = 0; n < 4; n += 1) cli('run', 'streamer', '--prompt', `load ${n}`, '--detach');
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  await page.locator('span.link.up').waitFor();
  await tab('Settings').click();
  await page.locator('nav.sections button[data-section=settings-mcp]').click();
  await row.locator('td.sign-in', { hasText: 'not signed in' }).waitFor();
});

await step('sign-in-is-clicked-and-the-row-says-signed-in', async () => {
  await row.getByRole('button', { name: 'Sign in' }).click();
  await row.locator('td.sign-in', { hasText: /^signed in$/ }).waitFor({ timeout: 30000 });
  await row.getByRole('button', { name: 'Sign out' }).waitFor();
});

await step('sign-out-is-clicked-and-the-row-says-not-signed-in', async () => {
  await row.getByRole('button', { name: 'Sign out' }).click();
  await row.getByRole('button', { name: 'Sign out' }).waitFor({ state: 'detached' });
});

await step('a-plugins-own-server-signs-in-from-plugins', async () => {
  await page.locator('nav.sections button[data-section=settings-plugins]').click();
  const signIn = page.locator('.installed-plugin[data-plugin=remote-notes] .plugin-sign-in[data-server=notes]');
  await signIn.getByText('not signed in').waitFor();
  await signIn.getByRole('button', { name: 'Sign in' }).click();
  await signIn.locator('[role=status]', { hasText: /^signed in$/ }).waitFor({ timeout: 30000 });
  await signIn.getByRole('button', { name: 'Sign out' }).waitFor();
});

await browser.close();
console.log('all steps passed');
