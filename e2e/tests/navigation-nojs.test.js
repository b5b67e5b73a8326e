'use strict';
// 2. The header navigation works with JavaScript disabled: plain links, no
//    script-driven routing.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');
const { useCandor, PILLARS } = require('../lib/harness');

/** "/security/" and "/security" are the same pillar. */
function samePath(a, b) {
  const strip = (p) => (p.length > 1 ? p.replace(/\/+$/, '') : p);
  return strip(a) === strip(b);
}

describe('navigation with JavaScript disabled', () => {
  const env = useCandor();
  let context;

  before(async () => {
    context = await env.browser.newContext({ javaScriptEnabled: false });
  });

  after(async () => {
    if (context) await context.close();
  });

  test('JavaScript really is disabled in this context', async () => {
    const page = await context.newPage();
    try {
      // The onerror handler would rewrite the text if scripting were enabled.
      await page.setContent('<p id="p">static</p><img src="x" onerror="document.getElementById(\'p\').textContent=\'ran\'">');
      assert.equal(await page.locator('#p').textContent(), 'static');
    } finally {
      await page.close();
    }
  });

  for (const pillar of PILLARS) {
    test(`header nav link from / reaches ${pillar}`, async () => {
      const page = await context.newPage();
      try {
        const home = await page.goto(new URL('/', env.origin).href);
        assert.equal(home.status(), 200, 'GET / should be 200');
        const homeH1 = (await page.locator('h1').first().textContent()).trim();

        // Find the <a> inside a <nav> whose target is this pillar.
        const links = page.locator('nav a[href]');
        const count = await links.count();
        let target = null;
        const seen = [];
        for (let i = 0; i < count; i += 1) {
          const href = await links.nth(i).getAttribute('href');
          seen.push(href);
          const resolved = new URL(href, page.url());
          if (resolved.origin === env.origin && samePath(resolved.pathname, pillar) && target === null) {
            target = links.nth(i);
          }
        }
        assert.ok(target, `no <nav> link to ${pillar} on /; nav links: ${JSON.stringify(seen)}`);

        await target.click();
        await page.waitForURL((u) => samePath(u.pathname, pillar), { timeout: 10_000 });
        await page.waitForLoadState('load');

        assert.ok(samePath(new URL(page.url()).pathname, pillar), `URL after click is ${page.url()}, expected ${pillar}`);
        const h1s = await page.locator('h1').allTextContents();
        assert.ok(h1s.length >= 1, `${pillar} has no <h1> after navigation`);
        assert.notEqual(h1s[0].trim(), homeH1, `<h1> did not change after navigating to ${pillar} (still "${homeH1}")`);
      } finally {
        await page.close();
      }
    });
  }
});
