/*
 * The shape of a nurture sequence after its YAML file is parsed and validated. See
 * docs/sequences.md for the file format and docs/sequence.schema.json for editors.
 */

export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
export const WEEKDAYS: Weekday[] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export type Comparison =
  | { equals: unknown }
  | { in: unknown[] }
  | { matches: string }
  | { gte: number }
  | { lte: number }
  | { exists: boolean };

export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | ({ field: string } & Comparison)
  | ({ trait: string } & Comparison)
  | { tag: string }
  | { score: { gte?: number; lte?: number } }
  | { opened: string; within?: string }
  | { clicked: string; within?: string };

export type Trigger =
  | { type: 'manual' }
  | { type: 'lead_created' }
  | { type: 'tag_added'; tag: string }
  | { type: 'event'; event: string; where?: Record<string, unknown> };

export interface SendWindow {
  days: Weekday[];
  /** "HH:MM-HH:MM" in the lead's time zone. */
  hours: string;
  /** Used when the lead has no time zone. */
  timezone: string;
}

export type StepAction =
  | { kind: 'wait'; wait: string | { until: { days: Weekday[]; time: string } } }
  | { kind: 'email'; email: { template: string; subject?: string; from?: string } }
  | { kind: 'branch'; branch: Array<{ if: Condition; then: string }>; else: string }
  | { kind: 'goal'; goal: { event: string; where?: Record<string, unknown>; within: string } }
  | { kind: 'update_lead'; update_lead: { set?: Record<string, unknown>; add_tags?: string[]; remove_tags?: string[] } }
  | { kind: 'webhook'; webhook: { url: string; secret?: string } }
  | { kind: 'split'; split: { arms: SplitArm[]; winner?: { metric: ExperimentMetric; after: number; minProbability: number } } }
  | { kind: 'handoff'; handoff: { reason?: string } }
  | { kind: 'end' };

/** What decides a split's winner: per lead, whether it happened at least once after assignment (human opens and clicks only). */
export type ExperimentMetric = 'open' | 'click' | 'goal' | 'mql' | 'handoff';
export const EXPERIMENT_METRICS: ExperimentMetric[] = ['open', 'click', 'goal', 'mql', 'handoff'];

export interface SplitArm {
  id: string;
  weight: number;
  next: string;
}

export type Step = StepAction & { id: string; next?: string; line: number };
export type EmailStep = Extract<Step, { kind: 'email' }>;
export type SplitStep = Extract<Step, { kind: 'split' }>;

export interface Sequence {
  id: string;
  name: string;
  version: number;
  description: string;
  status: 'active' | 'paused';
  priority: number;
  /** What the preference centre lets a lead leave (e.g. product-news); absent when not declared. */
  topic?: string;
  entry: { trigger: Trigger; conditions: Condition[]; reentry: 'never' | { after: string } };
  goals: Array<{ event: string; where?: Record<string, unknown> }>;
  sendWindow: SendWindow | null;
  /** Share of entrants (0..0.5) held out: enrolled and walked through the steps, but sent no email of this sequence. */
  holdout: number;
  steps: Step[];
  file: string;
  /** UTM tags for the sequence's tracked links (utm_campaign = sequence id, utm_content = step id); null: none. */
  utm?: { source: string; medium: string } | null;
  /** Content hash of the file: what an enrollment pins, alongside the marketer's version number. */
  hash: string;
}
