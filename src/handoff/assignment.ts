import type { Rep, SalesTeam, Territory } from './sales-team.js';

/*
 * Which rep gets a hot lead. Pure: the caller passes the clock, each rep's open handoffs and the
 * round-robin cursors, and stores the returned poolKey → repId as the new cursor.
 *
 * First the preferred reps, in order, when available: the rep a disqualified lead had before, then
 * a rep who already owns an open handoff at the lead's account (one company, one rep). Else the
 * pool is every rep with a territory matching the lead, in file order. Within a pool the lead
 * goes to the first available rep after the one last assigned, wrapping around. With no pool, or
 * nobody in it available, the fallback owner takes it even when away or full: somebody must own it.
 */

export interface AssignableLead {
  country: string | null;
  traits: Record<string, unknown>;
}

export interface AssignmentInput {
  team: SalesTeam;
  lead: AssignableLead;
  now: Date;
  /** Open handoffs per rep id (pending + accepted), for capacity. */
  openCounts: Record<string, number>;
  /** Round-robin cursors: the rep id last assigned, per pool key. */
  lastAssigned: Record<string, string>;
  /** Reps that must not get this lead (e.g. the rep it is being reassigned from). */
  exclude?: string[];
  /** Reps to try before territory round robin, in order (see above). */
  preferred?: PreferredRep[];
}

export interface PreferredRep {
  repId: string;
  reason: 'previous_rep' | 'account_owner';
  /** Why, as the handoff record shows it (e.g. "owns the open handoff of another lead at acme.com"). */
  detail: string;
}

export type Assignment = {
  repId: string;
  /** The reps of the pool joined with ',', or 'fallback': the key of the cursor to store; null: no round robin took place, store nothing. */
  poolKey: string | null;
  reason: 'territory' | 'fallback' | PreferredRep['reason'];
  /** why, for logs and the handoff record */
  detail: string;
};

export const FALLBACK_POOL_KEY = 'fallback';

export function territoryMatches(territory: Territory, lead: AssignableLead): boolean {
  if (territory.countries && !includesIgnoringCase(territory.countries, lead.country)) return false;
  if (territory.regions && !includesIgnoringCase(territory.regions, lead.traits.region)) return false;
  if (territory.industries && !includesIgnoringCase(territory.industries, lead.traits.industry)) return false;
  if (territory.companySize) {
    const size = companySize(lead.traits.company_size);
    const { min, max } = territory.companySize;
    if (size === null || (min !== null && size < min) || (max !== null && size > max)) return false;
  }
  return true;
}

/** Not out of office at now, and under capacity. */
export function isAvailable(rep: Rep, now: Date, openCount: number): boolean {
  return unavailability(rep, now, openCount) === null;
}

export function chooseRep(input: AssignmentInput): Assignment {
  const { team, lead, now } = input;
  const excluded = new Set(input.exclude ?? []);
  const openCount = (rep: Rep) => input.openCounts[rep.id] ?? 0;
  const passedOver: string[] = [];
  for (const wanted of input.preferred ?? []) {
    const rep = team.reps.find((candidate) => candidate.id === wanted.repId);
    const why = !rep ? 'no longer in the sales team' : excluded.has(rep.id) ? 'excluded' : unavailability(rep, now, openCount(rep));
    if (why === null) return { repId: wanted.repId, poolKey: null, reason: wanted.reason, detail: `${wanted.detail}${skippedText(passedOver)}` };
    passedOver.push(`${wanted.repId} (${wanted.reason === 'previous_rep' ? 'previous rep' : 'account owner'}, ${why})`);
  }
  const pool = team.reps.filter((rep) => rep.territories.some((territory) => territoryMatches(territory, lead)));
  const poolKey = pool.map((rep) => rep.id).join(',');

  const skipped: string[] = [...passedOver];
  const start = pool.findIndex((rep) => rep.id === input.lastAssigned[poolKey]) + 1;
  for (let offset = 0; offset < pool.length; offset += 1) {
    const rep = pool[(start + offset) % pool.length];
    if (!rep) continue;
    const why = excluded.has(rep.id) ? 'excluded' : unavailability(rep, now, openCount(rep));
    if (why === null) {
      const after = start > 0 ? `, after ${pool[start - 1]?.id ?? ''}` : '';
      return { repId: rep.id, poolKey, reason: 'territory', detail: `territory pool ${poolKey}${after}${skippedText(skipped)}` };
    }
    skipped.push(`${rep.id} (${why})`);
  }

  const why =
    pool.length === 0 ? `no territory matches the lead (${describeLead(lead)})` : `nobody in territory pool ${poolKey} is available${skippedText(skipped)}`;
  const owner = team.fallbackOwner;
  if (!excluded.has(owner)) return fallback(owner, `${why}; fallback owner ${owner}`);
  const standIn = team.reps.find((rep) => !excluded.has(rep.id) && unavailability(rep, now, openCount(rep)) === null);
  if (standIn) return fallback(standIn.id, `${why}; fallback owner ${owner} is excluded, first available rep ${standIn.id}`);
  return fallback(owner, `${why}; fallback owner ${owner} is excluded but nobody else is available`);
}

function fallback(repId: string, detail: string): Assignment {
  return { repId, poolKey: FALLBACK_POOL_KEY, reason: 'fallback', detail };
}

function unavailability(rep: Rep, now: Date, openCount: number): string | null {
  const away = rep.outOfOffice.find((period) => period.from <= now && now < period.until);
  if (away) return `out of office until ${away.until.toISOString()}`;
  if (rep.capacity !== null && openCount >= rep.capacity) return `at capacity ${openCount}/${rep.capacity}`;
  return null;
}

function includesIgnoringCase(allowed: string[], value: unknown): boolean {
  if (typeof value !== 'string') return false;
  const wanted = value.trim().toLowerCase();
  return wanted !== '' && allowed.some((item) => item.toLowerCase() === wanted);
}

/** A finite number, or a plain decimal string such as "250" (traits often arrive as text from CSV). */
function companySize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) return Number(value);
  return null;
}

function describeLead(lead: AssignableLead): string {
  const traits = (['region', 'company_size', 'industry'] as const).map((trait) => `${trait} ${formatTrait(lead.traits[trait])}`);
  return [`country ${formatTrait(lead.country)}`, ...traits].join(', ');
}

function formatTrait(value: unknown): string {
  if (value === undefined || value === null) return 'none';
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? JSON.stringify(value)
    : `a ${Array.isArray(value) ? 'list' : typeof value}`;
}

function skippedText(skipped: string[]): string {
  return skipped.length > 0 ? `; skipped ${skipped.join(', ')}` : '';
}
