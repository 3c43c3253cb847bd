import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '../logger.js';
import { isDatabaseDown } from '../db/database-errors.js';
import { AppError, isAppError } from '../errors.js';

/** Unknown routes answer JSON like every other error. */
export const routeNotFound: RequestHandler = (req, _res, next) => {
  next(new AppError('route_not_found', `No route for ${req.method} ${req.path}`));
};

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

function isBodyParserError(error: unknown): error is BodyParserError {
  return typeof error === 'object' && error !== null && 'status' in error && 'expose' in error && error.expose === true;
}

/** Maps body-parser and database-connection failures to registry errors; anything else is a bug. */
function toAppError(error: unknown): AppError | null {
  if (isAppError(error)) return error;
  if (isDatabaseDown(error)) return new AppError('database_unavailable', 'The database is not answering; try again shortly');
  // Express could not percent-decode a path parameter (`/h/%E0%A4%A`): the client's URL is broken.
  if (typeof error === 'object' && error !== null && 'name' in error && error.name === 'URIError') {
    return new AppError('validation_failed', 'The URL path is not valid percent-encoding', [
      { field: '(path)', location: 'path', message: 'the path contains malformed percent-encoding' },
    ]);
  }
  if (!isBodyParserError(error)) return null;
  switch (error.type) {
    case 'entity.parse.failed':
      return new AppError('malformed_json', 'The request body is not valid JSON', [{ field: '(body)', location: 'body', message: 'body must be valid JSON' }]);
    case 'entity.too.large':
      return new AppError('payload_too_large', `The request body is larger than this route accepts (${error.limit ?? '?'} bytes)`, [
        { field: '(body)', location: 'body', message: `body must be at most ${error.limit ?? '?'} bytes` },
      ]);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new AppError('unsupported_media_type', 'The request body charset or encoding is not supported', [
        { field: 'Content-Type', location: 'header', message: 'use UTF-8 JSON' },
      ]);
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new AppError('malformed_json', 'The request body could not be read', [{ field: '(body)', location: 'body', message: 'body was incomplete' }]);
    default:
      // Other client errors raised while reading the body (a gzip body that is not gzip, say).
      return clientBodyError(error);
  }
}

function clientBodyError(error: BodyParserError): AppError | null {
  const status = 'status' in error && typeof error.status === 'number' ? error.status : 500;
  if (status < 400 || status >= 500) return null;
  return new AppError('malformed_json', 'The request body could not be read', [{ field: '(body)', location: 'body', message: 'body could not be decoded' }]);
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const appError = toAppError(error);
    if (appError) {
      // Clients that honour it wait before retrying a database that is restarting.
      if (appError.code === 'database_unavailable') res.setHeader('Retry-After', '2');
      res.status(appError.status).json({ error: { code: appError.code, message: appError.message, details: appError.details ?? null } });
      return;
    }
    const errorId = randomUUID();
    logger.error({ err: error, errorId, method: req.method, path: req.path }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal_error', message: `Internal error; quote ${errorId} when reporting it`, details: { errorId } } });
  };
}
