'use strict';
// Prometheus metrics: Node's default process metrics plus request duration and count. Labels use
// the route template, never the raw path, so their cardinality stays low.
const client = require('prom-client');

const register = new client.Registry();
client.collectDefaultMetrics({ register });

const labelNames = ['method', 'route', 'status_code'];
const duration = new client.Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP request duration in seconds',
  labelNames,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [register],
});
const requests = new client.Counter({
  name: 'http_requests_total',
  help: 'HTTP requests served',
  labelNames,
  registers: [register],
});

module.exports = { register, duration, requests };
