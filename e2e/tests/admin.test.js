'use strict';
// 6. The admin area works without JavaScript and meets the portal's accessibility bar: an owner
//    made with `candor admin create` sets a password through the one-time link, signs in,
//    invites an editor, creates an API token, and reads the audit trail; every admin page has no
//    serious or critical axe violations.

const assert = require('node:assert/strict');
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

describe('admin area (plain forms, no scripts)', () => {
  const env = useCandor();
  let context;
  let link;

  before(async () => {
    const { bin, config } = resolveInputs();
    const out = execFileSync(
      bin,
      ['admin', 'create', '--config', config, '--data-dir', env.server.dataDir, '--email', 'owner@acme.example'],
      { encoding: 'utf8' },
    );
    link = new URL(out.trim());
    // axe-core is injected as a script, so this context keeps JavaScript for axe only; the
    // flow below uses plain form posts and links.
    context = await env.browser.newContext({ bypassCSP: true });
  });

  after(async () => {
    if (context) await context.close();
  });

  test('an owner sets a password, signs in and uses every admin page', { timeout: 120_000 }, async () => {
    const page = await context.newPage();
    try {
      await page.goto(`${env.origin}${link.pathname}${link.search}`);
      assert.match(await page.locator('h1').textContent(), /Choose a password/);
      await axeClean(page, 'set-password');
      await page.fill('#password', PASSWORD);
      await page.fill('#confirm', PASSWORD);
      await Promise.all([page.waitForURL('**/admin/sign-in'), page.click('button[type=submit]')]);

      await axeClean(page, 'sign-in');
      await page.fill('#email', 'owner@acme.example');
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL('**/admin'), page.click('form.admin-form button[type=submit]')]);
      assert.match(await page.locator('.admin-bar').textContent(), /owner@acme\.example/);
      await axeClean(page, 'dashboard');

      await page.click('nav a[href="/admin/users"]');
      await page.fill('#invite-email', 'editor@acme.example');
      await Promise.all([page.waitForLoadState('load'), page.click('form.admin-form button[type=submit]')]);
      assert.match(await page.locator('.once').textContent(), /editor@acme\.example/);
      await axeClean(page, 'users');

      await page.click('nav a[href="/admin/tokens"]');
      await page.fill('#token-name', 'ci');
      await page.check('input[value="content:reload"]');
      await page.fill('#token-password', PASSWORD);
      await Promise.all([page.waitForLoadState('load'), page.click('form.admin-form button[type=submit]')]);
      const token = (await page.locator('.once code').first().textContent()).trim();
      assert.match(token, /^candor_/);
      await axeClean(page, 'tokens');

      const reload = await fetch(`${env.origin}/api/v1/admin/reload`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(reload.status, 200);

      await page.click('nav a[href="/admin/audit"]');
      const trail = await page.locator('table').textContent();
      for (const action of ['sign_in', 'operator_invited:editor', 'token_created', 'content_reload']) {
        assert.ok(trail.includes(action), `${action} missing from the audit trail`);
      }
      await axeClean(page, 'audit');

      const cookies = await context.cookies();
      assert.equal(cookies.length, 1, 'only the session cookie');
      assert.equal(cookies[0].httpOnly, true);
      assert.equal(cookies[0].sameSite, 'Strict');
    } finally {
      await page.close();
    }
  });
});
