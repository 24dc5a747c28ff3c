/** Outbound webhooks, signed as the Standard Webhooks specification has it (docs/webhooks.md). */
export {
  type DeliveryOutcome,
  type DeliveryRecord,
  eventBody,
  messageId,
  RETRY_SCHEDULE_MS,
} from './delivery.js';
export {
  type DispatcherMode,
  startWebhooks,
  type WebhookContext,
  type WebhookDispatcher,
  type WebhookOptions,
  type WebhookStatus,
  webhookOptionsFromEnv,
  webhooksRole,
} from './dispatcher.js';
export {
  addWebhook,
  deliveries,
  disableWebhook,
  enableWebhook,
  listWebhooks,
  readSecretFile,
  redeliver,
  removeWebhook,
  type SendReport,
  testWebhook,
  type WebhookHealth,
  type WebhookState,
  type WebhookSummary,
  webhookHealth,
} from './manage.js';
export { newSecret, signedHeaders } from './signing.js';
