'use strict';
// Chromium launch, per-page instrumentation and axe-core helpers.

const fs = require('node:fs');
const { chromium } = require('playwright-core');

const CHROMIUM_PATH = process.env.CANDOR_E2E_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

function isFaviconProbe(url) {
  if (!url) return false;
  try {
    const u = new URL(url);
    return u.pathname === '/favicon.ico' && u.search === '';
  } catch {
    return false;
  }
}

/**
 * Record everything the tests assert on: console errors, uncaught page
 * errors, every request URL and every response carrying set-cookie.
 * Call before navigating.
 */
function instrumentPage(page) {
  const rec = {
    consoleErrors: [],
    faviconErrors: [],
    pageErrors: [],
    requests: [],
    setCookies: [],
    pending: [],
  };
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location();
    const text = `${msg.text()}${loc && loc.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`;
    // Chromium probes /favicon.ico on its own after the load event, whether
    // or not the page declares an icon, and logs a console error if that
    // probe fails. It is not something the page did and its timing is racy,
    // so it is kept apart (and reported as a diagnostic) instead of failing
    // some pages at random.
    if (isFaviconProbe(loc && loc.url)) rec.faviconErrors.push(text);
    else rec.consoleErrors.push(text);
  });
  page.on('pageerror', (err) => rec.pageErrors.push(String(err && err.stack ? err.stack : err)));
  page.on('request', (req) => rec.requests.push(req.url()));
  page.on('response', (res) => {
    // response.headers() hides cookie headers; headerValue() sees them all.
    rec.pending.push(
      res.headerValue('set-cookie').then(
        (value) => { if (value !== null) rec.setCookies.push(`${res.url()}: ${value}`); },
        () => {},
      ),
    );
  });
  rec.settle = async () => {
    // Response handlers are async; wait until all have been looked at.
    while (rec.pending.length) await Promise.all(rec.pending.splice(0));
  };
  return rec;
}

/**
 * Requests that went anywhere other than the test server. data:/blob:/about:
 * URLs never leave the browser, so they are not counted as foreign hosts.
 */
function foreignRequests(urls, allowedHost) {
  return urls.filter((u) => {
    let parsed;
    try {
      parsed = new URL(u);
    } catch {
      return true;
    }
    if (['data:', 'blob:', 'about:'].includes(parsed.protocol)) return false;
    return parsed.host !== allowedHost;
  });
}

let axeSource = null;
function getAxeSource() {
  if (axeSource === null) axeSource = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

/**
 * Inject axe-core and run it on the current document.
 *
 * page.evaluate() goes through the DevTools protocol (Runtime.evaluate), which
 * the page's Content-Security-Policy does not govern, so axe can be injected
 * even though the portal forbids every script. addScriptTag({content}) would
 * be an inline <script> and be refused by the CSP, hence not used.
 */
async function runAxe(page) {
  await page.evaluate(getAxeSource());
  const present = await page.evaluate(() => typeof window.axe === 'object' && typeof window.axe.run === 'function');
  if (!present) throw new Error('axe-core did not load into the page');
  return page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
}

const SEVERE = new Set(['serious', 'critical']);

function severeViolations(results) {
  return results.violations.filter((v) => SEVERE.has(v.impact));
}

function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .slice(0, 10)
        .map((n) => `    - ${n.target.join(' ')}\n      ${String(n.failureSummary || '').replace(/\n/g, '\n      ')}\n      html: ${n.html}`)
        .join('\n');
      const more = v.nodes.length > 10 ? `\n    ... and ${v.nodes.length - 10} more nodes` : '';
      return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}${more}`;
    })
    .join('\n');
}

module.exports = {
  CHROMIUM_ARGS,
  launchBrowser,
  instrumentPage,
  foreignRequests,
  runAxe,
  severeViolations,
  formatViolations,
};
