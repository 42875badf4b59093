// The shapes core-api's OpenAPI document describes, as the screens use them.

export type Role = "viewer" | "editor" | "admin";

export interface Meta {
  version: number;
  created_at: string;
  updated_at: string;
}

export interface User extends Meta {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface BrowserSession {
  user: User;
  csrf_token: string;
  expires_at: string;
}

export type Condition = Record<string, unknown>;

export interface Rollout {
  weights: number[];
  coverage?: number;
  unit_attribute?: string;
  salt?: string;
}

export interface Rule {
  id?: string;
  condition?: Condition;
  segments?: string[];
  serve: { variation: number } | { rollout: Rollout };
}

export interface Window {
  start?: string;
  end?: string;
}

export interface FlagEnvironment {
  enabled: boolean;
  off_variation: number;
  default_variation: number;
  rules: Rule[];
  holdouts: string[];
  schedule?: Window;
}

export type FlagType = "bool" | "string" | "number" | "json";

export interface FlagSpec {
  key?: string;
  type: FlagType;
  description: string;
  tags: string[];
  variations: unknown[];
  prerequisites: { flag: string; condition: Condition }[];
  environments: Record<string, FlagEnvironment>;
}

export interface Flag extends FlagSpec, Meta {
  key: string;
}

export type ExperimentStatus = "draft" | "scheduled" | "running" | "stopped" | "concluded";

export interface Variant {
  key: string;
  name: string;
  weight: number;
  payload?: unknown;
}

export interface ExperimentSpec {
  key?: string;
  environment?: string;
  name: string;
  description: string;
  hypothesis: string;
  owner: string;
  tags?: string[];
  variants: Variant[];
  coverage: number;
  condition?: Condition;
  segments: string[];
  unit_attribute: string;
  layer?: { key: string; start: number; end: number };
  holdouts: string[];
  overrides: Record<string, string>;
  metrics: { primary: string[]; secondary: string[]; guardrail: string[] };
  schedule?: Window;
}

export interface Experiment extends ExperimentSpec, Meta {
  key: string;
  environment: string;
  status: ExperimentStatus;
  salt: string;
  decision?: string;
  winner?: string;
  conclusion?: string;
  restarts?: number;
  started_at?: string;
}

export interface Environment extends Meta {
  key: string;
  name: string;
  description?: string;
}

export interface Segment extends Meta {
  key: string;
  description?: string;
  condition?: Condition;
  id_list?: { attribute: string; ids: unknown[] };
}

export interface Layer extends Meta {
  key: string;
  description?: string;
  salt?: string;
  unit_attribute?: string;
}

export interface Holdout extends Meta {
  key: string;
  description?: string;
  share: number;
  salt?: string;
  unit_attribute?: string;
}

export interface Metric extends Meta {
  key: string;
  name?: string;
  description?: string;
  event_name: string;
  type: string;
  denominator_event?: string;
  window_hours?: number;
  inverse?: boolean;
}

export interface ApiKey {
  id: string;
  environment: string;
  kind: "client" | "server" | "admin";
  name: string;
  prefix: string;
  created_at: string;
  key?: string;
}

export interface AuditEntry {
  id: number | string;
  at: string;
  actor: string;
  entity: string;
  entity_key: string;
  action: string;
  before?: unknown;
  after?: unknown;
  request_id?: string;
}

export interface Edge {
  id: string;
  runtime?: string;
  environment?: string;
  served_version?: number;
  latest_version?: number;
  lag_seconds: number;
  status?: string;
  stuck: boolean;
  stale?: boolean;
  last_error?: string;
  reported_at?: string;
}
