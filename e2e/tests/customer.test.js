'use strict';
// 7. The customer area: an owner creates a tenant and its administrator in the admin area; the
//    administrator asks for a sign-in link, opens the mailed link (read from the .eml the demo's
//    file transport writes), confirms, and sees their organisation. Every page passes axe.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { describe, test, before, after } = require('node:test');
const { useCandor } = require('../lib/harness');
const { resolveInputs } = require('../lib/server');
const { runAxe, severeViolations, formatViolations } = require('../lib/browser');

const PASSWORD = 'correct horse battery staple';

async function axeClean(page, what) {
  const severe = severeViolations(await runAxe(page));
  assert.equal(severe.length, 0, `${what}: axe-core found serious/critical violations:\n${formatViolations(severe)}`);
}

/** The sign-in link in the newest mail to `to` (quoted-printable undone). */
async function mailedLink(dataDir, to) {
  const dir = path.join(dataDir, 'mail');
  for (let i = 0; i < 200; i += 1) {
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.eml')) : [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(dir, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '=');
      if (text.includes(`To: ${to}`)) {
        const m = text.match(/\/customer\/link\?token=[A-Za-z0-9_-]+/);
        if (m) return m[0];
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no mail to ${to}`);
}

describe('customer area (magic link, plain forms)', () => {
  const env = useCandor();
  let context;

  before(async () => {
    const { bin, config } = resolveInputs();
    const out = execFileSync(
      bin,
      ['admin', 'create', '--config', config, '--data-dir', env.server.dataDir, '--email', 'owner@acme.example'],
      { encoding: 'utf8' },
    );
    const link = new URL(out.trim());
    context = await env.browser.newContext({ bypassCSP: true });
    const page = await context.newPage();
    await page.goto(`${env.origin}${link.pathname}${link.search}`);
    await page.fill('#password', PASSWORD);
    await page.fill('#confirm', PASSWORD);
    await Promise.all([page.waitForURL('**/admin/sign-in'), page.click('button[type=submit]')]);
    await page.fill('#email', 'owner@acme.example');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForURL('**/admin'), page.click('form.admin-form button[type=submit]')]);
    await page.close();
  });

  after(async () => {
    if (context) await context.close();
  });

  test('a customer administrator signs in by mailed link and sees their organisation', { timeout: 120_000 }, async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${env.origin}/admin/tenants`);
      await page.fill('#tenant-name', 'Globex');
      await Promise.all([page.waitForLoadState('load'), page.click('form.admin-form button[type=submit]')]);
      await axeClean(page, 'admin tenants');
      await page.fill('input[name=email][id^=admin-]', 'ceo@globex.example');
      await Promise.all([page.waitForLoadState('load'), page.click('form.inline-form button[type=submit]')]);
      assert.match(await page.locator('main').textContent(), /ceo@globex\.example/);

      const customer = await env.browser.newContext({ bypassCSP: true });
      const c = await customer.newPage();
      await c.goto(`${env.origin}/customer/sign-in`);
      await axeClean(c, 'customer sign-in');
      await c.fill('#email', 'ceo@globex.example');
      await Promise.all([c.waitForLoadState('load'), c.click('button[type=submit]')]);
      assert.match(await c.locator('.notice').textContent(), /sign-in link is on its way/);
      const link = await mailedLink(env.server.dataDir, 'ceo@globex.example');
      await c.goto(`${env.origin}${link}`);
      await axeClean(c, 'customer link');
      await Promise.all([c.waitForURL('**/customer'), c.click('button[type=submit]')]);
      assert.match(await c.locator('h1').textContent(), /Globex/);
      await axeClean(c, 'customer home');
      const cookies = await customer.cookies();
      assert.deepEqual(cookies.map((k) => k.name), ['candor_customer']);
      await customer.close();
    } finally {
      await page.close();
    }
  });
});
