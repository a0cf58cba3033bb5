import type { FastifyInstance } from 'fastify';
import { withDeadline } from '../deadline.js';
import { alertJson, alertsOf } from '../ops-state.js';
import { ERROR_RESPONSES } from '../route-schemas.js';
import type { ServerContext } from '../server-context.js';

const RULE_SCHEMA = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    severity: { type: 'string' },
    state: { type: 'string', enum: ['ok', 'pending', 'firing'] },
    value: {
      type: ['number', 'null'],
      description: 'The measured value: a sum, a rate per minute or a row count; null before the first evaluation',
    },
    since: { type: ['string', 'null'], format: 'date-time', description: 'When the current state began' },
    lastEvaluatedAt: { type: ['string', 'null'], format: 'date-time' },
    lastError: { type: ['string', 'null'], description: 'Why the last evaluation failed, if it did' },
  },
  required: ['name', 'severity', 'state', 'value', 'since', 'lastEvaluatedAt', 'lastError'],
};

const HISTORY_SCHEMA = {
  type: 'object',
  properties: {
    rule: { type: 'string' },
    severity: { type: 'string' },
    state: { type: 'string', enum: ['firing', 'resolved'] },
    value: { type: ['number', 'null'] },
    message: { type: 'string' },
    at: { type: 'string', format: 'date-time' },
    instance: { type: 'string', description: 'The process that evaluated the rule' },
  },
  required: ['rule', 'severity', 'state', 'value', 'message', 'at', 'instance'],
};

/** The alert rules' state now, the ones firing, and the history of fired and resolved events (newest first). */
export function registerAlertsRoute(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: { limit?: number; rule?: string } }>(
    '/api/v1/alerts',
    {
      config: { read: true },
      schema: {
        tags: ['operations'],
        summary: 'Alert rules (state, value, since), the rules firing now and the recent history; empty without rules',
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 0, maximum: 1000, default: 50, description: 'History entries, newest first.' },
            rule: { type: 'string', maxLength: 200, description: "Only this rule's history." },
          },
          additionalProperties: false,
        },
        response: {
          200: {
            type: 'object',
            properties: {
              enabled: { type: 'boolean', description: 'The database was opened with alert rules' },
              rules: { type: 'array', items: RULE_SCHEMA },
              firing: { type: 'array', items: { type: 'string' }, description: 'Names of the rules firing now' },
              history: { type: 'array', items: HISTORY_SCHEMA },
            },
            required: ['enabled', 'rules', 'firing', 'history'],
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const alerts = alertsOf(ctx.db);
      if (!alerts) return { enabled: false, rules: [], firing: [], history: [] };
      const { limit = 50, rule } = request.query;
      const rules = alerts.status();
      const history =
        limit === 0
          ? []
          : await withDeadline(
              alerts.history({ limit, ...(rule === undefined ? {} : { rule }) }),
              ctx.options.requestTimeoutMs,
              'Reading the alert history',
            );
      return {
        enabled: true,
        rules: rules.map(alertJson),
        firing: rules.filter((r) => r.state === 'firing').map((r) => r.name),
        history: history.map((entry) => ({ ...entry, at: entry.at.toISOString() })),
      };
    },
  );
}
