import type { Kysely } from 'kysely';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { LandingUrl } from '../tracking/tracking.service.js';
import { startLoop } from '../worker-loops.js';
import type { CaptureConfig } from './capture-config.js';
import { createCaptureHandler, type CaptureHandler } from './capture.http.js';
import { createCaptureService, type CaptureService } from './capture.service.js';
import { createVisitorTokens, originOf, withVisitorToken, type VisitorTokens } from './visitor-token.js';

/*
 * Wiring of website capture for baton.ts: the click redirect's landing URL, the snippet and
 * /collect handler, and in workers the loop that drops anonymous visitors past their retention.
 */

const PRUNE_EVERY_MS = 60 * 60_000;

/** Adds a visitor token to a click's destination when it is a page of the marketer's own site. */
export function visitorLandingUrl(tokens: VisitorTokens, siteOrigins: string[]): LandingUrl {
  const origins = new Set(siteOrigins);
  return (url, leadId, now) => {
    const origin = originOf(url);
    // Never to a third party's site: the token would let it speak for the lead.
    return origin && origins.has(origin) ? withVisitorToken(url, tokens.sign(leadId, now)) : url;
  };
}

export interface RunningCapture {
  service: CaptureService;
  handler: CaptureHandler;
  stop(): Promise<void>;
}

export function startCapture(options: {
  config: CaptureConfig;
  siteKey: string;
  db: Kysely<Database>;
  leads: LeadsService;
  tokens: VisitorTokens;
  logger: Logger;
  worker: boolean;
  maxBufferedEvents?: number;
}): RunningCapture {
  const { config, siteKey, db, leads, tokens, logger } = options;
  const service = createCaptureService({ db, leads, tokens, logger, retentionMs: config.visitorRetentionMs, maxBufferedEvents: options.maxBufferedEvents });
  const handler = createCaptureHandler({ capture: service, config, siteKey, logger });
  const pruning = options.worker
    ? startLoop('anonymous visitor pruning', PRUNE_EVERY_MS, logger, async () => {
        const deleted = await service.pruneAnonymousVisitors(new Date());
        if (deleted > 0) logger.info({ visitors: deleted }, 'anonymous visitors past their retention deleted');
      })
    : null;
  pruning?.kick();
  return {
    service,
    handler,
    async stop() {
      await pruning?.stop();
      await service.close();
    },
  };
}

export { createVisitorTokens };
