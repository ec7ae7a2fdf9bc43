// Light and dark are both checked, not hoped: every text colour the views put on a surface
// meets WCAG 2.2 AA (4.5:1) in both themes, read from the design tokens themselves.
import { describe, expect, it } from 'vitest';
import css from './tokens.css?raw';

function block(selector: string): Record<string, string> {
  const start = css.indexOf(`${selector} {`);
  if (start < 0) throw new Error(`no ${selector} block in tokens.css`);
  const body = css.slice(start, css.indexOf('\n}', start));
  return Object.fromEntries([...body.matchAll(/--([a-z0-9-]+):\s*(#[0-9a-f]{6})/gi)].map((m) => [m[1], m[2]]));
}

const luminance = (hex: string) => {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
};
const contrast = (a: string, b: string) => {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
};

// Text on the surfaces it appears on.
const PAIRS: [string, string][] = [
  ['fg', 'bg'], ['fg', 'surface'], ['fg', 'surface-2'], ['muted', 'surface'], ['muted', 'bg'], ['muted', 'surface-2'],
  ['accent', 'surface'], ['accent', 'bg'], ['accent-fg', 'accent'],
  ['ok', 'ok-bg'], ['warn', 'warn-bg'], ['bad', 'bad-bg'], ['busy', 'busy-bg'], ['idle', 'idle-bg'],
  ['ok', 'surface'], ['warn', 'surface'], ['bad', 'surface'], ['busy', 'surface'], ['fg', 'bad-bg'], ['fg', 'ok-bg'], ['fg', 'warn-bg'], ['fg', 'busy-bg'],
];

describe('the palette', () => {
  for (const [theme, selector] of [['light', ':root'], ['dark', ":root[data-theme='dark']"]] as const) {
    it(`${theme}: every text colour on its surfaces is at least 4.5:1`, () => {
      const t = block(selector);
      const low = PAIRS.map(([fg, bg]) => {
        if (!t[fg] || !t[bg]) throw new Error(`${theme} lacks --${fg} or --${bg}`);
        return { pair: `--${fg} on --${bg}`, ratio: Math.round(contrast(t[fg], t[bg]) * 100) / 100 };
      }).filter((p) => p.ratio < 4.5);
      expect(low).toEqual([]);
    });
  }

  it('dark defines every colour light does', () => {
    const light = Object.keys(block(':root'));
    const dark = Object.keys(block(":root[data-theme='dark']"));
    expect(light.filter((k) => !dark.includes(k))).toEqual([]);
  });
});
