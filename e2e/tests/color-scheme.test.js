'use strict';
// 3. The site follows prefers-color-scheme: the page background differs
//    between a dark and a light browser, and the dark one is darker.

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { useCandor } = require('../lib/harness');

/** Parse "rgb(r, g, b)" / "rgba(r, g, b, a)" as computed by Chromium. */
function parseColor(css) {
  const m = /^rgba?\(([^)]+)\)$/.exec(css.trim());
  if (!m) return null;
  const [r, g, b, a = 1] = m[1].split(/[\s,/]+/).filter(Boolean).map(Number);
  return { r, g, b, a };
}

/** WCAG relative luminance of an sRGB colour. */
function luminance({ r, g, b }) {
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
}

describe('colour scheme', () => {
  const env = useCandor();

  async function backgroundFor(colorScheme) {
    const context = await env.browser.newContext({ colorScheme });
    try {
      const page = await context.newPage();
      const res = await page.goto(new URL('/', env.origin).href);
      assert.equal(res.status(), 200);
      return await page.evaluate(() => ({
        body: getComputedStyle(document.body).backgroundColor,
        html: getComputedStyle(document.documentElement).backgroundColor,
        matchesDark: matchMedia('(prefers-color-scheme: dark)').matches,
      }));
    } finally {
      await context.close();
    }
  }

  test('body background differs between dark and light schemes', async () => {
    const dark = await backgroundFor('dark');
    const light = await backgroundFor('light');
    // Sanity check of the emulation itself, so a failure below is the site's.
    assert.equal(dark.matchesDark, true, 'browser did not emulate prefers-color-scheme: dark');
    assert.equal(light.matchesDark, false, 'browser did not emulate prefers-color-scheme: light');

    assert.notEqual(
      dark.body,
      light.body,
      `computed background-color of <body> is ${dark.body} in both schemes (html: dark ${dark.html}, light ${light.html})`,
    );

    const d = parseColor(dark.body);
    const l = parseColor(light.body);
    if (d && l && d.a > 0 && l.a > 0) {
      assert.ok(
        luminance(d) < luminance(l),
        `dark-scheme body background ${dark.body} is not darker than light-scheme ${light.body}`,
      );
    }
  });
});
