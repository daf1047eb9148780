ALTER TABLE `tenants`.`tenant_usage_quotas`
  ADD COLUMN IF NOT EXISTS `pipelines_cancelled_today` INT64,
  ADD COLUMN IF NOT EXISTS `max_concurrent_reached` INT64 OPTIONS (description = "Peak concurrent pipelines today."),
  ADD COLUMN IF NOT EXISTS `quota_exceeded` BOOL,
  ADD COLUMN IF NOT EXISTS `quota_warning_sent` BOOL OPTIONS (description = "The 80% warning was sent."),
  ADD COLUMN IF NOT EXISTS `quota_exceeded_at` TIMESTAMP,
  ADD COLUMN IF NOT EXISTS `total_api_calls_today` INT64,
  ADD COLUMN IF NOT EXISTS `total_storage_used_gb` NUMERIC(10, 2),
  ADD COLUMN IF NOT EXISTS `last_pipeline_started_at` TIMESTAMP,
  ADD COLUMN IF NOT EXISTS `last_pipeline_completed_at` TIMESTAMP;

-- API tables.patch: set the default of concurrent_limit, pipelines_cancelled_today, max_concurrent_reached, quota_exceeded, quota_warning_sent, total_api_calls_today, total_storage_used_gb in one tables.patch with the table's etag (one metadata update)
--   concurrent_limit: defaultValueExpression = 3
--   pipelines_cancelled_today: defaultValueExpression = 0
--   max_concurrent_reached: defaultValueExpression = 0
--   quota_exceeded: defaultValueExpression = FALSE
--   quota_warning_sent: defaultValueExpression = FALSE
--   total_api_calls_today: defaultValueExpression = 0
--   total_storage_used_gb: defaultValueExpression = NUMERIC "0"
-- if BigQuery rejects a default through the API, apply sets it with DDL instead:
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `concurrent_limit` SET DEFAULT 3;
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `pipelines_cancelled_today` SET DEFAULT 0;
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `max_concurrent_reached` SET DEFAULT 0;
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `quota_exceeded` SET DEFAULT FALSE;
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `quota_warning_sent` SET DEFAULT FALSE;
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `total_api_calls_today` SET DEFAULT 0;
-- ALTER TABLE `tenants`.`tenant_usage_quotas` ALTER COLUMN `total_storage_used_gb` SET DEFAULT NUMERIC "0";

CREATE OR REPLACE ROW ACCESS POLICY `bqmanage_writer`
  ON `tenants`.`tenant_usage_quotas`
  GRANT TO ("serviceAccount:bqmanage@local.invalid")
  FILTER USING (TRUE);

CREATE OR REPLACE ROW ACCESS POLICY `bqmanage_tenant_isolation`
  ON `tenants`.`tenant_usage_quotas`
  GRANT TO ("allAuthenticatedUsers")
  FILTER USING (`tenant_id` IN (SELECT `tenant_id` FROM `tenants`.`tenant_members` WHERE `member` = SESSION_USER()));

UPDATE `tenants`.`tenant_usage_quotas`
SET
  `pipelines_cancelled_today` = IFNULL(`pipelines_cancelled_today`, 0),
  `max_concurrent_reached` = IFNULL(`max_concurrent_reached`, 0),
  `quota_exceeded` = IFNULL(`quota_exceeded`, FALSE),
  `quota_warning_sent` = IFNULL(`quota_warning_sent`, FALSE),
  `total_api_calls_today` = IFNULL(`total_api_calls_today`, 0),
  `total_storage_used_gb` = IFNULL(`total_storage_used_gb`, NUMERIC "0")
WHERE `pipelines_cancelled_today` IS NULL OR `max_concurrent_reached` IS NULL OR `quota_exceeded` IS NULL OR `quota_warning_sent` IS NULL OR `total_api_calls_today` IS NULL OR `total_storage_used_gb` IS NULL;
