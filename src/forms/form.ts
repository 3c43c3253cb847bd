/*
 * A form after its YAML file (forms/*.yaml) is parsed and validated. See docs/forms.md.
 */

export const FIELD_TYPES = ['email', 'text', 'textarea', 'tel', 'select', 'checkbox'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

/** Field names that fill the lead's own fields; any other name is kept as a trait. */
export const LEAD_FIELD_NAMES = ['email', 'first_name', 'last_name', 'company', 'title', 'phone', 'country'] as const;

/** Names Baton puts on every form itself: the fill-time token, the honeypot, consent, the visitor id. */
export const RESERVED_FIELD_NAMES = ['baton_started', 'homepage', 'consent', 'baton_visitor'] as const;
export const STARTED_FIELD = 'baton_started';
export const HONEYPOT_FIELD = 'homepage';
export const CONSENT_FIELD = 'consent';
/** The snippet's anonymous visitor id (src/capture), when the form is posted from a page that has it. */
export const VISITOR_FIELD = 'baton_visitor';

export interface FormField {
  name: string;
  label: string;
  type: FieldType;
  required: boolean;
  maxLength: number;
  /** A regular expression the value must match, with what the person is told when it does not. */
  pattern: { regex: string; message: string } | null;
  /** The choices of a select. */
  options: string[];
  help: string | null;
}

export interface ConsentWording {
  /** Changes whenever the text changes: the proof names the version the person agreed to. */
  version: string;
  text: string;
  required: boolean;
}

export type ThankYou = { kind: 'message'; message: string } | { kind: 'redirect'; url: string };

export interface FormDefinition {
  id: string;
  title: string;
  description: string;
  submitLabel: string;
  fields: FormField[];
  consent: ConsentWording | null;
  tags: string[];
  /** A sequence to enroll the lead in (after confirmation, with double opt-in). */
  sequence: string | null;
  doubleOptIn: boolean;
  thankYou: ThankYou;
  /** Sites whose own HTML forms (or the snippet) may post here; Baton's own page always may. */
  allowedOrigins: string[];
  /** A submit sooner than this after the page was served is a bot's. */
  minFillSeconds: number;
  file: string;
}
