import express, { type RequestHandler } from 'express';
import { AppError } from '../errors.js';

/**
 * JSON body parsing for routes that take one. A body in another media type is refused with 415
 * rather than silently read as empty, which would turn into a confusing "field is required".
 */
export function jsonBody(limit: string): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody && !req.is('application/json') && !req.is('application/*+json')) {
      next(
        new AppError('unsupported_media_type', 'Send the body as application/json', [
          { field: 'Content-Type', location: 'header', message: 'Content-Type must be application/json' },
        ]),
      );
      return;
    }
    next();
  };
  return [requireJson, express.json({ limit, type: ['application/json', 'application/*+json'] })];
}
