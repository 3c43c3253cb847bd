import type pg from 'pg';

/*
 * A seeded history of leads for the reporting tests: sources and first visits with UTM, sequences
 * with their emails and the opens and clicks of people and of machines, stage changes, handoffs
 * reminded, reassigned, accepted, rejected (with reasons, some disqualified) and converted with
 * deal values in several currencies, over several months. `planHistory` is pure (the same seed
 * gives the same plan); `loadHistory` writes it the way Baton does (leads, lead_scores stage
 * compare-and-set, handoff rows), so the triggers of migration 0021 record it.
 */

export type PlannedStage = 'lead' | 'mql' | 'sql' | 'customer' | 'recycled' | 'disqualified';

export interface PlannedTouch {
  at: Date;
  kind: 'email_opened' | 'email_clicked';
  machine: boolean;
}

export interface PlannedEnrollment {
  sequence: string;
  at: Date;
  sends: Array<{ step: string; at: Date; touches: PlannedTouch[] }>;
}

export interface PlannedHandoff {
  rep: string;
  at: Date;
  remindedAt: Date | null;
  reassigned: { rep: string; at: Date } | null;
  acceptedAt: Date | null;
  /** The final decision, if any: converted (after an accept or straight), or rejected. */
  closed:
    | { status: 'converted'; at: Date; deal: { value: number; currency: string } | null }
    | { status: 'rejected'; at: Date; reason: string; disqualify: boolean }
    | null;
}

export interface PlannedLead {
  email: string;
  source: string | null;
  createdAt: Date;
  visit: { at: Date; url: string } | null;
  enrollments: PlannedEnrollment[];
  /** Stage changes in time order (the lead starts as a subscriber at createdAt). */
  stages: Array<{ to: PlannedStage; at: Date }>;
  handoffs: PlannedHandoff[];
  erase: boolean;
}

/** mulberry32: small, seeded, the same numbers on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const SOURCES = ['google-ads', 'webinar', 'organic', 'linkedin', 'Salon Lyon — été', null] as const;
export const SEQUENCES = ['welcome', 'nurture-saas', 'webinar-follow'] as const;
export const REPS = ['alex', 'sam', 'kim'] as const;
const REASONS = ['no budget', 'student', 'competitor', '', 'wrong country'] as const;
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'USD', 'USD', 'JPY'] as const;

export function planHistory(seed: number, count: number, period: { from: Date; to: Date }): PlannedLead[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const between = (start: Date, minMs: number, maxMs: number) => new Date(start.getTime() + Math.round(minMs + random() * (maxMs - minMs)));
  const span = period.to.getTime() - period.from.getTime();
  const leads: PlannedLead[] = [];
  for (let index = 0; index < count; index++) {
    const createdAt = new Date(period.from.getTime() + Math.floor(random() * span));
    const source = pick(SOURCES);
    const campaign = pick(['spring', 'été-2026', 'retarget']);
    const visit =
      random() < 0.7
        ? {
            at: between(createdAt, 0, 2 * HOUR),
            url: `https://www.example.com/pricing?utm_source=${source ?? 'direct'}&utm_medium=cpc&utm_campaign=${encodeURIComponent(campaign)}`,
          }
        : null;
    const enrollments: PlannedEnrollment[] = [];
    for (const sequence of SEQUENCES) {
      if (random() > 0.55) continue;
      const at = between(createdAt, HOUR, 48 * HOUR);
      const sends = ['first', 'second'].map((step, position) => {
        const sentAt = new Date(at.getTime() + HOUR + position * 3 * DAY);
        const touches: PlannedTouch[] = [];
        // Scanners fetch within seconds of delivery; people come later.
        if (random() < 0.3) touches.push({ at: new Date(sentAt.getTime() + 5000), kind: 'email_clicked', machine: true });
        if (random() < 0.5) touches.push({ at: between(sentAt, HOUR, 2 * DAY), kind: random() < 0.5 ? 'email_clicked' : 'email_opened', machine: false });
        return { step, at: sentAt, touches };
      });
      enrollments.push({ sequence, at, sends });
    }
    enrollments.sort((a, b) => a.at.getTime() - b.at.getTime());
    const stages: PlannedLead['stages'] = [];
    const handoffs: PlannedHandoff[] = [];
    let clock = createdAt;
    const move = (to: PlannedStage, at: Date) => {
      stages.push({ to, at });
      clock = at;
    };
    const engaged = random() < 0.6;
    if (engaged) move('lead', between(clock, 3 * HOUR, 10 * DAY));
    const mql = engaged ? random() < 0.55 : random() < 0.12;
    if (mql) {
      // Several handoffs when sales rejects and the lead comes back.
      for (let round = 0; round < 3; round++) {
        const at = between(clock, 2 * DAY, 20 * DAY);
        move('mql', at);
        const handoff: PlannedHandoff = { rep: pick(REPS), at, remindedAt: null, reassigned: null, acceptedAt: null, closed: null };
        handoffs.push(handoff);
        if (random() < 0.15) handoff.remindedAt = between(at, HOUR, 5 * HOUR);
        if (random() < 0.08) handoff.reassigned = { rep: pick(REPS.filter((rep) => rep !== handoff.rep)), at: between(at, 6 * HOUR, 10 * HOUR) };
        const decidedFrom = handoff.reassigned?.at ?? handoff.remindedAt ?? at;
        if (random() < 0.1) break;
        const roll = random();
        if (roll < 0.55) {
          handoff.acceptedAt = between(decidedFrom, 10 * 60_000, 7 * DAY);
          move('sql', handoff.acceptedAt);
          if (random() < 0.5) {
            const currency = pick(CURRENCIES);
            const deal =
              random() < 0.9
                ? { value: currency === 'JPY' ? Math.round(100_000 + random() * 5_000_000) : Math.round(100_000 + random() * 5_000_000) / 100, currency }
                : null;
            handoff.closed = { status: 'converted', at: between(clock, DAY, 60 * DAY), deal };
            move('customer', handoff.closed.at);
          }
          break;
        }
        if (roll < 0.6) {
          handoff.closed = { status: 'converted', at: between(decidedFrom, HOUR, 3 * DAY), deal: { value: 990, currency: 'EUR' } };
          move('customer', handoff.closed.at);
          break;
        }
        const disqualify = random() < 0.25;
        handoff.closed = { status: 'rejected', at: between(decidedFrom, HOUR, 5 * DAY), reason: pick(REASONS), disqualify };
        move(disqualify ? 'disqualified' : 'recycled', handoff.closed.at);
        if (disqualify || random() > 0.35) break;
      }
    }
    leads.push({ email: `lead${index}.s${seed}@example-${index % 7}.test`, source, createdAt, visit, enrollments, stages, handoffs, erase: random() < 0.04 });
  }
  return leads;
}

/** Writes the plan as Baton would have; returns the lead ids in plan order. Erasure is left to the caller. */
export async function loadHistory(pool: pg.Pool, leads: PlannedLead[]): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const { rows } = await client.query<{ id: string; email: string }>(
      `insert into leads (email, source, created_at, updated_at) select * from unnest($1::text[], $2::text[], $3::timestamptz[], $3::timestamptz[]) returning id, email`,
      [leads.map((lead) => lead.email), leads.map((lead) => lead.source), leads.map((lead) => lead.createdAt)],
    );
    const idOf = new Map(rows.map((row) => [row.email, row.id]));
    const ids = leads.map((lead) => idOf.get(lead.email) ?? '');
    await client.query(
      `insert into lead_scores (lead_id, scored_at, stage_changed_at) select id, created_at, created_at from leads where id = any($1::uuid[])`,
      [ids],
    );
    for (const [index, lead] of leads.entries()) {
      const id = ids[index] ?? '';
      if (lead.visit)
        await client.query(`insert into events (lead_id, type, properties, occurred_at) values ($1, 'page_view', $2, $3)`, [
          id,
          JSON.stringify({ url: lead.visit.url, path: '/pricing' }),
          lead.visit.at,
        ]);
      for (const enrollment of lead.enrollments) {
        const {
          rows: [entered],
        } = await client.query<{ id: string }>(
          `insert into enrollments (lead_id, sequence_id, sequence_version, status, entered_at) values ($1, $2, 1, 'completed', $3) returning id`,
          [id, enrollment.sequence, enrollment.at],
        );
        for (const send of enrollment.sends) {
          const {
            rows: [sent],
          } = await client.query<{ id: string }>(
            `insert into sends (enrollment_id, step_id, lead_id, template, message_id, status, claimed_at, finished_at) values ($1, $2, $3, $2, $4, 'sent', $5, $5) returning id`,
            [entered?.id, send.step, id, `<${entered?.id}.${send.step}@baton.test>`, send.at],
          );
          for (const touch of send.touches) {
            await client.query(`insert into events (lead_id, type, properties, occurred_at) values ($1, $2, $3, $4)`, [
              id,
              touch.kind,
              JSON.stringify({ sendId: sent?.id, machine: touch.machine }),
              touch.at,
            ]);
          }
        }
      }
      // Stage changes and handoff decisions, in time order, as the handoff service makes them.
      type Step = { at: Date; order: number; run: () => Promise<unknown> };
      const steps: Step[] = [];
      let previous = 'subscriber';
      for (const stage of lead.stages) {
        const from = previous;
        previous = stage.to;
        steps.push({
          at: stage.at,
          order: 1,
          run: () => client.query(`update lead_scores set stage = $2, stage_changed_at = $3 where lead_id = $1 and stage = $4`, [id, stage.to, stage.at, from]),
        });
      }
      for (const handoff of lead.handoffs) {
        const handoffId = { value: '' };
        steps.push({
          at: handoff.at,
          order: 2,
          run: async () => {
            const {
              rows: [made],
            } = await client.query<{ id: string }>(
              `insert into handoffs (lead_id, rep_id, assignment, score, briefing, created_at, assigned_at) values ($1, $2, '{}', '{}', '{}', $3, $3) returning id`,
              [id, handoff.rep, handoff.at],
            );
            handoffId.value = made?.id ?? '';
          },
        });
        if (handoff.remindedAt) {
          const at = handoff.remindedAt;
          steps.push({ at, order: 0, run: () => client.query(`update handoffs set reminded_at = $2 where id = $1`, [handoffId.value, at]) });
        }
        if (handoff.reassigned) {
          const { rep, at } = handoff.reassigned;
          steps.push({
            at,
            order: 0,
            run: () =>
              client.query(`update handoffs set rep_id = $2, assigned_at = $3, reminded_at = null, reassignments = reassignments + 1 where id = $1`, [
                handoffId.value,
                rep,
                at,
              ]),
          });
        }
        if (handoff.acceptedAt) {
          const at = handoff.acceptedAt;
          steps.push({
            at,
            order: 0,
            run: () => client.query(`update handoffs set status = 'accepted', decided_at = $2, decided_by = 'api' where id = $1`, [handoffId.value, at]),
          });
        }
        const closed = handoff.closed;
        if (closed?.status === 'converted') {
          steps.push({
            at: closed.at,
            order: 0,
            run: () =>
              client.query(`update handoffs set status = 'converted', decided_at = $2, decided_by = 'api', deal_value = $3, deal_currency = $4 where id = $1`, [
                handoffId.value,
                closed.at,
                closed.deal?.value ?? null,
                closed.deal?.currency ?? null,
              ]),
          });
        } else if (closed?.status === 'rejected') {
          steps.push({
            at: closed.at,
            order: 0,
            run: () =>
              client.query(`update handoffs set status = 'rejected', decided_at = $2, decided_by = 'api', reject_reason = $3 where id = $1`, [
                handoffId.value,
                closed.at,
                closed.reason || null,
              ]),
          });
        }
      }
      // At one instant: the handoff row's decision first, then the stage (decide()); the MQL stage before the handoff row (handOff()).
      steps.sort((a, b) => a.at.getTime() - b.at.getTime() || a.order - b.order);
      for (const step of steps) await step.run();
    }
    await client.query('commit');
    return ids;
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}
