'use strict';
// Starts and stops a real `candor serve` process for the tests.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const E2E_DIR = path.resolve(__dirname, '..');
const REPO_DIR = path.resolve(E2E_DIR, '..');

const READY_POLL_MS = 50;
const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_LOG_CHARS = 64 * 1024;

/** Paths from the environment (or the defaults) resolved relative to e2e/. */
function resolveInputs() {
  const bin = path.resolve(E2E_DIR, process.env.CANDOR_BIN || '../target/debug/candor');
  const config = path.resolve(E2E_DIR, process.env.CANDOR_E2E_CONFIG || '../examples/acme/candor.toml');
  return { bin, config };
}

/** Ask the OS for a free TCP port on 127.0.0.1. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Keep only the last MAX_LOG_CHARS characters of a growing log. */
function appendCapped(current, chunk) {
  const next = current + chunk;
  return next.length > MAX_LOG_CHARS ? next.slice(next.length - MAX_LOG_CHARS) : next;
}

/**
 * Spawn `candor serve` on a free port with a fresh data dir and wait until
 * GET /readyz answers 200. Resolves to a handle with `origin`, `port`,
 * `logs()` and `stop()`.
 */
async function startServer() {
  const { bin, config } = resolveInputs();
  if (!fs.existsSync(bin)) {
    throw new Error(`candor binary not found at ${bin} (build it, or set CANDOR_BIN)`);
  }
  if (!fs.existsSync(config)) {
    throw new Error(`config not found at ${config} (set CANDOR_E2E_CONFIG)`);
  }

  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'candor-e2e-'));

  const child = spawn(
    bin,
    ['serve', '--config', config, '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir],
    {
      cwd: REPO_DIR,
      env: { ...process.env, CANDOR_PUBLIC_URL: origin },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );

  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { stdout = appendCapped(stdout, d); });
  child.stderr.on('data', (d) => { stderr = appendCapped(stderr, d); });

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve(exitInfo);
    });
  });
  let spawnError = null;
  child.once('error', (err) => { spawnError = err; });

  // Never leave a stray server behind if the test process dies abruptly.
  const killOnExit = () => { if (!exitInfo) child.kill('SIGKILL'); };
  process.once('exit', killOnExit);

  const cleanupDataDir = () => fs.rmSync(dataDir, { recursive: true, force: true });
  const logs = () => `--- candor stderr ---\n${stderr}\n--- candor stdout ---\n${stdout}`;

  // Poll /readyz.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastProblem = 'no attempt yet';
  for (;;) {
    if (spawnError) {
      cleanupDataDir();
      throw new Error(`failed to spawn ${bin}: ${spawnError.message}`);
    }
    if (exitInfo) {
      cleanupDataDir();
      throw new Error(
        `candor exited before becoming ready (code ${exitInfo.code}, signal ${exitInfo.signal})\n${logs()}`,
      );
    }
    try {
      const res = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
      lastProblem = `GET /readyz returned ${res.status}`;
    } catch (err) {
      lastProblem = `GET /readyz failed: ${err.cause?.code || err.message}`;
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      cleanupDataDir();
      throw new Error(
        `candor not ready after ${READY_TIMEOUT_MS} ms (${lastProblem})\n${logs()}`,
      );
    }
    await sleep(READY_POLL_MS);
  }

  /** Send SIGTERM and wait for the process to exit; resolves to {code, signal}. */
  async function stop() {
    try {
      if (exitInfo) {
        // The server died on its own while the tests were running.
        return { ...exitInfo, timedOut: false, exitedEarly: true };
      }
      child.kill('SIGTERM');
      const timedOut = Symbol('timeout');
      let timer;
      const timeout = new Promise((resolve) => { timer = setTimeout(resolve, STOP_TIMEOUT_MS, timedOut); });
      const result = await Promise.race([exited, timeout]);
      clearTimeout(timer);
      if (result === timedOut) {
        child.kill('SIGKILL');
        await exited;
        return { code: null, signal: 'SIGKILL', timedOut: true, exitedEarly: false };
      }
      return { ...exitInfo, timedOut: false, exitedEarly: false };
    } finally {
      process.removeListener('exit', killOnExit);
      cleanupDataDir();
    }
  }

  return { origin, port, host: `127.0.0.1:${port}`, dataDir, logs, stop };
}

module.exports = { startServer, freePort, resolveInputs, E2E_DIR };
