import type { Kysely } from 'kysely';
import type { EventsService } from '../events/events.service.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { MailTransport } from '../mail/mail-transport.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { TokenSigner } from '../platform/signing.js';
import { confirmOptInRequest, findOptInRequest, insertOptInRequest } from '../consent/consent.repository.js';
import { confirmationMail } from './confirmation-mail.js';
import { checkFillTime, startedToken } from './fill-timer.js';
import { HONEYPOT_FIELD, STARTED_FIELD, VISITOR_FIELD, type FormDefinition } from './form.js';
import { readFormInput, type FieldError } from './form-input.js';

/*
 * What a form submit does: checks (honeypot, fill time, fields), writes the lead, records
 * `form_submit` with the form id (scoring and sequences count it), then either adds tags and
 * enrolls at once, or, with double opt-in, keeps the proof and mails a confirmation link; tags
 * and the sequence wait for the confirmation. No outcome says anything about a stored lead: a
 * suppressed address gets the same thank-you as a new one.
 */

export interface SubmitMeta {
  ip: string | null;
  userAgent: string | null;
  /** The submit came from a site in the form's allowed_origins: its own HTML carries no fill-time token. */
  fromAllowedSite: boolean;
  now: Date;
}

export type SubmitOutcome =
  | { kind: 'accepted' }
  /** The honeypot was filled: answered as accepted, nothing stored. */
  | { kind: 'discarded' }
  | { kind: 'invalid'; errors: FieldError[]; values: Record<string, string> }
  /** Sooner than the form's minimum fill time, or an altered or stale token: the form again, with a fresh token. */
  | { kind: 'retry'; notice: string; values: Record<string, string> };

export type ConfirmOutcome = { kind: 'confirmed' | 'already_confirmed'; formTitle: string } | { kind: 'invalid_link' };

export interface FormsService {
  forms: ReadonlyMap<string, FormDefinition>;
  /** Baton's own origin (BATON_PUBLIC_URL): its form pages post from there. */
  publicOrigin: string;
  startedToken(formId: string, now: Date): string;
  submit(form: FormDefinition, body: Record<string, unknown>, meta: SubmitMeta): Promise<SubmitOutcome>;
  /** For the page the confirmation link opens: the form's title, or null for a link Baton did not make. */
  confirmationTitle(token: string): Promise<string | null>;
  confirm(token: string, meta: { ip: string | null; userAgent: string | null; now: Date }): Promise<ConfirmOutcome>;
}

export interface FormsDeps {
  db: Kysely<Database>;
  forms: FormDefinition[];
  leads: LeadsService;
  events: EventsService;
  transport: MailTransport;
  /** runner.enroll; its outcome (already enrolled, not eligible) changes nothing for the person. */
  enroll: ((sequenceId: string, leadId: string, now: Date) => Promise<unknown>) | null;
  startedSigner: TokenSigner;
  optInSigner: TokenSigner;
  settings: { publicUrl: string; mailFrom: string; company: { name: string; postalAddress: string } };
  logger: Logger;
  /**
   * The snippet's visitor join (src/capture, issue 13 item 2): called when a submit carries a
   * `baton_visitor` id, after the lead is written. Wired by the lead at merge; null until then.
   */
  joinVisitor?: ((visitorId: string, leadId: string, now: Date) => Promise<void>) | null;
}

/** A confirmation link works for 30 days. */
const CONFIRM_LINK_MS = 30 * 24 * 60 * 60_000;

export function createFormsService(deps: FormsDeps): FormsService {
  const forms = new Map(deps.forms.map((form) => [form.id, form]));

  const readConfirmToken = (token: string, now: Date): string | null => {
    const payload = deps.optInSigner.verify(token);
    const match = payload === null ? null : /^([0-9a-f-]{36}):(\d{1,15})$/.exec(payload);
    if (!match?.[1] || now.getTime() - Number(match[2]) > CONFIRM_LINK_MS) return null;
    return match[1];
  };

  async function afterConsent(form: FormDefinition, leadId: string, now: Date): Promise<void> {
    if (form.sequence && deps.enroll) await deps.enroll(form.sequence, leadId, now);
  }

  async function requestConfirmation(form: FormDefinition, leadId: string, email: string, meta: SubmitMeta, leadIsNew: boolean): Promise<void> {
    if (!form.consent) return;
    const requestId = await insertOptInRequest(deps.db, {
      leadId,
      formId: form.id,
      wordingVersion: form.consent.version,
      wording: form.consent.text,
      ip: meta.ip,
      userAgent: meta.userAgent,
      holdsBackEmail: leadIsNew,
    });
    const url = `${deps.settings.publicUrl}/forms/confirm/${deps.optInSigner.sign(`${requestId}:${meta.now.getTime()}`)}`;
    const mail = confirmationMail({ formTitle: form.title, url, company: deps.settings.company.name, postalAddress: deps.settings.company.postalAddress });
    const sent = await deps.transport.send({ from: deps.settings.mailFrom, to: email, ...mail });
    if (sent.outcome.kind !== 'sent') deps.logger.warn({ form: form.id, reason: sent.outcome.reason }, 'a double opt-in confirmation was not accepted by SMTP');
  }

  return {
    forms,
    publicOrigin: new URL(deps.settings.publicUrl).origin,
    startedToken: (formId, now) => startedToken(deps.startedSigner, formId, now),

    async submit(form, body, meta) {
      const honeypot = body[HONEYPOT_FIELD];
      if (typeof honeypot !== 'string' ? honeypot !== undefined : honeypot !== '') return { kind: 'discarded' };
      const input = readFormInput(form, body);
      const fill = checkFillTime(deps.startedSigner, body[STARTED_FIELD], form.id, form.minFillSeconds, meta.now);
      switch (fill.kind) {
        case 'ok':
          break;
        case 'missing':
          // A marketer's own HTML on an allowed site has no token; honeypot and rate limit still hold.
          if (meta.fromAllowedSite) break;
          return { kind: 'retry', notice: 'Please fill in the form on this page and send it again.', values: input.values };
        case 'invalid':
        case 'expired':
          return { kind: 'retry', notice: 'This form was open for too long. Please check your answers and send it again.', values: input.values };
        case 'too_fast':
          return { kind: 'retry', notice: 'That was quick! Please check your answers and send the form again.', values: input.values };
      }
      if (!input.ok) return { kind: 'invalid', errors: input.errors, values: input.values };

      const consent =
        input.consentGiven && form.consent && !form.doubleOptIn
          ? { status: 'granted' as const, source: `form:${form.id}`, at: meta.now.toISOString(), text: form.consent.version }
          : undefined;
      const written = await deps.leads.upsert({ ...input.lead, ...(consent ? { consent } : {}) }, { mode: 'form' });
      switch (written.kind) {
        case 'suppressed':
          return { kind: 'accepted' };
        case 'invalid':
          return { kind: 'invalid', errors: written.problems.map((problem) => ({ field: problem.field, message: problem.message })), values: input.values };
        case 'created':
        case 'updated':
          break;
      }
      const leadId = written.lead.id;
      await deps.events.record([
        {
          leadId,
          type: 'form_submit',
          occurredAt: meta.now,
          properties: {
            form: form.id,
            ...(form.consent ? { consent: input.consentGiven, consentVersion: form.consent.version } : {}),
            ...(form.doubleOptIn ? { doubleOptIn: true } : {}),
          },
        },
      ]);

      // SNIPPET JOIN (issue 13 item 2): the one place a form submit joins the visitor to the lead.
      const visitor = body[VISITOR_FIELD];
      if (typeof visitor === 'string' && visitor !== '' && visitor.length <= 100 && deps.joinVisitor) await deps.joinVisitor(visitor, leadId, meta.now);

      if (form.doubleOptIn) {
        if (input.consentGiven) await requestConfirmation(form, leadId, written.lead.email, meta, written.kind === 'created');
      } else {
        await afterConsent(form, leadId, meta.now);
      }
      return { kind: 'accepted' };
    },

    async confirmationTitle(token) {
      const requestId = readConfirmToken(token, new Date());
      const request = requestId ? await findOptInRequest(deps.db, requestId) : null;
      if (!request) return null;
      return forms.get(request.formId)?.title ?? request.formId;
    },

    async confirm(token, meta) {
      const requestId = readConfirmToken(token, meta.now);
      const request = requestId ? await findOptInRequest(deps.db, requestId) : null;
      if (!request) return { kind: 'invalid_link' };
      const form = forms.get(request.formId);
      const formTitle = form?.title ?? request.formId;
      if (!(await confirmOptInRequest(deps.db, request.id, meta.now, meta.ip, meta.userAgent))) return { kind: 'already_confirmed', formTitle };
      const lead = await deps.leads.get(request.leadId);
      if (!lead) return { kind: 'invalid_link' };
      // The person's own act: it grants consent even over an earlier withdrawal.
      await deps.leads.upsert({
        email: lead.email,
        consent: { status: 'granted', source: `form:${request.formId} (double opt-in)`, at: meta.now.toISOString(), text: request.wordingVersion },
        ...(form && form.tags.length > 0 ? { tags: form.tags } : {}),
      });
      await deps.events.record([
        { leadId: lead.id, type: 'opt_in_confirmed', occurredAt: meta.now, properties: { form: request.formId, consentVersion: request.wordingVersion } },
      ]);
      if (form) await afterConsent(form, lead.id, meta.now);
      return { kind: 'confirmed', formTitle };
    },
  };
}
