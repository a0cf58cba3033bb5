export const PostgresDialect = {
  open: async (_: unknown): Promise<never> => {
    throw new Error('not yet');
  },
};
