import { Router } from 'express';
import Joi from 'joi';
import type { Kysely } from 'kysely';
import { simpleParser } from 'mailparser';
import { AppError } from '../platform/errors.js';
import type { Database } from '../platform/db/schema.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { emailSchema } from '../leads/leads.schemas.js';
import { findDevMail, listDevMail, type DevMailRow } from './dev-mail.repository.js';

const listQuery = Joi.object<{ to?: string; limit: number }>({ to: emailSchema, limit: Joi.number().integer().min(1).max(200).default(50) });
const idParams = Joi.object<{ id: string }>({
  id: Joi.string()
    .pattern(/^\d{1,18}$/)
    .required()
    .messages({ 'string.pattern.base': 'id must be a message number' }),
});

/** Messages caught by the embedded SMTP sink; only mounted when Baton runs without SMTP_URL. */
export function devMailRoutes(db: Kysely<Database>): Router {
  const router = Router();

  router.get(
    '/dev/mail',
    documented({
      tag: 'development',
      summary: 'Mail caught by the embedded SMTP sink (only without SMTP_URL)',
      query: listQuery,
      responses: { 200: { description: 'caught messages, newest first' } },
    }),
    async (req, res) => {
      const query = validate(listQuery, req.query, 'query');
      const rows = await listDevMail(db, query);
      res.json({ items: await Promise.all(rows.map(describe)) });
    },
  );

  router.get(
    '/dev/mail/:id',
    documented({ tag: 'development', summary: 'One caught message, parsed', params: idParams, responses: { 200: { description: 'the message' } } }),
    async (req, res) => {
      const { id } = validate(idParams, req.params, 'path');
      const row = await findDevMail(db, id);
      if (!row) throw new AppError('mail_not_found', `No caught message has id ${id}`, [{ field: 'id', location: 'path', message: 'no message has this id' }]);
      const parsed = await simpleParser(row.raw);
      res.json({ ...(await describe(row)), html: parsed.html || null, text: parsed.text ?? null });
    },
  );

  return router;
}

async function describe(row: DevMailRow) {
  const parsed = await simpleParser(row.raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  return {
    id: row.id,
    receivedAt: row.received_at.toISOString(),
    envelope: { from: row.envelope_from, to: row.envelope_to },
    messageId: parsed.messageId ?? null,
    subject: parsed.subject ?? null,
    from: parsed.from?.text ?? null,
    to: Array.isArray(parsed.to) ? parsed.to.map((address) => address.text).join(', ') : (parsed.to?.text ?? null),
    listUnsubscribe: rawHeader(parsed.headerLines, 'list-unsubscribe'),
    listUnsubscribePost: rawHeader(parsed.headerLines, 'list-unsubscribe-post'),
    raw: row.raw,
  };
}

/** A header's value as sent (mailparser turns some headers into objects). */
function rawHeader(lines: ReadonlyArray<{ key: string; line: string }>, name: string): string | null {
  const line = lines.find((header) => header.key === name)?.line;
  return line === undefined ? null : line.replace(/^[^:]+:\s*/, '').replace(/\r?\n\s+/g, ' ');
}
