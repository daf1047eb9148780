CREATE SCHEMA IF NOT EXISTS `tenants`
OPTIONS (description = "Tenant registry and per-tenant quota state.", labels = [("owner", "platform")]);

CREATE TABLE IF NOT EXISTS `tenants`.`tenant_members` (
  `tenant_id` STRING NOT NULL,
  `member` STRING NOT NULL OPTIONS (description = "Email address of a principal that reads the tenant's rows.")
)
CLUSTER BY `tenant_id`
OPTIONS (description = "Row access mapping, tenant to member; kept by bqmanage tenant add, suspend and resume.");

CREATE TABLE IF NOT EXISTS `tenants`.`tenant_profiles` (
  `tenant_id` STRING NOT NULL OPTIONS (description = "Stable tenant identifier."),
  `tenant_name` STRING OPTIONS (description = "Display name."),
  `status` STRING DEFAULT "active" NOT NULL OPTIONS (description = "active, suspended or deleted."),
  `daily_limit` INT64 DEFAULT 100 NOT NULL OPTIONS (description = "Default daily pipeline limit for new quota rows."),
  `monthly_limit` INT64 DEFAULT 3000 OPTIONS (description = "Default monthly pipeline limit."),
  `concurrent_limit` INT64 DEFAULT 3 NOT NULL OPTIONS (description = "Default concurrent pipeline limit."),
  `created_at` TIMESTAMP DEFAULT CURRENT_TIMESTAMP() NOT NULL,
  `updated_at` TIMESTAMP,
  `reader_group` STRING OPTIONS (description = "Who may read the tenant's dataset, as group:<email>; NULL grants nothing (schemas/tenant_{tenant}/_dataset.yaml).")
)
CLUSTER BY `tenant_id`
OPTIONS (description = "The tenant registry, one row per tenant, with its status and default limits.");

CREATE TABLE IF NOT EXISTS `tenants`.`tenant_usage_quotas` (
  `usage_id` STRING NOT NULL OPTIONS (description = "Row id: tenant and date."),
  `tenant_id` STRING NOT NULL,
  `usage_date` DATE NOT NULL,
  `pipelines_run_today` INT64 DEFAULT 0 NOT NULL,
  `pipelines_succeeded_today` INT64 DEFAULT 0 NOT NULL,
  `pipelines_failed_today` INT64 DEFAULT 0 NOT NULL,
  `pipelines_cancelled_today` INT64 DEFAULT 0,
  `pipelines_run_month` INT64 DEFAULT 0 NOT NULL,
  `concurrent_pipelines_running` INT64 DEFAULT 0 NOT NULL OPTIONS (description = "A gauge: pipelines still running at midnight decrement it later."),
  `max_concurrent_reached` INT64 DEFAULT 0 OPTIONS (description = "Peak concurrent pipelines today."),
  `daily_limit` INT64 NOT NULL,
  `monthly_limit` INT64,
  `concurrent_limit` INT64 DEFAULT 3,
  `quota_exceeded` BOOL DEFAULT FALSE,
  `quota_warning_sent` BOOL DEFAULT FALSE OPTIONS (description = "The 80% warning was sent."),
  `quota_exceeded_at` TIMESTAMP,
  `total_api_calls_today` INT64 DEFAULT 0,
  `total_storage_used_gb` NUMERIC(10, 2) DEFAULT NUMERIC "0",
  `last_updated` TIMESTAMP DEFAULT CURRENT_TIMESTAMP() NOT NULL,
  `last_pipeline_started_at` TIMESTAMP,
  `last_pipeline_completed_at` TIMESTAMP,
  `created_at` TIMESTAMP DEFAULT CURRENT_TIMESTAMP() NOT NULL
)
PARTITION BY `usage_date`
CLUSTER BY `tenant_id`
OPTIONS (description = "Per-tenant pipeline quota counters, one row per tenant per day.");
