import type pg from 'pg';
import type { Logger } from '../logger.js';

/*
 * LISTEN on one channel over a connection of its own, for news other processes send with
 * pg_notify (delivered when their transaction commits). A lost connection is replaced after a
 * second; whatever was sent meanwhile is lost, so `onGap` tells the caller to stop trusting
 * what it derived from earlier news (e.g. drop a whole cache).
 */

export interface ChannelListener {
  close(): Promise<void>;
}

export interface ChannelHandlers {
  onMessage(payload: string): void;
  onGap(): void;
}

const RECONNECT_MS = 1000;

export async function listenToChannel(pool: pg.Pool, channel: string, handlers: ChannelHandlers, logger: Logger): Promise<ChannelListener> {
  if (!/^[a-z_]+$/.test(channel)) throw new Error(`not a channel name: ${channel}`);
  let client: pg.PoolClient | null = null;
  let closed = false;
  let retry: NodeJS.Timeout | null = null;

  const connect = async (): Promise<void> => {
    const next = await pool.connect();
    let released = false;
    const drop = (error: Error) => {
      if (released) return;
      released = true;
      next.release(error);
    };
    next.on('notification', (message) => {
      if (message.channel === channel) handlers.onMessage(message.payload ?? '');
    });
    next.on('error', (error) => {
      if (client !== next) return drop(error);
      logger.warn({ err: error, channel }, 'lost the LISTEN connection; listening again shortly');
      drop(error);
      client = null;
      if (!closed) retry = setTimeout(reconnect, RECONNECT_MS);
    });
    try {
      await next.query(`listen ${channel}`);
    } catch (error) {
      // Refused (a standby in recovery, say): give the connection back, or each retry leaks one.
      drop(error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
    client = next;
  };
  const reconnect = () => {
    retry = null;
    connect().then(handlers.onGap, (error: unknown) => {
      logger.warn({ err: error, channel }, 'could not LISTEN again; retrying');
      if (!closed) retry = setTimeout(reconnect, RECONNECT_MS);
    });
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const current = client;
      client = null;
      if (!current) return;
      try {
        await current.query(`unlisten ${channel}`);
        current.release();
      } catch (error) {
        current.release(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}
