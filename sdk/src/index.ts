export { AYB, type ClientOptions, type RequestOptions } from "./client.js";
export { ApiError } from "./errors.js";
export { errorCodes, type ErrorCode } from "./codes.js";
export { AuthService, type Session, type SessionInfo, type SessionStore, type User } from "./auth.js";
export {
  RecordService, type ListOptions, type ListResult, type GetOptions, type WriteOptions, type CreateOptions,
  type BatchOperation, type BatchResult, type RecordID,
} from "./records.js";
export { RealtimeService, type ChangeEvent, type SubscribeOptions, type Subscription } from "./realtime.js";
