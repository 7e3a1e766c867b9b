// Times each key typed into the command palette, from its keydown until a
// re-render of the palette's empty state names the new query; `report`
// gets each round trip in milliseconds. A MutationObserver ends each
// measure, so nothing is polled. scripts/bench runs it in the desktop
// window (studio-ui --key-latency-log) and in the browser view
// (tests/e2e/keystrokes.mjs), so the two are timed the same way.
(report) => {
  let pending = null;
  document.addEventListener('keydown', () => { pending = performance.now(); }, true);
  new MutationObserver(() => {
    if (pending === null) return;
    const query = document.querySelector('input[name=palette]')?.value ?? '';
    const empty = document.querySelector('.palette li.empty');
    if (empty && query && empty.textContent.includes(`“${query}”`)) {
      report(performance.now() - pending);
      pending = null;
    }
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
}
