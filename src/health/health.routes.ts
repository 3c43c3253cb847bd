import { Router } from 'express';

/** Liveness and readiness in one: 200 when the database answers, 503 when it does not. */
export function healthRoutes(pingDatabase: () => Promise<boolean>): Router {
  const router = Router();
  router.get('/health', async (_req, res) => {
    const databaseUp = await pingDatabase();
    res.status(databaseUp ? 200 : 503).json(databaseUp ? { status: 'ok' } : { status: 'unavailable', checks: { database: 'down' } });
  });
  return router;
}
