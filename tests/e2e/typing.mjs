// Types into the app's browser view (studio-ui --web) as a person does,
// with real key events 50 ms apart, while runs stream: the chat box, the
// command palette, the new-agent form (with a daily cap and a workspace
// per run with its setup) and the run form's group (its name, caps and
// checks) must each hold exactly what was
// typed, and what they send must be exactly that; so must Settings'
// traces form (an OTLP endpoint and a header). The Inspector's session
// search finds the chat by its title and renames it. The palette is used
// from the keyboard alone: focused on open, arrows, Enter, Escape, and an
// empty state. Run by
// ui-dioxus/tests/app/typing.rs, which starts the daemon, the agents
// `listener` (answers chats) and `writer`, and the streaming runs.
//
// The browser reaches the app through a tunnel of our own on TUNNEL_PORT
// that holds every chunk for 60 ms each way, as an SSH tunnel to a remote
// machine does: a key must survive the renders still on their way.
//
// Usage: node typing.mjs URL TOKEN_FILE ARTIFACT_DIR TUNNEL_PORT
// Exits 1 with the failing step on the first failure; screenshots of each
// step go to ARTIFACT_DIR.

import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { open } from './harness.mjs';

const [direct, tokenFile, artifacts, tunnelPort] = process.argv.slice(2);
if (!direct || !tokenFile || !artifacts || !tunnelPort) {
  console.error('usage: node typing.mjs URL TOKEN_FILE ARTIFACT_DIR TUNNEL_PORT');
  process.exit(2);
}

// Forwards 127.0.0.1:TUNNEL_PORT to the app, each chunk 60 ms late, in
// order, both ways.
const LATENCY_MS = 60;
const target = new URL(direct);
function later(from, to) {
  let last = 0;
  from.on('data', (chunk) => {
    const at = Math.max(Date.now() + LATENCY_MS, last);
    last = at;
    setTimeout(() => to.write(chunk), at - Date.now());
  });
  from.on('end', () => setTimeout(() => to.end(), LATENCY_MS));
  from.on('error', () => to.destroy());
}
const tunnel = net.createServer((client) => {
  const app = net.connect(Number(target.port), target.hostname);
  later(client, app);
  later(app, client);
});
await new Promise((resolve) => tunnel.listen(Number(tunnelPort), '127.0.0.1', resolve));
const url = `http://127.0.0.1:${tunnelPort}`;
const token = (await readFile(tokenFile, 'utf8')).trim();

const { browser, context, page, step, tab } = await open(artifacts, 'typing');
await context.grantPermissions(['clipboard-read', 'clipboard-write']);

const PER_KEY_MS = 50;

// Types `text` into the focused field, a key every 50 ms, then waits for
// the app to settle and checks the field holds exactly `text`.
async function typeInto(field, text) {
  await page.keyboard.type(text, { delay: PER_KEY_MS });
  // Late renders are what overwrote keys: give them time to arrive.
  await page.waitForTimeout(1500);
  const held = await field.inputValue();
  if (held !== text) throw new Error(`typed ${JSON.stringify(text)}, the field holds ${JSON.stringify(held)}`);
}

await step('sign-in', async () => {
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  await page.locator('span.link.up').waitFor();
  // The runs are streaming before the first key.
  await tab('Runs').click();
  await page.locator('span.status.running').first().waitFor();
});

const CHAT = 'the quick brown fox jumps over the lazy dog';
await step('chat', async () => {
  await tab('Agents').click();
  await page.locator('.card', { hasText: 'listener' }).getByRole('button', { name: 'Start session' }).click();
  await page.locator('.chat span.status.idle').waitFor();
  const box = page.locator('textarea[name=message]');
  await box.click();
  await typeInto(box, CHAT);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.msg.user').first().waitFor();
  const sent = (await page.locator('.msg.user .text').first().textContent()).trim();
  if (sent !== CHAT) throw new Error(`sent ${JSON.stringify(sent)}`);
  // After sending the box is empty and keeps the focus for the next one.
  await page.locator('.chat span.status.idle').waitFor();
  if ((await box.inputValue()) !== '') throw new Error('the box kept the sent text');
  const NEXT = 'thanks! now summarise';
  await typeInto(box, NEXT);
  await page.keyboard.press('Control+Enter');
  await page.locator('.msg.user', { hasText: 'summarise' }).waitFor();
  const second = (await page.locator('.msg.user .text').last().textContent()).trim();
  if (second !== NEXT) throw new Error(`sent ${JSON.stringify(second)}`);
});

// The Inspector finds the chat by words of its title (its first message),
// from the keyboard, and renames it; the rename is typed too.
const TITLE = 'Fox notes, kept';
await step('picker', async () => {
  await tab('Inspector').click();
  const find = page.locator('input[name=session]');
  // "/" focuses the page's search, in the page itself: the keys that
  // follow at once all land in it.
  await find.waitFor();
  await page.keyboard.press('/');
  await typeInto(find, 'quick brown');
  const found = page.locator('.session-search li[role=option]');
  if ((await found.count()) !== 1) throw new Error(`${await found.count()} sessions match "quick brown"`);
  await page.locator('.session-search li.selected', { hasText: CHAT }).waitFor();
  await page.screenshot({ path: `${artifacts}/typing-picker-open.png` });
  await page.keyboard.press('Enter');
  await page.locator('.title-line h2.title', { hasText: CHAT }).waitFor();
  // F2 renames.
  await page.keyboard.press('F2');
  const title = page.locator('input[name=title]');
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'title');
  await page.keyboard.press('Control+a');
  await page.keyboard.press('Delete');
  await typeInto(title, TITLE);
  await page.keyboard.press('Enter');
  await page.locator('.title-line h2.title', { hasText: TITLE }).waitFor();
  await page.screenshot({ path: `${artifacts}/typing-renamed.png` });
  // The short id copies the full one.
  const id = page.locator('.title-line button.id');
  const full = await id.getAttribute('data-id');
  if (!full.endsWith(await id.textContent())) throw new Error(`short id ${await id.textContent()} of ${full}`);
  await id.click();
  await page.locator('.title-line button.id.copied').waitFor();
  // The button says "copied" at the click; the page's clipboard write
  // resolves a moment later.
  const arrived = await page
    .waitForFunction(async (want) => (await navigator.clipboard.readText()) === want, full, { timeout: 5000 })
    .then(() => true, () => false);
  if (!arrived) {
    const copied = await page.evaluate(() => navigator.clipboard.readText());
    throw new Error(`copied ${JSON.stringify(copied)}, not ${full}`);
  }
});

// Opens the palette from the keyboard; it takes the focus.
async function openPalette() {
  await page.locator('.app').focus();
  await page.keyboard.press('Control+k');
  const query = page.locator('input[name=palette]');
  await query.waitFor();
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'palette');
  return query;
}

await step('palette', async () => {
  // Typing goes straight in, every key of it.
  let query = await openPalette();
  await typeInto(query, 'run writer');
  await page.keyboard.press('Enter');
  await page.locator('nav button.active', { hasText: 'Runs' }).waitFor();
  // Nothing found says so; Escape closes.
  query = await openPalette();
  await typeInto(query, 'zzqx');
  await page.locator('.palette li.empty', { hasText: 'Nothing matches “zzqx”' }).waitFor();
  await page.keyboard.press('Escape');
  await query.waitFor({ state: 'detached' });
  // The arrows choose (Agents, Sessions, Runs...: down, down, up is
  // Sessions), each page shows its shortcut, and Enter runs the choice.
  query = await openPalette();
  await typeInto(query, 'go');
  const hint = await page.locator('.palette li', { hasText: 'Go to Runs' }).locator('kbd').textContent();
  if (hint !== 'Ctrl+3') throw new Error(`Go to Runs shows ${JSON.stringify(hint)}`);
  for (const key of ['ArrowDown', 'ArrowDown', 'ArrowUp']) {
    await page.keyboard.press(key);
    await page.waitForTimeout(150);
  }
  await page.locator('.palette li.selected', { hasText: 'Go to Sessions' }).waitFor();
  await page.screenshot({ path: `${artifacts}/typing-palette-open.png` });
  await page.keyboard.press('Enter');
  await page.locator('nav button.active', { hasText: 'Sessions' }).waitFor();
  await query.waitFor({ state: 'detached' });
});

const NAME = 'typed-by-hand';
const PROMPT = 'You answer in one short sentence, and you never guess.';
await step('form', async () => {
  await tab('Agents').click();
  await page.getByRole('button', { name: 'New agent' }).click();
  const name = page.locator('input[name=name]');
  await name.click();
  await typeInto(name, NAME);
  const prompt = page.locator('textarea[name=system_prompt]');
  await prompt.click();
  await typeInto(prompt, PROMPT);
  const daily = page.locator('input[name=daily_usd]');
  await daily.click();
  await typeInto(daily, '4.5');
  // A workspace of its own per run, with its setup command.
  const workspace = page.locator('input[name=workspace]');
  await workspace.click();
  await typeInto(workspace, '/srv/typed-project');
  await page.locator('input[name=workspace_per_run]').check();
  const setup = page.locator('input[name=setup]');
  await setup.click();
  await typeInto(setup, 'npm ci --quiet && make build');
  // Where its sessions run: a Slurm partition.
  const runsOn = page.locator('input[name=runs_on]');
  await runsOn.click();
  await typeInto(runsOn, 'slurm:gpu');
  await page.locator('.form').screenshot({ path: `${artifacts}/typing-agent-form.png` });
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('.card h3', { hasText: NAME }).waitFor();
});

// The run form's group: its name and caps typed while runs stream; the
// form says how many runs start and the caps they start under.
await step('group-form', async () => {
  await tab('Runs').click();
  await page.locator('h1.page-title', { hasText: 'Runs' }).waitFor();
  const toggle = page.locator('.toolbar button.toggle', { hasText: /New runs|Hide the new-runs form/ });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await page.selectOption('select[name=agent]', 'writer');
  const fields = [
    ['textarea[name=prompt]', 'three short lines'],
    ['input[name=group_name]', 'typed group'],
    ['input[name=group_usd]', '2.5'],
    ['input[name=group_runs]', '5'],
    ['input[name=check_contains]', 'a typed check'],
    ['input[name=check_command]', 'test -n "$PWD" && true'],
    ['input[name=check_judge]', 'writer:6'],
  ];
  for (const [selector, text] of fields) {
    const field = page.locator(selector);
    await field.click();
    await typeInto(field, text);
  }
  const count = page.locator('input[name=count]');
  await count.click();
  await page.keyboard.press('Control+a');
  await typeInto(count, '3');
  await page.locator('.form p.planned', { hasText: 'Starts 3 run(s) as one group.' }).waitFor();
  await page.locator('.form p.caps', { hasText: 'group cap: $2.50, 5 runs' }).waitFor();
  await page.locator('.form').screenshot({ path: `${artifacts}/typing-group-form.png` });
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('tr.batch', { hasText: 'typed group' }).filter({ hasText: 'group of 3' }).waitFor();
});

// Settings' traces form: the endpoint, a header and its value (a secret,
// never shown back) typed while runs stream, then sent to the daemon.
const OTLP_URL = 'http://127.0.0.1:9/v1/traces';
const OTLP_SECRET = 'typed-s3cret-value';
await step('traces-form', async () => {
  await tab('Settings').click();
  await page.locator('nav.sections button[data-section=settings-traces]').click();
  for (const [selector, text] of [
    ['input[name=otlp_url]', OTLP_URL],
    ['input[name=otlp_header]', 'x-typed-key'],
    ['input[name=otlp_header_value]', OTLP_SECRET],
  ]) {
    const field = page.locator(selector);
    await field.click();
    await typeInto(field, text);
  }
  await page.getByRole('button', { name: 'Send traces' }).click();
  await page.locator('table.otlp-status', { hasText: OTLP_URL }).filter({ hasText: 'x-typed-key' }).waitFor();
  const held = await page.locator('input[name=otlp_header_value]').inputValue();
  if (held !== '') throw new Error(`the header's value stays in its field: ${JSON.stringify(held)}`);
  if ((await page.content()).includes(OTLP_SECRET)) throw new Error("the header's value is in the page");
  await page.locator('#settings-traces').screenshot({ path: `${artifacts}/typing-traces-form.png` });
});

// The template gallery: a new name typed into the Code Reviewer card,
// without a key, then Use: the agent appears among the cards.
await step('template-gallery', async () => {
  await tab('Agents').click();
  await page.getByRole('button', { name: 'Templates' }).click();
  const card = page.locator('.card.template[data-template=code-reviewer]');
  await card.locator('p.asks, ul.asks').first().waitFor();
  const name = card.locator('input[name=template_name_code-reviewer]');
  await name.click();
  await page.keyboard.press('Control+a');
  await typeInto(name, 'typed-reviewer');
  await card.locator('input[name=template_scripted_code-reviewer]').check();
  await card.screenshot({ path: `${artifacts}/typing-template-card.png` });
  await card.getByRole('button', { name: 'Use' }).click();
  await page.locator('.cards > .card:not(.template) h3', { hasText: 'Code Reviewer' }).waitFor();
});

// Cards keep their width in a wider window, and Delete's Keep stays
// inside its card, clickable (a click on a covered button times out).
await step('cards', async () => {
  await tab('Agents').click();
  const width = async () => (await page.locator('.card').first().boundingBox()).width;
  const narrow = await width();
  await page.setViewportSize({ width: 1900, height: 900 });
  await page.waitForTimeout(300);
  const wide = await width();
  if (wide < narrow) throw new Error(`cards got narrower in a wider window: ${narrow} -> ${wide}`);
  await page.setViewportSize({ width: 1280, height: 900 });
  const card = page.locator('.card', { hasText: 'listener' });
  await card.getByRole('button', { name: 'Delete', exact: true }).click();
  const keep = card.getByRole('button', { name: 'Keep' });
  const [box, inside] = [await keep.boundingBox(), await card.boundingBox()];
  if (box.x + box.width > inside.x + inside.width + 1) throw new Error('Keep sticks out of its card');
  await keep.click({ timeout: 5000 });
  await card.getByRole('button', { name: 'Delete', exact: true }).waitFor();
  await card.getByRole('button', { name: 'Keep' }).waitFor({ state: 'detached' });
  await page.screenshot({ path: `${artifacts}/typing-cards-wide.png` });
});

await browser.close();
tunnel.close();
console.log('all steps passed');
process.exit(0);
