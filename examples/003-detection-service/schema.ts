import { defineRollup, defineTable } from 'sluice';

/** One row per saved frame: who was seen, and how many safety violations. Raw rows live 7 days. */
export const detections = defineTable('detection_records', {
  columns: { id: 'text', cameraId: 'text', ts: 'timestamp', personCount: 'integer', violations: 'integer' },
  primaryKey: 'id',
  indexes: [['cameraId', 'ts']],
  retention: { column: 'ts', maxAgeMs: 7 * 24 * 3600_000 },
});

/** A violation someone must look at: open → acknowledged → closed, with created/updated times kept by the database too. */
export const violationEvents = defineTable('violation_events', {
  columns: { id: 'text', cameraId: 'text', kind: 'text', status: 'text', note: 'text?' },
  primaryKey: 'id',
  indexes: [['status', 'createdAt']],
  timestamps: true,
  lifecycle: {
    column: 'status',
    initial: 'open',
    transitions: { open: ['acknowledged', 'closed'], acknowledged: ['closed'] },
    history: true,
  },
});

/** The seed's hourly statistics, kept in the saving transaction: frames, people, peak, violations per camera and hour. */
export const hourly = defineRollup('detection_hourly', {
  from: detections,
  time: 'ts',
  every: 'hour',
  groupBy: ['cameraId'],
  measures: { frames: 'count', persons: { sum: 'personCount' }, peak: { max: 'personCount' }, violations: { sum: 'violations' } },
});
