import Joi from 'joi';
import { fileId, regexPattern } from '../platform/config-file-schemas.js';

/*
 * Topics turn "clicked https://example.com/pricing?utm_…" into "Pricing", and give the rep a
 * talking point for each one. Marketers configure them in YAML:
 *
 *   - id: pricing
 *     label: Pricing
 *     matches: "/pricing\\b"
 *     talking_point: Ask which plan they compared and what the budget process looks like.
 */

export interface Topic {
  id: string;
  label: string;
  /** regex (case-insensitive) tested against a clicked URL or a viewed page path/url */
  matches: string;
  talkingPoint: string;
}

export interface RawTopic {
  id: string;
  label: string;
  matches: string;
  talking_point: string;
}

export const topicSchema: Joi.ObjectSchema<RawTopic> = Joi.object<RawTopic>({
  id: fileId.required(),
  label: Joi.string().trim().min(1).max(100).required(),
  matches: regexPattern.required(),
  talking_point: Joi.string().trim().min(1).max(1000).required(),
});

/** A topics file: a list of topics, each id once (counts in a briefing are keyed by id). */
export const topicsSchema: Joi.ArraySchema<RawTopic[]> = Joi.array<RawTopic[]>().items(topicSchema).unique('id');

export function toTopic(raw: RawTopic): Topic {
  return { id: raw.id, label: raw.label, matches: raw.matches, talkingPoint: raw.talking_point };
}

// Patterns come from a small, fixed configuration, so compiled ones are kept for the process.
const compiled = new Map<string, RegExp>();

function patternOf(topic: Topic): RegExp {
  let pattern = compiled.get(topic.matches);
  if (!pattern) {
    pattern = new RegExp(topic.matches, 'i');
    compiled.set(topic.matches, pattern);
  }
  return pattern;
}

/** The topics whose pattern matches `url`, in configuration order. */
export function topicsOfUrl(url: string, topics: Topic[]): Topic[] {
  return topics.filter((topic) => patternOf(topic).test(url));
}
