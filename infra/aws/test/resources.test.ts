// What matters in the resources: encryption, backups, public access, lifecycle, one image
// with three commands, health checks, scaling on iterator age, HTTPS, alarms, log retention.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";

import { Match } from "aws-cdk-lib/assertions";

import { ConfigError, resolveConfig } from "../lib/config.js";
import { exampleConfig, logicalId, synth } from "./helpers.js";

const { template, registry } = synth();
const keyRef = { "Fn::GetAtt": [logicalId(template, "AWS::KMS::Key", "DataKey"), "Arn"] };

type Container = {
  Name: string;
  Image: unknown;
  Command: string[];
  HealthCheck: { Command: string[] };
  ReadonlyRootFilesystem: boolean;
  User: string;
  Environment: { Name: string; Value: unknown }[];
  Secrets: { Name: string; ValueFrom: unknown }[];
  LogConfiguration: { Options: { "awslogs-group": { Ref: string } } };
};
const containers: Container[] = Object.values(template.findResources("AWS::ECS::TaskDefinition")).flatMap((t) => t.Properties.ContainerDefinitions);
const container = (name: string) => containers.find((c) => c.Name === name)!;
const env = (c: Container) => Object.fromEntries(c.Environment.map((e) => [e.Name, e.Value]));

describe("data", () => {
  it("the database is Aurora PostgreSQL Serverless v2, encrypted with the data key, backed up and protected", () => {
    template.hasResourceProperties("AWS::RDS::DBCluster", {
      Engine: "aurora-postgresql",
      StorageEncrypted: true,
      KmsKeyId: keyRef,
      BackupRetentionPeriod: 14,
      DeletionProtection: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 4 },
      EnableHttpEndpoint: true,
      EnableIAMDatabaseAuthentication: true,
      EnableCloudwatchLogsExports: ["postgresql"],
      MasterUsername: Match.anyValue(),
      MasterUserPassword: Match.anyValue(),
    });
    template.hasResourceProperties("AWS::RDS::DBInstance", { DBInstanceClass: "db.serverless", PubliclyAccessible: false });
    template.hasResource("AWS::RDS::DBCluster", { DeletionPolicy: "Snapshot" });
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      Name: "vane/database",
      KmsKeyId: keyRef,
      GenerateSecretString: Match.objectLike({ SecretStringTemplate: '{"username":"vane"}', GenerateStringKey: "password" }),
    });
  });

  it("the database password never appears in a container's environment, only as a secret", () => {
    for (const c of containers) {
      for (const value of Object.values(env(c))) assert.doesNotMatch(JSON.stringify(value), /password|SecretString/i, `${c.Name}`);
    }
    assert.ok(container("core").Secrets.some((s) => s.Name === "PGPASSWORD"));
    assert.ok(container("analytics").Secrets.some((s) => s.Name === "PGPASSWORD"));
    assert.ok(!container("sync").Secrets.some((s) => s.Name === "PGPASSWORD"), "sync does not use the database");
  });

  it("the stream is on demand and encrypted", () => {
    template.hasResourceProperties("AWS::Kinesis::Stream", {
      Name: "vane-events",
      StreamModeDetails: { StreamMode: "ON_DEMAND" },
      StreamEncryption: { EncryptionType: "KMS", KeyId: "alias/aws/kinesis" },
      RetentionPeriodHours: 168,
    });
  });

  it("the lake is encrypted with the data key, private, versioned, TLS-only and moves to cheaper storage", () => {
    const lake = logicalId(template, "AWS::S3::Bucket", "DataLake");
    const props = template.findResources("AWS::S3::Bucket")[lake]!.Properties;
    assert.deepEqual(props.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault, { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyRef });
    assert.deepEqual(props.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    assert.deepEqual(props.VersioningConfiguration, { Status: "Enabled" });
    const rule = props.LifecycleConfiguration.Rules[0];
    assert.deepEqual(rule.Transitions, [
      { StorageClass: "STANDARD_IA", TransitionInDays: 30 },
      { StorageClass: "GLACIER_IR", TransitionInDays: 180 },
    ]);
    assert.equal(rule.NoncurrentVersionExpiration.NoncurrentDays, 90);
    assert.ok(props.LoggingConfiguration.DestinationBucketName, "server access logging");
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: lake },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } })]) },
    });
  });

  it("every bucket blocks public access", () => {
    for (const bucket of Object.values(template.findResources("AWS::S3::Bucket"))) {
      assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    }
  });

  it("the data key rotates", () => {
    template.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
  });
});

describe("services", () => {
  it("core, sync and analytics run the same image with different commands", () => {
    assert.deepEqual(containers.map((c) => c.Name).sort(), ["analytics", "core", "sync"]);
    const images = new Set(containers.map((c) => JSON.stringify(c.Image)));
    assert.equal(images.size, 1, "one image");
    assert.match([...images][0]!, /repository\/vane|vane:0\.1\.0|:0\.1\.0/);
    for (const c of containers) assert.deepEqual(c.Command, [c.Name]);
  });

  it("every container has a health check on its own /healthz, a read-only root and a non-root user", () => {
    const ports: Record<string, number> = { core: 8080, sync: 8091, analytics: 8090 };
    for (const c of containers) {
      assert.deepEqual(c.HealthCheck.Command, ["CMD", "curl", "-fsS", "--max-time", "3", `http://127.0.0.1:${ports[c.Name]}/healthz`]);
      assert.equal(c.ReadonlyRootFilesystem, true);
      assert.equal(c.User, "10001");
      assert.equal(env(c).VANE_LOG_FORMAT, "json");
    }
  });

  it("each part is configured for the AWS counterparts of the embedded defaults", () => {
    assert.match(JSON.stringify(env(container("core")).VANE_DATABASE_URL), /postgres:\/\/vane@.*\/vane\?sslmode=require/);
    assert.equal(env(container("core")).VANE_CORE_ANALYTICS_URL, "http://analytics.vane.internal:8090");
    const analytics = env(container("analytics"));
    assert.match(JSON.stringify(analytics.VANE_ANALYTICS_DATABASE_URL), /\/vane_analytics\?sslmode=require/);
    assert.deepEqual(analytics.VANE_ANALYTICS_KINESIS_STREAM, { Ref: logicalId(template, "AWS::Kinesis::Stream", "EventsStream") });
    assert.deepEqual(analytics.VANE_ANALYTICS_LAKE_S3_BUCKET, { Ref: logicalId(template, "AWS::S3::Bucket", "DataLake") });
    assert.equal(analytics.VANE_ANALYTICS_CORE_URL, "http://core.vane.internal:8080");
    const sync = env(container("sync"));
    assert.equal(sync.VANE_SYNC_ENVIRONMENTS, "production");
    assert.equal(sync.VANE_SYNC_EDGES, "cloudflare=https://edge.example.com");
    assert.deepEqual(container("sync").Secrets.map((s) => s.Name).sort(), ["VANE_SYNC_CF_ACCOUNT_ID", "VANE_SYNC_CF_API_TOKEN", "VANE_SYNC_CF_NAMESPACE_ID", "VANE_SYNC_CORE_KEY"]);
  });

  it("every log group has a retention and is encrypted with the data key", () => {
    const groups = Object.values(template.findResources("AWS::Logs::LogGroup"));
    assert.equal(groups.length, 5);
    for (const g of groups) {
      assert.equal(g.Properties.RetentionInDays, 30);
      assert.deepEqual(g.Properties.KmsKeyId, keyRef);
    }
    for (const c of containers) {
      const group = template.findResources("AWS::Logs::LogGroup")[c.LogConfiguration.Options["awslogs-group"].Ref]!;
      assert.equal(group.Properties.LogGroupName, `/vane/${c.Name}`);
    }
  });

  it("services run in private subnets without public addresses and roll back a failed deployment", () => {
    for (const s of Object.values(template.findResources("AWS::ECS::Service"))) {
      assert.equal(s.Properties.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, "DISABLED");
      assert.deepEqual(s.Properties.DeploymentConfiguration.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
      assert.equal(s.Properties.LaunchType, "FARGATE");
    }
  });

  it("core and the admin UI are served over HTTPS with the configured certificate; HTTP redirects", () => {
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 443,
      Protocol: "HTTPS",
      Certificates: [{ CertificateArn: exampleConfig().certificateArn }],
      SslPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06",
    });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 80,
      DefaultActions: [{ Type: "redirect", RedirectConfig: { Protocol: "HTTPS", Port: "443", StatusCode: "HTTP_301" } }],
    });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", { Port: 8080, HealthCheckPath: "/healthz", Matcher: { HttpCode: "200" } });
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
      Scheme: "internet-facing",
      LoadBalancerAttributes: Match.arrayWith([{ Key: "routing.http.drop_invalid_header_fields.enabled", Value: "true" }, { Key: "access_logs.s3.enabled", Value: "true" }]),
    });
    template.resourceCountIs("AWS::WAFv2::WebACLAssociation", 1);
  });

  it("the database accepts only core and analytics", () => {
    const dbSg = template.findResources("AWS::RDS::DBCluster");
    const sgRef = Object.values(dbSg)[0]!.Properties.VpcSecurityGroupIds[0]["Fn::GetAtt"][0];
    const ingress = Object.values(template.findResources("AWS::EC2::SecurityGroupIngress")).filter((r) => r.Properties.GroupId["Fn::GetAtt"]?.[0] === sgRef);
    const sources = ingress.map((r) => r.Properties.SourceSecurityGroupId["Fn::GetAtt"][0]).sort();
    assert.deepEqual(sources, [logicalId(template, "AWS::EC2::SecurityGroup", "ServicesAnalyticsSecurityGroup"), logicalId(template, "AWS::EC2::SecurityGroup", "ServicesCoreSecurityGroup")].sort());
  });

  it("analytics scales on the stream's iterator age and core on CPU", () => {
    const targets = template.findResources("AWS::ApplicationAutoScaling::ScalableTarget");
    const analyticsTarget = Object.entries(targets).find(([id]) => id.includes("Analytics"))!;
    assert.equal(analyticsTarget[1].Properties.MinCapacity, 1);
    assert.equal(analyticsTarget[1].Properties.MaxCapacity, 4);
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    const policies = template.findResources("AWS::ApplicationAutoScaling::ScalingPolicy");
    const scalingAlarms = alarms.filter(
      (a) => a.Properties.MetricName === "GetRecords.IteratorAgeMilliseconds" && a.Properties.AlarmActions.every((r: { Ref: string }) => r.Ref in policies),
    );
    assert.equal(scalingAlarms.length, 2, "one alarm to scale out, one to scale in");
    template.hasResourceProperties("AWS::ApplicationAutoScaling::ScalingPolicy", {
      PolicyType: "TargetTrackingScaling",
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ TargetValue: 60, PredefinedMetricSpecification: { PredefinedMetricType: "ECSServiceAverageCPUUtilization" } }),
    });
  });
});

describe("alarms", () => {
  it("5xx, iterator age, throttling, database CPU and connections alarm to the topic", () => {
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm")).filter((a) => String(a.Properties.AlarmName ?? "").startsWith("vane-"));
    const byName = Object.fromEntries(alarms.map((a) => [a.Properties.AlarmName, a.Properties]));
    const expected: Record<string, [string, number]> = {
      "vane-Core5xx": ["HTTPCode_Target_5XX_Count", 10],
      "vane-LoadBalancer5xx": ["HTTPCode_ELB_5XX_Count", 10],
      "vane-AnalyticsIteratorAge": ["GetRecords.IteratorAgeMilliseconds", 300000],
      "vane-StreamWriteThrottled": ["WriteProvisionedThroughputExceeded", 0],
      "vane-StreamReadThrottled": ["ReadProvisionedThroughputExceeded", 0],
      "vane-DatabaseCpu": ["CPUUtilization", 80],
      "vane-DatabaseConnections": ["DatabaseConnections", 400],
      "vane-DatabaseCapacity": ["ACUUtilization", 90],
      "vane-CoreUnhealthyTasks": ["UnHealthyHostCount", 1],
    };
    assert.deepEqual(Object.keys(byName).sort(), Object.keys(expected).sort());
    const topic = logicalId(template, "AWS::SNS::Topic", "AlarmsTopic");
    for (const [name, [metric, threshold]] of Object.entries(expected)) {
      assert.equal(byName[name].MetricName, metric, name);
      assert.equal(byName[name].Threshold, threshold, name);
      assert.deepEqual(byName[name].AlarmActions, [{ Ref: topic }], name);
    }
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: keyRef });
    template.hasResourceProperties("AWS::SNS::Subscription", { Protocol: "email", Endpoint: "oncall@example.com" });
  });
});

describe("parameters", () => {
  it("sizes and names come from the configuration", () => {
    const { template: t } = synth(
      exampleConfig({ name: "acme", services: { core: { cpu: 1024, memoryMiB: 2048, minTasks: 3, maxTasks: 9 } }, database: { maxCapacity: 16 } }),
    );
    t.hasResourceProperties("AWS::ECS::TaskDefinition", { Family: "acme-core", Cpu: "1024", Memory: "2048" });
    t.hasResourceProperties("AWS::ECS::Service", { ServiceName: "core", DesiredCount: 3 });
    t.hasResourceProperties("AWS::RDS::DBCluster", { ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 16 } });
    t.hasResourceProperties("AWS::Kinesis::Stream", { Name: "acme-events" });
  });

  it("a bad or unknown parameter is refused with the field's name", () => {
    assert.throws(() => resolveConfig({ ...exampleConfig(), services: { core: { cpu: 300 } } }), (e: Error) => e instanceof ConfigError && e.message.startsWith("config.services.core.cpu:"));
    assert.throws(() => resolveConfig({ ...exampleConfig(), databse: {} }), /config\.databse: unknown field/);
    assert.throws(() => resolveConfig({ ...exampleConfig(), certificateArn: "" }), /config\.certificateArn:/);
    assert.throws(() => resolveConfig({ ...exampleConfig(), logRetentionDays: 31 }), /config\.logRetentionDays:/);
  });

  it("the app's code names no account and no region", () => {
    const dirs = ["../lib", "../bin"];
    for (const dir of dirs) {
      const url = new URL(`${dir}/`, import.meta.url);
      for (const file of readdirSync(url)) {
        const text = readFileSync(new URL(file, url), "utf8");
        assert.doesNotMatch(text, /\b\d{12}\b/, `${dir}/${file} holds an account id`);
        assert.doesNotMatch(text, /\b(us|eu|ap|sa|ca|me|af|il|mx)-(east|west|north|south|central|northeast|southeast|northwest|southwest)-\d\b/, `${dir}/${file} names a region`);
      }
    }
  });

  it("the registry keeps immutable, scanned, encrypted images", () => {
    registry.hasResourceProperties("AWS::ECR::Repository", {
      RepositoryName: "vane",
      ImageTagMutability: "IMMUTABLE",
      ImageScanningConfiguration: { ScanOnPush: true },
      EncryptionConfiguration: { EncryptionType: "KMS" },
    });
  });
});
