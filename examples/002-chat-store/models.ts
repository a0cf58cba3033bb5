import { defineTable } from 'sluice';

/** Four of the chat bot's thirty models, the hot ones: read on every message, written on most. */
export const chatStreams = defineTable('chat_streams', {
  columns: { streamId: 'text', platform: 'text', title: 'text', lastActiveTime: 'real' },
  primaryKey: 'streamId',
  cache: { ttlMs: 300_000, maxEntries: 10_000, l2: true },
});

export const messages = defineTable('messages', {
  columns: { messageId: 'text', chatId: 'text', userId: 'text', time: 'real', text: 'text' },
  primaryKey: 'messageId',
  indexes: [['chatId', 'time']],
});

export const personInfo = defineTable('person_info', {
  columns: { userId: 'text', nickname: 'text', impression: 'text?', knowSince: 'real' },
  primaryKey: 'userId',
  cache: { ttlMs: 600_000, maxEntries: 50_000, l2: true },
});

export const emoji = defineTable('emoji', {
  columns: { emojiHash: 'text', description: 'text', usageCount: 'integer' },
  primaryKey: 'emojiHash',
  cache: { ttlMs: 3_600_000, maxEntries: 5_000, l2: true },
});

/** The seed's MODEL_MAPPING: its API names models by class name. */
export const MODEL_MAPPING = { ChatStreams: chatStreams, Messages: messages, PersonInfo: personInfo, Emoji: emoji } as const;
