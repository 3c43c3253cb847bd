/*
 * A converted deal's value and currency. Currencies are the ISO 4217 codes the runtime's ICU
 * knows (`Intl.supportedValuesOf`), so the list is not ours to keep; a value may carry no more
 * decimals than the currency has minor units (JPY none, EUR two, BHD three). Pure.
 */

export interface Deal {
  value: number;
  currency: string;
}

export type DealParse = { ok: true; deal: Deal | null } | { ok: false; field: 'value' | 'currency'; message: string };

const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));
/** numeric(20, 4) holds sixteen digits before the point. */
const MAX_VALUE = 1e15;

export function isCurrency(code: string): boolean {
  return CURRENCIES.has(code);
}

export function minorUnits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/** Both absent: no deal. A form sends empty strings for fields left blank, which count as absent. */
export function parseDeal(value: unknown, currency: unknown): DealParse {
  const noValue = value === undefined || value === null || value === '';
  const noCurrency = currency === undefined || currency === null || currency === '';
  if (noValue && noCurrency) return { ok: true, deal: null };
  if (noCurrency) return { ok: false, field: 'currency', message: 'currency is required with a value (an ISO 4217 code such as EUR)' };
  if (typeof currency !== 'string' || !/^[A-Za-z]{3}$/.test(currency.trim()) || !isCurrency(currency.trim().toUpperCase())) {
    return {
      ok: false,
      field: 'currency',
      message: `currency must be an ISO 4217 code such as EUR, USD or JPY${typeof currency === 'string' ? ` (not "${currency.slice(0, 20)}")` : ''}`,
    };
  }
  const code = currency.trim().toUpperCase();
  if (noValue) return { ok: false, field: 'value', message: 'value is required with a currency' };
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : null;
  if (text === null || !/^\d+(\.\d+)?$/.test(text) || !Number.isFinite(Number(text))) {
    return { ok: false, field: 'value', message: 'value must be a number of zero or more, such as 1200 or 1200.50' };
  }
  const amount = Number(text);
  if (amount >= MAX_VALUE) return { ok: false, field: 'value', message: `value must be under ${MAX_VALUE.toExponential()}` };
  const decimals = text.includes('.') ? (text.split('.')[1] ?? '').replace(/0+$/, '').length : 0;
  const allowed = minorUnits(code);
  if (decimals > allowed) return { ok: false, field: 'value', message: `value has ${decimals} decimals; ${code} has ${allowed === 0 ? 'none' : allowed}` };
  return { ok: true, deal: { value: amount, currency: code } };
}
