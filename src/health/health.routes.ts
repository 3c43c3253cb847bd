import { Router } from 'express';

/**
 * Liveness and readiness in one: 200 when the database answers, 503 when it does not. The click
 * and open events waiting for the database, and those dropped because too many waited, are shown
 * either way, so a monitor sees an outage's cost.
 */
export function healthRoutes(pingDatabase: () => Promise<boolean>, trackingBuffer: () => { pending: number; dropped: number }): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const databaseUp = await pingDatabase();
    const tracking = trackingBuffer();
    res.status(databaseUp ? 200 : 503).json(databaseUp ? { status: 'ok', tracking } : { status: 'unavailable', checks: { database: 'down' }, tracking });
  });
  return router;
}
