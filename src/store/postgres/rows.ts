// Row ↔ domain mapping. Both adapters keep the same logical schema (same columns, JSON as TEXT, epoch-ms times, and
// BIGINTs parsed as numbers by db.ts), so the mapping is SQLite's, used as it is rather than copied.
export {
  DELIVERY_COLUMNS,
  iso,
  isoNow,
  toApiKeyRecord,
  toClaimedDelivery,
  toAttemptView,
  toDeliveryView,
  toSubscriber,
  type ApiKeyRow,
  type AttemptRow,
  type ClaimedRow,
  type DeliveryRow,
  type SubscriberRow,
  type SubscriptionRow,
} from '../sqlite/rows.ts';
