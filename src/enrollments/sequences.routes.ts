import { Router } from 'express';
import Joi from 'joi';
import { AppError } from '../platform/errors.js';
import { jsonBody } from '../platform/http/json-body.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { leadNotFound } from '../leads/lead-errors.js';
import { uuidSchema } from '../leads/leads.schemas.js';
import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { Sequence } from '../sequences/sequence.js';
import type { SequenceRunner } from './sequence-runner.js';
import { EMPTY_COUNTS, enrollmentTotals, stepCounts } from './sequence-stats.repository.js';
import { deliverabilityReport } from '../feedback/rates.service.js';

const enrollBody = Joi.object<{ leadId: string }>({ leadId: uuidSchema.required() });
const sequenceParams = Joi.object<{ id: string }>({
  id: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .required()
    .messages({ 'string.pattern.base': 'id is not a sequence id' }),
});

const sequenceNotFound = (id: string) =>
  new AppError('sequence_not_found', `No sequence has id ${id}`, [{ field: 'id', location: 'path', message: 'no sequence has this id' }]);

function describe(sequence: Sequence) {
  return {
    id: sequence.id,
    name: sequence.name,
    description: sequence.description,
    version: sequence.version,
    hash: sequence.hash,
    status: sequence.status,
    priority: sequence.priority,
    trigger: sequence.entry.trigger,
    steps: sequence.steps.map((step) => ({ id: step.id, kind: step.kind, ...(step.kind === 'email' ? { template: step.email.template } : {}) })),
  };
}

export function sequencesRoutes(runner: SequenceRunner, db: Kysely<Database>): Router {
  const router = Router();
  const find = (id: string): Sequence => {
    const sequence = runner.sequences().find((candidate) => candidate.id === id);
    if (!sequence) throw sequenceNotFound(id);
    return sequence;
  };

  router.get(
    '/sequences',
    documented({ tag: 'sequences', summary: 'The loaded sequences', responses: { 200: { description: 'the sequences' } } }),
    (_req, res) => {
      res.json({ items: runner.sequences().map(describe) });
    },
  );

  router.get(
    '/sequences/:id',
    documented({ tag: 'sequences', summary: 'One sequence and its steps', params: sequenceParams, responses: { 200: { description: 'the sequence' } } }),
    (req, res) => {
      const { id } = validate(sequenceParams, req.params, 'path');
      res.json(describe(find(id)));
    },
  );

  router.get(
    '/sequences/:id/stats',
    documented({
      tag: 'sequences',
      summary: 'Per-step results of a sequence',
      params: sequenceParams,
      responses: { 200: { description: 'totals and per-step counts' } },
    }),
    async (req, res) => {
      const { id } = validate(sequenceParams, req.params, 'path');
      const sequence = find(id);
      const [counts, totals, deliverability] = await Promise.all([stepCounts(db, id), enrollmentTotals(db, id), deliverabilityReport(db, new Date(), 30, id)]);
      const steps = sequence.steps.map((step) => ({ id: step.id, kind: step.kind, ...(counts.get(step.id) ?? EMPTY_COUNTS) }));
      // Steps removed by an edit keep their history: shown after the current ones.
      const current = new Set(sequence.steps.map((step) => step.id));
      const removed = [...counts.entries()]
        .filter(([stepId]) => !current.has(stepId))
        .map(([stepId, stepCounts]) => ({ id: stepId, kind: null, removed: true, ...stepCounts }));
      res.json({
        sequence: { id: sequence.id, name: sequence.name, version: sequence.version, status: sequence.status },
        totals,
        steps: [...steps, ...removed],
        deliverability,
      });
    },
  );

  router.post(
    '/sequences/:id/enroll',
    documented({
      tag: 'sequences',
      summary: 'Enroll a lead in a sequence',
      params: sequenceParams,
      body: enrollBody,
      responses: { 201: { description: 'the enrollment' } },
    }),
    ...jsonBody('16kb'),
    async (req, res) => {
      const { id } = validate(sequenceParams, req.params, 'path');
      const { leadId } = validate(enrollBody, req.body, 'body');
      const outcome = await runner.enroll(id, leadId, new Date());
      switch (outcome.kind) {
        case 'enrolled':
          res.status(201).json({
            id: outcome.enrollment.id,
            leadId,
            sequenceId: id,
            sequenceVersion: outcome.enrollment.sequence_version,
            status: outcome.enrollment.status,
            currentStep: outcome.enrollment.current_step,
          });
          return;
        case 'already_enrolled':
          throw new AppError('already_enrolled', `The lead is already in sequence ${id}`, [{ field: 'leadId', location: 'body', message: 'already enrolled' }]);
        case 'not_eligible':
          throw new AppError('not_eligible', `The lead cannot enter sequence ${id}: ${outcome.reason}`, [
            { field: 'leadId', location: 'body', message: outcome.reason },
          ]);
        case 'unknown_sequence':
          throw sequenceNotFound(id);
        case 'unknown_lead':
          throw leadNotFound(leadId);
      }
    },
  );

  return router;
}
