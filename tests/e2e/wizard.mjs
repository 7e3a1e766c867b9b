// The first-run setup wizard in the browser view, typed as a person
// types (real key events 50 ms apart): it opens by itself on a data dir
// with no agent; a wrong key is refused with the provider's own answer; the
// right key, with the provider's base URL pasted as a host root, lists the
// models; Code Reviewer is picked and named; the first run starts and opens
// in the Inspector with its answer. After a reload it stays closed;
// Settings opens it again and "Skip setup" closes it. A key typed is never
// in the page once sent. Reopened, it reaches Ollama (no key) and runs a
// template on the scripted provider. Then the agent is exported from its card and
// imported back under another name from a pasted file. Run by ui-dioxus/tests/app/wizard.rs, which serves
// the provider and checks what the daemon stored.
//
// Once the wizard is open, runs stream (an agent of the test's own, made
// and started through the studio CLI) while every field is typed.
//
// Usage: node wizard.mjs URL TOKEN_FILE ARTIFACT_DIR PROVIDER_BASE WRONG_KEY RIGHT_KEY STUDIO DATA_DIR

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { open } from './harness.mjs';

const [url, tokenFile, artifacts, providerBase, wrongKey, rightKey, studio, dataDir] = process.argv.slice(2);
if (!url || !tokenFile || !artifacts || !providerBase || !wrongKey || !rightKey || !studio || !dataDir) {
  console.error('usage: node wizard.mjs URL TOKEN_FILE ARTIFACT_DIR PROVIDER_BASE WRONG_KEY RIGHT_KEY STUDIO DATA_DIR');
  process.exit(2);
}
const token = (await readFile(tokenFile, 'utf8')).trim();
const { browser, context, page, step, tab } = await open(artifacts, 'wizard');
await context.grantPermissions(['clipboard-read', 'clipboard-write']);

const PER_KEY_MS = 50;
const wizard = page.locator('section.wizard');

// Clicks `field`, types `text` a key at a time, and checks it holds it.
async function typeInto(field, text) {
  await field.click();
  await page.keyboard.type(text, { delay: PER_KEY_MS });
  await page.waitForTimeout(800);
  const held = await field.inputValue();
  if (held !== text) throw new Error(`typed ${JSON.stringify(text)}, the field holds ${JSON.stringify(held)}`);
}

async function keyNotInPage(key) {
  if ((await page.content()).includes(key)) throw new Error('the key is in the page');
  const held = await wizard.locator('input[name=wizard_key]').inputValue();
  if (held !== '') throw new Error('the key field kept the key');
}

await step('first-run-opens-the-wizard', async () => {
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  await page.locator('span.link.up').waitFor();
  await wizard.waitFor();
  await wizard.getByText('Set up AI Studio').waitFor();
  await wizard.locator('li[aria-current=step]', { hasText: 'Connect a model' }).waitFor();
  // Nothing to go on with until a key is proved.
  if (!(await wizard.locator('button.next').isDisabled())) throw new Error('Next before any test');
  // From here on, runs stream while the keys are typed.
  const cli = (...args) => execFileSync(studio, ['--data-dir', dataDir, ...args], { stdio: 'pipe' });
  cli('agent', 'create', 'streamer', '--chunks', '30000', '--chunk-delay-ms', '10');
  for (let n = 0; n < 6; n += 1) cli('run', 'streamer', '--prompt', `load ${n}`, '--detach');
  // An agent appearing does not close the wizard.
  await page.waitForTimeout(1000);
  await wizard.waitFor();
});

await step('a-wrong-key-is-refused-with-the-providers-answer', async () => {
  await wizard.locator('input[name=wizard_source][value=key]').check();
  await wizard.locator('select[name=wizard_provider]').selectOption('openai');
  await typeInto(wizard.locator('input[name=wizard_key]'), wrongKey);
  // The host root, as a person pastes it: the daemon adds /v1.
  await typeInto(wizard.locator('input[name=wizard_base_url]'), providerBase);
  await wizard.getByRole('button', { name: 'Test the key' }).click();
  await wizard.locator('[role=alert]', { hasText: 'does not work yet' }).waitFor();
  await wizard.locator('[role=alert]', { hasText: '401' }).waitFor();
  await keyNotInPage(wrongKey);
  if (!(await wizard.locator('button.next').isDisabled())) throw new Error('Next after a refused key');
});

await step('the-right-key-lists-the-models', async () => {
  await typeInto(wizard.locator('input[name=wizard_key]'), rightKey);
  await wizard.getByRole('button', { name: 'Test the key' }).click();
  await wizard.locator('[role=status]', { hasText: 'It works: openai offers 2 models' }).waitFor();
  await keyNotInPage(rightKey);
  await wizard.locator('select[name=wizard_model]').selectOption('local-7b');
  // The README's screenshot of the wizard (docs/screenshots/).
  await page.screenshot({ path: new URL('../../docs/screenshots/wizard.png', import.meta.url).pathname });
  await wizard.getByRole('button', { name: 'Next', exact: true }).click();
});

await step('a-template-is-picked-and-named', async () => {
  await wizard.locator('li[aria-current=step]', { hasText: 'Pick a template' }).waitFor();
  const reviewer = wizard.locator('label.choice', { hasText: 'Code Reviewer' });
  await reviewer.locator('input[name=wizard_template]').check();
  // What it may do is said before it is used.
  await reviewer.getByText('May use the tools').waitFor();
  await typeInto(wizard.locator('input[name=wizard_agent_name]'), 'first-reviewer');
  await wizard.getByRole('button', { name: 'Next', exact: true }).click();
});

const TASK = 'Review the last commit, briefly.';
await step('the-first-run-opens-in-the-inspector', async () => {
  await wizard.locator('li[aria-current=step]', { hasText: 'Run it' }).waitFor();
  await wizard.getByText('first-reviewer').waitFor();
  await wizard.getByText('local-7b').waitFor();
  const prompt = wizard.locator('textarea[name=wizard_prompt]');
  if ((await prompt.inputValue()).trim() === '') throw new Error('no sample prompt');
  await prompt.click();
  await page.keyboard.press('Control+a');
  await page.keyboard.press('Delete');
  await typeInto(prompt, TASK);
  await wizard.getByRole('button', { name: 'Create it and run' }).click();
  await wizard.waitFor({ state: 'detached' });
  await page.locator('h1.page-title', { hasText: 'Inspector' }).waitFor();
  await page.getByText('Looks fine to me.').first().waitFor();
  await page.getByText(TASK).first().waitFor();
});

await step('a-reload-keeps-it-closed', async () => {
  await page.reload();
  await page.locator('span.link.up').waitFor();
  await page.waitForTimeout(1500);
  if ((await wizard.count()) !== 0) throw new Error('the wizard opened again');
});

// Opened again from Settings: Ollama is proved by reaching it (its
// host:port typed as OLLAMA_HOST has it), then the scripted provider
// needs no proof: Writer runs without a key and opens in the Inspector.
await step('settings-opens-it-again-and-ollama-is-reached', async () => {
  await tab('Settings').click();
  await page.getByRole('button', { name: 'Open the setup wizard' }).click();
  await wizard.waitFor();
  await wizard.locator('input[name=wizard_source][value=ollama]').check();
  // No key for Ollama.
  await wizard.locator('input[name=wizard_key]').waitFor({ state: 'detached' });
  await typeInto(wizard.locator('input[name=wizard_base_url]'), providerBase.replace('http://', ''));
  await wizard.getByRole('button', { name: 'Reach Ollama' }).click();
  await wizard.locator('[role=status]', { hasText: 'It works: ollama offers 1 model.' }).waitFor();
  await wizard.locator('select[name=wizard_model] option[value="llama3.2:latest"]').waitFor({ state: 'attached' });
});

await step('without-a-key-the-first-run-is-scripted', async () => {
  await wizard.locator('input[name=wizard_source][value=scripted]').check();
  await wizard.getByRole('button', { name: 'Next', exact: true }).click();
  await wizard.locator('label.choice', { hasText: 'Writer' }).locator('input[name=wizard_template]').check();
  await typeInto(wizard.locator('input[name=wizard_agent_name]'), 'keyless-writer');
  await wizard.getByRole('button', { name: 'Next', exact: true }).click();
  await wizard.getByText('scripted replies').waitFor();
  await wizard.getByRole('button', { name: 'Create it and run' }).click();
  await wizard.waitFor({ state: 'detached' });
  await page.locator('.title-line', { hasText: 'keyless-writer' }).locator('span.status.completed').waitFor();
});

await step('skip-closes-it', async () => {
  await tab('Settings').click();
  await page.getByRole('button', { name: 'Open the setup wizard' }).click();
  await wizard.waitFor();
  await wizard.getByRole('button', { name: 'Skip setup' }).click();
  await wizard.waitFor({ state: 'detached' });
});

// The agent the wizard made, exported from its card as a file, comes
// back under another name through the import form (pasted, as a person
// pastes a file someone shared), which says first what it may do.
let exported = '';
await step('an-agent-exports-as-toml', async () => {
  await tab('Agents').click();
  const card = page.locator('.card', { hasText: 'first-reviewer' });
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    card.getByRole('button', { name: 'Export TOML' }).click(),
  ]);
  if (download.suggestedFilename() !== 'agent-first-reviewer.toml') {
    throw new Error(`downloaded as ${download.suggestedFilename()}`);
  }
  exported = await readFile(await download.path(), 'utf8');
  if (!exported.includes('name = "first-reviewer"') || !exported.includes('[[rules]]')) {
    throw new Error(`exported ${exported}`);
  }
  if (exported.includes(rightKey)) throw new Error('the key is in the agent file');
  await card.locator('[role=status]', { hasText: 'Saved' }).waitFor();
});

await step('a-pasted-agent-file-says-what-it-may-do-then-imports', async () => {
  const shared = exported.replace('name = "first-reviewer"', 'name = "imported-reviewer"');
  await page.locator('.toolbar button', { hasText: 'Import' }).click();
  const form = page.locator('.agent-import');
  await form.locator('textarea[name=agent_import]').click();
  await page.evaluate((text) => navigator.clipboard.writeText(text), shared);
  await page.keyboard.press('Control+V');
  await form.locator('[role=status]', { hasText: 'imported-reviewer' }).waitFor();
  await form.locator('li', { hasText: 'It may use the tools shell' }).waitFor();
  await form.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('.card', { hasText: 'imported-reviewer' }).waitFor();
});

// A gallery source's template is in the gallery, saying where it is from.
await step('the-gallery-shows-where-a-template-came-from', async () => {
  await page.locator('.toolbar button', { hasText: 'Templates' }).click();
  const card = page.locator('.card.template[data-source=house]');
  await card.getByRole('heading', { name: 'House Writer' }).waitFor();
  await card.getByText('From house').waitFor();
  const builtIn = page.locator('.card.template[data-source=built-in]');
  if ((await builtIn.count()) !== 5) throw new Error(`${await builtIn.count()} built-in templates`);
});

await browser.close();
console.log('all steps passed');
