// MCP Apps views in the browser view, used as a person uses them (real
// key events 50 ms apart) while runs stream: a chat with an agent of the
// sample tracker plugin is asked (typed) to list the issues; the model's
// list_issues call shows the tracker's view in a sandboxed frame next to
// the call, fed the call's result; the plugin's "Issues" panel opens
// above the chat. The panel's own "New issue" button asks the host to
// call create_issue: the call waits in the chat for a person like any
// call, is approved, and the panel then lists the new issue. Closing the
// panel gives it its teardown first; reopened, it is answered once.
// The frames cannot reach the page: they are opaque origins (no
// allow-same-origin) under the policy the view declared. Run by ui-dioxus/tests/app/app_views.rs, which checks
// what the daemon recorded.
//
// Usage: node app_views.mjs URL TOKEN_FILE ARTIFACT_DIR STUDIO DATA_DIR

import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { open } from './harness.mjs';

const [url, tokenFile, artifacts, studio, dataDir] = process.argv.slice(2);
if (!url || !tokenFile || !artifacts || !studio || !dataDir) {
  console.error('usage: node app_views.mjs URL TOKEN_FILE ARTIFACT_DIR STUDIO DATA_DIR');
  process.exit(2);
}
const token = (await readFile(tokenFile, 'utf8')).trim();
const { browser, page, step, tab } = await open(artifacts, 'app-views');

const PER_KEY_MS = 50;
const frameOf = (selector) => page.frameLocator(selector);

await step('a-chat-with-the-tracker-agent-opens-while-runs-stream', async () => {
  const cli = (...args) => execFileSync(studio, ['--data-dir', dataDir, ...args], { stdio: 'pipe' });
  cli('agent', 'create', 'streamer', '--chunks', '30000', '--chunk-delay-ms', '10');
  for (let n = 0; n < 4; n += 1) cli('run', 'streamer', '--prompt', `load ${n}`, '--detach');
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  await page.locator('span.link.up').waitFor();
  await tab('Agents').click();
  await page.locator('.card', { hasText: 'viewer' }).getByRole('button', { name: 'Start session' }).click();
  await page.locator('.chat h3', { hasText: 'viewer' }).waitFor();
  await page.locator('.chat span.status.idle').waitFor();
});

await step('the-models-call-shows-its-view-with-the-result', async () => {
  const box = page.locator('textarea[name=message]');
  await box.click();
  const text = 'list the issues';
  await page.keyboard.type(text, { delay: PER_KEY_MS });
  await page.waitForTimeout(300);
  if ((await box.inputValue()) !== text) throw new Error(`the box holds ${await box.inputValue()}`);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.msg.tool.done', { hasText: 'tracker.list_issues' }).waitFor();
  const frame = page.locator('.messages .app-view iframe');
  await frame.waitFor();
  if ((await frame.getAttribute('sandbox')) !== 'allow-scripts') throw new Error('the view is not sandboxed');
  const view = frameOf('.messages .app-view iframe');
  await view.locator('h1', { hasText: 'Issues' }).waitFor();
  // Fed the call's result: an empty list, drawn as such.
  await view.locator('#issues').waitFor({ state: 'attached' });
  // The view cannot reach the page it is in.
  const reached = await frame.evaluate((f) => {
    try {
      return String(f.contentWindow.document.body.innerHTML.length);
    } catch (err) {
      return 'refused';
    }
  });
  if (reached !== 'refused') throw new Error('the page could read into the view: it is not an opaque origin');
  await page.locator('.chat span.status.idle').waitFor();
});

await step('the-panels-button-asks-and-the-approved-call-shows-in-it', async () => {
  await page.getByRole('button', { name: 'Open Issues' }).click();
  const panel = frameOf('.panels .app-view iframe');
  await panel.locator('h1', { hasText: 'Issues' }).waitFor();
  await panel.getByRole('button', { name: 'New issue' }).click();
  await page.locator('.msg.notice', { hasText: 'a view asks to call tracker.create_issue' }).waitFor();
  const asking = page.locator('.msg.tool.asking', { hasText: 'tracker.create_issue' });
  await asking.waitFor();
  await page.screenshot({ path: `${artifacts}/app-views-asking.png` });
  await asking.getByRole('button', { name: 'Approve once' }).click();
  await page.locator('.msg.tool.done', { hasText: 'tracker.create_issue' }).waitFor();
  // The view lists the issues again (its own second call, allowed by the
  // plugin's rule) and shows the new one.
  await panel.locator('#issues li', { hasText: '#1 Filed from the panel' }).waitFor();
});

await step('closing-the-panel-tears-it-down', async () => {
  await page.getByRole('button', { name: 'Close Issues' }).click();
  await page.locator('.panels .app-view').waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Open Issues' }).waitFor();
});

await step('a-reopened-panel-is-answered-once', async () => {
  // The closed panel's host must be gone: a second one answering the same
  // frame would answer every request twice.
  for (let round = 0; round < 2; round += 1) {
    await page.getByRole('button', { name: 'Open Issues' }).click();
    const panel = frameOf('.panels .app-view iframe');
    await panel.locator('h1', { hasText: 'Issues' }).waitFor();
    await page.waitForTimeout(500);
    const unasked = await panel.locator('body').getAttribute('data-unasked');
    if (unasked !== null) throw new Error(`the reopened panel got ${unasked} answers it never asked for`);
    await page.getByRole('button', { name: 'Close Issues' }).click();
    await page.locator('.panels .app-view').waitFor({ state: 'detached' });
  }
});

await browser.close();
console.log('all steps passed');
