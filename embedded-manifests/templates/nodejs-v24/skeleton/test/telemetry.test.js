'use strict';
// The signals the platform receives, checked against a small OTLP/HTTP receiver (the JSON
// protocol, as an OpenTelemetry Collector's otlp receiver accepts on 4318): a request yields its
// server span and its log record over OTLP, with the same trace id and the service's resource
// attributes; its metrics stay on /metrics for the collector to scrape (one way, never also over
// OTLP), labelled with the same attributes and carrying the trace id as an exemplar. With no
// receiver the service still answers.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { start } = require('./support/service');

/** Every OTLP export request, by signal path (`/v1/traces`, `/v1/logs`, `/v1/metrics`), as
 * the OTLP/HTTP spec has a receiver take them (https://opentelemetry.io/docs/specs/otlp/#otlphttp):
 * POST, `application/json` for the JSON encoding (anything else 415 here, since only JSON is
 * read), a 200 with an export response on success. */
function receiver() {
  const received = { '/v1/traces': [], '/v1/logs': [], '/v1/metrics': [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      // OTLP/HTTP: a JSON body answers 200 with an (empty) JSON export response.
      if (req.method !== 'POST' || !(req.url in received) || !String(req.headers['content-type']).startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      received[req.url].push(JSON.parse(body));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, received, port: server.address().port })));
}

const attributes = (resource) => Object.fromEntries((resource?.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
const TEAM_ENV = { OTEL_RESOURCE_ATTRIBUTES: 'service.namespace=payments,deployment.environment=local' };

async function until(what, check, ms = 10_000) {
  const end = Date.now() + ms;
  for (;;) {
    const found = check();
    if (found) return found;
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a request yields a span, a log record and its metrics with one trace id and the resource attributes', async () => {
  const otlp = await receiver();
  const server = start({
    ...TEAM_ENV,
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlp.port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    // Export within a fraction of a second (the defaults batch for 1–5 s).
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_BLRP_SCHEDULE_DELAY: '100',
  });
  try {
    const base = `http://127.0.0.1:${await server.port}`;
    assert.equal((await fetch(`${base}/`)).status, 200);

    const span = await until('server span for GET /', () => {
      for (const req of otlp.received['/v1/traces'])
        for (const rs of req.resourceSpans ?? [])
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? []) if (s.kind === 2 && s.name.startsWith('GET')) return { span: s, resource: attributes(rs.resource) };
      return null;
    });
    assert.match(span.span.traceId, /^[0-9a-f]{32}$/);
    const record = await until('log record "hello"', () => {
      for (const req of otlp.received['/v1/logs'])
        for (const rl of req.resourceLogs ?? [])
          for (const sl of rl.scopeLogs ?? [])
            for (const l of sl.logRecords ?? []) if (l.body?.stringValue === 'hello') return { record: l, resource: attributes(rl.resource) };
      return null;
    });
    assert.equal(record.record.traceId, span.span.traceId, 'the log record is the request’s');
    for (const r of [span.resource, record.resource]) {
      assert.equal(r['service.name'], '${{ values.name }}');
      assert.equal(r['service.namespace'], 'payments');
      assert.equal(r['deployment.environment'], 'local');
    }
    // The same line still goes to stdout, with the same trace id.
    const logged = server.lines.find((l) => l.message === 'hello');
    assert.equal(logged?.trace_id, span.span.traceId);

    // Metrics: scraped, not pushed (nothing is counted twice).
    const scraped = await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
    const metrics = await scraped.text();
    const line = metrics.split('\n').find((l) => l.startsWith('http_requests_total{') && l.includes('route="/"'));
    assert.ok(line, metrics);
    assert.ok(line.includes('service_name="${{ values.name }}"'), line);
    assert.match(line, /service_namespace="payments"/);
    assert.match(line, /deployment_environment="local"/);
    assert.match(line, new RegExp(`# \\{trace_id="${span.span.traceId}"`), `the exemplar links the counter to the trace: ${line}`);
    assert.ok(
      metrics.split('\n').some((l) => l.startsWith('http_request_duration_seconds_bucket{') && l.includes(`trace_id="${span.span.traceId}"`)),
      'the histogram carries the exemplar too',
    );
    assert.equal(otlp.received['/v1/metrics'].length, 0, 'metrics are not also exported over OTLP');
  } finally {
    server.child.kill('SIGKILL');
    otlp.server.close();
  }
});

test('with the receiver down the service still answers', async () => {
  const otlp = await receiver();
  const closed = otlp.port;
  await new Promise((r) => otlp.server.close(r));
  // The SDK's export errors go to stderr; they are expected here.
  const server = start({ ...TEAM_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${closed}`, OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_BLRP_SCHEDULE_DELAY: '100' }, 'ignore');
  try {
    const base = `http://127.0.0.1:${await server.port}`;
    for (let i = 0; i < 3; i++) assert.equal((await fetch(`${base}/`)).status, 200);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await fetch(`${base}/healthz`)).status, 200, 'failed exports do not take the service down');
  } finally {
    server.child.kill('SIGKILL');
  }
});
