'use strict';
const http = require('node:http');
const { trace } = require('@opentelemetry/api');
const { logger } = require('./logger');
const metrics = require('./metrics');

const SERVICE = process.env.OTEL_SERVICE_NAME || '${{ values.name }}';

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The HTTP service: its routes, and `state.ready`, which shutdown turns off first. */
function createApp() {
  const state = { ready: true };
  const routes = {
    'GET /': (req, res) => {
      logger.info('hello', { route: '/' });
      send(res, 200, { service: SERVICE, message: 'Hello from ${{ values.name }}' });
    },
    // Liveness: the process answers. Nothing else, or a slow dependency restarts healthy pods.
    'GET /healthz': (req, res) => send(res, 200, { status: 'ok' }),
    // Readiness: whether to send traffic here; false while shutting down.
    'GET /readyz': (req, res) => send(res, state.ready ? 200 : 503, { status: state.ready ? 'ready' : 'shutting down' }),
    'GET /metrics': async (req, res) => send(res, 200, await metrics.register.metrics(), metrics.register.contentType),
  };

  const server = http.createServer(async (req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    const handler = routes[`${req.method} ${path}`];
    const route = handler ? path : 'unmatched';
    const started = process.hrtime.bigint();
    // The server span the HTTP instrumentation opened for this request.
    const span = trace.getActiveSpan()?.spanContext();
    res.on('finish', () => {
      const labels = { method: req.method, route, status_code: String(res.statusCode) };
      metrics.record(labels, Number(process.hrtime.bigint() - started) / 1e9, span);
    });
    if (!handler) {
      send(res, 404, { error: 'not found' });
      return;
    }
    try {
      await handler(req, res);
    } catch (err) {
      logger.error('request failed', { route, error: err.message });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    }
  });
  return { server, state };
}

module.exports = { createApp };
