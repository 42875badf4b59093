// Stored data: Aurora Serverless v2 PostgreSQL (core's and analytics' databases, credentials
// in Secrets Manager), the S3 lake of raw events, and the bucket the access logs go to.
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as logs from "aws-cdk-lib/aws-logs";
import * as rds from "aws-cdk-lib/aws-rds";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as cr from "aws-cdk-lib/custom-resources";
import { Construct } from "constructs";

import { suppress } from "./checkov.js";
import type { VaneConfig } from "./config.js";

/** The database user whose password the generated secret holds. */
export const DATABASE_USER = "vane";
export const CORE_DATABASE = "vane";
export const ANALYTICS_DATABASE = "vane_analytics";

export interface DataProps {
  readonly config: VaneConfig;
  readonly vpc: ec2.IVpc;
  readonly key: kms.IKey;
  readonly logRetention: logs.RetentionDays;
}

export class Data extends Construct {
  readonly cluster: rds.DatabaseCluster;
  readonly lake: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: DataProps) {
    super(scope, id);
    const { config, key } = props;

    this.accessLogs = new s3.Bucket(this, "AccessLogs", {
      // S3 server access logs and load balancer access logs are delivered only to buckets
      // encrypted with S3-managed keys.
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        { id: "expire-access-logs", expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30), abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    suppress(this.accessLogs, { id: "CKV_AWS_18", reason: "This is the access-log bucket; logging it into itself would loop." });

    this.lake = new s3.Bucket(this, "Lake", {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: "s3/lake/",
      lifecycleRules: [
        {
          id: "cheaper-storage-for-old-events",
          transitions: [
            { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(config.lake.infrequentAccessAfterDays) },
            // Instant retrieval: `vane analytics recompute` reads old archives without a restore.
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(config.lake.glacierAfterDays) },
          ],
          noncurrentVersionExpiration: Duration.days(config.lake.noncurrentVersionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // Versioned in-region. Cross-region replication doubles storage; a team that wants it adds
    // a replication rule here.

    // RDS creates this group on the first export unless it exists; creating it here sets the
    // retention and the key.
    const postgresLog = new logs.LogGroup(this, "PostgresLog", {
      logGroupName: `/aws/rds/cluster/${config.name}/postgresql`,
      retention: props.logRetention,
      encryptionKey: key,
      removalPolicy: RemovalPolicy.DESTROY,
    });

    const instance = (name: string) => ({
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: key,
      autoMinorVersionUpgrade: true,
      publiclyAccessible: false,
      ...(name === "writer" ? {} : { scaleWithWriter: true }),
    });
    this.cluster = new rds.DatabaseCluster(this, "Database", {
      clusterIdentifier: config.name,
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_13 }),
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER, {
        secretName: `${config.name}/database`,
        encryptionKey: key,
      }),
      defaultDatabaseName: CORE_DATABASE,
      writer: rds.ClusterInstance.serverlessV2("writer", instance("writer")),
      readers: Array.from({ length: config.database.readers }, (_, i) => rds.ClusterInstance.serverlessV2(`reader${i + 1}`, instance("reader"))),
      serverlessV2MinCapacity: config.database.minCapacity,
      serverlessV2MaxCapacity: config.database.maxCapacity,
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      storageEncrypted: true,
      storageEncryptionKey: key,
      backup: { retention: Duration.days(config.database.backupRetentionDays), preferredWindow: "03:00-04:00" },
      preferredMaintenanceWindow: "sun:04:30-sun:05:30",
      deletionProtection: config.database.deletionProtection,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      copyTagsToSnapshot: true,
      iamAuthentication: true,
      cloudwatchLogsExports: ["postgresql"],
      monitoringInterval: Duration.seconds(60),
      // The Data API lets the deployment (and an operator, with the secret) run SQL without a
      // network path into the isolated subnets: it creates analytics' database below.
      enableDataApi: true,
    });
    this.cluster.node.addDependency(postgresLog);
    // No automatic rotation: tasks read the password when they start, so a rotation would
    // break the new connections of running tasks. Rotate by hand and redeploy (docs).

    // core and analytics each migrate their own schema (both keep sqlx's _sqlx_migrations), so
    // analytics gets a database of its own in the same cluster, created once.
    const secret = this.cluster.secret!;
    const createAnalyticsDatabase = new cr.AwsCustomResource(this, "AnalyticsDatabase", {
      installLatestAwsSdk: false,
      onCreate: {
        service: "RDSData",
        action: "executeStatement",
        parameters: {
          resourceArn: this.cluster.clusterArn,
          secretArn: secret.secretArn,
          database: CORE_DATABASE,
          sql: `CREATE DATABASE ${ANALYTICS_DATABASE}`,
        },
        physicalResourceId: cr.PhysicalResourceId.of(`${config.name}-${ANALYTICS_DATABASE}`),
      },
      // fromSdkCalls would derive the action "rdsdata:..."; the Data API's IAM prefix is rds-data.
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ["rds-data:ExecuteStatement"], resources: [this.cluster.clusterArn] }),
      ]),
      timeout: Duration.minutes(5),
    });
    secret.grantRead(createAnalyticsDatabase);
    createAnalyticsDatabase.node.addDependency(this.cluster);
  }
}
