// Light or dark: the person's choice (Settings → Appearance, kept in this window's storage), or
// the system's while the choice is "system". tokens.css reads `data-theme` on <html>.
export type Theme = 'system' | 'light' | 'dark';

const KEY = 'slipway.theme';
const dark = () => window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false;

export function chosenTheme(): Theme {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

export function applyTheme(theme: Theme = chosenTheme()) {
  if (theme === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, theme);
  const resolved = theme === 'system' ? (dark() ? 'dark' : 'light') : theme;
  document.documentElement.dataset.theme = resolved;
}

/** Follow the system's switches while the choice is "system". */
export function followSystemTheme() {
  window.matchMedia?.('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (chosenTheme() === 'system') applyTheme('system');
  });
}
