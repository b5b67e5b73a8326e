'use strict';
// 5. Full-page screenshots of the welcome page for a desktop and a phone,
//    saved to e2e/artifacts/ for humans to look at.

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { describe, test } = require('node:test');
const { useCandor } = require('../lib/harness');
const { E2E_DIR } = require('../lib/server');

const ARTIFACTS = path.join(E2E_DIR, 'artifacts');
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const TARGETS = [
  { file: 'welcome-desktop.png', options: { viewport: { width: 1280, height: 800 } } },
  {
    file: 'welcome-phone.png',
    options: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 },
  },
];

describe('welcome page screenshots', () => {
  const env = useCandor();

  for (const { file, options } of TARGETS) {
    test(`saves artifacts/${file}`, async () => {
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      const out = path.join(ARTIFACTS, file);
      fs.rmSync(out, { force: true }); // never pass on a stale file

      const context = await env.browser.newContext(options);
      try {
        const page = await context.newPage();
        const res = await page.goto(new URL('/', env.origin).href, { waitUntil: 'networkidle' });
        assert.equal(res.status(), 200, `GET / returned ${res.status()}`);
        await page.screenshot({ path: out, fullPage: true });
      } finally {
        await context.close();
      }

      const stat = fs.statSync(out);
      assert.ok(stat.size > 0, `${out} is empty`);
      const head = Buffer.alloc(8);
      const fd = fs.openSync(out, 'r');
      try {
        fs.readSync(fd, head, 0, 8, 0);
      } finally {
        fs.closeSync(fd);
      }
      assert.ok(head.equals(PNG_SIGNATURE), `${out} is not a PNG`);
    });
  }
});
