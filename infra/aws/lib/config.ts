// The deployment's parameters: every size, count and name the stacks use, typed, with
// defaults. A deployment overrides them with a JSON file (`cdk synth -c config=FILE`, see
// config/example.json); nothing here names an account or a region.

export interface ServiceSize {
  /** Fargate CPU units (256 = 0.25 vCPU). */
  readonly cpu: number;
  /** Fargate memory in MiB (must fit the CPU size, see the Fargate table). */
  readonly memoryMiB: number;
  /** Tasks at least (and the initial count). */
  readonly minTasks: number;
  /** Tasks at most (autoscaling stops here). */
  readonly maxTasks: number;
}

export interface VaneConfig {
  /** Prefix of every physical name (stream, secrets, log groups, cluster): lower case, digits, dashes. */
  readonly name: string;
  /** The container image tag in the registry stack's repository (e.g. a git commit). */
  readonly imageTag: string;
  /** Public host name of core-api and the admin UI, e.g. vane.example.com. */
  readonly domainName: string;
  /** ARN of an ACM certificate for domainName in the stack's region. */
  readonly certificateArn: string;
  /** Email of the first admin (core's --bootstrap-admin); the password is generated in Secrets Manager. */
  readonly adminEmail: string;
  /** Vane environments sync delivers to the edges (core creates them; see docs). */
  readonly environments: readonly string[];
  /** Edges sync watches, as NAME=URL (sync --edge), e.g. cloudflare=https://edge.example.com. */
  readonly watchedEdges: readonly string[];
  /** Where alarm notifications go (an SNS email subscription); none when empty. */
  readonly alarmEmail?: string;

  readonly network: {
    readonly cidr: string;
    readonly maxAzs: number;
    readonly natGateways: number;
  };
  readonly database: {
    /** Aurora capacity units (ACU), 0.5 steps. */
    readonly minCapacity: number;
    readonly maxCapacity: number;
    /** Serverless v2 readers besides the writer (0 = writer only). */
    readonly readers: number;
    readonly backupRetentionDays: number;
    readonly deletionProtection: boolean;
  };
  readonly stream: {
    /** Hours a record stays readable (24 to 8760). */
    readonly retentionHours: number;
  };
  readonly lake: {
    /** Key prefix of raw event archives (analytics --lake-s3-prefix). */
    readonly prefix: string;
    readonly infrequentAccessAfterDays: number;
    readonly glacierAfterDays: number;
    /** Days an overwritten or deleted object version is kept. */
    readonly noncurrentVersionDays: number;
  };
  readonly services: {
    readonly core: ServiceSize;
    readonly sync: ServiceSize;
    readonly analytics: ServiceSize;
  };
  readonly scaling: {
    /** core: target average CPU, percent. */
    readonly coreCpuPercent: number;
    /** analytics: add a task when the stream's iterator age exceeds this many seconds. */
    readonly analyticsIteratorAgeSeconds: number;
  };
  readonly alarms: {
    /** 5xx answers of core (through the load balancer) per 5 minutes. */
    readonly http5xxPer5Minutes: number;
    /** Iterator age (consumer lag) in seconds. */
    readonly iteratorAgeSeconds: number;
    readonly databaseCpuPercent: number;
    readonly databaseConnections: number;
  };
  readonly logRetentionDays: number;
}

export const DEFAULTS: VaneConfig = {
  name: "vane",
  imageTag: "latest",
  domainName: "vane.example.com",
  certificateArn: "",
  adminEmail: "admin@example.com",
  environments: ["production"],
  watchedEdges: [],
  network: { cidr: "10.40.0.0/16", maxAzs: 2, natGateways: 1 },
  database: {
    minCapacity: 0.5,
    maxCapacity: 4,
    readers: 0,
    backupRetentionDays: 14,
    deletionProtection: true,
  },
  stream: { retentionHours: 168 },
  lake: {
    prefix: "events/",
    infrequentAccessAfterDays: 30,
    glacierAfterDays: 180,
    noncurrentVersionDays: 90,
  },
  services: {
    core: { cpu: 512, memoryMiB: 1024, minTasks: 2, maxTasks: 6 },
    sync: { cpu: 256, memoryMiB: 512, minTasks: 1, maxTasks: 1 },
    analytics: { cpu: 1024, memoryMiB: 2048, minTasks: 1, maxTasks: 4 },
  },
  scaling: { coreCpuPercent: 60, analyticsIteratorAgeSeconds: 60 },
  alarms: {
    http5xxPer5Minutes: 10,
    iteratorAgeSeconds: 300,
    databaseCpuPercent: 80,
    databaseConnections: 400,
  },
  logRetentionDays: 30,
};

/** Valid CloudWatch Logs retention periods, in days. */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** A configuration error that names the field. */
export class ConfigError extends Error {
  constructor(field: string, message: string) {
    super(`config.${field}: ${message}`);
    this.name = "ConfigError";
  }
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep-merges `override` onto `base`; unknown keys are errors (a typo must not pass silently). */
function merge(base: unknown, override: unknown, path: string): unknown {
  if (override === undefined) return base;
  if (isPlain(base)) {
    if (!isPlain(override)) throw new ConfigError(path || "(root)", "expected an object");
    const out: Plain = { ...base };
    for (const [key, value] of Object.entries(override)) {
      const field = path ? `${path}.${key}` : key;
      if (!(key in base) && key !== "alarmEmail") throw new ConfigError(field, "unknown field");
      out[key] = merge(base[key], value, field);
    }
    return out;
  }
  if (base !== undefined && typeof base !== typeof override) {
    throw new ConfigError(path, `expected ${Array.isArray(base) ? "an array" : `a ${typeof base}`}`);
  }
  return override;
}

function check(condition: boolean, field: string, message: string): void {
  if (!condition) throw new ConfigError(field, message);
}

function checkSize(size: ServiceSize, field: string): void {
  check(Number.isInteger(size.cpu) && [256, 512, 1024, 2048, 4096, 8192, 16384].includes(size.cpu), `${field}.cpu`, "a Fargate CPU size (256, 512, 1024, ...)");
  check(Number.isInteger(size.memoryMiB) && size.memoryMiB >= 512, `${field}.memoryMiB`, "an integer of at least 512");
  check(Number.isInteger(size.minTasks) && size.minTasks >= 1, `${field}.minTasks`, "an integer of at least 1");
  check(Number.isInteger(size.maxTasks) && size.maxTasks >= size.minTasks, `${field}.maxTasks`, "an integer of at least minTasks");
}

/** The defaults with `override` applied, validated; throws ConfigError naming the bad field. */
export function resolveConfig(override: unknown = {}): VaneConfig {
  const config = merge(DEFAULTS, override, "") as VaneConfig;
  check(/^[a-z][a-z0-9-]{1,20}$/.test(config.name), "name", "2 to 21 lower-case letters, digits or dashes, starting with a letter");
  check(/^[A-Za-z0-9_.-]{1,128}$/.test(config.imageTag), "imageTag", "a container image tag");
  check(/^[a-z0-9.-]+\.[a-z]{2,}$/.test(config.domainName), "domainName", "a DNS name such as vane.example.com");
  check(/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(config.certificateArn), "certificateArn", "the ARN of an ACM certificate (arn:aws:acm:REGION:ACCOUNT:certificate/ID)");
  check(/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(config.adminEmail), "adminEmail", "an email address");
  check(config.alarmEmail === undefined || /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(config.alarmEmail), "alarmEmail", "an email address");
  check(config.environments.length > 0 && config.environments.every((e) => /^[a-z0-9][a-z0-9_-]*$/.test(e)), "environments", "one or more environment keys");
  check(config.watchedEdges.every((e) => /^[A-Za-z0-9_.-]+=https?:\/\/\S+$/.test(e)), "watchedEdges", "NAME=URL entries");
  check(/^10\.\d{1,3}\.0\.0\/16$/.test(config.network.cidr), "network.cidr", "a 10.x.0.0/16 block");
  check(Number.isInteger(config.network.maxAzs) && config.network.maxAzs >= 2 && config.network.maxAzs <= 6, "network.maxAzs", "2 to 6 (Aurora and the load balancer need two zones)");
  check(Number.isInteger(config.network.natGateways) && config.network.natGateways >= 1 && config.network.natGateways <= config.network.maxAzs, "network.natGateways", "1 to maxAzs");
  const db = config.database;
  check(db.minCapacity >= 0 && db.minCapacity * 2 === Math.round(db.minCapacity * 2), "database.minCapacity", "a multiple of 0.5");
  check(db.maxCapacity >= Math.max(1, db.minCapacity) && db.maxCapacity <= 256 && db.maxCapacity * 2 === Math.round(db.maxCapacity * 2), "database.maxCapacity", "a multiple of 0.5, at least 1 and minCapacity, at most 256");
  check(Number.isInteger(db.readers) && db.readers >= 0 && db.readers <= 15, "database.readers", "0 to 15");
  check(Number.isInteger(db.backupRetentionDays) && db.backupRetentionDays >= 1 && db.backupRetentionDays <= 35, "database.backupRetentionDays", "1 to 35");
  check(Number.isInteger(config.stream.retentionHours) && config.stream.retentionHours >= 24 && config.stream.retentionHours <= 8760, "stream.retentionHours", "24 to 8760");
  check(/^([A-Za-z0-9_.-]+\/)*$/.test(config.lake.prefix), "lake.prefix", "empty or path segments ending in /");
  check(config.lake.infrequentAccessAfterDays >= 30, "lake.infrequentAccessAfterDays", "at least 30 (S3's minimum for STANDARD_IA)");
  check(config.lake.glacierAfterDays >= config.lake.infrequentAccessAfterDays + 30, "lake.glacierAfterDays", "at least 30 days after infrequentAccessAfterDays");
  check(Number.isInteger(config.lake.noncurrentVersionDays) && config.lake.noncurrentVersionDays >= 1, "lake.noncurrentVersionDays", "a positive integer");
  checkSize(config.services.core, "services.core");
  checkSize(config.services.sync, "services.sync");
  checkSize(config.services.analytics, "services.analytics");
  check(config.scaling.coreCpuPercent >= 10 && config.scaling.coreCpuPercent <= 90, "scaling.coreCpuPercent", "10 to 90");
  check(config.scaling.analyticsIteratorAgeSeconds >= 1, "scaling.analyticsIteratorAgeSeconds", "at least 1");
  check(config.alarms.http5xxPer5Minutes >= 1, "alarms.http5xxPer5Minutes", "at least 1");
  check(config.alarms.iteratorAgeSeconds >= 1, "alarms.iteratorAgeSeconds", "at least 1");
  check(config.alarms.databaseCpuPercent > 0 && config.alarms.databaseCpuPercent <= 100, "alarms.databaseCpuPercent", "1 to 100");
  check(config.alarms.databaseConnections >= 1, "alarms.databaseConnections", "at least 1");
  check(RETENTION_DAYS.includes(config.logRetentionDays), "logRetentionDays", `one of ${RETENTION_DAYS.join(", ")}`);
  return config;
}
