'use strict';
// Runs the service as `npm start` does (OpenTelemetry required first) and checks what the
// platform relies on: probes, metrics, graceful shutdown and trace ids in request logs.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { start: startService } = require('./support/service');

const start = () => startService({ SHUTDOWN_DRAIN_MS: '1500', OTEL_EXPORTER_OTLP_ENDPOINT: '' });

test('probes, metrics, trace ids in logs and graceful shutdown', async () => {
  const server = start();
  const base = `http://127.0.0.1:${await server.port}`;
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);

    const hello = await fetch(`${base}/`);
    assert.equal(hello.status, 200);
    assert.equal((await hello.json()).service, '${{ values.name }}');
    await new Promise((r) => setTimeout(r, 100));
    const logged = server.lines.find((l) => l.message === 'hello');
    assert.ok(logged, 'the request logged a line');
    assert.match(logged.trace_id ?? '', /^[0-9a-f]{32}$/, `trace_id in ${JSON.stringify(logged)}`);
    assert.match(logged.span_id ?? '', /^[0-9a-f]{16}$/);

    assert.equal((await fetch(`${base}/nope/123`)).status, 404);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    const series = (name, ...labels) => metrics.split('\n').find((l) => l.startsWith(`${name}{`) && labels.every((x) => l.includes(x)));
    assert.ok(series('http_request_duration_seconds_bucket', 'le="0.005"', 'method="GET"', 'route="/"', 'status_code="200"'), metrics);
    assert.match(series('http_requests_total', 'route="unmatched"', 'status_code="404"') ?? '', /\} 1( #|$)/);
    assert.doesNotMatch(metrics, /nope\/123/, 'raw paths never become labels');
    assert.match(metrics, /process_cpu_user_seconds_total/);

    server.child.kill('SIGTERM');
    let status = 0;
    for (let i = 0; i < 20 && status !== 503; i++) {
      status = (await fetch(`${base}/readyz`)).status;
      if (status !== 503) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(status, 503, 'not ready while draining');
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'still alive while draining');
    assert.equal(await server.exited, 0, 'exits cleanly after draining');
  } finally {
    server.child.kill('SIGKILL');
  }
});
