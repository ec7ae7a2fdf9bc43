'use strict';
// Starts the service as `npm start` does (OpenTelemetry required first) on a free port, with
// `env` over the test's environment; its JSON log lines are collected as they come.
const { spawn } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');

function start(env = {}, stderr = 'inherit') {
  const child = spawn(process.execPath, ['--require', './src/telemetry.js', 'src/server.js'], {
    cwd: root,
    env: { ...process.env, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', stderr],
  });
  const lines = [];
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop();
    for (const line of parts) if (line.trim()) lines.push(JSON.parse(line));
  });
  const port = new Promise((resolve, reject) => {
    const timer = setInterval(() => {
      const listening = lines.find((l) => l.message === 'listening');
      if (listening) {
        clearInterval(timer);
        resolve(listening.port);
      }
    }, 50);
    child.on('exit', (code) => reject(new Error(`server exited early (${code})`)));
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, lines, port, exited };
}

module.exports = { start };
