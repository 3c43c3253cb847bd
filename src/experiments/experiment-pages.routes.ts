import { Router, type RequestHandler } from 'express';
import type { PageKit } from '../dashboard/dashboard-http.js';
import { experimentPageView } from './experiment-view.js';
import type { ExperimentsService } from './experiments.service.js';
import { EXPERIMENT_METRICS, isExperimentMetric, type ExperimentMetric } from './split-definition.js';

/* The dashboard's experiment page: every split of a sequence, arms side by side with intervals, and the holdout group. */

export function experimentPagesRoutes({ experiments, kit, signedIn }: { experiments: ExperimentsService; kit: PageKit; signedIn: RequestHandler }): Router {
  const router = Router();

  router.get('/dashboard/sequences/:id/experiments', signedIn, async (req, res) => {
    const asked: unknown = req.query.metric;
    if (asked !== undefined && !isExperimentMetric(asked)) {
      return kit.notice(req, res, 400, 'No such metric', `metric must be one of ${EXPERIMENT_METRICS.join(', ')}.`, {
        href: `/dashboard/sequences/${encodeURIComponent(String(req.params.id))}/experiments`,
        text: 'Experiments',
      });
    }
    const outcome = await experiments.report(String(req.params.id));
    switch (outcome.kind) {
      case 'unknown_sequence':
        return kit.notice(req, res, 404, 'No such sequence', 'There is no sequence with this id.', { href: '/dashboard/sequences', text: 'All sequences' });
      case 'report': {
        // The chart shows the winner rule's metric unless another is asked for.
        const ruled = outcome.report.splits.find((split) => split.winnerRule)?.winnerRule?.metric;
        const metric: ExperimentMetric = isExperimentMetric(asked) ? asked : (ruled ?? 'goal');
        return kit.page(req, res, 200, 'experiments', `Experiments: ${outcome.report.sequence.name}`, 'sequences', experimentPageView(outcome.report, metric));
      }
      default: {
        const unreachable: never = outcome;
        throw new Error(`unknown experiments outcome ${JSON.stringify(unreachable)}`);
      }
    }
  });

  return router;
}
