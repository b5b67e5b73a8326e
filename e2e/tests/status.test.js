'use strict';
// 8. The status page: works without JavaScript, sets no cookies, loads nothing
//    from elsewhere, passes axe, and a day bar reached with the keyboard shows
//    that day's downtime and incidents.

const assert = require('node:assert/strict');
const { describe, test, before, after } = require('node:test');
const { useCandor } = require('../lib/harness');
const {
  instrumentPage,
  foreignRequests,
  runAxe,
  severeViolations,
  formatViolations,
} = require('../lib/browser');

describe('status page', () => {
  const env = useCandor();
  let noJs;

  before(async () => {
    noJs = await env.browser.newContext({ javaScriptEnabled: false });
  });

  after(async () => {
    if (noJs) await noJs.close();
  });

  test('renders without JavaScript: banner, components, 90 bars each, feed link, no cookies', async () => {
    const page = await noJs.newPage();
    const rec = instrumentPage(page);
    try {
      const response = await page.goto(new URL('/status', env.origin).href, { waitUntil: 'load' });
      assert.equal(response.status(), 200);
      await rec.settle();
      assert.deepEqual(rec.setCookies, [], 'no set-cookie');
      assert.deepEqual(await noJs.cookies(), [], 'no cookies');
      assert.deepEqual(foreignRequests(rec.requests, env.server.host), [], 'nothing from other hosts');
      const banner = (await page.locator('.status-banner').textContent()).trim();
      assert.ok(banner.length > 0, 'a status banner');
      const components = await page.locator('.status-component').count();
      assert.ok(components >= 1, 'at least one component');
      assert.equal(await page.locator('.bars .bar').count(), components * 90);
      assert.equal(
        await page.locator('head link[rel="alternate"][type="application/atom+xml"]').count(),
        1,
        'the Atom feed is advertised',
      );
      assert.equal(await page.locator('script').count(), 0, 'no scripts');
      const quarter = await page.locator('.status-quarter').first().textContent();
      assert.match(quarter, /^Quarterly uptime: /);
    } finally {
      await page.close();
    }
  });

  test('keyboard focus on a bar reveals its day', async () => {
    const context = await env.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(new URL('/status', env.origin).href, { waitUntil: 'load' });
      const tip = page.locator('.bar').first().locator('.tip');
      const hiddenWidth = (await tip.boundingBox()).width;
      assert.ok(hiddenWidth <= 2, `the details are visually hidden until focus (width ${hiddenWidth})`);
      let onBar = false;
      for (let i = 0; i < 80 && !onBar; i += 1) {
        await page.keyboard.press('Tab');
        onBar = await page.evaluate(() => document.activeElement && document.activeElement.classList.contains('bar'));
      }
      assert.ok(onBar, 'Tab reaches the first day bar');
      const focused = await page.evaluate(() => {
        const el = document.activeElement;
        const t = el.querySelector('.tip');
        const box = t.getBoundingClientRect();
        return { title: el.getAttribute('title'), text: t.textContent, width: box.width };
      });
      assert.ok(focused.width > 80, `the details show on focus (width ${focused.width})`);
      assert.equal(focused.text, focused.title, 'the tooltip and the focus details say the same');
      assert.match(focused.text, /\d{4}: (no data|no downtime|.*downtime)/);
    } finally {
      await context.close();
    }
  });

  for (const path of ['/status', '/status/incidents']) {
    test(`${path} has no serious or critical axe violations`, async () => {
      const context = await env.browser.newContext();
      try {
        const page = await context.newPage();
        const response = await page.goto(new URL(path, env.origin).href, { waitUntil: 'load' });
        assert.equal(response.status(), 200);
        const severe = severeViolations(await runAxe(page));
        assert.equal(severe.length, 0, formatViolations(severe));
      } finally {
        await context.close();
      }
    });
  }

  test('the feed and the Statuspage API answer', async () => {
    const feed = await fetch(new URL('/status/history.atom', env.origin));
    assert.equal(feed.status, 200);
    assert.match(feed.headers.get('content-type'), /^application\/atom\+xml/);
    assert.match(await feed.text(), /<feed xmlns="http:\/\/www.w3.org\/2005\/Atom">/);
    const summary = await fetch(new URL('/api/v2/summary.json', env.origin));
    assert.equal(summary.status, 200);
    const body = await summary.json();
    assert.deepEqual(Object.keys(body).sort(), ['components', 'incidents', 'page', 'scheduled_maintenances', 'status']);
    assert.ok(['none', 'minor', 'major', 'critical', 'maintenance'].includes(body.status.indicator));
  });
});
