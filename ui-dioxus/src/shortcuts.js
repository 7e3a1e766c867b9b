// The app's keys that must act before the next key arrives, so they are
// handled in the page itself, not after a round trip to the app:
// "/" (outside a text field) focuses the page's first search field: the
// Runs filter, the Inspector's session search; F2 renames the inspected
// session; and a shortcut pressed while nothing has the focus (the
// focused field was removed, as when a form closes) is handed to the app,
// whose keys (Ctrl+K, Ctrl+1..5, Escape) would otherwise not hear it.
// Installed once per page (app.rs).
(() => {
  if (window.__studioShortcuts) return;
  window.__studioShortcuts = true;
  const typing = (el) => el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA'
    || el.tagName === 'SELECT' || el.isContentEditable);
  document.addEventListener('keydown', (event) => {
    const app = document.querySelector('.app');
    const lost = !document.activeElement || document.activeElement === document.body;
    if (lost && app && event.isTrusted && (event.ctrlKey || event.metaKey || event.key === 'Escape')) {
      event.preventDefault();
      event.stopPropagation();
      app.focus({ preventScroll: true });
      app.dispatchEvent(new KeyboardEvent('keydown', {
        key: event.key, code: event.code, location: event.location, repeat: event.repeat,
        ctrlKey: event.ctrlKey, metaKey: event.metaKey, shiftKey: event.shiftKey, altKey: event.altKey,
        bubbles: true, cancelable: true,
      }));
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === '/' && !typing(document.activeElement)) {
      const search = document.querySelector('main input.search');
      if (search) {
        event.preventDefault();
        search.focus();
      }
    } else if (event.key === 'F2') {
      const rename = document.querySelector('.title-line button.rename');
      if (rename) {
        event.preventDefault();
        rename.click();
      }
    }
  }, true);
})();
