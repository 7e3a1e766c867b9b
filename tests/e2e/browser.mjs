// Drives the app's browser view (studio-ui --web) in Debian's Chromium with
// playwright-core, against a real daemon with scripted agents: sign in
// (?token= leaves the URL, the cookie is a session id, not the token),
// create and edit an agent (adding and removing a rule for it from its
// form), start runs and kill one, approve from the inbox, search
// the Inspector and branch from an event, replay a turn with a changed
// prompt and compare it with its original, replay one as a chat with
// another model, export a transcript, run a batch file and one of its
// runs again, chat with inline approval, end and resume,
// store a key (never shown back), add and remove a rule, add an MCP server
// with the form and import one (secrets never shown back), set and reset a
// price, the palette, the daemon's run limit, the README's screenshots of
// each page (docs/screenshots/), sign out (a second tab's
// socket closes, the old cookie is refused) and in with the form. Run by
// ui-dioxus/tests/app/browser.rs, which prepares the daemon and the agents
// `slow` (runs for a few seconds) and `asker` (asks to run fs.list).
//
// Usage: node browser.mjs URL TOKEN_FILE ARTIFACT_DIR
// Exits 1 with the failing step on the first failure; screenshots of each
// step go to ARTIFACT_DIR.

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { open } from './harness.mjs';

const [url, tokenFile, artifacts] = process.argv.slice(2);
if (!url || !tokenFile || !artifacts) {
  console.error('usage: node browser.mjs URL TOKEN_FILE ARTIFACT_DIR');
  process.exit(2);
}
const token = (await readFile(tokenFile, 'utf8')).trim();

const { browser, context, page, step, tab } = await open(artifacts, 'web');
const statuses = (word) => page.locator(`span.status.${word}`);
// The Runs page's form opens behind a button.
async function openRunForm() {
  await tab('Runs').click();
  await page.locator('h1.page-title', { hasText: 'Runs' }).waitFor();
  const toggle = page.locator('.toolbar button.toggle', { hasText: /New runs|Hide the new-runs form/ });
  if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await page.locator('select[name=agent]').waitFor();
}

await step('sign-in', async () => {
  const refused = await page.goto(`${url}/app?token=wrong`);
  if (refused.status() !== 401) throw new Error(`a wrong token got HTTP ${refused.status()}`);
  // ?token= signs in and leaves the address bar: the answer redirects to
  // the bare path, and the cookie holds a session id, not the token.
  await page.goto(`${url}/app?token=${encodeURIComponent(token)}`);
  if (page.url() !== `${url}/app`) throw new Error(`the page is at ${page.url()}`);
  await page.locator('span.link.up').waitFor();
  await page.waitForFunction(() => document.title === 'AI Studio');
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'studio_session');
  if (!session) throw new Error(`no studio_session cookie, only: ${cookies.map((c) => c.name)}`);
  if (session.value === token || cookies.some((c) => c.value.includes(token))) {
    throw new Error('a cookie holds the token');
  }
  if (!session.httpOnly || session.sameSite !== 'Strict') {
    throw new Error(`the session cookie is ${JSON.stringify(session)}`);
  }
});

// A form shows every problem at once, each next to its field.
await step('form-problems', async () => {
  await tab('Agents').click();
  await page.getByRole('button', { name: 'New agent' }).click();
  const typeInto = async (name, text) => {
    await page.locator(`input[name=${name}]`).click();
    await page.keyboard.type(text, { delay: 30 });
  };
  await typeInto('name', '.hidden');
  await typeInto('max_tokens', 'lots');
  await typeInto('max_cost_usd', '-1');
  await page.getByRole('button', { name: 'Create' }).click();
  for (const field of ['name', 'max_tokens', 'max_cost_usd']) {
    await page.locator(`.field-problem[data-for=${field}]`).waitFor();
  }
  await page.locator('.form p.problem', { hasText: '3 problems' }).waitFor();
  await page.screenshot({ path: `${artifacts}/web-form-problems-shown.png` });
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.locator('.field-problem').first().waitFor({ state: 'detached' });
});

await step('create-agent', async () => {
  await tab('Agents').click();
  await page.getByRole('button', { name: 'New agent' }).click();
  await page.fill('input[name=name]', 'made-in-browser');
  await page.fill('textarea[name=system_prompt]', 'Be brief.');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.locator('.card h3', { hasText: 'made-in-browser' }).waitFor();
  // Edit it: the form starts from the agent, and the change is stored.
  const card = page.locator('.card', { hasText: 'made-in-browser' });
  await card.getByRole('button', { name: 'Edit' }).click();
  const prompt = card.locator('textarea[name=system_prompt]');
  if ((await prompt.inputValue()) !== 'Be brief.') throw new Error('the edit form did not start from the agent');
  await prompt.fill('Be terse.');
  await card.getByRole('button', { name: 'Save' }).click();
  await card.locator('textarea[name=system_prompt]').waitFor({ state: 'detached' });
  await card.getByRole('button', { name: 'Edit' }).click();
  await page.waitForFunction(() =>
    document.querySelector('.card textarea[name=system_prompt]')?.value === 'Be terse.');
  // A rule for it from the edit form waits for Save: Cancel drops it, and
  // after Save it is listed in the form and in Settings' rules for this
  // agent; removing it also waits for Save.
  const rules = card.locator('fieldset.rules');
  const row = rules.locator('tr', { hasText: 'shell:command=make *' });
  const addRule = async () => {
    await rules.getByText('No rules for this agent.').waitFor();
    await rules.locator('input[name=rule_match]').fill('shell:command=make *');
    await rules.locator('select[name=rule_decision]').selectOption('deny');
    await rules.locator('input[name=rule_priority]').fill('7');
    await rules.getByRole('button', { name: 'Add rule' }).click();
    await row.locator('td', { hasText: 'added on save' }).waitFor();
  };
  await addRule();
  await card.getByRole('button', { name: 'Cancel' }).click();
  await card.getByRole('button', { name: 'Edit' }).click();
  await addRule();
  await card.getByRole('button', { name: 'Save' }).click();
  await rules.waitFor({ state: 'detached' });
  await card.getByRole('button', { name: 'Edit' }).click();
  await row.locator('td', { hasText: 'priority 7' }).waitFor();
  const cells = await row.locator('td').allTextContents();
  if (cells[1] !== 'deny' || cells[3].includes('on save')) {
    throw new Error(`the form's stored rule row reads ${cells.join(' | ')}`);
  }
  await row.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${artifacts}/web-agent-rule.png` });
  await card.getByRole('button', { name: 'Cancel' }).click();
  await tab('Settings').click();
  await page.locator('tr', { hasText: 'shell:command=make *' })
    .locator('td', { hasText: 'made-in-browser' }).waitFor();
  await tab('Agents').click();
  await card.getByRole('button', { name: 'Edit' }).click();
  await row.getByRole('button', { name: 'Remove' }).click();
  await row.locator('td', { hasText: 'removed on save' }).waitFor();
  await card.getByRole('button', { name: 'Save' }).click();
  await rules.waitFor({ state: 'detached' });
  await card.getByRole('button', { name: 'Edit' }).click();
  await rules.getByText('No rules for this agent.').waitFor();
  await card.getByRole('button', { name: 'Cancel' }).click();
});

await step('runs-kill-one', async () => {
  await openRunForm();
  await page.selectOption('select[name=agent]', 'slow');
  await page.fill('textarea[name=prompt]', 'from the browser');
  await page.fill('input[name=count]', '3');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.waitForFunction(() => document.querySelectorAll('span.status.running').length === 3);
  await page.locator('tr', { has: page.locator('span.status.running') })
    .first().getByRole('button', { name: 'Kill' }).click();
  await statuses('killed').first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('span.status.completed').length === 2, null,
    { timeout: 60_000 });
  if (await statuses('killed').count() !== 1) throw new Error('not exactly one run killed');
});

await step('approve-inline', async () => {
  await page.selectOption('select[name=agent]', 'asker');
  await page.fill('textarea[name=prompt]', 'list the files');
  await page.fill('input[name=count]', '1');
  await page.selectOption('select[name=ask]', 'wait:300');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('section.inbox', { hasText: 'fs.list' }).waitFor();
  // The waiting call shows on every page and in the tab's title.
  await tab('Agents').click();
  await page.waitForFunction(() => document.title === 'AI Studio · 1 waiting for you');
  await page.locator('nav button.waiting', { hasText: '1 waiting for you' }).click();
  // The button takes us to the Runs page: click Approve there, not on the
  // page being replaced (a click on a node swapped out under it is lost).
  await page.locator('nav button.active', { hasText: 'Runs' }).waitFor();
  await page.getByRole('button', { name: 'Approve once' }).click();
  await page.waitForFunction(() => document.querySelectorAll('span.status.completed').length === 3, null,
    { timeout: 60_000 });
  await page.locator('section.inbox').waitFor({ state: 'detached' });
  await page.waitForFunction(() => document.title === 'AI Studio');
});

await step('inspect-search', async () => {
  await page.locator('tr', { has: page.locator('span.status.completed') })
    .first().getByRole('button', { name: 'Inspect' }).click();
  await page.locator('.inspector .stats').waitFor();
  await page.locator('.timeline .row .name', { hasText: 'session.completed' }).waitFor();
  // The tool call is one collapsed row; its toggle opens it.
  const call = page.locator('.timeline .row', { hasText: 'tool.requested …' }).first();
  await call.waitFor();
  const collapsed = await page.locator('.timeline .row').count();
  await call.locator('button.expand').click();
  await page.waitForFunction((n) => document.querySelectorAll('.timeline .row').length > n, collapsed);
  await page.fill('input[name=search]', 'tool.approved');
  // The search applies once the server has re-rendered: wait for one row.
  await page.waitForFunction(() => document.querySelectorAll('.timeline .row').length === 1);
  await page.locator('.timeline .row .name', { hasText: 'tool.approved' }).waitFor();
  await page.locator('.timeline .row').first().click();
  await page.locator('.detail h4', { hasText: 'tool.approved' }).waitFor();
  // The detail is the whole call: its input, who approved it, its output.
  await page.locator('.detail h5', { hasText: 'Input' }).waitFor();
  await page.locator('.detail pre', { hasText: 'approved by' }).waitFor();
  await page.locator('.detail h5', { hasText: 'Output' }).waitFor();
  // The picker names the inspected session, by its short id.
  const picked = (await page.locator('.title-line button.id').textContent()).trim();
  if (picked.length !== 8) throw new Error(`the picker names ${JSON.stringify(picked)}`);
  // Branch from the selected event: a new chat opens on the Sessions page,
  // and its row names the session and event it came from.
  await page.locator('.detail').getByRole('button', { name: 'Branch from here' }).click();
  await page.locator('.chat span.status.idle').waitFor();
  await page.locator('tr', { hasText: picked }).locator('span.muted', { hasText: 'at #' }).waitFor();
  // The chat shows what was said before the branch point, dimmed.
  await page.locator('.chat .inherited .msg.user').first().waitFor();
  await page.screenshot({ path: `${artifacts}/web-branch.png` });
  await page.getByRole('button', { name: 'End', exact: true }).click();
  await page.locator('.msg.notice', { hasText: 'ended: session.completed' }).waitFor();
});

// Replay from an event of a finished run, with the turn's message typed
// anew: the new run opens in the Inspector, names its origin, completes.
await step('replay', async () => {
  await tab('Runs').click();
  await page.locator('tr', { hasText: 'from the browser' }).filter({ has: page.locator('span.status.completed') })
    .first().getByRole('button', { name: 'Inspect' }).click();
  await page.locator('.timeline .row .name', { hasText: 'message.user' }).click();
  await page.locator('.detail h4', { hasText: 'message.user' }).waitFor();
  await page.locator('input[name=replay_prompt]').click();
  await page.keyboard.type('from the replay', { delay: 20 });
  await page.getByRole('button', { name: 'Replay from here' }).click();
  const line = page.locator('.title-line', { hasText: 'from the replay' });
  await line.locator('.lineage', { hasText: 'goes on from' }).waitFor();
  // The run was one of a group's attempts (`#2`): the label says so first.
  await line.locator('.label', { hasText: /^#\d \(replay from #\d+; prompt\)$/ }).waitFor();
  await line.locator('span.status.completed').waitFor({ timeout: 60_000 });
  await page.screenshot({ path: `${artifacts}/web-replay.png` });
});

// The replay next to its original: the row where they part is marked, the
// changed words are a diff, and each figure has its delta.
await step('compare', async () => {
  await page.locator('.session-actions').getByRole('button', { name: 'Compare with its origin' }).click();
  const first = page.locator('.compare table.steps tr.parted.first');
  await first.waitFor();
  await first.locator('del', { hasText: 'browser' }).waitFor();
  await first.locator('ins', { hasText: 'replay' }).waitFor();
  await page.locator('.compare table.figures tr', { hasText: 'cost usd' }).locator('.delta').waitFor();
  await page.locator('.compare .divergence', { hasText: 'They part at row' }).waitFor();
  await page.screenshot({ path: `${artifacts}/web-compare.png` });
  // Two runs ticked in the Runs list compare the same way.
  await tab('Runs').click();
  const done = page.locator('table.runs tr', { hasText: 'from the browser' }).filter({ has: page.locator('span.status.completed') });
  await done.nth(0).locator('input.compare-tick').check();
  await done.nth(1).locator('input.compare-tick').check();
  await page.getByRole('button', { name: 'Compare the 2 ticked' }).click();
  await page.locator('.compare .divergence').waitFor();
  if (await page.locator('.compare table.figures thead th').count() !== 3) {
    throw new Error('not two sessions side by side');
  }
});

// The replay of a turn as a chat with another model: it opens on the
// Sessions page, its turn said and answered.
await step('replay-as-chat', async () => {
  await tab('Runs').click();
  await page.locator('table.runs tr', { hasText: 'from the browser' }).filter({ has: page.locator('span.status.completed') })
    .first().getByRole('button', { name: 'Inspect' }).click();
  await page.locator('.timeline .row .name', { hasText: 'message.user' }).click();
  await page.locator('input[name=replay_model]').click();
  await page.keyboard.type('scripted-2', { delay: 20 });
  await page.getByRole('button', { name: 'as a chat' }).click();
  await page.locator('.chat h3', { hasText: 'slow' }).waitFor();
  await page.locator('.chat .msg.user', { hasText: 'from the browser' }).waitFor();
  // Its turn answered whole (not the idle before the turn was said).
  await page.locator('.chat .msg.assistant:not(.streaming)').first().waitFor({ timeout: 60_000 });
  await page.locator('.chat span.status.idle').waitFor({ timeout: 60_000 });
  await page.screenshot({ path: `${artifacts}/web-replay-as-chat.png` });
  await page.getByRole('button', { name: 'End', exact: true }).click();
  await page.locator('.msg.notice', { hasText: 'ended: session.completed' }).waitFor();
});

// A turn played from the recording: the new run is labelled so and
// completes with the recorded answer, the model not asked again.
await step('replay-from-tape', async () => {
  await tab('Runs').click();
  await page.locator('table.runs tr', { hasText: 'from the browser' }).filter({ has: page.locator('span.status.completed') })
    .first().getByRole('button', { name: 'Inspect' }).click();
  await page.locator('.timeline .row .name', { hasText: 'message.user' }).click();
  await page.locator('input[name=replay_tape]').check();
  await page.getByRole('button', { name: 'Replay from here' }).click();
  const line = page.locator('.title-line', { has: page.locator('.label', { hasText: 'from the tape)' }) });
  await line.locator('span.status.completed').waitFor({ timeout: 60_000 });
  await page.locator('.timeline .row .name', { hasText: 'replay.diverged' }).waitFor({ state: 'detached' });
});

// Export from the Inspector: the browser downloads a Markdown transcript
// and the JSON lines `studio export` writes.
await step('export', async () => {
  await tab('Runs').click();
  await page.locator('table.runs tr', { hasText: 'from the replay' }).first().getByRole('button', { name: 'Inspect' }).click();
  const [markdown] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export Markdown' }).click(),
  ]);
  if (!markdown.suggestedFilename().endsWith('.md')) throw new Error(`named ${markdown.suggestedFilename()}`);
  const text = await readFile(await markdown.path(), 'utf8');
  for (const part of ['# from the replay', '## Figures', '### You', 'from the replay', '**session.completed**']) {
    if (!text.includes(part)) throw new Error(`the transcript lacks ${JSON.stringify(part)}:\n${text}`);
  }
  await page.locator('.export-saved', { hasText: 'downloaded as' }).waitFor();
  const [lines] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export JSON lines' }).click(),
  ]);
  const first = JSON.parse((await readFile(await lines.path(), 'utf8')).split('\n')[0]);
  if (first.export !== 'ai-studio.session') throw new Error(`the first line is ${JSON.stringify(first)}`);
});

// Delete says what goes and asks; Keep keeps; Delete deletes, and every
// list drops the session.
await step('delete', async () => {
  await page.getByRole('button', { name: 'Delete…' }).click();
  const asked = page.locator('.confirm-delete');
  await asked.waitFor();
  const text = await asked.textContent();
  if (!text.includes('Delete this session: ') || !text.includes('cannot be undone')) {
    throw new Error(`the confirmation reads ${JSON.stringify(text)}`);
  }
  await page.locator('.session-actions').screenshot({ path: `${artifacts}/web-delete-asked.png` });
  await asked.getByRole('button', { name: 'Keep' }).click();
  await asked.waitFor({ state: 'detached' });
  await page.getByRole('button', { name: 'Delete…' }).click();
  await page.locator('.confirm-delete').getByRole('button', { name: 'Delete', exact: true }).click();
  await tab('Runs').click();
  await page.locator('table.runs tr', { hasText: 'from the replay' }).first().waitFor({ state: 'detached' });
});

await step('batch-file', async () => {
  await openRunForm();
  await page.selectOption('select[name=agent]', 'slow');
  // A file with a bad line starts nothing and says which line.
  const bad = `${artifacts}/bad-batch.jsonl`;
  await writeFile(bad, '{"prompt":"fine"}\n{"promt":"typo"}\n');
  await page.fill('input[name=batch_path]', bad);
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('.form .problem', { hasText: 'line 2' }).waitFor();
  // A good one runs every line, one at a time, each shown with its label.
  const good = `${artifacts}/batch.jsonl`;
  const line = (n) => JSON.stringify({ prompt: `batch ${n}`, label: `batch-${n}`, script: { chunks: 2, chunk_delay_ms: 10 } });
  await writeFile(good, [1, 2, 3].map(line).join('\n') + '\n');
  await page.fill('input[name=batch_path]', good);
  await page.fill('input[name=parallel]', '1');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('.form p.muted', { hasText: 'queued 3 run(s)' }).waitFor();
  for (const n of [1, 2, 3]) {
    const row = page.locator('tr', { hasText: `batch-${n}` });
    await row.locator('span.status.completed').waitFor({ timeout: 60_000 });
    // Each run's tokens and cost are shown in its row.
    await row.locator('td.num', { hasText: ' out' }).waitFor();
    await row.locator('td.num', { hasText: '$' }).waitFor();
  }
  // Lines pasted in instead of a file (from a browser, the file may be on
  // another machine).
  await page.fill('input[name=batch_path]', '');
  await page.fill('textarea[name=batch_text]', line('pasted') + '\n');
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('tr', { hasText: 'batch-pasted' }).locator('span.status.completed')
    .waitFor({ timeout: 60_000 });
  await page.fill('textarea[name=batch_text]', '');
  // "Run again" starts a finished run as it was started.
  await page.locator('tr', { hasText: 'batch-2' }).getByRole('button', { name: 'Run again' }).click();
  await page.locator('tr', { hasText: 'batch-2 (replay from #' }).locator('span.status.completed')
    .waitFor({ timeout: 60_000 });
  await page.fill('input[name=batch_path]', '');
});

// The table at work: the batch is one line with its progress, a click on
// a header sorts, the filters keep what they say, and the totals follow.
await step('runs-table', async () => {
  // A batch file's group is named by the file.
  const batch = page.locator('tr.batch', { hasText: 'batch.jsonl' });
  await batch.locator('.muted', { hasText: 'group of 3' }).waitFor();
  await batch.locator('.batch-progress', { hasText: '3/3 ended' }).waitFor();
  const rowsNow = () => page.locator('table.runs tbody tr').count();
  const open = await rowsNow();
  await batch.locator('button.expand').click();
  await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n - 3, open);
  await batch.locator('button.expand').click();
  await page.waitForFunction((n) => document.querySelectorAll('table.runs tbody tr').length === n, open);
  await page.locator('button.sort', { hasText: 'tokens' }).click();
  await page.locator('button.sort', { hasText: 'tokens ▼' }).waitFor();
  await page.locator('button.sort', { hasText: 'tokens ▼' }).click();
  await page.locator('button.sort', { hasText: 'tokens ▲' }).waitFor();
  await page.selectOption('select[name=status_filter]', 'failed, crashed or killed');
  await page.waitForFunction(() => [...document.querySelectorAll('table.runs tbody tr:not(.batch)')]
    .every((row) => row.querySelector('span.status.killed')));
  await page.locator('tfoot th', { hasText: 'Total of 1 of' }).waitFor();
  await page.selectOption('select[name=status_filter]', 'any status');
  await page.locator('input[name=run_filter]').click();
  await page.keyboard.type('batch-pasted', { delay: 40 });
  await page.locator('tfoot th', { hasText: 'Total of 1 of' }).waitFor();
  await page.locator('table.runs tbody tr', { hasText: 'batch-pasted' }).waitFor();
  await page.screenshot({ path: `${artifacts}/web-runs-filtered.png` });
  await page.keyboard.press('Control+a');
  await page.keyboard.press('Delete');
  await page.locator('tfoot th', { hasText: 'Total of all' }).waitFor();
});

// One prompt on two models, twice each, typed as a person types: one
// group, whose results table shows every run's answer, sorts, and marks
// the preferred run.
await step('group-results', async () => {
  await openRunForm();
  await page.selectOption('select[name=agent]', 'slow');
  const typeInto = async (selector, text) => {
    await page.locator(selector).click();
    await page.keyboard.press('Control+a');
    await page.keyboard.type(text, { delay: 30 });
  };
  await typeInto('textarea[name=prompt]', 'pick the best');
  await typeInto('input[name=count]', '2');
  await typeInto('input[name=models]', 'small, large');
  await typeInto('input[name=group_name]', 'sizes');
  await page.locator('.form p.planned', { hasText: 'Starts 4 run(s) as one group.' }).waitFor();
  await page.getByRole('button', { name: 'Start' }).click();
  await page.locator('.form p.muted', { hasText: 'queued 4 run(s) as one group' }).waitFor();
  const line = page.locator('tr.batch', { hasText: 'sizes' }).filter({ hasText: 'group of 4' });
  await line.getByRole('button', { name: 'Results' }).click();
  const results = page.locator('section.results');
  await results.locator('h3', { hasText: 'sizes' }).waitFor();
  // Live: the statuses follow the runs, and the answers come once they end.
  await results.locator('.results-totals', { hasText: '4 runs: 4 completed' }).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('section.results td.answer')]
    .filter((cell) => cell.textContent.length > 0).length === 4, null, { timeout: 30_000 });
  const models = await results.locator('tbody tr td:nth-child(5)').allTextContents();
  if (models.join(',') !== 'small,small,large,large') throw new Error(`models: ${models}`);
  const pick = results.locator('tbody tr', { hasText: 'large · #2' });
  await pick.getByRole('button', { name: 'Mark as the preferred result' }).click();
  await results.locator('tr.preferred', { hasText: 'large · #2' }).waitFor();
  await results.locator('button.sort', { hasText: 'label' }).click();
  await results.locator('button.sort', { hasText: 'label ▲' }).waitFor();
  await results.locator('button.sort', { hasText: 'label ▲' }).click();
  await results.locator('button.sort', { hasText: 'label ▼' }).waitFor();
  const first = await results.locator('tbody tr').first().textContent();
  if (!first.includes('small · #2')) throw new Error(`sorted by label, descending, first: ${first}`);
  await results.scrollIntoViewIfNeeded();
  await results.screenshot({ path: `${artifacts}/web-group-results-table.png` });
  // The group's results download whole, as CSV.
  const [csv] = await Promise.all([
    page.waitForEvent('download'),
    results.getByRole('button', { name: 'Export CSV' }).click(),
  ]);
  const rows = (await readFile(await csv.path(), 'utf8')).trim().split('\n');
  if (!rows[0].startsWith('group,group_name,run,') || rows.length !== 5 || !rows[1].includes(',sizes,')) {
    throw new Error(`the CSV reads ${JSON.stringify(rows.slice(0, 2))} (${rows.length} lines)`);
  }
  if (csv.suggestedFilename() !== `group-${(await results.locator('.results-head button.id').textContent()).trim()}.csv`) {
    throw new Error(`the file is called ${csv.suggestedFilename()}`);
  }
  // The preferred mark goes; Close closes the table.
  await results.locator('tr.preferred').getByRole('button', { name: 'Unmark the preferred result' }).click();
  await results.locator('tr.preferred').waitFor({ state: 'detached' });
  await results.getByRole('button', { name: 'Close' }).click();
  await results.waitFor({ state: 'detached' });
});

// Two attempts of an agent with a workspace per run, in a git repository:
// the results table shows what each changed; Apply brings the first's
// changes into the repository, and the second's, which now conflict, are
// refused with git's reason.
await step('apply', async () => {
  await openRunForm();
  await page.selectOption('select[name=agent]', 'coder');
  const typeInto = async (selector, text) => {
    await page.locator(selector).click();
    await page.keyboard.press('Control+a');
    await page.keyboard.type(text, { delay: 30 });
  };
  // What earlier steps left in the form goes first.
  for (const selector of ['input[name=models]', 'input[name=parallel]']) {
    await page.locator(selector).click();
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Backspace');
  }
  await typeInto('textarea[name=prompt]', 'append a line');
  await typeInto('input[name=count]', '2');
  await typeInto('input[name=group_name]', 'attempts');
  await typeInto('input[name=approve]', 'shell');
  await page.locator('.form p.planned', { hasText: 'Starts 2 run(s) as one group.' }).waitFor();
  await page.getByRole('button', { name: 'Start' }).click();
  const line = page.locator('tr.batch', { hasText: 'attempts' }).filter({ hasText: 'group of 2' });
  await line.getByRole('button', { name: 'Results' }).click();
  const results = page.locator('section.results');
  await results.locator('.results-totals', { hasText: '2 runs: 2 completed' }).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => [...document.querySelectorAll('section.results td.changes')]
    .filter((cell) => cell.textContent.startsWith('1 file +1 -0')).length === 2, null, { timeout: 30_000 });
  const rows = results.locator('tbody tr');
  await rows.nth(0).getByRole('button', { name: 'Apply' }).click();
  await results.locator('p.applied', { hasText: '1 file +1 -0 applied to' }).waitFor();
  await rows.nth(1).getByRole('button', { name: 'Apply' }).click();
  await results.locator('p.applied.problem', { hasText: 'do not apply' }).waitFor();
  await results.scrollIntoViewIfNeeded();
  await results.screenshot({ path: `${artifacts}/web-apply.png` });
  // Compared, the two attempts changed the same file the same way: their
  // results do not differ.
  const clear = page.getByRole('button', { name: 'Clear', exact: true });
  if (await clear.count()) await clear.first().click();
  await rows.nth(0).locator('input.compare-tick').check();
  await rows.nth(1).locator('input.compare-tick').check();
  await page.getByRole('button', { name: 'Compare the 2 ticked' }).click();
  const outcomes = page.locator('.compare table.figures');
  await outcomes.locator('tr.outcome', { hasText: 'notes.txt' }).waitFor();
  await outcomes.locator('button.diff-runs').click();
  await page.locator('.compare .changes-diff', { hasText: 'no changes apart' }).waitFor();
  await page.screenshot({ path: `${artifacts}/web-apply-compare.png` });
  await tab('Runs').click();
  await results.getByRole('button', { name: 'Close' }).click();
  await results.waitFor({ state: 'detached' });
});

// The theme toggle: system, light, dark; the dark one is dark, and the
// choice outlives the page.
await step('theme', async () => {
  const toggle = page.locator('nav button.theme');
  const background = () => page.evaluate(() => getComputedStyle(document.querySelector('.app')).backgroundColor);
  const luminance = (rgb) => {
    const [r, g, b] = rgb.match(/\d+/g).map(Number);
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  await toggle.click();
  await page.locator('.app[data-theme=light]').waitFor();
  const light = luminance(await background());
  await toggle.click();
  await page.locator('.app[data-theme=dark]').waitFor();
  const dark = luminance(await background());
  if (!(light > 200 && dark < 60)) throw new Error(`light ${light}, dark ${dark}`);
  await page.screenshot({ path: `${artifacts}/web-runs-dark.png` });
  // The choice is kept: a new page (a new app on the server) opens dark.
  await page.reload();
  await page.locator('span.link.up').waitFor();
  await page.locator('.app[data-theme=dark]').waitFor();
  await toggle.click();
  await page.locator('.app[data-theme=system]').waitFor();
});

await step('chat', async () => {
  await tab('Agents').click();
  await page.locator('.card', { hasText: 'asker' }).getByRole('button', { name: 'Start session' }).click();
  await page.locator('.chat h3', { hasText: 'asker' }).waitFor();
  await page.locator('.chat span.status.idle').waitFor();
  await page.fill('textarea[name=message]', 'what is in the workspace?');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('.msg.user', { hasText: 'what is in the workspace?' }).waitFor();
  const asking = page.locator('.msg.tool.asking', { hasText: 'fs.list' });
  await asking.getByRole('button', { name: 'Approve once' }).click();
  await page.locator('.msg.tool.done', { hasText: 'fs.list' }).waitFor();
  await page.locator('.msg.assistant:not(.streaming)').last().waitFor();
  const answer = (await page.locator('.msg.assistant .text').last().textContent()).trim();
  if (!answer) throw new Error('no streamed answer');
  await page.getByRole('button', { name: 'End', exact: true }).click();
  await page.locator('.msg.notice', { hasText: 'ended: session.completed' }).waitFor();
  await page.getByRole('button', { name: 'Resume' }).click();
  await page.locator('.msg.notice', { hasText: 'resumed' }).waitFor();
  await page.locator('.chat span.status.idle').waitFor();
});

await step('settings', async () => {
  await tab('Settings').click();
  // The side navigation jumps to a section (the last one, as far as the
  // page scrolls), and stays in view.
  await page.locator('nav.sections button', { hasText: 'Prices' }).click();
  await page.waitForFunction(() => {
    const top = document.getElementById('settings-prices')?.getBoundingClientRect().top;
    return window.scrollY > 0 && top !== undefined && top >= 0 && top < window.innerHeight / 2;
  });
  const nav = await page.locator('nav.sections').boundingBox();
  if (nav.y < 0) throw new Error('the section navigation scrolled away');
  await page.screenshot({ path: `${artifacts}/web-settings-sections.png` });
  await page.locator('nav.sections button', { hasText: 'Provider keys' }).click();
  // Nothing typed: it says what is missing rather than do nothing.
  await page.getByRole('button', { name: 'Store key' }).click();
  await page.locator('#settings-keys .problem', { hasText: 'paste the provider' }).waitFor();
  await page.fill('input[name=key]', 'sk-e2e-never-shown');
  await page.getByRole('button', { name: 'Store key' }).click();
  await page.locator('tr', { hasText: 'openai' }).locator('td', { hasText: 'stored' }).waitFor();
  await page.locator('#settings-keys .problem').waitFor({ state: 'detached' });
  if ((await page.content()).includes('sk-e2e-never-shown')) throw new Error('the key is shown back');
  await page.fill('input[name=rule]', 'fs.read');
  await page.getByRole('button', { name: 'Add rule' }).click();
  await page.locator('tr', { hasText: 'fs.read' }).waitFor();
  await page.locator('tr', { hasText: 'fs.read' }).getByRole('button', { name: 'Remove' }).click();
  await page.locator('tr', { hasText: 'fs.read' }).waitFor({ state: 'detached' });

  // An MCP server through the form. Empty, it shows each missing field's
  // problem at once, next to the field.
  await page.getByRole('button', { name: 'Add server' }).click();
  for (const field of ['mcp_name', 'mcp_command']) {
    await page.locator(`.mcp-add .field-problem[data-for=${field}]`).waitFor();
  }
  await page.locator('.mcp-add p.problem', { hasText: '2 problems' }).waitFor();
  await page.locator('.mcp-add').screenshot({ path: `${artifacts}/web-mcp-problems.png` });
  // Typed in key by key: its environment secret is sent once, the form
  // clears with its problems, and the list names the variable only.
  const typeInto = async (selector, text) => {
    await page.locator(selector).click();
    await page.keyboard.type(text, { delay: 20 });
  };
  await typeInto('input[name=mcp_name]', 'web-added');
  await typeInto('input[name=mcp_command]', 'npx');
  await typeInto('input[name=mcp_args]', '-y "@scope/server x"');
  await typeInto('textarea[name=mcp_secrets]', 'API_TOKEN=tok-e2e-added');
  await page.getByRole('button', { name: 'Add server' }).click();
  await page.locator('.mcp-add .field-problem').first().waitFor({ state: 'detached' });
  const servers = page.locator('tr:has(code)');
  await servers.filter({ hasText: 'web-added' })
    .locator('code', { hasText: 'npx -y @scope/server x (env: API_TOKEN)' }).waitFor();
  await page.waitForFunction(() => document.querySelector('textarea[name=mcp_secrets]')?.value === '');

  // Import: the good entry is added, the legacy SSE one reported by name.
  await page.fill('textarea[name=mcp_import]', JSON.stringify({
    mcpServers: {
      'web-imported': { command: 'node', args: ['server.js'], env: { GH_TOKEN: 'tok-e2e-imported' } },
      legacy: { type: 'sse', url: 'http://127.0.0.1:9/sse' },
    },
  }));
  await page.getByRole('button', { name: 'Import' }).click();
  await page.locator('.import-report tr', { hasText: 'web-imported' }).locator('td.ok').waitFor();
  await page.locator('.import-report tr', { hasText: 'legacy' })
    .locator('td.problem', { hasText: 'SSE' }).waitFor();
  await servers.filter({ hasText: 'web-imported' })
    .locator('code', { hasText: 'node server.js (env: GH_TOKEN)' }).waitFor();

  // A price: empty cache prices take the input price, reasoning the output.
  await page.fill('input[name=price_model]', 'e2e-model');
  await page.fill('input[name=price_input]', '3');
  await page.fill('input[name=price_output]', '9');
  await page.getByRole('button', { name: 'Set price' }).click();
  const price = page.locator('tr', { hasText: 'e2e-model' });
  await price.waitFor();
  const cells = await price.locator('td.num').allTextContents();
  if (cells.join(' ') !== '3 9 3 3 9') throw new Error(`the price row reads ${cells.join(' ')}`);
  await page.screenshot({ path: `${artifacts}/web-settings-price.png`, fullPage: true });
  await price.getByRole('button', { name: 'Reset' }).click();
  await price.waitFor({ state: 'detached' });

  if ((await page.content()).includes('tok-e2e')) throw new Error('an MCP secret is shown back');

  // What sessions spent: today against each agent's caps, and every way.
  await page.locator('nav.sections button', { hasText: 'Spend' }).click();
  const spend = page.locator('#settings-spend');
  await spend.getByRole('button', { name: 'Refresh' }).click();
  await spend.locator('table.spend-today tr', { hasText: 'slow' }).waitFor();
  const byAgent = await spend.locator('table.spend-by-agent tbody tr').count();
  const byDay = await spend.locator('table.spend-by-day tbody tr').count();
  if (byAgent < 1 || byDay !== 1) throw new Error(`spend rows: ${byAgent} by agent, ${byDay} by day`);
  await spend.screenshot({ path: `${artifacts}/web-settings-spend.png` });
  await page.locator('section', { hasText: 'MCP servers' }).first().scrollIntoViewIfNeeded();
});

await step('palette', async () => {
  await page.locator('.app').focus();
  await page.keyboard.press('Control+k');
  await page.locator('input[name=palette]').waitFor();
  await page.fill('input[name=palette]', 'go settings');
  await page.press('input[name=palette]', 'Enter');
  await page.locator('main h3', { hasText: 'Daemon' }).waitFor();
  // The palette gives the focus back: the shortcuts work without a click.
  await page.waitForFunction(() => document.activeElement?.classList.contains('app'));
  await page.keyboard.press('Control+3');
  await page.locator('nav button.active', { hasText: 'Runs' }).waitFor();
});

await step('daemon-limits', async () => {
  await tab('Settings').click();
  // Each limit has its own field and Apply; typed as a person types.
  const limit = (name) => page.locator('span.form', { has: page.locator(`input[name=${name}]`) });
  const setLimit = async (name, value) => {
    await limit(name).locator('input').click();
    await page.keyboard.press('Control+a');
    await page.keyboard.type(value, { delay: 60 });
    await limit(name).getByRole('button', { name: 'Apply' }).click();
  };
  await setLimit('max_concurrent_runs', '0');
  await limit('max_concurrent_runs').locator('.problem', { hasText: 'from 1 to 1024' }).waitFor();
  await setLimit('max_concurrent_runs', '5');
  await limit('max_concurrent_runs').locator('span.muted', { hasText: 'in force: 5' }).waitFor();
  await setLimit('max_live_chats', '7');
  await limit('max_live_chats').locator('span.muted', { hasText: 'in force: 7' }).waitFor();
  // The other limit stays as it was.
  await limit('max_concurrent_runs').locator('span.muted', { hasText: 'in force: 5' }).waitFor();
});

// The README's screenshots, one of each page as it looks after all of the
// above: written into docs/screenshots/ so they stay current (commit them).
const SCREENSHOTS = new URL('../../docs/screenshots/', import.meta.url);
await step('readme-screenshots', async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  const shoot = (name) => page.screenshot({ path: new URL(`${name}.png`, SCREENSHOTS).pathname });
  await page.locator('.app').focus();
  await tab('Agents').click();
  await page.locator('.card', { hasText: 'asker' }).waitFor();
  await shoot('agents');
  await tab('Runs').click();
  await page.locator('table.runs').waitFor();
  await shoot('runs');
  await page.locator('table.runs tr', { hasText: 'from the browser' }).filter({ has: page.locator('span.status.completed') })
    .first().getByRole('button', { name: 'Inspect' }).click();
  await page.locator('.inspector .stats').waitFor();
  await page.locator('.timeline .row').first().click();
  await page.locator('.detail h4').waitFor();
  await shoot('inspector');
  await tab('Sessions').click();
  await page.locator('tr', { hasText: 'what is in the workspace?' }).getByRole('button', { name: 'Open' }).click();
  await page.locator('.chat .msg.assistant').first().waitFor();
  await shoot('sessions');
  await tab('Runs').click();
  const done = page.locator('table.runs tr', { hasText: 'from the browser' }).filter({ has: page.locator('span.status.completed') });
  await done.nth(0).locator('input.compare-tick').check();
  await done.nth(1).locator('input.compare-tick').check();
  await page.getByRole('button', { name: 'Compare the 2 ticked' }).click();
  await page.locator('.compare table.figures').waitFor();
  await shoot('compare');
  await tab('Settings').click();
  await page.locator('main h3', { hasText: 'Daemon' }).waitFor();
  await page.evaluate(() => window.scrollTo(0, 0));
  await shoot('settings');
});

await step('sign-out', async () => {
  // A second tab of the same session, whose socket the sign-out must close.
  const other = await context.newPage();
  await other.goto(`${url}/app`);
  await other.locator('span.link.up').waitFor();
  const old = (await context.cookies()).find((c) => c.name === 'studio_session').value;
  await page.locator('nav a', { hasText: 'Sign out' }).click();
  await page.waitForURL(/\/logout$/);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/login$/);
  if ((await context.cookies()).some((c) => c.name === 'studio_session')) {
    throw new Error('the session cookie outlived the sign-out');
  }
  // The other tab lost its socket and reloaded into the sign-in page.
  await other.waitForURL(/\/login$/);
  await other.close();
  const replay = await page.request.get(`${url}/app`, {
    headers: { cookie: `studio_session=${old}` }, maxRedirects: 0,
  });
  if (replay.status() !== 303 || replay.headers().location !== '/login') {
    throw new Error(`the old cookie got HTTP ${replay.status()} to ${replay.headers().location}`);
  }
  // In again, with the form this time, typed as a person pastes it key by key.
  await page.locator('input[name=token]').click();
  await page.keyboard.type(token, { delay: 20 });
  await page.screenshot({ path: `${artifacts}/web-sign-in-form.png` });
  await page.click('button[type=submit]');
  await page.waitForURL(/\/app$/);
  await page.locator('span.link.up').waitFor();
  if (page.url().includes('token=')) throw new Error(`the token is in the URL: ${page.url()}`);
  await page.screenshot({ path: `${artifacts}/web-signed-in-again.png` });
});

await browser.close();
console.log('all steps passed');
