'use strict';
// Shared before/after hooks: one candor server and one Chromium per test file.

const assert = require('node:assert/strict');
const http = require('node:http');
const { before, after } = require('node:test');
const { startServer } = require('./server');
const { launchBrowser } = require('./browser');

const PILLARS = ['/security', '/privacy', '/compliance', '/operations'];

/**
 * Register hooks that start candor (and Chromium) before the tests of the
 * enclosing describe() and stop them afterwards. The returned object is
 * filled in by the before hook: { server, browser, origin }.
 *
 * The after hook asserts that candor exits with code 0 on SIGTERM.
 */
function useCandor({ browser: wantBrowser = true } = {}) {
  const env = { server: null, browser: null, origin: null };

  before(async () => {
    env.server = await startServer();
    env.origin = env.server.origin;
    if (wantBrowser) env.browser = await launchBrowser();
  }, { timeout: 60_000 });

  after(async () => {
    if (env.browser) await env.browser.close();
    if (!env.server) return;
    const result = await env.server.stop();
    if (result.exitedEarly) {
      assert.fail(
        `candor exited on its own during the tests (code ${result.code}, signal ${result.signal})\n${env.server.logs()}`,
      );
    }
    assert.equal(
      result.timedOut,
      false,
      `candor did not exit within 10 s of SIGTERM (killed with SIGKILL)\n${env.server.logs()}`,
    );
    assert.equal(
      result.code,
      0,
      `candor should exit with code 0 on SIGTERM, got code ${result.code}, signal ${result.signal}\n${env.server.logs()}`,
    );
  }, { timeout: 30_000 });

  return env;
}

/**
 * A GET that sends `path` byte-for-byte. Browsers and fetch() normalise
 * dot-segments (including %2e%2e) before sending, which would hide exactly
 * the traversal attempts we want the server to see.
 */
function rawGet(origin, path) {
  const { hostname, port } = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path, method: 'GET', agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout requesting ${path}`)));
    req.on('error', reject);
    req.end();
  });
}

module.exports = { useCandor, rawGet, PILLARS };
