import { escapeHtml } from '../platform/http/public-page.js';
import { CONSENT_FIELD, HONEYPOT_FIELD, STARTED_FIELD, type FormDefinition, type FormField } from './form.js';
import type { FieldError } from './form-input.js';

/*
 * The HTML of a form served at GET /forms/:id: plain, accessible and working without scripts.
 * Every input has a label; an error is tied to its field (aria-describedby, aria-invalid) and
 * listed in a summary at the top that takes focus order first. Values echoed back are only what
 * the person just typed, never anything stored about a lead.
 */

const AUTOCOMPLETE: Record<string, string> = {
  email: 'email',
  first_name: 'given-name',
  last_name: 'family-name',
  company: 'organization',
  title: 'organization-title',
  phone: 'tel',
  country: 'country',
};

const STYLE = `<style>
form.baton-form label{display:block;font-weight:600;margin-top:1rem}
form.baton-form input[type=text],form.baton-form input[type=email],form.baton-form input[type=tel],form.baton-form select,form.baton-form textarea{display:block;width:100%;box-sizing:border-box;font-size:1rem;padding:.5rem;margin-top:.25rem;border:1px solid #52606d;border-radius:4px}
form.baton-form .check{display:flex;gap:.5rem;align-items:flex-start;font-weight:400}
form.baton-form .check input{margin-top:.3rem}
form.baton-form .error{color:#b42318;margin:.25rem 0 0}
form.baton-form .help{color:#52606d;margin:.25rem 0 0}
form.baton-form [aria-invalid=true]{border-color:#b42318}
form.baton-form button{margin-top:1.5rem}
.baton-summary{border:2px solid #b42318;padding:.5rem 1rem;border-radius:4px}
.baton-trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
</style>`;

export interface FormPageInput {
  form: FormDefinition;
  startedToken: string;
  values?: Record<string, string>;
  errors?: FieldError[];
  /** A general message above the fields (e.g. "that was quick"). */
  notice?: string;
}

export function renderFormBody({ form, startedToken, values = {}, errors = [], notice }: FormPageInput): string {
  const errorOf = (name: string) => errors.find((error) => error.field === name)?.message ?? null;
  const summary =
    errors.length > 0
      ? `<div class="baton-summary" role="alert" aria-labelledby="baton-summary-title"><h2 id="baton-summary-title">Please correct ${errors.length === 1 ? 'this' : `these ${errors.length}`}:</h2><ul>${errors.map((error) => `<li><a href="#field-${escapeHtml(error.field)}">${escapeHtml(error.message)}</a></li>`).join('')}</ul></div>`
      : '';
  const consent = form.consent
    ? checkbox({
        id: `field-${CONSENT_FIELD}`,
        name: CONSENT_FIELD,
        label: form.consent.text,
        required: form.consent.required,
        checked: values[CONSENT_FIELD] === 'on',
        error: errorOf(CONSENT_FIELD),
        help: null,
      })
    : '';
  return `${STYLE}${form.description ? `<p>${escapeHtml(form.description)}</p>` : ''}${notice ? `<p role="status">${escapeHtml(notice)}</p>` : ''}${summary}
<form class="baton-form" method="post" action="/forms/${escapeHtml(form.id)}" novalidate>
<input type="hidden" name="${STARTED_FIELD}" value="${escapeHtml(startedToken)}">
${form.fields.map((field) => fieldHtml(field, values[field.name] ?? '', errorOf(field.name))).join('\n')}
${consent}
<div class="baton-trap" aria-hidden="true"><label for="field-${HONEYPOT_FIELD}">Leave this field empty</label><input type="text" id="field-${HONEYPOT_FIELD}" name="${HONEYPOT_FIELD}" tabindex="-1" autocomplete="off"></div>
<button type="submit">${escapeHtml(form.submitLabel)}</button>
</form>`;
}

function fieldHtml(field: FormField, value: string, error: string | null): string {
  const id = `field-${field.name}`;
  if (field.type === 'checkbox')
    return checkbox({ id, name: field.name, label: field.label, required: field.required, checked: value === 'on', error, help: field.help });
  const described = [error ? `${id}-error` : null, field.help ? `${id}-help` : null].filter(Boolean).join(' ');
  const common = `id="${id}" name="${escapeHtml(field.name)}"${field.required ? ' required aria-required="true"' : ''}${error ? ' aria-invalid="true"' : ''}${described ? ` aria-describedby="${described}"` : ''}`;
  const autocomplete = AUTOCOMPLETE[field.name] ? ` autocomplete="${AUTOCOMPLETE[field.name]}"` : '';
  const control =
    field.type === 'textarea'
      ? `<textarea ${common} maxlength="${field.maxLength}" rows="4">${escapeHtml(value)}</textarea>`
      : field.type === 'select'
        ? `<select ${common}><option value="">Choose…</option>${field.options.map((option) => `<option${option === value ? ' selected' : ''}>${escapeHtml(option)}</option>`).join('')}</select>`
        : `<input type="${field.type}" ${common} value="${escapeHtml(value)}" maxlength="${field.maxLength}"${autocomplete}>`;
  return `<label for="${id}">${escapeHtml(field.label)}${field.required ? ' <span aria-hidden="true">*</span>' : ''}</label>${field.help ? `<p class="help" id="${id}-help">${escapeHtml(field.help)}</p>` : ''}${control}${error ? `<p class="error" id="${id}-error">${escapeHtml(error)}</p>` : ''}`;
}

function checkbox(input: { id: string; name: string; label: string; required: boolean; checked: boolean; error: string | null; help: string | null }): string {
  const { id, error } = input;
  return `<label class="check" for="${id}"><input type="checkbox" id="${id}" name="${escapeHtml(input.name)}" value="on"${input.checked ? ' checked' : ''}${input.required ? ' required aria-required="true"' : ''}${error ? ` aria-invalid="true" aria-describedby="${id}-error"` : ''}><span>${escapeHtml(input.label)}</span></label>${error ? `<p class="error" id="${id}-error">${escapeHtml(error)}</p>` : ''}`;
}
