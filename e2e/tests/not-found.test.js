'use strict';
// 4. Unknown paths get an HTML 404 page with a way home; path traversal
//    attempts get a 404 and never leak files from the host.

const assert = require('node:assert/strict');
const { describe, test } = require('node:test');
const { useCandor, rawGet } = require('../lib/harness');

describe('not found and path traversal', () => {
  const env = useCandor();

  test('/no-such-page is an HTML 404 with an <h1> and a link to /', async () => {
    const context = await env.browser.newContext();
    try {
      const page = await context.newPage();
      const res = await page.goto(new URL('/no-such-page', env.origin).href);
      assert.ok(res, 'no response');
      assert.equal(res.status(), 404, `GET /no-such-page returned ${res.status()}, expected 404`);
      const type = (await res.headerValue('content-type')) || '';
      assert.match(type, /^text\/html\b/i, `404 page content-type is "${type}", expected text/html`);

      const h1s = await page.locator('h1').allTextContents();
      assert.ok(h1s.length >= 1 && h1s[0].trim(), `404 page has no non-empty <h1> (found ${JSON.stringify(h1s)})`);

      const hrefs = await page.locator('a[href]').evaluateAll((as) => as.map((a) => a.href));
      const home = hrefs.filter((h) => {
        const u = new URL(h);
        return u.origin === env.origin && u.pathname === '/';
      });
      assert.ok(home.length > 0, `404 page has no link to / (links: ${JSON.stringify(hrefs)})`);
    } finally {
      await context.close();
    }
  });

  // Sent with a raw HTTP client: a browser or fetch() would collapse the
  // %2e%2e segments before the server ever saw them.
  for (const path of ['/security/..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd']) {
    test(`path traversal ${path} is a 404 and leaks nothing`, async () => {
      const res = await rawGet(env.origin, path);
      assert.equal(res.status, 404, `GET ${path} returned ${res.status}, expected 404; body starts: ${res.body.slice(0, 200)}`);
      assert.ok(!res.body.includes('root:'), `GET ${path} body contains "root:" (looks like /etc/passwd)`);
    });
  }
});
