'use strict';
// Start with `npm start` (or the Dockerfile's CMD): OpenTelemetry's auto-instrumentation is
// required before this file, so HTTP spans and log correlation work without code here.
const { createApp } = require('./app');
const { logger } = require('./logger');

const port = Number(process.env.PORT ?? 3000);
// How long /readyz reports 503 before the server closes, so endpoints stop routing here first.
const drainMs = Number(process.env.SHUTDOWN_DRAIN_MS ?? 5000);

const { server, state } = createApp();
server.listen(port, () => logger.info('listening', { port: server.address().port }));

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  state.ready = false;
  logger.info('shutting down', { signal, drainMs });
  setTimeout(() => {
    server.close(() => {
      logger.info('stopped');
      process.exit(0);
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(1), 10_000).unref();
  }, drainMs);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
