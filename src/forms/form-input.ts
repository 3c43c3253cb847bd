import type { LeadInput } from '../leads/lead.js';
import { leadInputSchema } from '../leads/leads.schemas.js';
import { CONSENT_FIELD, LEAD_FIELD_NAMES, type FormDefinition } from './form.js';

/*
 * A submitted form checked against its definition. Pure. Whatever the body holds (strings from
 * an HTML form, anything from JSON), the result is either the lead to write or a message per
 * field, in the field's own words, for the re-rendered form.
 */

export interface FieldError {
  field: string;
  message: string;
}

export type FormInput =
  { ok: true; lead: LeadInput; consentGiven: boolean; values: Record<string, string> } | { ok: false; errors: FieldError[]; values: Record<string, string> };

const LEAD_KEYS: Record<(typeof LEAD_FIELD_NAMES)[number], keyof LeadInput> = {
  email: 'email',
  first_name: 'firstName',
  last_name: 'lastName',
  company: 'company',
  title: 'title',
  phone: 'phone',
  country: 'country',
};
const isLeadField = (name: string): name is (typeof LEAD_FIELD_NAMES)[number] => (LEAD_FIELD_NAMES as readonly string[]).includes(name);

/** A checkbox is ticked when the browser sent its value (any) or JSON sent true. */
const ticked = (value: unknown) => value === true || (typeof value === 'string' && value !== '' && value !== 'false' && value !== '0');

export function readFormInput(form: FormDefinition, body: Record<string, unknown>): FormInput {
  const values: Record<string, string> = {};
  const errors: FieldError[] = [];
  const lead: Record<string, unknown> = {};
  const traits: Record<string, unknown> = {};
  for (const field of form.fields) {
    const raw = body[field.name];
    if (field.type === 'checkbox') {
      const on = ticked(raw);
      values[field.name] = on ? 'on' : '';
      if (field.required && !on) errors.push({ field: field.name, message: `${field.label}: please tick this box` });
      else traits[field.name] = on;
      continue;
    }
    // One value per field: a repeated name (or an array in JSON) is not a value this form has.
    const text = typeof raw === 'string' ? raw.trim() : typeof raw === 'number' ? String(raw) : raw === undefined || raw === null ? '' : null;
    if (text === null) {
      errors.push({ field: field.name, message: `${field.label}: give one value` });
      continue;
    }
    values[field.name] = text.slice(0, field.maxLength + 100);
    if (text === '') {
      if (field.required) errors.push({ field: field.name, message: `${field.label} is required` });
      continue;
    }
    if (text.length > field.maxLength) errors.push({ field: field.name, message: `${field.label} must be at most ${field.maxLength} characters` });
    else if (field.type === 'select' && !field.options.includes(text)) errors.push({ field: field.name, message: `${field.label}: choose one of the options` });
    else if (field.pattern && !new RegExp(field.pattern.regex).test(text)) errors.push({ field: field.name, message: field.pattern.message });
    else if (isLeadField(field.name)) lead[LEAD_KEYS[field.name]] = text;
    else traits[field.name] = text;
  }

  const consentGiven = ticked(body[CONSENT_FIELD]);
  values[CONSENT_FIELD] = consentGiven ? 'on' : '';
  if (form.consent?.required && !consentGiven) errors.push({ field: CONSENT_FIELD, message: 'Please tick the box to agree, or we cannot send you anything' });

  // The lead's own rules (address, phone, country) in the field's words.
  const candidate = {
    ...lead,
    ...(Object.keys(traits).length > 0 ? { traits } : {}),
    ...(form.tags.length > 0 && !form.doubleOptIn ? { tags: form.tags } : {}),
  };
  const checked = leadInputSchema.validate(candidate, { abortEarly: false, errors: { wrap: { label: false } } });
  for (const detail of checked.error?.details ?? []) {
    const key = String(detail.path[0] ?? '');
    const name =
      (Object.keys(LEAD_KEYS) as Array<keyof typeof LEAD_KEYS>).find((field) => LEAD_KEYS[field] === key) ??
      (key === 'traits' ? String(detail.path[1] ?? key) : key);
    if (errors.some((error) => error.field === name)) continue;
    const label = form.fields.find((field) => field.name === name)?.label ?? name;
    errors.push({
      field: name,
      message: key === 'email' ? `${label}: enter an email address such as name@example.com` : `${label}: ${detail.message.replace(/^[\w.]+ /, '')}`,
    });
  }
  if (errors.length > 0 || checked.error) return { ok: false, errors, values };
  return { ok: true, lead: checked.value, consentGiven, values };
}
