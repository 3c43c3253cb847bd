/*
 * What other tools call Baton's lead fields. Header names are compared normalised (lower case,
 * without spaces, _ - . or /), so "Company Name", "COMPANY_NAME" and "company-name" are one name.
 * Covers the exports people bring most: HubSpot contacts and Mailchimp audiences.
 */

export type CsvField =
  | 'email'
  | 'firstName'
  | 'lastName'
  | 'company'
  | 'title'
  | 'phone'
  | 'timezone'
  | 'country'
  | 'source'
  | 'tags'
  | 'traits'
  | 'unsubscribed'
  | 'unsubscribedAt'
  | 'consentStatus'
  | 'consentSource'
  | 'consentAt'
  | 'consentText';

export function normaliseHeader(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[\s_\-./]+/g, '');
}

// A Map, not an object literal: a column named constructor or __proto__ must not find
// Object.prototype's members (issue 16: every row was rejected).
export const FIELD_ALIASES = new Map<string, CsvField>(
  Object.entries({
    email: 'email',
    emailaddress: 'email',
    mail: 'email',
    firstname: 'firstName',
    givenname: 'firstName',
    fname: 'firstName',
    lastname: 'lastName',
    surname: 'lastName',
    familyname: 'lastName',
    lname: 'lastName',
    company: 'company',
    companyname: 'company',
    organization: 'company',
    organisation: 'company',
    associatedcompany: 'company',
    title: 'title',
    jobtitle: 'title',
    phone: 'phone',
    phonenumber: 'phone',
    telephone: 'phone',
    mobilephonenumber: 'phone',
    timezone: 'timezone',
    tz: 'timezone',
    // HubSpot's "Country/Region" and Mailchimp's "CC" (a country code).
    country: 'country',
    countrycode: 'country',
    countryregion: 'country',
    cc: 'country',
    source: 'source',
    leadsource: 'source',
    originalsource: 'source',
    tags: 'tags',
    traits: 'traits',
    unsubscribed: 'unsubscribed',
    // Mailchimp's unsubscribed export has UNSUB_TIME; any value there means the person opted out.
    unsubtime: 'unsubscribedAt',
    consentstatus: 'consentStatus',
    consentsource: 'consentSource',
    consentat: 'consentAt',
    consenttext: 'consentText',
  } satisfies Record<string, CsvField>),
);

/**
 * Columns kept as traits under a plain name. Baton's lifecycle stage is its own (from scoring),
 * so HubSpot's "Lifecycle Stage" is kept as the trait lifecycle_stage for rules and briefings.
 * "Number of Employees" becomes company_size, the trait the scoring file's fit rules read.
 */
export const TRAIT_ALIASES = new Map<string, string>(
  Object.entries({
    lifecyclestage: 'lifecycle_stage',
    leadstatus: 'lead_status',
    recordid: 'hubspot_id',
    contactowner: 'owner',
    numberofemployees: 'company_size',
    companysize: 'company_size',
    industry: 'industry',
    city: 'city',
    stateregion: 'region',
    region: 'region',
    websiteurl: 'website',
    memberrating: 'member_rating',
    optintime: 'optin_time',
    confirmtime: 'confirm_time',
    lastchanged: 'last_changed',
  }),
);

let countryCodes: Map<string, string> | null = null;

/**
 * The ISO 3166 code of a country written as a code or an English name ("United States", "Germany",
 * "UK"), as HubSpot exports it; null when it is neither.
 */
export function countryCode(cell: string): string | null {
  const text = cell.trim();
  if (/^[A-Za-z]{2}$/.test(text)) return canonicalRegion(text.toUpperCase());
  countryCodes ??= buildCountryCodes();
  return countryCodes.get(text.toLowerCase().replace(/[.\s]+/g, ' ')) ?? null;
}

/** UK → GB, DD → DE: ICU's canonical form of a region code. */
function canonicalRegion(code: string): string {
  try {
    return Intl.getCanonicalLocales(`und-${code}`)[0]?.slice(4) || code;
  } catch {
    return code;
  }
}

function buildCountryCodes(): Map<string, string> {
  const names = new Intl.DisplayNames(['en'], { type: 'region' });
  const codes = new Map<string, string>(
    Object.entries({
      usa: 'US',
      'u s a': 'US',
      'u s': 'US',
      us: 'US',
      uk: 'GB',
      'u k': 'GB',
      'great britain': 'GB',
      england: 'GB',
      scotland: 'GB',
      wales: 'GB',
      'united states of america': 'US',
      deutschland: 'DE',
      'the netherlands': 'NL',
      holland: 'NL',
      'south korea': 'KR',
      'czech republic': 'CZ',
    }),
  );
  for (let first = 65; first <= 90; first++) {
    for (let second = 65; second <= 90; second++) {
      const code = String.fromCharCode(first, second);
      const name = names.of(code);
      // Retired codes name current countries (DD "Germany", FX "France"): keep the current code.
      if (name && name !== code && !codes.has(name.toLowerCase())) codes.set(name.toLowerCase(), canonicalRegion(code));
    }
  }
  return codes;
}
